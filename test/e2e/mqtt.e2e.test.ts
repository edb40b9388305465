// Bases over MQTT: a real Mosquitto between fake bases that speak like the Arklet MQTT tunnel
// and `npm run dev` (plus one more replica) with ENABLE_MQTT_TUNNEL=true. The essential cases
// of the VNode, module lifecycle and replica suites, over the broker.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "mqtt";
import { K8s, kind } from "kubernetes-fluent-client";
import {
  ANNOTATION_TUNNEL,
  LABEL_BASE_TUNNEL_PORT,
  NODE_LEASE_NAMESPACE,
  TAINT_NOT_READY,
} from "../../capabilities/lib/contract";
import { Lease } from "../../capabilities/lib/kinds";
import { vnodeLabels } from "../../capabilities/lib/vnode/node";
import { wrap } from "../../capabilities/lib/tunnel/mqtt-wire";
import { Broker } from "../../hack/broker/broker";
import { FakeBase } from "../../hack/fake-base/fake-base";
import { createNamespace, isReady, jar, kubectl, moduleDeployment, sleep, waitFor } from "./kube";
import { PeprDev, startPeprDev } from "./pepr-dev";
import { Replica, startReplica, stopReplica } from "./replica";
import { devVNode, tearDownSuite } from "./teardown";

const REPLICA = "e2e-mqtt";
const TIMERS = {
  KOUPLELESS_HEALTH_POLL_SECONDS: "2",
  KOUPLELESS_BIZ_POLL_SECONDS: "2",
  KOUPLELESS_UNREACHABLE_SECONDS: "8",
  KOUPLELESS_LEASE_RENEW_SECONDS: "5",
  KOUPLELESS_HEARTBEAT_MIN_INTERVAL_MS: "500",
};

async function pods(ns: string, app: string): Promise<kind.Pod[]> {
  return (await K8s(kind.Pod).InNamespace(ns).WithLabel("app", app).Get()).items;
}

const liveReady = async (ns: string, app: string, n: number) => {
  const list = (await pods(ns, app)).filter(p => !p.metadata?.deletionTimestamp);
  return list.length === n && list.every(isReady) ? list : undefined;
};

const calls = (bases: FakeBase[], command: string, biz: string) =>
  bases
    .flatMap(b => b.log)
    .filter(e => e.command === command && (e.body as { bizName?: string }).bizName === biz).length;

async function metric(port: number, name: string, reason: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find(l => l.startsWith(`${name}{reason="${reason}"}`));
  return line ? Number(line.split(" ").pop()) : 0;
}

async function holder(node: string): Promise<string | undefined> {
  const lease = await K8s(Lease).InNamespace(NODE_LEASE_NAMESPACE).Get(node);
  return lease.spec?.holderIdentity;
}

