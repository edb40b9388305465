import { describe, expect, it } from "@jest/globals";
import type { V1PodSpec } from "@kubernetes/client-node";
import { loadConfig } from "../lib/config";
import { COMPONENT_MODULE, LABEL_COMPONENT, TAINT_NODE_ENV } from "../lib/contract";
import { Workload, workloadWarnings } from "./workload";

const cfg = loadConfig({});
const MODULE = { [LABEL_COMPONENT]: COMPONENT_MODULE };
const jar = {
  name: "biz1",
  image: "https://repo.example/biz1-1.0.0.jar",
  env: [{ name: "BIZ_VERSION", value: "1.0.0" }],
};

function deployment(spec: Partial<V1PodSpec>, labels: Record<string, string> = MODULE): Workload {
  return {
    kind: "Deployment",
    spec: { template: { metadata: { labels }, spec: { containers: [jar], ...spec } } },
  };
}

describe("workloadWarnings", () => {
  it("says nothing of a template that works, or of a workload that runs no modules", () => {
    expect(workloadWarnings(deployment({}), cfg)).toEqual([]);
    expect(workloadWarnings(deployment({ nodeName: "worker-1" }, { app: "web" }), cfg)).toEqual([]);
    expect(workloadWarnings({ kind: "Deployment" }, cfg)).toEqual([]);
  });

  it("warns that a template choosing another env waits for another controller, at the template's field", () => {
    const tolerations = [
      { key: TAINT_NODE_ENV, operator: "Equal", value: "test", effect: "NoExecute" },
    ];
    const [w, ...rest] = workloadWarnings(deployment({ tolerations }), cfg);
    expect(rest).toEqual([]);
    expect(w).toMatch(
      /^spec\.template\.spec\.tolerations choose schedule\.koupleless\.io\/node-env=test/,
    );
  });

  it("warns about affinity keys no VNode carries", () => {
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            {
              matchExpressions: [
                { key: "vnode.koupleless.io/name", operator: "In", values: ["base"] },
              ],
            },
          ],
        },
      },
    };
    const [w] = workloadWarnings(deployment({ affinity }), cfg);
    expect(w).toMatch(/^spec\.template\.spec\.affinity.*vnode\.koupleless\.io\/name/);
    expect(w).toMatch(/base\.koupleless\.io\/name/);
  });

  it("says ahead which of its pods admission will refuse, and why", () => {
    const noVersion = { name: "biz1", image: "https://repo.example/biz1.jar" };
    const warnings = workloadWarnings(deployment({ containers: [noVersion] }), cfg);
    expect(warnings.length).toBeGreaterThan(0);
    for (const w of warnings)
      expect(w).toMatch(
        /^its module pods will be refused at creation: spec\.template\.spec\.containers\[0\]/,
      );
  });
});
