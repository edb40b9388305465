import { describe, expect, it } from "@jest/globals";
import type { V1Pod } from "@kubernetes/client-node";
import { Config, loadConfig } from "../lib/config";
import {
  ENV_BIZ_VERSION,
  LABEL_COMPONENT,
  TAINT_NODE_ENV,
  TAINT_VIRTUAL_NODE,
} from "../lib/contract";
import { biz, modulePod, PodShape } from "../lib/admission/pods.fixture";
import {
  isVNodeName,
  MAX_BIZ_VERSION_LENGTH,
  moduleLabelProblems,
  moduleWarnings,
  validateForeignPod,
  validateModulePod,
} from "./validate";

const CFG = loadConfig({});
const withEnv = (name: string, env: Array<{ name: string; value?: string }>) => ({
  ...biz(name),
  env,
});

interface Case {
  name: string;
  given: PodShape;
  cfg?: Partial<Config>;
  /** one substring per expected message, in order; empty = the pod is valid */
  want: string[];
}

const cases: Case[] = [
  { name: "a plain module pod", given: {}, want: [] },
  { name: "a file: jar", given: { containers: [biz("biz1", "1", "file:///opt/b.jar")] }, want: [] },
  {
    name: "an image that is a container image reference",
    given: { containers: [biz("biz1", "0.0.1", "biz1:0.0.1")] },
    want: [
      'spec.containers[0].image "biz1:0.0.1" must be a jar URL with one of the schemes http, https, file',
    ],
  },
  {
    name: "a scheme that is not allowed",
    given: { containers: [biz("biz1", "0.0.1", "ftp://h/b.jar")] },
    want: ['spec.containers[0].image "ftp://h/b.jar" must be a jar URL'],
  },
  {
    name: "a URL that is not a .jar",
    given: { containers: [biz("biz1", "0.0.1", "https://h/b.zip?x=.jar")] },
    want: ['spec.containers[0].image "https://h/b.zip?x=.jar" must point to a .jar file'],
  },
  {
    name: "a host outside the allowlist",
    given: {},
    cfg: { allowedJarLocations: ["jars.internal"] },
    want: ["spec.containers[0].image", "is not in an allowed jar location (jars.internal)"].slice(
      1,
    ),
  },
  {
    name: "a host inside the allowlist",
    given: {},
    cfg: { allowedJarLocations: ["jars.internal", "repo.example.com"] },
    want: [],
  },
  {
    name: "BIZ_VERSION missing",
    given: { containers: [biz("biz1")] },
    want: [`spec.containers[0].env has no ${ENV_BIZ_VERSION}: add {name`],
  },
  {
    name: "BIZ_VERSION missing among other env vars",
    given: { containers: [withEnv("biz1", [{ name: "JAVA_OPTS", value: "-x" }])] },
    want: [`spec.containers[0].env has no ${ENV_BIZ_VERSION}`],
  },
  {
    name: "BIZ_VERSION empty",
    given: {
      containers: [
        withEnv("biz1", [
          { name: "A", value: "a" },
          { name: ENV_BIZ_VERSION, value: "" },
        ]),
      ],
    },
    want: [`spec.containers[0].env[1].value (${ENV_BIZ_VERSION}) is empty`],
  },
  {
    name: "BIZ_VERSION without value",
    given: { containers: [withEnv("biz1", [{ name: ENV_BIZ_VERSION }])] },
    want: ["spec.containers[0].env[0].value (BIZ_VERSION) is empty"],
  },
  {
    name: "BIZ_VERSION with a leading space",
    given: { containers: [biz("biz1", " 0.0.1")] },
    want: ['spec.containers[0].env[0].value (BIZ_VERSION) " 0.0.1" contains whitespace'],
  },
  {
    name: "BIZ_VERSION with a tab inside",
    given: { containers: [biz("biz1", "0.0\t1")] },
    want: ["contains whitespace"],
  },
  {
    name: `BIZ_VERSION of ${MAX_BIZ_VERSION_LENGTH} characters`,
    given: { containers: [biz("biz1", "1".repeat(MAX_BIZ_VERSION_LENGTH))] },
    want: [],
  },
  {
    name: `BIZ_VERSION longer than ${MAX_BIZ_VERSION_LENGTH}`,
    given: { containers: [biz("biz1", "1".repeat(MAX_BIZ_VERSION_LENGTH + 1))] },
    want: ["is 129 characters long, more than 128"],
  },
  {
    name: "BIZ_VERSION from a ConfigMap (Arklet never sees it)",
    given: {
      containers: [
        {
          ...biz("biz1"),
          env: [{ name: ENV_BIZ_VERSION, valueFrom: { configMapKeyRef: { name: "c", key: "v" } } }],
        },
      ],
    },
    want: ["spec.containers[0].env[0] (BIZ_VERSION) uses valueFrom"],
  },
  {
    name: "a container name that cannot be a biz name",
    given: { containers: [biz("Biz_1", "0.0.1")] },
    want: ['spec.containers[0].name "Biz_1" cannot be a biz name'],
  },
  {
    name: "a container name longer than 63",
    given: { containers: [biz("b".repeat(64), "0.0.1")] },
    want: ["cannot be a biz name"],
  },
  {
    name: "two containers with the same name:version",
    given: { containers: [biz("biz1", "0.0.1"), biz("biz2", "1"), biz("biz1", "0.0.1")] },
    want: ["spec.containers[2] is biz biz1:0.0.1 again (same as spec.containers[0])"],
  },
  {
    name: "the same biz in two versions is allowed here",
    given: { containers: [biz("biz1", "0.0.1"), biz("biz1", "0.0.2")] },
    want: [],
  },
  { name: "a VNode nodeName", given: { nodeName: "vnode.10.244.1.7.dev" }, want: [] },
  {
    name: "a nodeName that is no VNode",
    given: { nodeName: "worker-1" },
    want: [
      'spec.nodeName "worker-1" is not a VNode of env "dev" (those are named vnode.<identity>.dev)',
    ],
  },
  {
    name: "a VNode of another env",
    given: { nodeName: "vnode.b1.prod" },
    want: ['spec.nodeName "vnode.b1.prod" is not a VNode of env "dev"'],
  },
  {
    name: "several problems are all reported",
    given: { containers: [biz("biz1", undefined, "biz1:1"), biz("biz2", "x y")], nodeName: "n1" },
    want: [
      "spec.containers[0].image",
      "spec.containers[0].env has no BIZ_VERSION",
      'spec.containers[1].env[0].value (BIZ_VERSION) "x y" contains whitespace',
      'spec.nodeName "n1"',
    ],
  },
];

