// The placement policy through the real kube-apiserver, kube-scheduler and `npm run dev`: a
// namespace annotated with its allowed base clusters refuses module pods that ask for another
// cluster, and gives pods that ask for none exactly the allowed ones, so the scheduler puts them
// only on VNodes of those clusters (fake bases of two clusters here); other namespaces are
// unaffected.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { K8s, kind } from "kubernetes-fluent-client";
import {
  ANNOTATION_ALLOWED_BASE_CLUSTERS,
  COMPONENT_MODULE,
  ENV_BIZ_VERSION,
  LABEL_BASE_CLUSTER_NAME,
  LABEL_COMPONENT,
  TAINT_NOT_READY,
} from "../../capabilities/lib/contract";
import { FakeBase, startFleet } from "../../hack/fake-base/fake-base";
import { createNamespace, kubectl, waitFor } from "./kube";
import { PeprDev, startPeprDev } from "./pepr-dev";
import { tearDownSuite } from "./teardown";

const CONTROLLER = "http://127.0.0.1:7777";
const DEV_ENV = {
  KOUPLELESS_REPLICA_ID: "e2e-placement",
  KOUPLELESS_HEALTH_POLL_SECONDS: "2",
  KOUPLELESS_BIZ_POLL_SECONDS: "2",
  KOUPLELESS_HEARTBEAT_MIN_INTERVAL_MS: "500",
  KOUPLELESS_LEASE_RENEW_SECONDS: "5",
};
// cluster-c has no base: the list is what the namespace allows, not what exists
const ALLOWED = ["cluster-a", "cluster-c"];
const FIRST_OCTET = 70; // 127.0.0.70-72, apart from the other suites' bases

type Pod = kind.Pod;
const nodeName = (b: FakeBase) => `vnode.${b.opts.identity}.dev`;
const jar = (biz: string) => `file:///opt/biz/${biz}-0.0.1-ark-biz.jar`;
const isReady = (p: Pod | undefined) =>
  p?.status?.conditions?.some(c => c.type === "Ready" && c.status === "True") ?? false;
const requiredTerms = (pod: Pod) =>
  pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
    ?.nodeSelectorTerms ?? [];

interface Ask {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  spec?: Record<string, unknown>;
}

/** A module pod with one biz, named after it, asking for whatever `ask` adds. */
function modulePod(biz: string, ask: Ask = {}) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: biz,
      labels: { [LABEL_COMPONENT]: COMPONENT_MODULE, ...ask.labels },
      ...(ask.annotations ? { annotations: ask.annotations } : {}),
    },
    spec: {
      containers: [
        { name: biz, image: jar(biz), env: [{ name: ENV_BIZ_VERSION, value: "0.0.1" }] },
      ],
      ...ask.spec,
    },
  };
}

function moduleDeployment(biz: string, replicas: number) {
  const labels = { app: biz, [LABEL_COMPONENT]: COMPONENT_MODULE };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: biz },
    spec: {
      replicas,
      selector: { matchLabels: { app: biz } },
      template: { metadata: { labels }, spec: modulePod(biz).spec },
    },
  };
}

const apply = (ns: string, obj: object) =>
  kubectl(["apply", "-n", ns, "-f", "-"], JSON.stringify(obj));

async function annotatedNamespace(prefix: string, value: string): Promise<string> {
  const ns = await createNamespace(prefix);
  const r = await kubectl([
    "annotate",
    "namespace",
    ns,
    `${ANNOTATION_ALLOWED_BASE_CLUSTERS}=${value}`,
  ]);
  expect(r).toMatchObject({ code: 0 });
  return ns;
}

