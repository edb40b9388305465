import { describe, expect, it } from "@jest/globals";
import type { V1NodeSelectorRequirement, V1NodeSelectorTerm, V1Pod } from "@kubernetes/client-node";
import { loadConfig } from "../lib/config";
import {
  ANNOTATION_ALLOWED_BASE_CLUSTERS,
  COMPONENT_MODULE,
  COMPONENT_VNODE,
  LABEL_BASE_CLUSTER_NAME,
  LABEL_COMPONENT,
  LABEL_ENV,
} from "../lib/contract";
import { mutateModulePod } from "../module-admission/mutate";
import { deepFreeze, modulePod, PodShape } from "../lib/admission/pods.fixture";
import {
  clusterAsks,
  placeModulePod,
  placementProblems,
  Policy,
  policyOf,
  requestProblems,
  unreadablePolicy,
} from "./policy";

const CFG = loadConfig({}); // env dev
const MODULE = { [LABEL_COMPONENT]: COMPONENT_MODULE };
const ALLOWED: Policy = { kind: "allowed", namespace: "team-a", clusters: ["c1", "c2"] };
const inValues = (key: string, ...values: string[]): V1NodeSelectorRequirement => ({
  key,
  operator: "In",
  values,
});
const C12 = inValues(LABEL_BASE_CLUSTER_NAME, "c1", "c2");
const VNODE_REQS = [inValues(LABEL_COMPONENT, COMPONENT_VNODE), inValues(LABEL_ENV, "dev")];
const required = (...terms: V1NodeSelectorTerm[]) => ({
  nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } },
});
const terms = (pod: V1Pod) =>
  pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
    ?.nodeSelectorTerms;
/** What a module pod looks like after both capabilities mutated it (this one first). */
const admitted = (shape: PodShape, policy: Policy = ALLOWED) =>
  mutateModulePod(placeModulePod(modulePod(shape), policy), CFG).pod;
const LABEL_FIELD = `metadata.labels["${LABEL_BASE_CLUSTER_NAME}"]`;
const ANNOTATION_FIELD = `metadata.annotations["${LABEL_BASE_CLUSTER_NAME}"]`;

describe("policyOf", () => {
  const cases: Array<{ name: string; given?: string; want: Policy | string[] }> = [
    { name: "no annotation: no policy", given: undefined, want: { kind: "none" } },
    { name: "one cluster", given: "c1", want: { ...ALLOWED, clusters: ["c1"] } },
    { name: "a comma list, spaces trimmed", given: " c1 , c2 ", want: ALLOWED },
    { name: "duplicates and empty entries dropped", given: "c1,,c2,c1,", want: ALLOWED },
    { name: "empty: refuse", given: "", want: ['=""', "it lists no base cluster"] },
    { name: "only commas: refuse", given: " , ", want: ["it lists no base cluster"] },
    {
      name: "an entry that is no label value: refuse, naming it",
      given: "c1,c 2",
      want: ['"c 2" is not a base cluster name'],
    },
    {
      name: "several bad entries",
      given: "*,c1;c2",
      want: ['"*", "c1;c2" are not base cluster names'],
    },
    { name: "too long for a label", given: "c".repeat(64), want: ["is not a base cluster name"] },
  ];
  it.each(cases)("$name", ({ given, want }) => {
    const got = policyOf("team-a", given);
    if (!Array.isArray(want)) return expect(got).toEqual(want);
    expect(got.kind).toBe("refuse");
    const problem = got.kind === "refuse" ? got.problem : "";
    for (const s of [
      'namespace "team-a"',
      ANNOTATION_ALLOWED_BASE_CLUSTERS,
      "set it to a comma-separated list",
      "or remove it",
      ...want,
    ]) {
      expect(problem).toContain(s);
    }
  });
});

describe("unreadablePolicy", () => {
  it("refuses, naming the namespace and the reason", () => {
    const p = unreadablePolicy("team-a", "HTTP 403 Forbidden");
    expect(p.kind).toBe("refuse");
    expect(p.kind === "refuse" && p.problem).toMatch(
      /^cannot check the placement policy of namespace "team-a": reading it failed \(HTTP 403 Forbidden\).*try again/,
    );
  });
});

