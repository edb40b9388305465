import { describe, expect, it } from "@jest/globals";
import type { V1Pod } from "@kubernetes/client-node";
import { ANNOTATION_MUTATED } from "../contract";
import {
  ADMITTED_CONDITION,
  admissionProblem,
  EXCLUDED_NAMESPACES,
  excludedNamespaces,
  needsAdmissionFlag,
  withAdmissionCondition,
} from "./admitted";

const pod = (namespace: string, annotations?: Record<string, string>): V1Pod => ({
  metadata: {
    name: "biz1",
    namespace,
    labels: { "virtual-kubelet.koupleless.io/component": "module" },
    ...(annotations ? { annotations } : {}),
  },
  spec: { nodeName: "vnode.1.dev", containers: [{ name: "biz1", image: "file:///b.jar" }] },
});
const ADMITTED = { [ANNOTATION_MUTATED]: "vnode-tolerations" };
const EXCLUDED = excludedNamespaces({ alwaysIgnore: { namespaces: ["ops"] } });

describe("excludedNamespaces", () => {
  it.each([
    { name: "Pepr's own two", pepr: {}, env: undefined, want: ["kube-system", "pepr-system"] },
    {
      name: "plus both package.json lists",
      pepr: {
        alwaysIgnore: { namespaces: ["a"] },
        admission: { alwaysIgnore: { namespaces: ["b"] } },
      },
      env: undefined,
      want: ["kube-system", "pepr-system", "a", "b"],
    },
    {
      name: "plus the Helm chart's list, as the chart joins it",
      pepr: {},
      env: "c, d,",
      want: ["kube-system", "pepr-system", "c", "d"],
    },
  ])("$name", ({ pepr, env, want }) => {
    expect([...excludedNamespaces(pepr, env)]).toEqual(want);
  });

  it("reads this module's package.json", () => {
    expect(EXCLUDED_NAMESPACES.has("kube-system")).toBe(true);
    expect(EXCLUDED_NAMESPACES.has("default")).toBe(false);
  });
});

describe("admissionProblem", () => {
  it.each([
    { name: "an admitted pod", given: pod("team-a", ADMITTED), says: undefined },
    {
      name: "an admitted pod that needed no change",
      given: pod("team-a", { [ANNOTATION_MUTATED]: "" }),
      says: undefined,
    },
    {
      name: "a pod in kube-system",
      given: pod("kube-system", ADMITTED),
      says: /kube-system is left out/,
    },
    {
      name: "a pod in a namespace package.json leaves out",
      given: pod("ops"),
      says: /ops is left out/,
    },
    { name: "a pod without the annotation", given: pod("team-a"), says: /never saw this pod/ },
  ])("$name", ({ given, says }) => {
    const why = admissionProblem(given, EXCLUDED);
    if (says === undefined) expect(why).toBeUndefined();
    else expect(why).toMatch(says);
  });
});

describe("the NotAdmitted flag", () => {
  it("is written once, beside the other conditions", () => {
    const p: V1Pod = {
      ...pod("kube-system"),
      status: { conditions: [{ type: "PodScheduled", status: "True" }] },
    };
    expect(needsAdmissionFlag(p)).toBe(true);
    const conds = withAdmissionCondition(p, "why", new Date(0));
    expect(conds.map(c => c.type)).toEqual(["PodScheduled", ADMITTED_CONDITION]);
    expect(conds[1]).toMatchObject({ status: "False", reason: "NotAdmitted", message: "why" });
    expect(needsAdmissionFlag({ ...p, status: { conditions: conds } })).toBe(false);
    expect(
      withAdmissionCondition({ ...p, status: { conditions: conds } }, "why", new Date(0)),
    ).toEqual(conds);
  });

  it("is not written on a pod being deleted", () => {
    const p = pod("kube-system");
    p.metadata!.deletionTimestamp = new Date();
    expect(needsAdmissionFlag(p)).toBe(false);
  });
});