describe("bases over MQTT", () => {
  let broker: Broker;
  let dev: PeprDev | undefined;
  let second: Replica | undefined;
  let bases: FakeBase[] = [];
  let ns: string;

  beforeAll(async () => {
    broker = await Broker.start({ dir: mkdtempSync(join(tmpdir(), "kp-e2e-broker-")) });
    const b = broker.info;
    const mqttEnv = {
      ENABLE_MQTT_TUNNEL: "true",
      MQTT_BROKER: b.host,
      MQTT_PORT: String(b.port),
      MQTT_USERNAME: b.username,
      MQTT_PASSWORD: b.password,
      ...TIMERS,
    };
    ns = await createNamespace("e2e-mqtt");
    dev = await startPeprDev({ ...mqttEnv, KOUPLELESS_REPLICA_ID: REPLICA });
    second = await startReplica("mqtt-r2", 7802, mqttEnv);
    const mqtt = { url: b.url, env: "dev", username: b.username, password: b.password };
    for (let i = 0; i < 4; i++) {
      const base = new FakeBase({
        identity: `mqtt-base-${i}`,
        host: `127.0.0.${90 + i}`,
        heartbeatMs: 1000,
        mqtt,
      });
      await base.start();
      bases.push(base);
    }
    for (const base of bases) {
      await waitFor(`${devVNode(base)} Ready and schedulable`, async () => {
        const n = await K8s(kind.Node).Get(devVNode(base));
        const ready = n.status?.conditions?.some(c => c.type === "Ready" && c.status === "True");
        return ready && !(n.spec?.taints ?? []).some(t => t.key === TAINT_NOT_READY);
      });
    }
  });

  afterAll(async () => {
    await stopReplica(second, "SIGKILL");
    await tearDownSuite(bases, dev, [ns]);
    await broker?.stop();
  });

  it("bases become VNodes with the exact labels and taints, marked as MQTT bases", async () => {
    const base = bases[0];
    const node = await K8s(kind.Node).Get(devVNode(base));
    const want = vnodeLabels(
      { ...(base.baseStatus() as Parameters<typeof vnodeLabels>[0]), tunnel: "mqtt" },
      "dev",
    );
    expect(node.metadata?.labels).toMatchObject(want);
    // as MC: the tunnel-port label belongs to bases on the HTTP tunnel only
    expect(node.metadata?.labels?.[LABEL_BASE_TUNNEL_PORT]).toBeUndefined();
    expect(node.metadata?.annotations?.[ANNOTATION_TUNNEL]).toBe("mqtt");
    expect((node.spec?.taints ?? []).map(t => `${t.key}=${t.value}:${t.effect}`).sort()).toEqual([
      "schedule.koupleless.io/node-env=dev:NoExecute",
      "schedule.koupleless.io/virtual-node=True:NoExecute",
    ]);
    // both replicas work: the VNodes are shared once the balance settles
    await waitFor("VNodes shared by both replicas", async () => {
      const holders = new Set(await Promise.all(bases.map(b => holder(devVNode(b)))));
      return holders.has(REPLICA) && holders.has("mqtt-r2") ? true : undefined;
    });
  });

  it("an HTTP base beside them works as before: both tunnels run at once", async () => {
    const http = new FakeBase({
      identity: "http-base",
      host: "127.0.0.99",
      controller: "http://127.0.0.1:7777",
      heartbeatMs: 1000,
    });
    await http.start();
    try {
      await waitFor("the HTTP base's VNode Ready", async () => {
        const n = await K8s(kind.Node).Get(devVNode(http));
        return n.status?.conditions?.some(c => c.type === "Ready" && c.status === "True");
      });
      const node = await K8s(kind.Node).Get(devVNode(http));
      expect(node.metadata?.annotations?.[ANNOTATION_TUNNEL]).toBeUndefined();
      expect(node.metadata?.labels?.[LABEL_BASE_TUNNEL_PORT]).toBe(String(http.port));
      const env = [{ name: "BIZ_VERSION", value: "1.0.0" }];
      await K8s(kind.Pod).Apply({
        metadata: {
          name: "over-http",
          namespace: ns,
          labels: { "virtual-kubelet.koupleless.io/component": "module" },
        },
        spec: {
          nodeSelector: { "kubernetes.io/hostname": http.opts.hostName },
          containers: [{ name: "overhttp", image: jar("overhttp", "1.0.0"), env }],
        },
      });
      await waitFor("the pod on the HTTP base Ready", async () =>
        isReady(await K8s(kind.Pod).InNamespace(ns).Get("over-http")),
      );
      expect(http.count("installBiz")).toBe(1);
      await K8s(kind.Pod).InNamespace(ns).Delete("over-http");
      await waitFor("uninstalled over HTTP", async () => http.count("uninstallBiz") === 1);
    } finally {
      await http.stop(true);
    }
  });

  it("a Deployment installs exactly once per pod, and scaling down uninstalls exactly once", async () => {
    await K8s(kind.Deployment).Apply(moduleDeployment(ns, "mqttbiz", "1.0.0", 3));
    const ready = await waitFor("3 mqttbiz pods Ready", () => liveReady(ns, "mqttbiz", 3));
    expect(ready.every(p => p.status?.containerStatuses?.[0].state?.running)).toBe(true);
    expect(calls(bases, "installBiz", "mqttbiz")).toBe(3);
    expect(bases.filter(b => b.installed().some(x => x.bizName === "mqttbiz"))).toHaveLength(3);
    await kubectl(["scale", "deployment", "mqttbiz", "-n", ns, "--replicas=2"]);
    await waitFor("2 mqttbiz pods left", async () =>
      (await pods(ns, "mqttbiz")).length === 2 ? true : undefined,
    );
    await waitFor("one uninstall", async () =>
      calls(bases, "uninstallBiz", "mqttbiz") === 1 ? true : undefined,
    );
    await sleep(3000);
    expect(calls(bases, "uninstallBiz", "mqttbiz")).toBe(1);
    expect(calls(bases, "installBiz", "mqttbiz")).toBe(3);
  });

  it("a base that restarts empty gets its baseline over the broker, and its pod stays Ready", async () => {
    const running = (await liveReady(ns, "mqttbiz", 2)) ?? [];
    const node = running[0].spec?.nodeName;
    const base = bases.find(b => devVNode(b) === node);
    if (!base) throw new Error(`no base behind ${node}`);
    await base.restartEmpty();
    await waitFor("the baseline installed mqttbiz again", async () =>
      base.installed().some(b => b.bizName === "mqttbiz") ? true : undefined,
    );
    expect(base.log.some(e => e.command === "batchInstallBiz")).toBe(true);
    await waitFor("mqttbiz pods Ready", () => liveReady(ns, "mqttbiz", 2));
  });

  it("malformed and stale payloads change nothing and are counted", async () => {
    const b = broker.info;
    const before = {
      malformed: await metric(9464, "koupleless_mqtt_dropped_total", "malformed"),
      stale: await metric(9464, "koupleless_mqtt_dropped_total", "stale"),
      heartbeat: await metric(9464, "koupleless_mqtt_dropped_total", "heartbeat"),
    };
    const raw = connect(b.url, { username: b.username, password: b.password });
    await new Promise(res => raw.once("connect", res));
    const heart = (id: string) => `koupleless_dev/${id}/base/heart`;
    const good = bases[1].baseStatus() as Record<string, unknown>;
    const intruder = {
      ...good,
      baseMetadata: { ...(good.baseMetadata as object), identity: "intruder" },
    };
    await raw.publishAsync(heart("intruder"), "{not json");
    await raw.publishAsync(heart("intruder"), wrap({ ...intruder, state: 7 }, Date.now()));
    await raw.publishAsync(heart("intruder"), wrap(intruder, Date.now() - 60_000));
    await raw.publishAsync(heart(bases[1].opts.identity), wrap(good, Date.now() - 60_000));
    await raw.publishAsync(`koupleless_prod/intruder/base/heart`, wrap(intruder, Date.now()));
    await raw.endAsync();
    await waitFor("the drops counted", async () =>
      (await metric(9464, "koupleless_mqtt_dropped_total", "stale")) >= before.stale + 2
        ? true
        : undefined,
    );
    expect(await metric(9464, "koupleless_mqtt_dropped_total", "malformed")).toBe(
      before.malformed + 1,
    );
    expect(await metric(9464, "koupleless_mqtt_dropped_total", "heartbeat")).toBe(
      before.heartbeat + 1,
    );
    const nodes = await K8s(kind.Node).Get();
    expect(nodes.items.filter(n => (n.metadata?.name ?? "").includes("intruder"))).toEqual([]);
  });

  it("a broker restart loses nothing: VNodes and pods stay Ready, nothing is installed again", async () => {
    const installs = calls(bases, "installBiz", "mqttbiz");
    await broker.stop();
    await sleep(12_000); // longer than KOUPLELESS_UNREACHABLE_SECONDS: blind, not NotReady
    await broker.run();
    for (const base of bases) {
      const n = await K8s(kind.Node).Get(devVNode(base));
      expect(n.status?.conditions?.find(c => c.type === "Ready")?.status).toBe("True");
    }
    expect(await liveReady(ns, "mqttbiz", 2)).toBeDefined();
    await kubectl(["scale", "deployment", "mqttbiz", "-n", ns, "--replicas=3"]);
    await waitFor("3 mqttbiz pods Ready after the restart", () => liveReady(ns, "mqttbiz", 3));
    // bases that reconnect ask for their baseline again: answered REPEAT_BIZ, nothing installed twice
    expect(calls(bases, "installBiz", "mqttbiz")).toBe(installs + 1);
  });

  it("kill -9 of a replica hands its VNodes over without uninstalls", async () => {
    const owned = [];
    for (const base of bases) if ((await holder(devVNode(base))) === "mqtt-r2") owned.push(base);
    expect(owned.length).toBeGreaterThan(0);
    const uninstalls = bases.reduce((n, b) => n + b.count("uninstallBiz"), 0);
    await stopReplica(second, "SIGKILL");
    second = undefined;
    for (const base of owned)
      await waitFor(
        `${devVNode(base)} taken over`,
        async () => ((await holder(devVNode(base))) === REPLICA ? true : undefined),
        120_000,
      );
    await waitFor("mqttbiz pods Ready", () => liveReady(ns, "mqttbiz", 3));
    // the new owner commands the bases over the broker: a pod added now is installed by it
    await kubectl(["scale", "deployment", "mqttbiz", "-n", ns, "--replicas=4"]);
    await waitFor("4 mqttbiz pods Ready", () => liveReady(ns, "mqttbiz", 4));
    expect(bases.reduce((n, b) => n + b.count("uninstallBiz"), 0)).toBe(uninstalls);
  });
});