describe("validateModulePod", () => {
  it.each(cases)("$name", ({ given, cfg, want }) => {
    const problems = validateModulePod(modulePod(given), { ...CFG, ...cfg });
    expect(problems).toHaveLength(want.length);
    want.forEach((w, i) => expect(problems[i]).toContain(w));
  });

  it("names the field and says how to fix it in every message", () => {
    const problems = validateModulePod(
      modulePod({ containers: [biz("Biz", "", "x")], nodeName: "n" }),
      CFG,
    );
    expect(problems.length).toBeGreaterThan(2);
    for (const p of problems) expect(p).toMatch(/^spec\.\S+ .*: .*(set|use|remove|add)/);
  });

  it("accepts the allowlisted URL prefix and rejects its look-alike", () => {
    const cfg = { ...CFG, allowedJarLocations: ["https://repo.example.com/"] };
    expect(validateModulePod(modulePod(), cfg)).toEqual([]);
    const evil = modulePod({
      containers: [biz("biz1", "1", "https://repo.example.com.evil.org/a.jar")],
    });
    expect(validateModulePod(evil, cfg)).toHaveLength(1);
  });
});

describe("isVNodeName", () => {
  it.each([
    ["vnode.10.244.1.7.dev", true],
    ["vnode.b1.dev", true],
    ["vnode.dev", false],
    ["vnode..dev", false],
    ["vnode.b1.dev2", false],
    ["node.b1.dev", false],
    ["vnode.b1.prod", false],
  ])("%s → %s", (name, want) => expect(isVNodeName(name, "dev")).toBe(want));
});

