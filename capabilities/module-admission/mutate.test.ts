import { describe, expect, it } from "@jest/globals";
import type {
  V1Affinity,
  V1NodeSelectorRequirement,
  V1NodeSelectorTerm,
  V1Pod,
  V1Toleration,
  V1WeightedPodAffinityTerm,
} from "@kubernetes/client-node";
import { Config, loadConfig } from "../lib/config";
import {
  ANNOTATION_MUTATED,
  COMPONENT_MODULE,
  COMPONENT_VNODE,
  LABEL_BASE_CLUSTER_NAME,
  LABEL_BASE_NAME,
  LABEL_BASE_VERSION,
  LABEL_COMPONENT,
  LABEL_ENV,
  LABEL_MODULE_NAME,
  LABEL_MODULE_VERSION,
  TAINT_NOT_READY,
  TAINT_UNREACHABLE,
  TAINT_VIRTUAL_NODE,
} from "../lib/contract";
import { spreadTerm } from "../lib/admission/affinity";
import { keepMutatedAnnotation, mutateModulePod } from "./mutate";
import { biz, deepFreeze, modulePod, PodShape } from "../lib/admission/pods.fixture";
import { failoverToleration, vnodeTolerations } from "./tolerations";
import { validateModulePod } from "./validate";

const CFG = loadConfig({}); // env dev, failover 30 s, anti-affinity weight 50
const [VN, ENV_T] = vnodeTolerations("dev");
const NR = (s: number) => failoverToleration(TAINT_NOT_READY, s);
const UR = (s: number) => failoverToleration(TAINT_UNREACHABLE, s);
const inValues = (key: string, ...values: string[]): V1NodeSelectorRequirement => ({
  key,
  operator: "In",
  values,
});
const VNODE_REQS = [inValues(LABEL_COMPONENT, COMPONENT_VNODE), inValues(LABEL_ENV, "dev")];
const MODULE = { [LABEL_COMPONENT]: COMPONENT_MODULE };
const BIZ1_LABELS = { ...MODULE, [LABEL_MODULE_NAME]: "biz1", [LABEL_MODULE_VERSION]: "0.0.1" };
const ALL = [
  "vnode-tolerations",
  "failover-tolerations",
  "node-affinity",
  "module-labels",
  "pod-anti-affinity",
];
const required = (...terms: V1NodeSelectorTerm[]): V1Affinity => ({
  nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } },
});

interface Case {
  name: string;
  given: PodShape;
  cfg?: Partial<Config>;
  want: {
    tolerations?: V1Toleration[];
    terms?: V1NodeSelectorTerm[];
    labels?: Record<string, string>;
    /** preferred pod anti-affinity; `undefined` means there must be none */
    spread?: V1WeightedPodAffinityTerm[] | undefined;
    changes?: string[];
  };
}

