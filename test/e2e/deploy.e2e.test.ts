// Issue 16: the module installed for real, as Pods on the local cluster's real Node, by each of
// the three routes (`npx pepr deploy`, the dist/ manifest, the Helm chart with the NodePort
// option), one after the other. For each: the controller pods of the locally built image become
// Ready; kubectl-applied module pods are mutated through the webhook Service; fake bases on the
// host heartbeat through the tunnel Service and become Ready VNodes shared by the watchers; a
// module Deployment is installed once per pod; deleting a watcher pod and a rolling update hand
// the VNodes over without NotReady and without uninstalls; the watchers never get a 403; the
// route's uninstall leaves nothing. The suite adds the node and removes it at the end, so the
// other suites (which expect no node that runs pods) never see it.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { K8s, kind } from "kubernetes-fluent-client";
import {
  ANNOTATION_MUTATED,
  LABEL_COMPONENT,
  NODE_LEASE_NAMESPACE,
  TAINT_VIRTUAL_NODE,
} from "../../capabilities/lib/contract";
import { Lease } from "../../capabilities/lib/kinds";
import { TUNNEL_SERVICE, WATCHER_DEPLOYMENT } from "../../capabilities/lib/tunnel/service";
import { attachNode, detachNode, readState } from "../../hack/cluster/cluster";
import { NodeInfo, nodeUnavailableReason } from "../../hack/cluster/node";
import { FakeBase } from "../../hack/fake-base/fake-base";
import { controllerImageTag, ensureControllerImage } from "../../hack/image/image";
import {
  bridgeAddress,
  distRoute,
  helmBinary,
  helmRoute,
  leftovers,
  NS,
  PEPR_UNINSTALL,
  peprDeployRoute,
  Route,
  run,
  UUID,
  VNODE_CLEANUP,
} from "./deploy-routes";
import { createNamespace, isReady, kubectl, moduleDeployment, sleep, waitFor } from "./kube";

