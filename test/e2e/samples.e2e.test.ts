// The upstream module samples (test/fixtures/upstream-samples/, one per sample, listed in
// docs/upstream-samples.md) through the real kube-apiserver, kube-scheduler, kube-controller-
// manager and `npm run dev`, against three fake bases with the metadata the samples select
// (name "base", version 1.0.0, cluster "default"): each sample as upstream wrote it gets the
// outcome the page documents (the apiserver's refusal, or admission's warnings and a pod the
// scheduler leaves Pending), and with the change the page documents (runHere) becomes Ready.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { join } from "node:path";
import { K8s, kind } from "kubernetes-fluent-client";
import { TAINT_NODE_ENV, TAINT_NOT_READY } from "../../capabilities/lib/contract";
import { FakeBase, startFleet } from "../../hack/fake-base/fake-base";
import { fixtureFiles, readFixture, runHere, SAMPLES_DIR } from "../fixtures/upstream-samples";
import { createNamespace, isReady, kubectl, waitFor } from "./kube";
import { PeprDev, startPeprDev } from "./pepr-dev";
import { devVNode, tearDownSuite } from "./teardown";

const ENV = "dev"; // KOUPLELESS_ENV's default
const CONTROLLER = "http://127.0.0.1:7777";
const FIRST_OCTET = 90; // 127.0.0.90-92, apart from the other suites' bases
const DEV_ENV = {
  KOUPLELESS_REPLICA_ID: "e2e-samples",
  KOUPLELESS_HEALTH_POLL_SECONDS: "2",
  KOUPLELESS_BIZ_POLL_SECONDS: "2",
  KOUPLELESS_HEARTBEAT_MIN_INTERVAL_MS: "500",
  KOUPLELESS_LEASE_RENEW_SECONDS: "5",
};
// what the samples' required node affinity asks for (Arklet's default hook says
// TO_BE_IMPLEMENTED / 1.0.0 / default; a real base sets these in its BaseMetadataHook)
const BASE_METADATA = { name: "base", version: "1.0.0", clusterName: "default" };

type Pod = kind.Pod;

const ENV_WARNING = `Warning: spec.tolerations choose ${TAINT_NODE_ENV}=test: this controller serves env "${ENV}" only`;
const TEMPLATE_ENV_WARNING = `Warning: spec.template.spec.tolerations choose ${TAINT_NODE_ENV}=test: this controller serves env "${ENV}" only`;
const staleWarning = (key: string, fix: string) =>
  `requires node label ${key}, which no VNode carries (upstream renamed or dropped it): the pod stays Pending; ${fix}`;

/** As upstream wrote it: refused by the apiserver, or admitted with warnings and left Pending. */
type AsIs = { refused: string[] } | { warnings: string[]; pending: number };

interface Sample {
  file: string;
  asIs: AsIs;
  /** Ready pods once the documented change is made. */
  ready: number;
}

// The outcomes docs/upstream-samples.md documents, one row per fixture.
const SAMPLES: Sample[] = [
  { file: "docs-design-pod.yaml", asIs: { warnings: [ENV_WARNING], pending: 1 }, ready: 1 },
  {
    file: "mc-module-daemonset.yaml",
    asIs: {
      refused: ["spec.template.metadata.labels", "`selector` does not match template `labels`"],
    },
    ready: 3, // one per base
  },
  // its pods are created by kube-controller-manager, which only logs their warnings: admission
  // says it on the Deployment, at the template's field
  {
    file: "mc-module-deployment.yaml",
    asIs: { warnings: [TEMPLATE_ENV_WARNING], pending: 1 },
    ready: 1,
  },
  {
    file: "mc-multi-module-biz1-biz2.yaml",
    asIs: { warnings: [ENV_WARNING], pending: 1 },
    ready: 1,
  },
  {
    file: "mc-single-module-biz1-version2.yaml",
    asIs: { warnings: [ENV_WARNING], pending: 1 },
    ready: 1,
  },
  { file: "mc-single-module-biz1.yaml", asIs: { warnings: [ENV_WARNING], pending: 1 }, ready: 1 },
  { file: "mc-single-module-biz2.yaml", asIs: { warnings: [ENV_WARNING], pending: 1 }, ready: 1 },
  {
    file: "mc-v2.1-single-module-biz1.yaml",
    asIs: {
      warnings: [
        ENV_WARNING,
        staleWarning("base.koupleless.io/stack", "remove it"),
        staleWarning("vnode.koupleless.io/version", "use base.koupleless.io/version"),
        staleWarning("vnode.koupleless.io/name", "use base.koupleless.io/name"),
      ],
      pending: 1,
    },
    ready: 1,
  },
];

