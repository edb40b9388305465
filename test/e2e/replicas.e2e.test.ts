// Three controller replicas share 30 bases through the node Leases: `npm run dev` (r1, which
// also serves admission) and two `npm run replica` processes (r2, r3). A crash, a return and a
// graceful stop must move VNodes without a NotReady blip, a lost module or a repeated install.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { K8s, kind } from "kubernetes-fluent-client";
import { Lease } from "../../capabilities/lib/kinds";
import { LABEL_ENV, NODE_LEASE_NAMESPACE } from "../../capabilities/lib/contract";
import { expired, leaseView } from "../../capabilities/lib/shards/plan";
import { FakeBase, startFleet } from "../../hack/fake-base/fake-base";
import { createNamespace, sleep, waitFor } from "./kube";
import { PeprDev, startPeprDev, stopPeprDev } from "./pepr-dev";
import { Replica, startReplica, stopReplica } from "./replica";

const HA_ENV = "ha"; // our own env: other suites' VNodes do not count in the shares
const LEASE_SECONDS = 20;
const ENV = {
  KOUPLELESS_ENV: HA_ENV,
  KOUPLELESS_LEASE_DURATION_SECONDS: String(LEASE_SECONDS),
  KOUPLELESS_LEASE_RENEW_SECONDS: "5",
  KOUPLELESS_BALANCE_SECONDS: "2",
  KOUPLELESS_HEALTH_POLL_SECONDS: "5",
  KOUPLELESS_BIZ_POLL_SECONDS: "5",
  KOUPLELESS_HEARTBEAT_MIN_INTERVAL_MS: "500",
};
const PORTS: Record<string, number> = { r1: 7777, r2: 7802, r3: 7803 };
/** `npm run dev` serves metrics on the default port; startReplica puts them at tunnel port + 1000. */
const METRICS_PORTS: Record<string, number> = { r1: 9464, r2: 8802, r3: 8803 };
const BASES = 30;
const CONTROLLERS = Object.values(PORTS)
  .map(p => `http://127.0.0.1:${p}`)
  .join(",");

let dev: PeprDev | undefined;
const replicas: Record<string, Replica | undefined> = {};
let fleet: FakeBase[] = [];
let ns = "";

const vnodeOf = (b: FakeBase) => `vnode.${b.opts.identity}.${HA_ENV}`;
const ua = (id: string) => `koupleless-pepr/${id}`;

/** Live holder of every VNode Lease of our env ("" when free or expired). */
async function holders(): Promise<Map<string, string>> {
  const list = await K8s(Lease)
    .InNamespace(NODE_LEASE_NAMESPACE)
    .WithLabel(LABEL_ENV, HA_ENV)
    .Get();
  const now = Date.now();
  return new Map(
    list.items.map(l => {
      const v = leaseView(l);
      return [v.name, expired(v, now) ? "" : v.holder];
    }),
  );
}

function counts(h: Map<string, string>, ids: string[]): Record<string, number> {
  return Object.fromEntries(ids.map(id => [id, [...h.values()].filter(x => x === id).length]));
}

/** All 30 VNodes held by the given replicas, with shares within one of each other. */
async function balancedOver(ids: string[]): Promise<Record<string, number> | false> {
  const h = await holders();
  const c = counts(h, ids);
  const total = Object.values(c).reduce((a, b) => a + b, 0);
  const fair = BASES / ids.length;
  const ok =
    h.size === BASES && total === BASES && Object.values(c).every(n => Math.abs(n - fair) <= 1);
  return ok && c;
}

async function ownedGauge(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^koupleless_owned_vnodes (\d+)/m.exec(text);
  return m ? Number(m[1]) : -1;
}

async function modulePods(app?: string): Promise<kind.Pod[]> {
  const q = K8s(kind.Pod).InNamespace(ns);
  return (await (app ? q.WithLabel("app", app) : q).Get()).items;
}

const isReady = (p: kind.Pod) =>
  (p.status?.conditions ?? []).some(c => c.type === "Ready" && c.status === "True");

async function allReady(app: string, n: number): Promise<boolean> {
  const pods = await modulePods(app);
  return pods.length === n && pods.every(isReady);
}

function deployment(app: string, replicas: number): kind.Deployment {
  const labels = { app, "virtual-kubelet.koupleless.io/component": "module" };
  const image = `file:///opt/biz/${app}-1.0.0-ark-biz.jar`;
  return {
    metadata: { name: app, namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: { app } },
      template: {
        metadata: { labels },
        spec: {
          containers: [{ name: app, image, env: [{ name: "BIZ_VERSION", value: "1.0.0" }] }],
        },
      },
    },
  };
}

