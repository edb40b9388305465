// `npx pepr deploy` into the local cluster with its real Node (issue 16, first route): the
// controller runs as Pods of the locally built image, reaches the apiserver through the
// `kubernetes` Service with its ServiceAccount, admits module pods through its webhook Service,
// and fake bases on the host heartbeat to the watcher through a ClusterIP Service and become
// Ready VNodes. The suite adds the node and removes it at the end, and deletes everything the
// deploy made, so the other suites (which expect no node that runs pods) never see it.
// Skipped, saying why, where the node cannot run (see node.e2e.test.ts).
import { spawn } from "node:child_process";
import { networkInterfaces } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { K8s, kind } from "kubernetes-fluent-client";
import {
  ANNOTATION_MUTATED,
  COMPONENT_MODULE,
  ENV_BIZ_VERSION,
  LABEL_COMPONENT,
  NODE_LEASE_NAMESPACE,
  TAINT_VIRTUAL_NODE,
} from "../../capabilities/lib/contract";
import { Lease } from "../../capabilities/lib/kinds";
import {
  attachNode,
  detachNode,
  KUBECONFIG_PATH,
  readState,
  REPO_ROOT,
} from "../../hack/cluster/cluster";
import { BRIDGE, NodeInfo, nodeUnavailableReason } from "../../hack/cluster/node";
import { FakeBase } from "../../hack/fake-base/fake-base";
import { controllerImageTag, ensureControllerImage } from "../../hack/image/image";
import { createNamespace, isReady, kubectl, waitFor } from "./kube";

const UUID = "koupleless-pepr";
const NS = "pepr-system";
const TUNNEL_SERVICE = `pepr-${UUID}-tunnel`;
const TUNNEL_PORT = 7777;
const log = (line: string) => process.stderr.write(`[deploy e2e] ${line}\n`);

const preexisting = readState()?.node;
const reason =
  process.env.E2E_USE_KUBECONFIG === "true"
    ? "the suites run against $KUBECONFIG, not the local cluster"
    : preexisting
      ? "a node is already up (this suite adds and removes its own)"
      : nodeUnavailableReason();
if (reason) log(`SKIPPED: ${reason}`);
const describeDeploy = reason ? describe.skip : describe;

/** What the deploy leaves in pepr-system and cluster-wide, by name (to compare before/after). */
async function ourObjects(): Promise<string[]> {
  const kinds =
    "deployments,replicasets,pods,services,secrets,serviceaccounts,roles,rolebindings,leases,peprstores";
  const ns = await kubectl(["get", kinds, "-n", NS, "-o", "name", "--ignore-not-found"]);
  const cluster = await kubectl([
    "get",
    "clusterroles,clusterrolebindings,mutatingwebhookconfigurations,validatingwebhookconfigurations",
    "-o",
    "name",
  ]);
  return [...ns.stdout.split("\n"), ...cluster.stdout.split("\n").filter(n => n.includes(UUID))]
    .filter(n => n && !n.endsWith("/default"))
    .sort();
}