const cases: Case[] = [
  {
    name: "a bare module pod gets everything",
    given: {},
    want: {
      tolerations: [VN, ENV_T, NR(30), UR(30)],
      terms: [{ matchExpressions: VNODE_REQS }],
      labels: BIZ1_LABELS,
      spread: [spreadTerm("biz1", 50)],
      changes: ALL,
    },
  },
  {
    name: "the apiserver's 300 s failover defaults are shortened, not duplicated",
    given: { tolerations: [NR(300), UR(300)] },
    want: { tolerations: [NR(30), UR(30), VN, ENV_T] },
  },
  {
    name: "the pod's own failover toleration is kept",
    given: { tolerations: [NR(600)] },
    want: { tolerations: [NR(600), VN, ENV_T, UR(30)] },
  },
  {
    name: "another env chosen by toleration is kept: ours not added, the affinity asks for it",
    given: { tolerations: [{ ...ENV_T, value: "prod" }] },
    want: {
      tolerations: [{ ...ENV_T, value: "prod" }, VN, NR(30), UR(30)],
      terms: [{ matchExpressions: [VNODE_REQS[0], inValues(LABEL_ENV, "prod")] }],
    },
  },
  {
    name: "Exists on the virtual-node key counts as that toleration",
    given: { tolerations: [{ key: TAINT_VIRTUAL_NODE, operator: "Exists" }] },
    want: { tolerations: [{ key: TAINT_VIRTUAL_NODE, operator: "Exists" }, ENV_T, NR(30), UR(30)] },
  },
  {
    name: "empty key with Exists tolerates everything: no toleration added",
    given: { tolerations: [{ operator: "Exists" }] },
    want: {
      tolerations: [{ operator: "Exists" }],
      changes: ["node-affinity", "module-labels", "pod-anti-affinity"],
    },
  },
  {
    name: "empty key with Exists for NoSchedule only does not count",
    given: { tolerations: [{ operator: "Exists", effect: "NoSchedule" }] },
    want: {
      tolerations: [{ operator: "Exists", effect: "NoSchedule" }, VN, ENV_T, NR(30), UR(30)],
    },
  },
  {
    name: "both VNode tolerations already written by the user (DaemonSet template)",
    given: { tolerations: [VN, ENV_T] },
    want: { tolerations: [VN, ENV_T, NR(30), UR(30)] },
  },
  {
    name: "existing node affinity with several terms: ANDed into each",
    given: {
      affinity: {
        ...required(
          { matchExpressions: [inValues("zone", "a")] },
          { matchExpressions: [inValues("zone", "b")] },
        ),
      },
    },
    want: {
      terms: [
        { matchExpressions: [inValues("zone", "a"), ...VNODE_REQS] },
        { matchExpressions: [inValues("zone", "b"), ...VNODE_REQS] },
      ],
    },
  },
  {
    name: "a DaemonSet pod's matchFields term gets the VNode expressions",
    given: {
      affinity: required({
        matchFields: [{ key: "metadata.name", operator: "In", values: ["vnode.b1.dev"] }],
      }),
    },
    want: {
      terms: [
        {
          matchFields: [{ key: "metadata.name", operator: "In", values: ["vnode.b1.dev"] }],
          matchExpressions: VNODE_REQS,
        },
      ],
    },
  },
  {
    name: "base name, version and cluster labels restrict the bases",
    given: {
      labels: {
        ...MODULE,
        [LABEL_BASE_NAME]: "base1",
        [LABEL_BASE_VERSION]: "1.0.0",
        [LABEL_BASE_CLUSTER_NAME]: "c1",
      },
    },
    want: {
      terms: [
        {
          matchExpressions: [
            ...VNODE_REQS,
            inValues(LABEL_BASE_NAME, "base1"),
            inValues(LABEL_BASE_VERSION, "1.0.0"),
            inValues(LABEL_BASE_CLUSTER_NAME, "c1"),
          ],
        },
      ],
    },
  },
  {
    name: "a comma-separated annotation means any of those bases",
    given: { annotations: { [LABEL_BASE_VERSION]: "1.0.0,1.1.0" } },
    want: {
      terms: [
        { matchExpressions: [...VNODE_REQS, inValues(LABEL_BASE_VERSION, "1.0.0", "1.1.0")] },
      ],
    },
  },
  {
    name: "existing pod anti-affinity and pod affinity are kept",
    given: {
      affinity: {
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { labelSelector: { matchLabels: { app: "x" } }, topologyKey: "zone" },
          ],
          preferredDuringSchedulingIgnoredDuringExecution: [spreadTerm("other", 10)],
        },
        podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [spreadTerm("y", 5)] },
      },
    },
    want: { spread: [spreadTerm("other", 10), spreadTerm("biz1", 50)] },
  },
  {
    name: "the same spread term at the user's own weight is not added again",
    given: {
      affinity: {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [spreadTerm("biz1", 7)],
        },
      },
    },
    want: {
      spread: [spreadTerm("biz1", 7)],
      changes: ["vnode-tolerations", "failover-tolerations", "node-affinity", "module-labels"],
    },
  },
  {
    name: "a multi-container pod gets no module labels and no spread",
    given: { containers: [biz("biz1", "0.0.1"), biz("biz2", "0.0.2")] },
    want: {
      labels: MODULE,
      spread: undefined,
      changes: ["vnode-tolerations", "failover-tolerations", "node-affinity"],
    },
  },
  {
    name: "a multi-container pod with a user-set module name spreads on it",
    given: {
      labels: { ...MODULE, [LABEL_MODULE_NAME]: "suite" },
      containers: [biz("biz1", "0.0.1"), biz("biz2", "0.0.2")],
    },
    want: {
      labels: { ...MODULE, [LABEL_MODULE_NAME]: "suite" },
      spread: [spreadTerm("suite", 50)],
    },
  },
  {
    name: "a module label the user set is never replaced",
    given: { labels: { ...MODULE, [LABEL_MODULE_VERSION]: "mine" } },
    want: { labels: { ...MODULE, [LABEL_MODULE_VERSION]: "mine", [LABEL_MODULE_NAME]: "biz1" } },
  },
  {
    name: "a version that is no valid label value gets no version label",
    given: { containers: [biz("biz1", "1.0+build")] },
    want: { labels: { ...MODULE, [LABEL_MODULE_NAME]: "biz1" } },
  },
  {
    name: "no BIZ_VERSION: name label only (validation rejects the pod later)",
    given: { containers: [biz("biz1")] },
    want: { labels: { ...MODULE, [LABEL_MODULE_NAME]: "biz1" } },
  },
  {
    name: "anti-affinity weight 0 turns the spread off",
    given: {},
    cfg: { antiAffinityWeight: 0 },
    want: { spread: undefined, changes: ALL.filter(c => c !== "pod-anti-affinity") },
  },
  {
    name: "failoverSeconds equal to the apiserver default leaves its tolerations alone",
    given: { tolerations: [NR(300), UR(300)] },
    cfg: { failoverSeconds: 300 },
    want: { tolerations: [NR(300), UR(300), VN, ENV_T] },
  },
  {
    name: "another env",
    given: {},
    cfg: { env: "prod" },
    want: {
      tolerations: [VN, { ...ENV_T, value: "prod" }, NR(30), UR(30)],
      terms: [{ matchExpressions: [VNODE_REQS[0], inValues(LABEL_ENV, "prod")] }],
    },
  },
];