describe("clusterAsks", () => {
  it.each([
    { name: "nothing", shape: {}, want: [] },
    {
      name: "a label",
      shape: { labels: { ...MODULE, [LABEL_BASE_CLUSTER_NAME]: "c1" } },
      want: [{ field: LABEL_FIELD, clusters: ["c1"] }],
    },
    {
      name: "an annotation with a comma list",
      shape: { annotations: { [LABEL_BASE_CLUSTER_NAME]: "c1, c3" } },
      want: [{ field: ANNOTATION_FIELD, clusters: ["c1", "c3"] }],
    },
    {
      name: "both",
      shape: {
        labels: { ...MODULE, [LABEL_BASE_CLUSTER_NAME]: "c1" },
        annotations: { [LABEL_BASE_CLUSTER_NAME]: "c2" },
      },
      want: [
        { field: LABEL_FIELD, clusters: ["c1"] },
        { field: ANNOTATION_FIELD, clusters: ["c2"] },
      ],
    },
    {
      name: "empty values ask for nothing",
      shape: {
        labels: { ...MODULE, [LABEL_BASE_CLUSTER_NAME]: "" },
        annotations: { [LABEL_BASE_CLUSTER_NAME]: " , " },
      },
      want: [],
    },
  ] as Array<{ name: string; shape: PodShape; want: object[] }>)("$name", ({ shape, want }) => {
    expect(clusterAsks(modulePod(shape).metadata)).toEqual(want);
  });
});

describe("placeModulePod", () => {
  const zone = inValues("zone", "z1");
  const cases: Array<{
    name: string;
    shape: PodShape;
    policy?: Policy;
    /** the annotation and terms expected; undefined = the pod is returned as it was */
    want?: { annotation: string; terms: V1NodeSelectorTerm[] };
  }> = [
    {
      name: "asks for nothing: all allowed clusters, as annotation and affinity",
      shape: {},
      want: { annotation: "c1,c2", terms: [{ matchExpressions: [C12] }] },
    },
    {
      name: "existing required terms: ANDed into each",
      shape: { affinity: required({ matchExpressions: [zone] }, { matchExpressions: [] }) },
      want: {
        annotation: "c1,c2",
        terms: [{ matchExpressions: [zone, C12] }, { matchExpressions: [C12] }],
      },
    },
    {
      name: "other annotations are kept",
      shape: { annotations: { note: "x" } },
      want: { annotation: "c1,c2", terms: [{ matchExpressions: [C12] }] },
    },
    {
      name: "an empty cluster label asks for nothing",
      shape: { labels: { ...MODULE, [LABEL_BASE_CLUSTER_NAME]: "" } },
      want: { annotation: "c1,c2", terms: [{ matchExpressions: [C12] }] },
    },
    {
      name: "asks by label: left alone (validation judges the choice)",
      shape: { labels: { ...MODULE, [LABEL_BASE_CLUSTER_NAME]: "c9" } },
    },
    {
      name: "asks by annotation: left alone",
      shape: { annotations: { [LABEL_BASE_CLUSTER_NAME]: "c1" } },
    },
    { name: "no policy: left alone", shape: {}, policy: { kind: "none" } },
    { name: "refused policy: left alone", shape: {}, policy: { kind: "refuse", problem: "x" } },
  ];

  it.each(cases)("$name", ({ shape, policy = ALLOWED, want }) => {
    const given = deepFreeze(modulePod(shape));
    const out = placeModulePod(given, policy);
    if (!want) return expect(out).toBe(given);
    expect(out.metadata?.annotations).toEqual({
      ...given.metadata?.annotations,
      [LABEL_BASE_CLUSTER_NAME]: want.annotation,
    });
    expect(terms(out)).toEqual(want.terms);
    expect(out.metadata?.labels).toEqual(given.metadata?.labels);
    expect(out.spec?.containers).toEqual(given.spec?.containers);
    expect(placeModulePod(out, policy)).toEqual(out); // admitting again changes nothing
  });

  it("leaves a pod without spec alone", () => {
    const pod: V1Pod = { metadata: { labels: MODULE } };
    expect(placeModulePod(pod, ALLOWED)).toBe(pod);
  });
});

describe("with module-admission's mutation, in either order", () => {
  const sorted = (reqs: V1NodeSelectorRequirement[] = []) =>
    [...reqs].sort((x, y) => x.key.localeCompare(y.key));
  it.each([
    { name: "a bare pod", shape: {} },
    { name: "a pod with an empty required term", shape: { affinity: required({}) } },
  ] as Array<{ name: string; shape: PodShape }>)(
    "$name ends up the same, and valid",
    ({ shape }) => {
      const placeFirst = mutateModulePod(placeModulePod(modulePod(shape), ALLOWED), CFG).pod;
      const admitFirst = placeModulePod(mutateModulePod(modulePod(shape), CFG).pod, ALLOWED);
      for (const pod of [placeFirst, admitFirst]) {
        const [term, ...more] = terms(pod) ?? [];
        expect(more).toEqual([]);
        expect(sorted(term.matchExpressions)).toEqual(sorted([...VNODE_REQS, C12]));
        expect(pod.metadata?.annotations?.[LABEL_BASE_CLUSTER_NAME]).toBe("c1,c2");
        expect(placementProblems(pod, ALLOWED)).toEqual([]);
      }
      expect(placeFirst.spec?.tolerations).toEqual(admitFirst.spec?.tolerations);
    },
  );
});