/** `npx pepr deploy --yes`; it waits (without a timeout of its own) for the Deployments. */
function peprDeploy(timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise(res => {
    const child = spawn("npx", ["pepr", "deploy", "--yes"], {
      cwd: REPO_ROOT,
      env: { ...process.env, KUBECONFIG: KUBECONFIG_PATH },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout?.on("data", c => (out += c));
    child.stderr?.on("data", c => (out += c));
    const t = setTimeout(() => {
      out += `\n(killed after ${timeoutMs / 1000}s)`;
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    }, timeoutMs);
    child.on("exit", code => (clearTimeout(t), res({ code: code ?? 1, out })));
  });
}

/** The address of the pods' bridge on the host: pods reach it, and host traffic to a ClusterIP leaves from it. */
function bridgeAddress(): string {
  const a = networkInterfaces()[BRIDGE]?.find(i => i.family === "IPv4");
  if (!a) throw new Error(`no IPv4 address on ${BRIDGE}`);
  return a.address;
}

const podsOf = async (controller: string) =>
  (await K8s(kind.Pod).InNamespace(NS).WithLabel("pepr.dev/controller", controller).Get()).items;

describeDeploy("npx pepr deploy onto the real Node", () => {
  let node: NodeInfo | undefined;
  let before: string[] = [];
  let namespaceExisted = false;
  let ns = "";
  let deployStart = 0;
  let bases: FakeBase[] = [];
  const vnode = (b: FakeBase) => `vnode.${b.opts.identity}.dev`;

  beforeAll(async () => {
    ensureControllerImage(log);
    const t0 = Date.now();
    node = (await attachNode(log)).node;
    log(`node ${node?.name} attached in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    namespaceExisted = (await kubectl(["get", "namespace", NS])).code === 0;
    before = await ourObjects();
    ns = await createNamespace("e2e-deploy");
  }, 300_000);

  afterAll(async () => {
    await Promise.all(bases.map(b => b.stop(true)));
    for (const b of bases) {
      await K8s(kind.Node).Delete(vnode(b));
      await K8s(Lease).InNamespace(NODE_LEASE_NAMESPACE).Delete(vnode(b));
    }
    // the webhook configurations first: with their Service gone they would slow every pod create
    await kubectl([
      "delete",
      "mutatingwebhookconfiguration,validatingwebhookconfiguration",
      `pepr-${UUID}`,
      "--ignore-not-found",
    ]);
    await kubectl([
      "delete",
      "deployment,service",
      "-n",
      NS,
      `pepr-${UUID}`,
      `pepr-${UUID}-watcher`,
      TUNNEL_SERVICE,
      "--ignore-not-found",
    ]);
    await kubectl([
      "delete",
      "pods",
      "-n",
      NS,
      "-l",
      "pepr.dev/controller",
      "--grace-period=0",
      "--force",
      "--ignore-not-found",
    ]);
    const added = (await ourObjects()).filter(n => !before.includes(n));
    if (added.length) await kubectl(["delete", "-n", NS, "--ignore-not-found", ...added]);
    if (ns) await kubectl(["delete", "namespace", ns, "--wait=false"]);
    if (!namespaceExisted)
      await kubectl(["delete", "namespace", NS, "--wait=true", "--timeout=60s"]);
    if (node) await detachNode();
  }, 300_000);

  it("deploys: the admission and watcher pods of the locally built image become Ready", async () => {
    deployStart = Date.now();
    const res = await peprDeploy(300_000);
    log(`pepr deploy exited ${res.code} after ${((Date.now() - deployStart) / 1000).toFixed(1)}s`);
    if (res.code !== 0) log(res.out);
    expect(res.code).toBe(0);
    for (const controller of ["admission", "watcher"]) {
      const pods = await waitFor(`${controller} pods Ready`, async () => {
        const list = await podsOf(controller);
        return list.length > 0 && list.every(isReady) && list;
      });
      for (const p of pods) {
        expect(p.spec?.nodeName).toBe(node?.name);
        expect(p.spec?.containers[0].image).toBe(controllerImageTag());
      }
    }
  }, 360_000);

  it("the watcher reaches the apiserver from its pod (ServiceAccount token): it narrows the webhooks", async () => {
    // the watcher hardens the live webhooks at start (capabilities/lib/kube/webhooks.ts)
    await waitFor("the mutating webhook narrowed to module pods", async () => {
      const w = await K8s(kind.MutatingWebhookConfiguration).Get(`pepr-${UUID}`);
      return w.webhooks?.some(h => h.objectSelector?.matchExpressions?.length);
    });
    const [watcher] = await podsOf("watcher");
    const logs = await kubectl(["logs", "-n", NS, watcher.metadata?.name as string]);
    expect(logs.stdout).toContain("heartbeat tunnel listening");
    expect(logs.stdout).not.toMatch(/forbidden/i);
  }, 120_000);

  it("a module pod created with kubectl apply is mutated by the webhook through its Service", async () => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "biz", labels: { [LABEL_COMPONENT]: COMPONENT_MODULE } },
      spec: {
        containers: [
          {
            name: "biz",
            image: "file:///opt/biz/biz-0.0.1-ark-biz.jar",
            env: [{ name: ENV_BIZ_VERSION, value: "0.0.1" }],
          },
        ],
      },
    };
    const r = await kubectl(["apply", "-n", ns, "-f", "-"], JSON.stringify(pod));
    expect(r).toMatchObject({ code: 0 });
    const got = await K8s(kind.Pod).InNamespace(ns).Get("biz");
    expect(got.spec?.tolerations?.map(t => t.key)).toContain(TAINT_VIRTUAL_NODE);
    expect(got.metadata?.annotations?.[ANNOTATION_MUTATED]).toBeTruthy();
    await kubectl(["delete", "pod", "-n", ns, "biz", "--grace-period=0", "--force"]);
  }, 60_000);

  it("fake bases on the host heartbeat through a ClusterIP Service and become Ready VNodes", async () => {
    // `pepr deploy` makes no heartbeat Service (dist/ has one): the same Service, by port number
    const svc = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: TUNNEL_SERVICE, namespace: NS },
      spec: {
        selector: { app: `pepr-${UUID}-watcher`, "pepr.dev/controller": "watcher" },
        ports: [{ name: "tunnel", port: TUNNEL_PORT, targetPort: TUNNEL_PORT, protocol: "TCP" }],
      },
    };
    expect(await kubectl(["apply", "-f", "-"], JSON.stringify(svc))).toMatchObject({ code: 0 });
    const clusterIP = (await K8s(kind.Service).InNamespace(NS).Get(TUNNEL_SERVICE)).spec?.clusterIP;
    // the controller calls a base back at the heartbeat's source address; host traffic to a
    // ClusterIP leaves from the bridge's address, which the pods can reach: the bases listen
    // there, each on its own port
    const host = bridgeAddress();
    for (const id of ["deploy-e2e-a", "deploy-e2e-b"]) {
      const b = new FakeBase({
        host,
        port: 0,
        identity: id,
        controller: `http://${clusterIP}:${TUNNEL_PORT}`,
        heartbeatMs: 2000,
      });
      await b.start();
      bases.push(b);
    }
    for (const b of bases) {
      await waitFor(
        `${vnode(b)} Ready`,
        async () => {
          const n = await K8s(kind.Node).Get(vnode(b));
          return n.status?.conditions?.some(c => c.type === "Ready" && c.status === "True");
        },
        120_000,
      );
    }
    log(
      `first VNodes Ready ${((Date.now() - deployStart) / 1000).toFixed(1)}s after pepr deploy started`,
    );
    // and the watcher pod called each base back (its User-Agent names the pod)
    const [watcher] = await podsOf("watcher");
    for (const b of bases) {
      await waitFor(`${vnode(b)}'s base called by the watcher pod`, async () =>
        b.log.some(e => e.userAgent === `koupleless-pepr/${watcher.metadata?.name}`),
      );
    }
  }, 180_000);
});