describe("placement policy (npm run dev)", () => {
  let dev: PeprDev | undefined;
  let bases: FakeBase[] = [];
  let onA: FakeBase; // the one base of an allowed cluster
  let restricted: string; // allows ALLOWED
  let open: string; // no annotation
  let garbage: string; // an annotation that names no valid cluster
  const namespaces = () => [restricted, open, garbage].filter(Boolean);

  beforeAll(async () => {
    // annotated before the module starts, so no cached lookup predates the annotation
    restricted = await annotatedNamespace("e2e-placement", ALLOWED.join(","));
    garbage = await annotatedNamespace("e2e-placement-bad", "cluster a;cluster b");
    open = await createNamespace("e2e-placement-open");
    dev = await startPeprDev(DEV_ENV);
    const common = { controller: CONTROLLER, heartbeatMs: 2000 };
    const a = await startFleet(1, { ...common, clusterName: "cluster-a" }, FIRST_OCTET);
    const b = await startFleet(2, { ...common, clusterName: "cluster-b" }, FIRST_OCTET + 1);
    [onA] = a;
    bases = [...a, ...b];
    for (const base of bases) {
      await waitFor(`${nodeName(base)} Ready and schedulable`, async () => {
        const n = await K8s(kind.Node).Get(nodeName(base));
        const ready = n.status?.conditions?.some(c => c.type === "Ready" && c.status === "True");
        return ready && !(n.spec?.taints ?? []).some(t => t.key === TAINT_NOT_READY);
      });
    }
  });

  afterAll(() => tearDownSuite(bases, dev, namespaces()));

  const refused: Array<{ name: string; pod: object; says: string[] }> = [
    {
      name: "a disallowed cluster by label",
      pod: modulePod("ask-label", { labels: { [LABEL_BASE_CLUSTER_NAME]: "cluster-b" } }),
      says: [
        `metadata.labels["${LABEL_BASE_CLUSTER_NAME}"] asks for base cluster cluster-b`,
        "remove the label and annotation",
      ],
    },
    {
      name: "a list with a disallowed cluster by annotation",
      pod: modulePod("ask-list", {
        annotations: { [LABEL_BASE_CLUSTER_NAME]: "cluster-a,cluster-b" },
      }),
      says: [`metadata.annotations["${LABEL_BASE_CLUSTER_NAME}"] asks for base cluster cluster-b`],
    },
    {
      name: "a disallowed cluster in the pod's own node affinity",
      pod: modulePod("ask-affinity", {
        spec: {
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                  {
                    matchExpressions: [
                      { key: LABEL_BASE_CLUSTER_NAME, operator: "In", values: ["cluster-b"] },
                    ],
                  },
                ],
              },
            },
          },
        },
      }),
      says: ["nodeSelectorTerms[0].matchExpressions[0] asks for base cluster cluster-b"],
    },
    {
      name: "a preset nodeName, which would skip the scheduler",
      pod: modulePod("ask-node", { spec: { nodeName: "vnode.127.0.0.71.dev" } }),
      says: ['spec.nodeName "vnode.127.0.0.71.dev" skips the scheduler'],
    },
  ];

  it.each(refused)("refuses $name, and kubectl apply says why", async ({ pod, says }) => {
    const r = await apply(restricted, pod);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("denied the request");
    expect(r.stderr).toContain(
      `namespace "${restricted}" allows module pods only on base clusters cluster-a, cluster-c (its annotation ${ANNOTATION_ALLOWED_BASE_CLUSTERS})`,
    );
    for (const s of says) expect(r.stderr).toContain(s);
  });

  it("gives a Deployment that asks for nothing the allowed clusters: its pods run only on cluster-a", async () => {
    expect(await apply(restricted, moduleDeployment("placed", 3))).toMatchObject({ code: 0 });
    const pods = await waitFor(
      "3 placed pods Ready",
      async () => {
        const items = (await K8s(kind.Pod).InNamespace(restricted).WithLabel("app", "placed").Get())
          .items;
        return items.length === 3 && items.every(isReady) && items;
      },
      120_000,
    );
    for (const pod of pods) {
      expect(pod.metadata?.annotations?.[LABEL_BASE_CLUSTER_NAME]).toBe(ALLOWED.join(","));
      const terms = requiredTerms(pod);
      expect(terms.length).toBeGreaterThan(0);
      for (const term of terms) {
        expect(term.matchExpressions).toContainEqual({
          key: LABEL_BASE_CLUSTER_NAME,
          operator: "In",
          values: ALLOWED,
        });
      }
      // the preferred spread would pull two of them onto the cluster-b bases; the policy wins
      expect(pod.spec?.nodeName).toBe(nodeName(onA));
      const node = await K8s(kind.Node).Get(pod.spec!.nodeName!);
      expect(ALLOWED).toContain(node.metadata?.labels?.[LABEL_BASE_CLUSTER_NAME]);
    }
    expect(onA.installed().filter(x => x.bizName === "placed").length).toBe(1);
    for (const b of bases.filter(x => x !== onA)) {
      expect(b.installed().filter(x => x.bizName === "placed")).toEqual([]);
    }
  });

  it("admits a pod that asks for an allowed cluster, and later updates of admitted pods", async () => {
    const pod = modulePod("ask-allowed", { labels: { [LABEL_BASE_CLUSTER_NAME]: "cluster-a" } });
    expect(await apply(restricted, pod)).toMatchObject({ code: 0 });
    const ready = await waitFor("ask-allowed Ready", async () => {
      const p = await K8s(kind.Pod).InNamespace(restricted).Get("ask-allowed");
      return isReady(p) && p;
    });
    expect(ready.spec?.nodeName).toBe(nodeName(onA));
    const label = await kubectl(["label", "pod", "ask-allowed", "-n", restricted, "e2e=touched"]);
    expect(label).toMatchObject({ code: 0 });
  });

  // the label and annotation a policy judges can change after admission: UPDATEs are judged too
  it.each([
    { how: "label", value: "cluster-b", field: "labels" },
    { how: "annotate", value: "cluster-a,cluster-b", field: "annotations" },
  ])(
    "refuses kubectl $how --overwrite asking an admitted pod for another cluster",
    async ({ how, value, field }) => {
      const to = `${LABEL_BASE_CLUSTER_NAME}=${value}`;
      const r = await kubectl([how, "pod", "ask-allowed", "-n", restricted, to, "--overwrite"]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(
        `metadata.${field}["${LABEL_BASE_CLUSTER_NAME}"] asks for base cluster cluster-b, but namespace "${restricted}"`,
      );
    },
  );

  it("refuses every module pod in a namespace whose annotation is garbage, naming the annotation", async () => {
    const r = await apply(garbage, modulePod("in-garbage"));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      `namespace "${garbage}" has annotation ${ANNOTATION_ALLOWED_BASE_CLUSTERS}="cluster a;cluster b"`,
    );
    expect(r.stderr).toContain("set it to a comma-separated list");
  });

  it("leaves a namespace without the annotation alone", async () => {
    expect(await apply(open, modulePod("free"))).toMatchObject({ code: 0 });
    const free = await K8s(kind.Pod).InNamespace(open).Get("free");
    expect(free.metadata?.annotations?.[LABEL_BASE_CLUSTER_NAME]).toBeUndefined();
    for (const term of requiredTerms(free)) {
      expect((term.matchExpressions ?? []).map(r => r.key)).not.toContain(LABEL_BASE_CLUSTER_NAME);
    }
    // a cluster the restricted namespace may not use is fine here
    const onB = modulePod("on-b", { labels: { [LABEL_BASE_CLUSTER_NAME]: "cluster-b" } });
    expect(await apply(open, onB)).toMatchObject({ code: 0 });
    const ready = await waitFor("on-b Ready", async () => {
      const p = await K8s(kind.Pod).InNamespace(open).Get("on-b");
      return isReady(p) && p;
    });
    const node = await K8s(kind.Node).Get(ready.spec!.nodeName!);
    expect(node.metadata?.labels?.[LABEL_BASE_CLUSTER_NAME]).toBe("cluster-b");
  });
});