describe("placementProblems", () => {
  const userTerm = (...values: string[]) =>
    required({ matchExpressions: [inValues(LABEL_BASE_CLUSTER_NAME, ...values)] });
  const cases: Array<{
    name: string;
    pod: V1Pod;
    policy?: Policy;
    /** one entry per expected message: substrings it must contain */
    want: string[][];
  }> = [
    { name: "no policy: anything goes", pod: modulePod({}), policy: { kind: "none" }, want: [] },
    {
      name: "a refused policy: its problem",
      pod: admitted({}),
      policy: { kind: "refuse", problem: "bad annotation" },
      want: [["bad annotation"]],
    },
    { name: "a pod that asked for nothing, once admitted", pod: admitted({}), want: [] },
    {
      name: "a pod that asked for an allowed cluster by label",
      pod: admitted({ labels: { ...MODULE, [LABEL_BASE_CLUSTER_NAME]: "c2" } }),
      want: [],
    },
    {
      name: "a pod that asked for allowed clusters by annotation",
      pod: admitted({ annotations: { [LABEL_BASE_CLUSTER_NAME]: "c2,c1" } }),
      want: [],
    },
    {
      name: "a disallowed cluster by label: one message with namespace, clusters and fix",
      pod: admitted({ labels: { ...MODULE, [LABEL_BASE_CLUSTER_NAME]: "c9" } }),
      want: [
        [
          `${LABEL_FIELD} asks for base cluster c9, but namespace "team-a" allows module pods only on base clusters c1, c2 (its annotation ${ANNOTATION_ALLOWED_BASE_CLUSTERS})`,
          "ask for some of c1, c2, or remove the label and annotation",
        ],
      ],
    },
    {
      name: "a list with one disallowed cluster: only that one is named",
      pod: admitted({ annotations: { [LABEL_BASE_CLUSTER_NAME]: "c1, c8, c9" } }),
      want: [[`${ANNOTATION_FIELD} asks for base clusters c8, c9, but`]],
    },
    {
      name: "an allowed label but a disallowed annotation",
      pod: admitted({
        labels: { ...MODULE, [LABEL_BASE_CLUSTER_NAME]: "c1" },
        annotations: { [LABEL_BASE_CLUSTER_NAME]: "c9" },
      }),
      want: [[`${ANNOTATION_FIELD} asks for base cluster c9`]],
    },
    {
      name: "a disallowed cluster in the pod's own affinity",
      pod: admitted({ affinity: userTerm("c1", "c9") }),
      want: [
        [
          ".nodeSelectorTerms[0].matchExpressions[0] asks for base cluster c9, but",
          "keep only allowed clusters",
        ],
      ],
    },
    {
      name: "an allowed cluster in the pod's own affinity",
      pod: admitted({ affinity: userTerm("c2") }),
      want: [],
    },
    {
      name: "no required node affinity at all (mutation did not run)",
      pod: modulePod({}),
      want: [
        [
          "requiredDuringSchedulingIgnoredDuringExecution has no nodeSelectorTerms",
          `set the pod annotation ${LABEL_BASE_CLUSTER_NAME}: "c1,c2"`,
        ],
      ],
    },
    {
      name: "one term that does not restrict the cluster (terms are ORed)",
      pod: modulePod({
        affinity: required({ matchExpressions: [C12] }, { matchExpressions: VNODE_REQS }),
      }),
      want: [
        [`nodeSelectorTerms[1] does not restrict ${LABEL_BASE_CLUSTER_NAME}`, "values: [c1, c2]"],
      ],
    },
    {
      name: "NotIn alone does not restrict",
      pod: modulePod({
        affinity: required({
          matchExpressions: [{ key: LABEL_BASE_CLUSTER_NAME, operator: "NotIn", values: ["c9"] }],
        }),
      }),
      want: [["nodeSelectorTerms[0] does not restrict"]],
    },
    {
      name: "a preset nodeName",
      pod: admitted({ nodeName: "vnode.127.0.0.2.dev" }),
      want: [['spec.nodeName "vnode.127.0.0.2.dev" skips the scheduler', "remove spec.nodeName"]],
    },
    {
      name: "several problems, each reported",
      pod: admitted({
        labels: { ...MODULE, [LABEL_BASE_CLUSTER_NAME]: "c9" },
        nodeName: "vnode.x.dev",
      }),
      want: [[LABEL_FIELD], ["spec.nodeName"]],
    },
  ];

  it.each(cases)("$name", ({ pod, policy = ALLOWED, want }) => {
    const got = placementProblems(deepFreeze(pod), policy);
    expect(got.length).toBe(want.length);
    got.forEach((problem, i) => want[i].forEach(s => expect(problem).toContain(s)));
  });
});