describe("validateForeignPod", () => {
  const plain = (tolerations: PodShape["tolerations"], labels: Record<string, string> = {}) =>
    modulePod({ labels, tolerations });
  const vn = { key: TAINT_VIRTUAL_NODE, operator: "Exists" };
  const cases: Array<{ name: string; pod: V1Pod; cfg?: Partial<Config>; want: string[] }> = [
    { name: "no tolerations", pod: plain(undefined), want: [] },
    {
      name: "tolerates every taint (kube-proxy-like)",
      pod: plain([{ operator: "Exists" }]),
      want: [],
    },
    {
      name: "tolerates every NoExecute taint",
      pod: plain([{ operator: "Exists", effect: "NoExecute" }]),
      want: [],
    },
    {
      name: "names the VNode taint",
      pod: plain([vn]),
      want: [
        `spec.tolerations[0] tolerates ${TAINT_VIRTUAL_NODE}, but the pod has no label ${LABEL_COMPONENT}=module`,
      ],
    },
    {
      name: "names it twice among others",
      pod: plain([
        { key: "a", operator: "Exists" },
        vn,
        { ...vn, operator: "Equal", value: "True" },
      ]),
      want: ["spec.tolerations[1]", "spec.tolerations[2]"],
    },
    {
      name: "a component label with another value is not a module",
      pod: plain([vn], { [LABEL_COMPONENT]: "vnode" }),
      want: ["spec.tolerations[0]"],
    },
    {
      name: "only the env taint",
      pod: plain([{ key: TAINT_NODE_ENV, operator: "Exists" }]),
      want: [],
    },
    { name: "a module pod", pod: modulePod({ tolerations: [vn] }), want: [] },
    {
      name: "switched off by config",
      pod: plain([vn]),
      cfg: { rejectForeignVNodeTolerations: false },
      want: [],
    },
  ];
  it.each(cases)("$name", ({ pod, cfg, want }) => {
    const problems = validateForeignPod(pod, { ...CFG, ...cfg });
    expect(problems).toHaveLength(want.length);
    want.forEach((w, i) => expect(problems[i]).toContain(w));
  });

  it("says how to fix it", () => {
    expect(validateForeignPod(plain([vn]), CFG)[0]).toMatch(
      /remove the toleration, or add the label/,
    );
  });
});

describe("moduleLabelProblems", () => {
  const module = modulePod();
  const plain = modulePod({ labels: { app: "x" } });
  const other = modulePod({ labels: { [LABEL_COMPONENT]: "vnode" } });
  it.each([
    { name: "a create of a module pod", pod: module, old: undefined, says: [] },
    { name: "a create of a plain pod", pod: plain, old: undefined, says: [] },
    { name: "an update that keeps the module label", pod: module, old: module, says: [] },
    { name: "an update of a plain pod", pod: plain, old: plain, says: [] },
    {
      name: "the module label added to a plain pod",
      pod: module,
      old: plain,
      says: ["can only be set when the pod is created", "delete the pod and create it"],
    },
    {
      name: "the module label removed",
      pod: plain,
      old: module,
      says: ["cannot be removed from a module pod", "delete the pod instead"],
    },
    {
      name: "the label's value changed away from module",
      pod: other,
      old: module,
      says: ["cannot be removed"],
    },
  ])("$name", ({ pod, old, says }) => {
    const problems = moduleLabelProblems(pod, old);
    expect(problems).toHaveLength(says.length ? 1 : 0);
    for (const s of says) expect(problems[0]).toContain(s);
    if (says.length) expect(problems[0]).toContain(`${LABEL_COMPONENT}=module`);
  });
});

describe("moduleWarnings", () => {
  const CFG_DEV = { ...CFG, env: "dev" };
  const envT = (value: string) => ({
    key: TAINT_NODE_ENV,
    operator: "Equal",
    value,
    effect: "NoExecute",
  });
  const term = (...keys: string[]) => ({
    matchExpressions: keys.map(key => ({ key, operator: "In", values: ["x"] })),
  });
  const required = (...terms: ReturnType<typeof term>[]) => ({
    nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } },
  });
  it.each([
    ["nothing to say", {}, []],
    ["our env tolerated", { tolerations: [envT("dev")] }, []],
    [
      "another env chosen",
      { tolerations: [envT("test")] },
      [/node-env=test: this controller serves env "dev" only.*KOUPLELESS_ENV=test/],
    ],
    [
      "a renamed key in nodeSelector",
      { nodeSelector: { "vnode.koupleless.io/name": "base" } },
      [/spec.nodeSelector\["vnode.koupleless.io\/name"\].*use base.koupleless.io\/name/],
    ],
    [
      "a docs-only key in the required affinity",
      { affinity: required(term("base.koupleless.io/name"), term("base.koupleless.io/stack")) },
      [
        /nodeSelectorTerms\[1\].matchExpressions\[0\] requires node label base.koupleless.io\/stack.*remove it/,
      ],
    ],
    [
      "current keys",
      {
        nodeSelector: { "base.koupleless.io/name": "base" },
        affinity: required(term("base.koupleless.io/version")),
      },
      [],
    ],
  ])("%s", (_name, spec, want) => {
    const pod = modulePod({});
    const got = moduleWarnings({ ...pod, spec: { ...pod.spec!, ...spec } } as V1Pod, CFG_DEV);
    expect(got).toHaveLength(want.length);
    want.forEach((re, i) => expect(got[i]).toMatch(re));
  });
});