/** Not-Ready VNodes and bound module pods (of one app, if given), right now. */
async function notReady(app?: string): Promise<string[]> {
  const nodes = await K8s(kind.Node).WithLabel(LABEL_ENV, HA_ENV).Get();
  const badNodes = nodes.items
    .filter(n => n.status?.conditions?.find(c => c.type === "Ready")?.status !== "True")
    .map(n => `node ${n.metadata?.name}`);
  const badPods = (await modulePods(app))
    .filter(p => !p.metadata?.deletionTimestamp && p.spec?.nodeName && !isReady(p))
    .map(p => `pod ${p.metadata?.name}`);
  return [...badNodes, ...badPods];
}

/** Samples readiness every 500 ms until stopped: a blip is any not-Ready sample. */
function watchForBlips(app?: string): { stop: () => Promise<string[]> } {
  const blips = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      (await notReady(app)).forEach(b => blips.add(b));
      await sleep(500);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return [...blips];
    },
  };
}

/** How often the replica calling each base changed, against how often its Lease changed hands. */
async function switchesAgainstTransitions(): Promise<
  Array<{ vnode: string; switches: number; transitions: number; callers: string[] }>
> {
  const leases = await K8s(Lease)
    .InNamespace(NODE_LEASE_NAMESPACE)
    .WithLabel(LABEL_ENV, HA_ENV)
    .Get();
  const transitions = new Map(
    leases.items.map(l => [l.metadata?.name ?? "", l.spec?.leaseTransitions ?? 0]),
  );
  return fleet.map(b => {
    const callers = b.log.map(e => e.userAgent);
    const switches = callers.filter((c, i) => i > 0 && c !== callers[i - 1]).length;
    return {
      vnode: vnodeOf(b),
      switches,
      transitions: transitions.get(vnodeOf(b)) ?? 0,
      callers: [...new Set(callers)],
    };
  });
}

