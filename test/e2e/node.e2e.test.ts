// A real Node next to the VNodes (issue 15): kubelet and kube-proxy from the cluster's own
// build, containerd and runc from Debian, images built here and never pulled. The suite adds
// the node to the running cluster (what `npm run cluster:up -- --node` does) and removes it at
// the end with the same clean-up as `npm run cluster:down`, so the other suites, which expect
// no node that runs pods, never see it. Skipped, saying why, where the node cannot run
// (not root, or the Debian packages are missing: see NODE_SETUP).
import { get } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { K8s, kind } from "kubernetes-fluent-client";
import {
  COMPONENT_MODULE,
  ENV_BIZ_VERSION,
  LABEL_COMPONENT,
  TAINT_NOT_READY,
} from "../../capabilities/lib/contract";
import { attachNode, detachNode, readState } from "../../hack/cluster/cluster";
import { NodeInfo, nodeLeftovers, nodeUnavailableReason, POD_CIDR } from "../../hack/cluster/node";
import { FakeBase, startFleet } from "../../hack/fake-base/fake-base";
import { controllerImageTag, ensureControllerImage } from "../../hack/image/image";
import { createNamespace, kubectl, sleep, waitFor } from "./kube";
import { PeprDev, startPeprDev } from "./pepr-dev";
import { devVNode, tearDownSuite } from "./teardown";

const CONTROLLER = "http://127.0.0.1:7777";
const FIRST_OCTET = 180; // 127.0.0.180-181, apart from the other suites' bases
const DEV_ENV = {
  KOUPLELESS_REPLICA_ID: "e2e-node",
  KOUPLELESS_HEALTH_POLL_SECONDS: "2",
  KOUPLELESS_BIZ_POLL_SECONDS: "2",
  KOUPLELESS_HEARTBEAT_MIN_INTERVAL_MS: "500",
};
const log = (line: string) => process.stderr.write(`[node e2e] ${line}\n`);

const preexisting = readState()?.node;
const reason =
  process.env.E2E_USE_KUBECONFIG === "true"
    ? "the suites run against $KUBECONFIG, not the local cluster"
    : preexisting
      ? undefined
      : nodeUnavailableReason();
if (reason) log(`SKIPPED: no real node here: ${reason}`);
const describeNode = reason ? describe.skip : describe;

type Pod = kind.Pod;
const inPodCidr = (ip: string | undefined) =>
  Boolean(ip?.startsWith(POD_CIDR.split(".").slice(0, 3).join(".") + "."));
const running = (p: Pod) => p.status?.phase === "Running";
const apply = (ns: string, obj: object) =>
  kubectl(["apply", "-n", ns, "-f", "-"], JSON.stringify(obj));

/** GET on a new connection each time: kube-proxy balances connections, not requests. */
function getFresh(url: string): Promise<string> {
  return new Promise((res, rej) => {
    const req = get(url, { agent: false, timeout: 2000 }, r => {
      let body = "";
      r.on("data", c => (body += c));
      r.on("end", () => res(body));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", rej);
  });
}

const HELLO = [
  "const os = require('os');",
  "require('http').createServer((q, s) => { console.log('request ' + q.url); s.end('hello from ' + os.hostname()); })",
  ".listen(8080, () => console.log('listening on 8080'));",
].join("");

function helloDeployment(image: string) {
  const labels = { app: "hello" };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "hello" },
    spec: {
      replicas: 2,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: "web",
              image,
              imagePullPolicy: "IfNotPresent",
              command: ["node", "-e", HELLO],
              ports: [{ containerPort: 8080 }],
              readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
            },
          ],
        },
      },
    },
  };
}