const log = (line: string) => process.stderr.write(`[deploy e2e] ${line}\n`);
const secs = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)}s`;

const preexisting = readState()?.node;
const reason =
  process.env.E2E_USE_KUBECONFIG === "true"
    ? "the suites run against $KUBECONFIG, not the local cluster"
    : preexisting
      ? "a node is already up (this suite adds and removes its own)"
      : nodeUnavailableReason();
if (reason) log(`SKIPPED: ${reason}`);
const describeDeploy = reason ? describe.skip : describe;

const podsOf = async (controller: string) =>
  (await K8s(kind.Pod).InNamespace(NS).WithLabel("pepr.dev/controller", controller).Get()).items;
const podName = (p: kind.Pod) => p.metadata?.name as string;
const vnodeOf = (b: FakeBase) => `vnode.${b.opts.identity}.dev`;
const uninstalls = (bases: FakeBase[]) =>
  bases.reduce((n, b) => n + b.log.filter(e => e.command === "uninstallBiz").length, 0);

async function holders(bases: FakeBase[]): Promise<string[]> {
  const leases = await Promise.all(
    bases.map(b => K8s(Lease).InNamespace(NODE_LEASE_NAMESPACE).Get(vnodeOf(b))),
  );
  return leases.map(l => l.spec?.holderIdentity ?? "");
}

/** Watches the VNodes every 250 ms and remembers any moment one was not Ready. */
function notReadyWatch(bases: FakeBase[]) {
  const seen: string[] = [];
  let on = true;
  const loop = (async () => {
    while (on) {
      for (const b of bases) {
        const n = await K8s(kind.Node)
          .Get(vnodeOf(b))
          .catch(err => ({ status: { conditions: [{ type: "Ready", status: `${err.status}` }] } }));
        const ready = n.status?.conditions?.find(c => c.type === "Ready")?.status;
        if (ready !== "True")
          seen.push(`${vnodeOf(b)} Ready=${ready} at ${new Date().toISOString()}`);
      }
      await sleep(250);
    }
  })();
  return { seen, stop: async () => ((on = false), await loop) };
}

/** Every replica's Lease holding is by a live, Ready watcher pod, and none by `gone`. */
async function heldByLiveWatchers(bases: FakeBase[], gone: string[]): Promise<boolean> {
  const live = (await podsOf("watcher")).filter(p => isReady(p) && !p.metadata?.deletionTimestamp);
  const names = new Set(live.map(podName));
  const h = await holders(bases);
  return h.every(x => names.has(x) && !gone.includes(x));
}

async function expectNoForbidden(): Promise<void> {
  for (const p of await podsOf("watcher")) {
    const logs = await kubectl(["logs", "-n", NS, podName(p)]);
    expect(logs.stdout).toContain("heartbeat tunnel listening");
    expect(logs.stdout).not.toMatch(/forbidden|\b403\b/i);
  }
}

let helm: string | undefined;

/** Removes whatever a failed run of any route left, so the next route and suites start clean. */
async function cleanUpEverything(): Promise<void> {
  if (helm) await run(helm, ["uninstall", "koupleless-pepr", "--wait"]).catch(() => undefined);
  for (const args of PEPR_UNINSTALL) await kubectl([...args, "--ignore-not-found"]);
  await kubectl([
    "delete",
    "roles,rolebindings",
    "-n",
    "kube-node-lease",
    `pepr-${UUID}-node-leases`,
    "--ignore-not-found",
  ]);
}

function routeSuite(route: () => Route, node: () => NodeInfo | undefined) {
  let bases: FakeBase[] = [];
  let ns = "";
  let started = 0;

  afterAll(async () => {
    await Promise.all(bases.map(b => b.stop(true)));
    if (ns) await kubectl(["delete", "namespace", ns, "--wait=false"]);
    if (bases.length > 0) {
      // a step failed before the uninstall: leave nothing for the next route
      await cleanUpEverything();
      await kubectl(["delete", "nodes", "-l", `${LABEL_COMPONENT}=vnode`]);
    }
  }, 300_000);

  it("installs: the admission and watcher pods of the locally built image become Ready", async () => {
    started = Date.now();
    await route().install();
    log(`${route().name}: install returned after ${secs(started)}`);
    for (const controller of ["admission", "watcher"]) {
      const pods = await waitFor(
        `${controller} pods Ready`,
        async () => {
          const list = await podsOf(controller);
          const want = controller === "watcher" ? route().replicas : 1;
          return list.length >= want && list.every(isReady) && list;
        },
        240_000,
      );
      for (const p of pods) {
        expect(p.spec?.nodeName).toBe(node()?.name);
        expect(p.spec?.containers[0].image).toBe(controllerImageTag());
      }
    }
    // least privilege on every route: no wildcard in the ClusterRole
    const role = await K8s(kind.ClusterRole).Get(`pepr-${UUID}`);
    for (const r of role.rules ?? []) {
      expect([...(r.apiGroups ?? []), ...(r.resources ?? []), ...r.verbs]).not.toContain("*");
    }
  }, 600_000);

  it("a module pod created with kubectl apply is mutated by the webhook through its Service", async () => {
    ns = await createNamespace("e2e-deploy");
    const pod = moduleDeployment(undefined, "probe", "0.0.1", 1).spec?.template ?? {};
    const body = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { ...pod.metadata, name: "probe" },
      spec: pod.spec,
    };
    await waitFor(
      "the webhook answers",
      async () => (await kubectl(["apply", "-n", ns, "-f", "-"], JSON.stringify(body))).code === 0,
    );
    const got = await K8s(kind.Pod).InNamespace(ns).Get("probe");
    expect(got.spec?.tolerations?.map(t => t.key)).toContain(TAINT_VIRTUAL_NODE);
    expect(got.metadata?.annotations?.[ANNOTATION_MUTATED]).toBeTruthy();
    await kubectl(["delete", "pod", "-n", ns, "probe", "--grace-period=0", "--force"]);
  }, 120_000);

  it("fake bases heartbeat through the tunnel Service and become Ready VNodes, shared by the watchers", async () => {
    const svc = await waitFor("the heartbeat Service", () =>
      K8s(kind.Service).InNamespace(NS).Get(TUNNEL_SERVICE),
    );
    if (route() === peprDeployRoute) {
      // Pepr applies no such Service: the watcher made it, owned by its Deployment
      expect(svc.metadata?.ownerReferences?.[0]).toMatchObject({
        kind: "Deployment",
        name: WATCHER_DEPLOYMENT,
      });
    }
    const url = await route().tunnelUrl(node()?.ip as string);
    const tag = route().name.split(/\W+/).filter(Boolean)[0].toLowerCase();
    for (const i of [1, 2, 3, 4]) {
      const b = new FakeBase({
        host: bridgeAddress(),
        port: 0,
        identity: `deploy-${tag}-${i}`,
        controller: url,
        heartbeatMs: 2000,
      });
      await b.start();
      bases.push(b);
    }
    for (const b of bases) {
      await waitFor(
        `${vnodeOf(b)} Ready`,
        async () => {
          const n = await K8s(kind.Node).Get(vnodeOf(b));
          return n.status?.conditions?.some(c => c.type === "Ready" && c.status === "True");
        },
        180_000,
      );
    }
    log(`${route().name}: every VNode Ready ${secs(started)} after the install started`);
    // shared: every watcher replica holds some (the balance loop evens them out)
    await waitFor(
      "VNodes spread over every watcher replica",
      async () => {
        const h = new Set(await holders(bases));
        return h.size === route().replicas && !h.has("");
      },
      120_000,
    );
  }, 300_000);

  it("a module Deployment becomes Ready, installed exactly once per pod", async () => {
    const r = await kubectl(
      ["apply", "-n", ns, "-f", "-"],
      JSON.stringify(moduleDeployment(undefined, "orders", "0.0.1", 3)),
    );
    expect(r.code).toBe(0);
    const pods = await waitFor(
      "3 module pods Ready",
      async () => {
        const list = (await K8s(kind.Pod).InNamespace(ns).WithLabel("app", "orders").Get()).items;
        return list.length === 3 && list.every(isReady) && list;
      },
      120_000,
    );
    for (const b of bases) {
      const onIt = pods.filter(p => p.spec?.nodeName === vnodeOf(b)).length;
      const installs = b.log.filter(
        e => e.command === "installBiz" && (e.body as { bizName?: string }).bizName === "orders",
      );
      expect(installs.length).toBe(onIt);
    }
    await expectNoForbidden();
  }, 180_000);

  it("kubectl delete pod of a watcher: its VNodes are taken over, never NotReady, no uninstall", async () => {
    const before = uninstalls(bases);
    const [victim] = await podsOf("watcher");
    const watch = notReadyWatch(bases);
    const t0 = Date.now();
    try {
      // the pod's own grace period is not waited for: the takeover is what is timed
      await kubectl(["delete", "pod", "-n", NS, podName(victim), "--wait=false"]);
      const gone = [podName(victim)];
      await waitFor("VNodes held by live watchers", () => heldByLiveWatchers(bases, gone), 180_000);
      log(`${route().name}: VNodes of ${podName(victim)} taken over ${secs(t0)} after its delete`);
      await sleep(3000);
    } finally {
      await watch.stop();
    }
    expect(watch.seen).toEqual([]);
    expect(uninstalls(bases)).toBe(before);
  }, 300_000);

  it("a rolling update of the watcher hands over without NotReady and without uninstalls", async () => {
    const before = uninstalls(bases);
    const old = (await podsOf("watcher")).map(podName);
    const watch = notReadyWatch(bases);
    const t0 = Date.now();
    try {
      await route().update();
      await waitFor(
        "VNodes held by the new watchers",
        () => heldByLiveWatchers(bases, old),
        180_000,
      );
      log(`${route().name}: update handed over in ${secs(t0)}`);
      await sleep(3000);
    } finally {
      await watch.stop();
    }
    expect(watch.seen).toEqual([]);
    expect(uninstalls(bases)).toBe(before);
    await expectNoForbidden();
  }, 420_000);

  it("uninstall leaves nothing: webhooks, RBAC, namespace with its Leases and PeprStores", async () => {
    await Promise.all(bases.map(b => b.stop(true)));
    await route().uninstall();
    expect(await leftovers()).toEqual([]);
    // the VNodes stay (documented); docs/deploy.md's two commands remove them and their Leases
    for (const args of VNODE_CLEANUP) expect((await kubectl(args)).code).toBe(0);
    for (const b of bases) {
      expect(
        (await kubectl(["get", "node", vnodeOf(b), "--ignore-not-found", "-o", "name"])).stdout,
      ).toBe("");
    }
    bases = [];
  }, 420_000);
}

describeDeploy("the module installed as Pods, by each route", () => {
  let node: NodeInfo | undefined;

  beforeAll(async () => {
    ensureControllerImage(log);
    helm = helmBinary();
    const t0 = Date.now();
    node = (await attachNode(log)).node;
    log(`node ${node?.name} attached in ${secs(t0)}`);
    await cleanUpEverything();
  }, 1_200_000);

  afterAll(async () => {
    await cleanUpEverything();
    if (node) await detachNode();
  }, 600_000);

  // E2E_DEPLOY_ROUTES=pepr,dist,helm (the default: all) picks routes while working on one
  const routes = (process.env.E2E_DEPLOY_ROUTES ?? "pepr,dist,helm").split(",");
  const route = (key: string) => (routes.includes(key) ? describe : describe.skip);
  route("pepr")("npx pepr deploy --yes", () =>
    routeSuite(
      () => peprDeployRoute,
      () => node,
    ),
  );
  route("dist")("kubectl apply --server-side -f dist/", () =>
    routeSuite(
      () => distRoute,
      () => node,
    ),
  );
  route("helm")("helm install (NodePort tunnel)", () =>
    routeSuite(
      () => helmRoute(helm as string),
      () => node,
    ),
  );
});
