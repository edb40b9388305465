import { describe, expect, it } from "@jest/globals";
import type { V1Affinity, V1NodeSelectorRequirement, V1ObjectMeta } from "@kubernetes/client-node";
import {
  COMPONENT_VNODE,
  LABEL_BASE_CLUSTER_NAME,
  LABEL_BASE_NAME,
  LABEL_BASE_VERSION,
  LABEL_COMPONENT,
  LABEL_ENV,
} from "../contract";
import {
  anyOf,
  sameRequirement,
  spreadTerm,
  vnodeRequirements,
  withRequiredNodeAffinity,
  withSpreadAntiAffinity,
} from "./affinity";
import { deepFreeze } from "./pods.fixture";

const inValues = (key: string, ...values: string[]): V1NodeSelectorRequirement => ({
  key,
  operator: "In",
  values,
});
const COMPONENT = inValues(LABEL_COMPONENT, COMPONENT_VNODE);
const ENV = inValues(LABEL_ENV, "dev");

describe("anyOf", () => {
  it.each([
    [undefined, []],
    ["", []],
    ["a", ["a"]],
    ["a,b", ["a", "b"]],
    [" a , b ,, ", ["a", "b"]],
  ])("%j → %j", (given, want) => expect(anyOf(given)).toEqual(want));
});

describe("vnodeRequirements", () => {
  const cases: Array<{ name: string; meta?: V1ObjectMeta; want: V1NodeSelectorRequirement[] }> = [
    { name: "no metadata: only component and env", meta: undefined, want: [COMPONENT, ENV] },
    {
      name: "base name, version and cluster labels",
      meta: {
        labels: {
          [LABEL_BASE_NAME]: "base1",
          [LABEL_BASE_VERSION]: "1.0.0",
          [LABEL_BASE_CLUSTER_NAME]: "c1",
        },
      },
      want: [
        COMPONENT,
        ENV,
        inValues(LABEL_BASE_NAME, "base1"),
        inValues(LABEL_BASE_VERSION, "1.0.0"),
        inValues(LABEL_BASE_CLUSTER_NAME, "c1"),
      ],
    },
    {
      name: "a comma list in an annotation means any of",
      meta: { annotations: { [LABEL_BASE_VERSION]: "1.0.0, 1.1.0" } },
      want: [COMPONENT, ENV, inValues(LABEL_BASE_VERSION, "1.0.0", "1.1.0")],
    },
    {
      name: "label and annotation both apply (ANDed)",
      meta: {
        labels: { [LABEL_BASE_NAME]: "base1" },
        annotations: { [LABEL_BASE_NAME]: "base1,base2" },
      },
      want: [
        COMPONENT,
        ENV,
        inValues(LABEL_BASE_NAME, "base1"),
        inValues(LABEL_BASE_NAME, "base1", "base2"),
      ],
    },
    {
      name: "the same value as label and annotation gives one requirement",
      meta: { labels: { [LABEL_BASE_NAME]: "b" }, annotations: { [LABEL_BASE_NAME]: "b" } },
      want: [COMPONENT, ENV, inValues(LABEL_BASE_NAME, "b")],
    },
    {
      name: "empty values are ignored",
      meta: { labels: { [LABEL_BASE_NAME]: "" }, annotations: { [LABEL_BASE_VERSION]: " , " } },
      want: [COMPONENT, ENV],
    },
  ];
  it.each(cases)("$name", ({ meta, want }) =>
    expect(vnodeRequirements(meta, ["dev"])).toEqual(want),
  );
});

describe("sameRequirement", () => {
  it("ignores the order of values", () => {
    expect(sameRequirement(inValues("k", "a", "b"), inValues("k", "b", "a"))).toBe(true);
  });
  it("compares key, operator and values", () => {
    expect(sameRequirement(inValues("k", "a"), inValues("j", "a"))).toBe(false);
    expect(sameRequirement(inValues("k", "a"), { ...inValues("k", "a"), operator: "NotIn" })).toBe(
      false,
    );
    expect(sameRequirement(inValues("k", "a"), inValues("k", "a", "b"))).toBe(false);
  });
});

describe("withRequiredNodeAffinity", () => {
  const reqs = [COMPONENT, ENV];
  const zone = (z: string) => inValues("zone", z);
  const byName = { key: "metadata.name", operator: "In", values: ["vnode.a.dev"] };
  const preferred = [{ weight: 1, preference: { matchExpressions: [zone("a")] } }];
  const cases: Array<{ name: string; given?: V1Affinity; wantTerms: object[] }> = [
    {
      name: "no affinity: one new term",
      given: undefined,
      wantTerms: [{ matchExpressions: reqs }],
    },
    {
      name: "an empty term list: one new term",
      given: {
        nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } },
      },
      wantTerms: [{ matchExpressions: reqs }],
    },
    {
      name: "several terms: ANDed into each",
      given: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchExpressions: [zone("a")] },
              { matchExpressions: [zone("b")], matchFields: [byName] },
            ],
          },
        },
      },
      wantTerms: [
        { matchExpressions: [zone("a"), ...reqs] },
        { matchExpressions: [zone("b"), ...reqs], matchFields: [byName] },
      ],
    },
    {
      name: "a DaemonSet term with matchFields only",
      given: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchFields: [byName] }],
          },
        },
      },
      wantTerms: [{ matchFields: [byName], matchExpressions: reqs }],
    },
    {
      name: "a term that already has one of them gets only the other",
      given: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [ENV] }],
          },
        },
      },
      wantTerms: [{ matchExpressions: [ENV, COMPONENT] }],
    },
  ];

  it.each(cases)("$name", ({ given, wantTerms }) => {
    const out = withRequiredNodeAffinity(deepFreeze(given), reqs);
    expect(
      out.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms,
    ).toEqual(wantTerms);
    expect(withRequiredNodeAffinity(out, reqs)).toEqual(out);
  });

  it("keeps preferred node affinity and pod (anti-)affinity", () => {
    const given: V1Affinity = {
      nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: preferred },
      podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [spreadTerm("x", 3)] },
    };
    const out = withRequiredNodeAffinity(deepFreeze(given), reqs);
    expect(out.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution).toEqual(preferred);
    expect(out.podAffinity).toEqual(given.podAffinity);
  });
});

describe("withSpreadAntiAffinity", () => {
  const required = [{ labelSelector: { matchLabels: { a: "b" } }, topologyKey: "zone" }];
  it.each([
    { name: "no affinity", given: undefined, want: [spreadTerm("biz1", 50)] },
    {
      name: "other preferred terms are kept",
      given: {
        podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [spreadTerm("x", 1)] },
      },
      want: [spreadTerm("x", 1), spreadTerm("biz1", 50)],
    },
    {
      name: "the same term at the user's weight is kept as is",
      given: {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [spreadTerm("biz1", 7)],
        },
      },
      want: [spreadTerm("biz1", 7)],
    },
  ] as Array<{ name: string; given?: V1Affinity; want: object[] }>)("$name", ({ given, want }) => {
    const out = withSpreadAntiAffinity(deepFreeze(given), "biz1", 50);
    expect(out?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution).toEqual(want);
    expect(withSpreadAntiAffinity(out, "biz1", 50)).toEqual(out);
  });

  it("keeps required anti-affinity", () => {
    const out = withSpreadAntiAffinity(
      { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: required } },
      "biz1",
      50,
    );
    expect(out?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution).toEqual(required);
  });
});