describe("requestProblems: CREATE, and UPDATEs such as kubectl label --overwrite", () => {
  const withMeta = (pod: V1Pod, labels?: object, annotations?: object): V1Pod => ({
    ...pod,
    metadata: {
      ...pod.metadata,
      labels: { ...pod.metadata?.labels, ...labels },
      annotations: { ...pod.metadata?.annotations, ...annotations },
    },
  });
  const asked = admitted({}); // asked for nothing: annotation "c1,c2" and its affinity
  const onC1 = admitted({ labels: { ...MODULE, [LABEL_BASE_CLUSTER_NAME]: "c1" } });
  // created before the policy and before these webhooks: asks for c9, no node affinity at all
  const before = modulePod({ labels: { ...MODULE, [LABEL_BASE_CLUSTER_NAME]: "c9" } });
  const cases: Array<{
    name: string;
    pod: V1Pod;
    old?: V1Pod;
    policy?: Policy;
    /** one entry per expected message: substrings it must contain */
    want: string[][];
  }> = [
    {
      name: "CREATE: judged in full",
      pod: before,
      want: [[`${LABEL_FIELD} asks for base cluster c9`], ["has no nodeSelectorTerms"]],
    },
    {
      name: "UPDATE: the cluster label overwritten with a disallowed one",
      pod: withMeta(onC1, { [LABEL_BASE_CLUSTER_NAME]: "c9" }),
      old: onC1,
      want: [[`${LABEL_FIELD} asks for base cluster c9`, "remove the label and annotation"]],
    },
    {
      name: "UPDATE: the cluster label added to a pod that asked for nothing",
      pod: withMeta(asked, { [LABEL_BASE_CLUSTER_NAME]: "c9" }),
      old: asked,
      want: [[`${LABEL_FIELD} asks for base cluster c9`]],
    },
    {
      name: "UPDATE: the cluster annotation overwritten with a list holding a disallowed one",
      pod: withMeta(asked, {}, { [LABEL_BASE_CLUSTER_NAME]: "c1,c9" }),
      old: asked,
      want: [[`${ANNOTATION_FIELD} asks for base cluster c9`]],
    },
    {
      name: "UPDATE: the cluster label changed to another allowed one",
      pod: withMeta(onC1, { [LABEL_BASE_CLUSTER_NAME]: "c2" }),
      old: onC1,
      want: [],
    },
    {
      name: "UPDATE: another label on an admitted pod",
      pod: withMeta(asked, { team: "x" }),
      old: asked,
      want: [],
    },
    {
      name: "UPDATE: another label on a pod admitted before the policy (its old problems do not count)",
      pod: withMeta(before, { team: "x" }),
      old: before,
      want: [],
    },
    {
      name: "UPDATE: that pod asking for yet another disallowed cluster",
      pod: withMeta(before, { [LABEL_BASE_CLUSTER_NAME]: "c8" }),
      old: before,
      want: [[`${LABEL_FIELD} asks for base cluster c8`]],
    },
    {
      name: "UPDATE: in a namespace whose policy cannot be applied (the pod must stay deletable)",
      pod: withMeta(asked, { team: "x" }),
      old: asked,
      policy: { kind: "refuse", problem: "unreadable" },
      want: [],
    },
    {
      name: "CREATE: in that namespace, refused",
      pod: asked,
      policy: { kind: "refuse", problem: "unreadable" },
      want: [["unreadable"]],
    },
  ];

  it.each(cases)("$name", ({ pod, old, policy = ALLOWED, want }) => {
    const got = requestProblems(deepFreeze(pod), policy, old && deepFreeze(old));
    expect(got.length).toBe(want.length);
    got.forEach((problem, i) => want[i].forEach(s => expect(problem).toContain(s)));
  });
});
