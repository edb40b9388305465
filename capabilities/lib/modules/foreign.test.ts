import { describe, expect, it } from "@jest/globals";
import type { V1Pod } from "@kubernetes/client-node";
import { FOREIGN_CONDITION, needsForeignFlag, withForeignCondition } from "./foreign";

const pod = (labels: Record<string, string> = {}, conditions: V1Pod["status"] = {}): V1Pod => ({
  metadata: { name: "kube-proxy-x", namespace: "kube-system", labels },
  spec: { nodeName: "vnode.1.dev", containers: [{ name: "c", image: "k8s/kube-proxy" }] },
  status: conditions,
});

describe("foreign pods on VNodes", () => {
  it("flags a non-module pod once", () => {
    const p = pod({}, { conditions: [{ type: "PodScheduled", status: "True" }] });
    expect(needsForeignFlag(p)).toBe(true);
    const conds = withForeignCondition(p, "vnode.1.dev", new Date(0));
    expect(conds.map(c => c.type)).toEqual(["PodScheduled", FOREIGN_CONDITION]);
    expect(conds[1]).toMatchObject({ status: "False", reason: "NotAModulePod" });
    expect(conds[1].message).toMatch(/type NotIn \[virtual-kubelet\]/);
    expect(needsForeignFlag({ ...p, status: { conditions: conds } })).toBe(false);
  });
  it("leaves module pods and terminating pods alone", () => {
    expect(needsForeignFlag(pod({ "virtual-kubelet.koupleless.io/component": "module" }))).toBe(
      false,
    );
    const terminating = pod();
    terminating.metadata!.deletionTimestamp = new Date();
    expect(needsForeignFlag(terminating)).toBe(false);
  });
});