describeNode("a real Node (kubelet, containerd, kube-proxy) beside the VNodes", () => {
  let node: NodeInfo;
  let attached = false;
  let ns = "";
  let dev: PeprDev | undefined;
  let bases: FakeBase[] = [];
  const podsOf = async (app: string) =>
    (await K8s(kind.Pod).InNamespace(ns).WithLabel("app", app).Get()).items;

  beforeAll(async () => {
    ensureControllerImage(log);
    if (preexisting) {
      node = preexisting;
      log(
        `using the node that is already up (${node.name}); run npm run image if pods cannot start`,
      );
    } else {
      const t0 = Date.now();
      const state = await attachNode(log);
      node = state.node as NodeInfo;
      attached = true;
      log(`node ${node.name} attached in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    }
    ns = await createNamespace("e2e-node");
    dev = await startPeprDev(DEV_ENV);
    bases = await startFleet(2, { controller: CONTROLLER, heartbeatMs: 2000 }, FIRST_OCTET);
    for (const b of bases) {
      await waitFor(`${devVNode(b)} Ready and schedulable`, async () => {
        const n = await K8s(kind.Node).Get(devVNode(b));
        const ready = n.status?.conditions?.some(c => c.type === "Ready" && c.status === "True");
        return ready && !(n.spec?.taints ?? []).some(t => t.key === TAINT_NOT_READY);
      });
    }
  }, 600_000);

  afterAll(async () => {
    await tearDownSuite(bases, dev, ns ? [ns] : []);
    if (attached) await detachNode(); // a no-op when the last test already did it
  }, 300_000);

  it("runs a plain Deployment of a locally built image: pod IPs, a ClusterIP Service from the host, kubectl logs and exec", async () => {
    expect(await apply(ns, helloDeployment(controllerImageTag()))).toMatchObject({ code: 0 });
    const svc = { apiVersion: "v1", kind: "Service", metadata: { name: "hello" } };
    const spec = { selector: { app: "hello" }, ports: [{ port: 80, targetPort: 8080 }] };
    expect(await apply(ns, { ...svc, spec })).toMatchObject({ code: 0 });
    const pods = await waitFor(
      "2 hello pods Running with pod IPs",
      async () => {
        const list = await podsOf("hello");
        return list.length === 2 && list.every(p => running(p) && p.status?.podIP) && list;
      },
      120_000,
    );
    for (const p of pods) {
      expect(p.spec?.nodeName).toBe(node.name);
      expect(inPodCidr(p.status?.podIP)).toBe(true);
    }
    const clusterIP = (await K8s(kind.Service).InNamespace(ns).Get("hello")).spec?.clusterIP;
    expect(clusterIP).toBeTruthy();
    const names = new Set<string>();
    await waitFor(
      `both pods answering through http://${clusterIP}/ (kube-proxy)`,
      async () => {
        names.add((await getFresh(`http://${clusterIP}/from-host`)).replace("hello from ", ""));
        return names.size === 2;
      },
      60_000,
    );
    expect([...names].sort()).toEqual(pods.map(p => p.metadata?.name).sort());

    const name = pods[0].metadata?.name as string;
    const logs = await kubectl(["logs", "-n", ns, name]);
    expect(logs).toMatchObject({ code: 0 });
    expect(logs.stdout).toContain("listening on 8080");
    const exec = await kubectl([
      "exec",
      "-n",
      ns,
      name,
      "--",
      "node",
      "-e",
      "console.log(require('os').hostname(), process.getuid())",
    ]);
    expect(exec).toMatchObject({ code: 0 });
    expect(exec.stdout.trim()).toBe(`${name} 65532`); // the image runs as nonroot, like Pepr's
  }, 240_000);

  it("runs a DaemonSet without VNode tolerations on the real Node only", async () => {
    const labels = { app: "agent" };
    const ds = {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "agent" },
      spec: {
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              {
                name: "agent",
                image: controllerImageTag(),
                imagePullPolicy: "IfNotPresent",
                command: ["node", "-e", "setInterval(() => {}, 1 << 30)"],
              },
            ],
          },
        },
      },
    };
    expect(await apply(ns, ds)).toMatchObject({ code: 0 });
    const pods = await waitFor(
      "the agent pod Running",
      async () => {
        const list = await podsOf("agent");
        return list.length >= 1 && list.every(running) && list;
      },
      120_000,
    );
    await sleep(3000); // a pod for a VNode would have been created by now
    const after = await podsOf("agent");
    expect(after.map(p => p.spec?.nodeName)).toEqual([node.name]);
    expect(pods.map(p => p.spec?.nodeName)).toEqual([node.name]);
    const status = (await K8s(kind.DaemonSet).InNamespace(ns).Get("agent")).status;
    expect(status?.desiredNumberScheduled).toBe(1);
  }, 180_000);

  it("never schedules a module Deployment onto the real Node", async () => {
    const labels = { app: "biz", [LABEL_COMPONENT]: COMPONENT_MODULE };
    const jar = "file:///opt/biz/biz-0.0.1-ark-biz.jar";
    const deploy = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "biz" },
      spec: {
        replicas: 4,
        selector: { matchLabels: { app: "biz" } },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              { name: "biz", image: jar, env: [{ name: ENV_BIZ_VERSION, value: "0.0.1" }] },
            ],
          },
        },
      },
    };
    expect(await apply(ns, deploy)).toMatchObject({ code: 0 });
    const vnodes = bases.map(devVNode);
    await waitFor(
      "4 module pods bound",
      async () => {
        const list = await podsOf("biz");
        return list.length === 4 && list.every(p => p.spec?.nodeName);
      },
      120_000,
    );
    await sleep(3000);
    const bound = (await podsOf("biz")).map(p => p.spec?.nodeName);
    expect(bound).not.toContain(node.name);
    for (const n of bound) expect(vnodes).toContain(n);
  }, 180_000);

  it("leaves nothing behind when the node is stopped (the clean-up cluster:down runs)", async () => {
    if (!attached) {
      log("not stopping a node this suite did not start");
      return;
    }
    const { stopped, removed } = await detachNode();
    log(`stopped ${stopped.join(", ")}; removed ${removed.join("; ")}`);
    expect(stopped.map(s => s.split(" ")[0]).sort()).toEqual([
      "containerd",
      "kube-proxy",
      "kubelet",
    ]);
    // checked: CNI network namespaces, the bridge, veths, KUBE-/CNI- iptables chains (IPv4 and
    // IPv6), mounts under the node's directory, runc shims of its containerd, the directory
    expect(nodeLeftovers(node.dir, node.socket)).toEqual([]);
    expect(readState()?.node).toBeUndefined();
    const nodes = (await K8s(kind.Node).Get()).items.map(n => n.metadata?.name);
    expect(nodes).not.toContain(node.name);
  }, 120_000);
});
