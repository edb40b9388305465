// docs/upstream-samples.md and test/fixtures/upstream-samples/ stay one list: every fixture is
// on the page and every fixture the page links exists; each fixture names the upstream sample
// it models; and the change the page documents (runHere) does what the page says.
import { describe, expect, it } from "@jest/globals";
import type { V1DaemonSet, V1Pod } from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  fixtureFiles,
  Manifest,
  podSpecOf,
  readFixture,
  runHere,
  upstreamOf,
} from "../../test/fixtures/upstream-samples";

const ROOT = resolve(__dirname, "..", "..");
const PAGE = join(ROOT, "docs", "upstream-samples.md");
const LINK = /\]\(\.\.\/test\/fixtures\/upstream-samples\/([^)#\s]+)\)/g;

/** The fixture files docs/upstream-samples.md links to, sorted, without repeats. */
export function linkedFixtures(md: string): string[] {
  return [...new Set([...md.matchAll(LINK)].map(m => m[1]))].sort();
}

describe("docs/upstream-samples.md and its fixtures", () => {
  it("reads the fixture links of a page", () => {
    const md =
      "[a](../test/fixtures/upstream-samples/b.yaml) [c](../test/fixtures/upstream-samples/a.yaml) [a](../test/fixtures/upstream-samples/b.yaml) [x](../docs/x.md)";
    expect(linkedFixtures(md)).toEqual(["a.yaml", "b.yaml"]);
  });

  it("lists every fixture file, and links no fixture that does not exist", () => {
    const files = fixtureFiles();
    expect(files.length).toBeGreaterThan(0);
    expect(linkedFixtures(readFileSync(PAGE, "utf8"))).toEqual(files);
  });

  it.each(fixtureFiles().map(f => [f]))("%s names the upstream sample it models", file => {
    const { text, manifest } = readFixture(file);
    expect(upstreamOf(text)).toMatch(/^koupleless\/(module-controller|docs)@\S+ \S+/);
    expect(["Pod", "Deployment", "DaemonSet"]).toContain(manifest.kind);
    expect(podSpecOf(manifest)?.containers.length).toBeGreaterThan(0);
  });
});

const NODE_ENV = "schedule.koupleless.io/node-env";
const toleration = (key: string, value: string, operator = "Equal") => ({
  key,
  operator,
  value,
  effect: "NoExecute",
});
const expr = (key: string, values: string[]) => ({ key, operator: "In", values });

function pod(keys: string[], tolerations: object[]): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p" },
    spec: {
      containers: [{ name: "biz1" }],
      tolerations,
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: keys.map(k => expr(k, ["v"])) }],
          },
        },
      },
    },
  };
}

const keysOf = (m: Manifest) =>
  podSpecOf(
    m,
  )?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms.flatMap(
    t => (t.matchExpressions ?? []).map(e => e.key),
  );
const envsOf = (m: Manifest) =>
  (podSpecOf(m)?.tolerations ?? []).filter(t => t.key === NODE_ENV).map(t => t.value);

describe("runHere: the change docs/upstream-samples.md documents", () => {
  const cases: Array<{ name: string; in: V1Pod; keys: string[]; envs: (string | undefined)[] }> = [
    {
      name: "another env becomes ours",
      in: pod(["base.koupleless.io/name"], [toleration(NODE_ENV, "test")]),
      keys: ["base.koupleless.io/name"],
      envs: ["dev"],
    },
    {
      name: "an Exists toleration of any env is kept",
      in: pod([], [{ key: NODE_ENV, operator: "Exists", effect: "NoExecute" }]),
      keys: [],
      envs: [undefined],
    },
    {
      name: "renamed keys get their base.koupleless.io name; stack is dropped",
      in: pod(
        ["base.koupleless.io/stack", "vnode.koupleless.io/version", "vnode.koupleless.io/name"],
        [],
      ),
      keys: ["base.koupleless.io/version", "base.koupleless.io/name"],
      envs: [],
    },
    {
      name: "keys a VNode carries are kept",
      in: pod(["base.koupleless.io/cluster-name", "kubernetes.io/hostname"], []),
      keys: ["base.koupleless.io/cluster-name", "kubernetes.io/hostname"],
      envs: [],
    },
  ];

  it.each(cases)("$name", c => {
    const before = structuredClone(c.in);
    const out = runHere(c.in, "dev");
    expect([keysOf(out), envsOf(out)]).toEqual([c.keys, c.envs]);
    expect(c.in).toEqual(before); // the input is left alone
  });

  it("a workload's template gets the labels its selector asks for, and keeps its own", () => {
    const ds: V1DaemonSet = {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "d" },
      spec: {
        selector: { matchLabels: { "module.koupleless.io/name": "biz1" } },
        template: {
          metadata: { labels: { "virtual-kubelet.koupleless.io/component": "module" } },
          spec: { containers: [{ name: "biz1" }], tolerations: [toleration(NODE_ENV, "test")] },
        },
      },
    };
    const out = runHere(ds, "dev") as V1DaemonSet;
    expect(out.spec?.template.metadata?.labels).toEqual({
      "module.koupleless.io/name": "biz1",
      "virtual-kubelet.koupleless.io/component": "module",
    });
    expect(envsOf(out)).toEqual(["dev"]);
  });

  it("a pod without tolerations or affinity is unchanged", () => {
    const bare: V1Pod = { kind: "Pod", spec: { containers: [{ name: "biz1" }] } };
    expect(runHere(bare, "dev")).toEqual(bare);
  });
});