const podsIn = async (ns: string): Promise<Pod[]> =>
  (await K8s(kind.Pod).InNamespace(ns).Get()).items;

const unschedulable = (p: Pod) =>
  p.status?.phase === "Pending" &&
  (p.status?.conditions ?? []).some(
    c => c.type === "PodScheduled" && c.status === "False" && c.reason === "Unschedulable",
  );

describe("upstream module samples (npm run dev, three fake bases)", () => {
  let dev: PeprDev | undefined;
  let bases: FakeBase[] = [];
  const namespaces: string[] = [];
  const ours = () => new Set(bases.map(devVNode));

  beforeAll(async () => {
    dev = await startPeprDev(DEV_ENV);
    bases = await startFleet(
      3,
      { controller: CONTROLLER, heartbeatMs: 2000, ...BASE_METADATA },
      FIRST_OCTET,
    );
    for (const base of bases) {
      await waitFor(`${devVNode(base)} Ready and schedulable`, async () => {
        const n = await K8s(kind.Node).Get(devVNode(base));
        const ready = n.status?.conditions?.some(c => c.type === "Ready" && c.status === "True");
        return ready && !(n.spec?.taints ?? []).some(t => t.key === TAINT_NOT_READY);
      });
    }
  });

  afterAll(() => tearDownSuite(bases, dev, namespaces));

  async function namespace(): Promise<string> {
    const ns = await createNamespace("e2e-samples");
    namespaces.push(ns);
    return ns;
  }

  it("the table covers every fixture", () => {
    expect(SAMPLES.map(s => s.file)).toEqual(fixtureFiles());
  });

  it.each(SAMPLES)("$file as upstream wrote it: the documented answer", async ({ file, asIs }) => {
    const ns = await namespace();
    const r = await kubectl(["apply", "-n", ns, "-f", join(SAMPLES_DIR, file)]);
    if ("refused" in asIs) {
      expect(r.code).not.toBe(0);
      for (const s of asIs.refused) expect(r.stderr).toContain(s);
      expect(await podsIn(ns)).toEqual([]);
      return;
    }
    expect(r.code).toBe(0);
    for (const w of asIs.warnings) expect(r.stderr).toContain(w);
    if (asIs.warnings.length === 0) expect(r.stderr).not.toContain("Warning:");
    const pods = await waitFor(`${asIs.pending} unschedulable pod(s) of ${file}`, async () => {
      const items = await podsIn(ns);
      return items.length === asIs.pending && items.every(unschedulable) && items;
    });
    expect(pods.map(p => p.spec?.nodeName)).toEqual(pods.map(() => undefined));
  });

  it.each(SAMPLES)("$file with the documented change: Ready", async ({ file, ready }) => {
    const ns = await namespace();
    const fixed = runHere(readFixture(file).manifest, ENV);
    const r = await kubectl(["apply", "-n", ns, "-f", "-"], JSON.stringify(fixed));
    expect(r).toMatchObject({ code: 0 });
    expect(r.stderr).not.toContain("Warning:");
    const pods = await waitFor(`${ready} Ready pod(s) of ${file}`, async () => {
      const items = await podsIn(ns);
      return items.length === ready && items.every(isReady) && items;
    });
    const nodes = pods.map(p => p.spec?.nodeName ?? "");
    expect(nodes.every(n => ours().has(n))).toBe(true);
    expect(new Set(nodes).size).toBe(ready); // at most one pod per base: 3 for the DaemonSet
  });
});