describe("replicas share the bases", () => {
  beforeAll(async () => {
    ns = await createNamespace("e2e-ha");
    dev = await startPeprDev({ ...ENV, KOUPLELESS_REPLICA_ID: "r1" });
    replicas.r2 = await startReplica("r2", PORTS.r2, ENV);
    replicas.r3 = await startReplica("r3", PORTS.r3, ENV);
    fleet = await startFleet(BASES, { controller: CONTROLLERS, heartbeatMs: 5000 }, 100);
  });

  afterAll(async () => {
    try {
      await Promise.all(fleet.map(b => b.stop(true))); // DEACTIVATED: the VNodes go while replicas run
      await sleep(2000);
      await K8s(kind.Namespace).Delete(ns);
    } finally {
      // whatever failed above, no replica may outlive the suite (it would hold ports and Leases)
      await Promise.all(Object.values(replicas).map(r => stopReplica(r, "SIGKILL")));
      await stopPeprDev(dev);
    }
  });

  it("30 bases over 3 replicas: every VNode owned by exactly one, 10 ± 1 each", async () => {
    const c = await waitFor(
      "30 VNodes shared by r1, r2, r3",
      () => balancedOver(["r1", "r2", "r3"]),
      90_000,
    );
    console.log(`[replicas] shares: ${JSON.stringify(c)}`);
    // each replica's own view agrees with the Leases
    await waitFor("each replica's owned-VNodes gauge to match its Leases", async () => {
      const h = counts(await holders(), ["r1", "r2", "r3"]);
      const g = await Promise.all(["r1", "r2", "r3"].map(id => ownedGauge(METRICS_PORTS[id])));
      return g.every((n, i) => n === h[["r1", "r2", "r3"][i]]);
    });
    await waitFor("every VNode Ready", async () => {
      const nodes = await K8s(kind.Node).WithLabel(LABEL_ENV, HA_ENV).Get();
      return (
        nodes.items.length === BASES &&
        nodes.items.every(n =>
          n.status?.conditions?.some(c => c.type === "Ready" && c.status === "True"),
        )
      );
    });
    // only the holder calls a base (bases whose Lease moved during the window are skipped)
    const h1 = await holders();
    const from = Date.now();
    await sleep(7000); // more than one /health and /queryAllBiz period
    const h2 = await holders();
    const steady = fleet.filter(b => h1.get(vnodeOf(b)) === h2.get(vnodeOf(b)));
    expect(steady.length).toBeGreaterThan(BASES / 2);
    for (const b of steady) {
      const recent = b.log.filter(e => e.at > from).map(e => e.userAgent);
      expect({ base: vnodeOf(b), callers: [...new Set(recent)] }).toEqual({
        base: vnodeOf(b),
        callers: [ua(h2.get(vnodeOf(b)) ?? "?")],
      });
    }
  });

  it("kill -9 of a replica: its VNodes are taken over in time, modules stay Ready, nothing is reinstalled", async () => {
    await K8s(kind.Deployment).Apply(deployment("ha-mod", 20), { force: true });
    await waitFor("20 ha-mod pods Ready", () => allReady("ha-mod", 20), 120_000);
    const before = await holders();
    const onR3 = (await modulePods("ha-mod")).filter(
      p => before.get(p.spec?.nodeName ?? "") === "r3",
    );
    expect(onR3.length).toBeGreaterThan(0); // the crash must hit some modules
    const logStart = Date.now();

    const blips = watchForBlips("ha-mod"); // the pods created during the failover start un-Ready
    const t0 = Date.now();
    await stopReplica(replicas.r3, "SIGKILL");
    replicas.r3 = undefined;
    // a module created during the failover
    await K8s(kind.Deployment).Apply(deployment("ha-new", 6), { force: true });
    await waitFor(
      "r3's VNodes owned by r1 and r2",
      async () => {
        const h = await holders();
        return h.size === BASES && [...h.values()].every(x => x === "r1" || x === "r2");
      },
      (LEASE_SECONDS + 15) * 1000,
    );
    console.log(
      `[replicas] kill -9: r3's ${onR3.length} module pods' VNodes taken over in ${Date.now() - t0} ms`,
    );
    await waitFor(
      "the module created during the failover to be Ready",
      () => allReady("ha-new", 6),
      90_000,
    );
    expect(await blips.stop()).toEqual([]);
    expect(await allReady("ha-mod", 20)).toBe(true);

    const sinceKill = fleet.flatMap(b => b.log.filter(e => e.at >= logStart));
    expect(sinceKill.filter(e => e.command === "uninstallBiz")).toEqual([]);
    const haModInstalls = fleet.flatMap(b =>
      b.log.filter(e => e.command === "installBiz" && JSON.stringify(e.body).includes('"ha-mod"')),
    );
    expect(haModInstalls).toHaveLength(20); // one per pod, ever
  });

  it("the killed replica comes back: balance is restored, and no base was ever driven by two at once", async () => {
    replicas.r3 = await startReplica("r3", PORTS.r3, ENV);
    const c = await waitFor(
      "balance over r1, r2, r3 again",
      () => balancedOver(["r1", "r2", "r3"]),
      60_000,
    );
    console.log(`[replicas] after r3 returned: ${JSON.stringify(c)}`);
    await sleep(6000);
    const rows = await switchesAgainstTransitions();
    // every change of caller needs a change of Lease holder: two drivers would alternate far more
    for (const r of rows)
      expect({ vnode: r.vnode, ok: r.switches <= r.transitions }).toEqual({
        vnode: r.vnode,
        ok: true,
      });
    expect(rows.filter(r => r.callers.length > 1).length).toBeGreaterThan(0); // handovers did happen
    expect(await allReady("ha-mod", 20)).toBe(true);
  });

  it("SIGTERM of a replica hands its VNodes over without a NotReady blip", async () => {
    const nodes = await K8s(kind.Node).WithLabel(LABEL_ENV, HA_ENV).Get();
    const since = new Map(
      nodes.items.map(n => [
        n.metadata?.name,
        n.status?.conditions?.find(c => c.type === "Ready")?.lastTransitionTime,
      ]),
    );
    const blips = watchForBlips();
    const t0 = Date.now();
    await stopReplica(replicas.r2, "SIGTERM");
    replicas.r2 = undefined;
    const c = await waitFor(
      "r2's VNodes owned by r1 and r3",
      () => balancedOver(["r1", "r3"]),
      60_000,
    );
    console.log(`[replicas] SIGTERM: handed over in ${Date.now() - t0} ms: ${JSON.stringify(c)}`);
    await sleep(3000);
    expect(await blips.stop()).toEqual([]);
    const after = await K8s(kind.Node).WithLabel(LABEL_ENV, HA_ENV).Get();
    for (const n of after.items) {
      const ready = n.status?.conditions?.find(c => c.type === "Ready");
      expect({ node: n.metadata?.name, since: ready?.lastTransitionTime }).toEqual({
        node: n.metadata?.name,
        since: since.get(n.metadata?.name),
      });
    }
    const membership = await K8s(Lease).InNamespace("pepr-system").Get();
    expect(membership.items.map(l => l.metadata?.name)).not.toContain("koupleless-replica.r2");
  });
});