// Where each expectation of a case is read from the mutated pod.
const VIEWS: Record<Exclude<keyof Case["want"], "changes">, (pod: V1Pod) => unknown> = {
  tolerations: pod => pod.spec?.tolerations,
  terms: pod =>
    pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
      ?.nodeSelectorTerms,
  labels: pod => pod.metadata?.labels,
  spread: pod =>
    pod.spec?.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution,
};

function check(pod: V1Pod, want: Case["want"]): void {
  for (const [key, view] of Object.entries(VIEWS)) {
    if (key in want) expect(view(pod)).toEqual(want[key as keyof typeof VIEWS]);
  }
}

describe("mutateModulePod", () => {
  it.each(cases)("$name", ({ given, cfg, want }) => {
    const c = { ...CFG, ...cfg };
    const input = deepFreeze(modulePod(given)); // writing to the input would throw
    const snapshot = JSON.stringify(input);
    const { pod, changes } = mutateModulePod(input, c);

    check(pod, want);
    if (want.changes) expect(changes).toEqual(want.changes);
    expect(pod.metadata?.annotations?.[ANNOTATION_MUTATED]).toBe(changes.join(","));
    expect(JSON.stringify(input)).toBe(snapshot);

    // As stored and sent back by the apiserver, then admitted again: a no-op.
    const stored = JSON.parse(JSON.stringify(pod)) as V1Pod;
    const again = mutateModulePod(stored, c);
    expect(again.changes).toEqual([]);
    expect(again.pod).toBe(stored);
  });

  it("keeps every container, volume and field it does not own", () => {
    const given = modulePod({ containers: [biz("biz1", "0.0.1"), biz("biz2", "0.0.2")] });
    given.spec!.nodeSelector = { disk: "ssd" };
    given.spec!.restartPolicy = "Always";
    given.metadata!.annotations = { note: "x" };
    const { pod } = mutateModulePod(given, CFG);
    expect(pod.spec?.containers).toEqual(given.spec?.containers);
    expect(pod.spec?.nodeSelector).toEqual({ disk: "ssd" });
    expect(pod.spec?.restartPolicy).toBe("Always");
    expect(pod.metadata?.annotations?.note).toBe("x");
  });

  it("adds to the list of an earlier mutation instead of replacing it", () => {
    const given = modulePod({ annotations: { [ANNOTATION_MUTATED]: "vnode-tolerations" } });
    const { pod } = mutateModulePod(given, CFG);
    expect(pod.metadata?.annotations?.[ANNOTATION_MUTATED]?.split(",")).toEqual(ALL);
  });

  it("stamps a pod that needed nothing, so the controller knows admission saw it", () => {
    const complete = mutateModulePod(modulePod(), CFG).pod;
    delete complete.metadata!.annotations![ANNOTATION_MUTATED];
    const { pod, changes } = mutateModulePod(complete, CFG);
    expect(changes).toEqual([]);
    expect(pod.metadata?.annotations?.[ANNOTATION_MUTATED]).toBe("");
    expect(pod.spec).toEqual(complete.spec);
    expect(mutateModulePod(pod, CFG).pod).toBe(pod);
  });

  it("leaves a pod without a spec alone", () => {
    const given: V1Pod = { metadata: { labels: MODULE } };
    expect(mutateModulePod(given, CFG)).toEqual({ pod: given, changes: [] });
  });

  it("produces pods that pass validation when the user's part was valid", () => {
    for (const { given, cfg } of cases.filter(k => !k.name.startsWith("no BIZ_VERSION"))) {
      const c = { ...CFG, ...cfg };
      expect(validateModulePod(mutateModulePod(modulePod(given), c).pod, c)).toEqual([]);
    }
  });
});

describe("keepMutatedAnnotation", () => {
  const admitted = modulePod({ annotations: { [ANNOTATION_MUTATED]: "node-affinity", x: "1" } });
  const dropped = modulePod({ annotations: { x: "2" } });
  it.each([
    {
      name: "puts back what an update dropped",
      pod: dropped,
      old: admitted,
      want: "node-affinity",
    },
    { name: "keeps a value the update sets", pod: admitted, old: dropped, want: "node-affinity" },
    { name: "adds none to a pod admission never saw", pod: dropped, old: dropped, want: undefined },
    { name: "adds none on create", pod: dropped, old: undefined, want: undefined },
  ])("$name", ({ pod, old, want }) => {
    const out = keepMutatedAnnotation(deepFreeze(pod), old);
    expect(out.metadata?.annotations?.[ANNOTATION_MUTATED]).toBe(want);
    expect(out.metadata?.annotations?.x).toBe(pod.metadata?.annotations?.x);
    expect(keepMutatedAnnotation(out, old)).toBe(out);
  });
});
