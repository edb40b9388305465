// What a benchmark runs against: the local cluster (started if needed), the controller
// (`npm run dev` as replica 1, serving admission, plus `npm run replica` for 2..R) and
// in-process fake bases; and the teardown of exactly what was started.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
} from "node:fs";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { K8s, kind } from "kubernetes-fluent-client";
import {
  AUDIT_LOG_PATH,
  CLUSTER_DIR,
  DEFAULT_UP_OPTIONS,
  down,
  KUBECONFIG_PATH,
  readState,
  REPO_ROOT,
  up,
} from "../cluster/cluster";
import { Broker } from "../broker/broker";
import { FakeBase, startFleet } from "../fake-base/fake-base";
import { PeprDev, startPeprDev, stopPeprDev } from "../dev/pepr-dev";
import { Replica, startReplica, stopReplica } from "../dev/replica";
import { sleep, waitFor } from "../dev/wait";
import { cpuTicks, memoryKiB } from "./stats";
import { Lease } from "../../capabilities/lib/kinds";
import { LABEL_ENV, NODE_LEASE_NAMESPACE } from "../../capabilities/lib/contract";

export const BENCH_ENV = "bench"; // our own env: leftovers of other runs do not count
export const NAMESPACE = "koupleless-bench";

export interface HarnessOptions {
  bases: number;
  replicas: number;
  installMs: number;
  tunnel: "http" | "mqtt";
  log: (line: string) => void;
}

export interface Harness {
  fleet: FakeBase[];
  dev?: PeprDev;
  replicas: Replica[];
  startedCluster: boolean;
  broker?: Broker;
  /** the environment the replicas were started with (a restart uses it again) */
  env?: NodeJS.ProcessEnv;
}

const controllerEnv = {
  KOUPLELESS_ENV: BENCH_ENV,
  // pepr dev logs every event at debug by default; that would be measured too
  LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn",
  KOUPLELESS_HEARTBEAT_MIN_INTERVAL_MS: "500",
  // V8 flags for the controller's processes, e.g. --heapsnapshot-signal=SIGUSR2 or
  // --max-semi-space-size=4 (pepr dev's module fork inherits NODE_OPTIONS)
  ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
};

/** What a Ctrl-C must tear down: set while a harness is up. */
let live: Harness | undefined;

/** Ctrl-C or SIGTERM during a run: tear down what was started (controller, bases, webhooks). */
export function tearDownOnSignals(log: (line: string) => void): void {
  const stop = (signal: string) => {
    log(`${signal}: stopping the run`);
    const h = live;
    void (h ? tearDown(h, log) : Promise.resolve()).finally(() => process.exit(130));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

export async function bringUp(o: HarnessOptions): Promise<Harness> {
  const res = await up({ ...DEFAULT_UP_OPTIONS, log: line => o.log(`  ${line}`) });
  process.env.KUBECONFIG = KUBECONFIG_PATH;
  const h: Harness = { fleet: [], replicas: [], startedCluster: !res.alreadyUp };
  live = h;
  await removeLeftovers(o.log);
  o.log(`controller: npm run dev + ${o.replicas - 1} replica(s), ${o.tunnel} tunnel`);
  try {
    await startControllerAndBases(h, o);
    await waitForVNodes(o.bases, o.log);
    if (o.replicas > 1) await waitForShares(o.bases, o.replicas, o.log);
    await K8s(kind.Namespace).Apply({ metadata: { name: NAMESPACE } }, { force: true });
    await waitFor("the bench namespace's ServiceAccount", () =>
      K8s(kind.ServiceAccount).InNamespace(NAMESPACE).Get("default"),
    );
  } catch (err) {
    await tearDown(h, o.log); // a failed start must not leave the controller or its webhooks behind
    throw err;
  }
  return h;
}

/** The controller's replicas, then the fake bases that heartbeat to them (or to the broker). */
async function startControllerAndBases(h: Harness, o: HarnessOptions): Promise<void> {
  const mqtt = o.tunnel === "mqtt" ? await startBroker(h, o.log) : undefined;
  const env = { ...controllerEnv, ...(mqtt?.env ?? {}) };
  h.env = env;
  h.dev = await startPeprDev({ ...env, KOUPLELESS_REPLICA_ID: "bench-1" });
  for (let i = 2; i <= o.replicas; i++) {
    h.replicas.push(await startReplica(`bench-${i}`, 7800 + i, env));
  }
  const urls = [7777, ...h.replicas.map(r => r.tunnelPort)].map(p => `http://127.0.0.1:${p}`);
  o.log(`${o.bases} fake bases (install ${o.installMs} ms)`);
  h.fleet = await startFleet(
    o.bases,
    { controller: urls.join(","), installMs: o.installMs, ...(mqtt?.base ?? {}) },
    1000,
  );
}

/** A local Mosquitto, and what the controller and the bases need to use it. */
async function startBroker(h: Harness, log: (line: string) => void) {
  h.broker = await Broker.start({ dir: join(CLUSTER_DIR, "bench-broker") });
  const b = h.broker.info;
  log(`  MQTT broker ${b.url}`);
  return {
    env: {
      ENABLE_MQTT_TUNNEL: "true",
      MQTT_BROKER: b.host,
      MQTT_PORT: String(b.port),
      MQTT_USERNAME: b.username,
      MQTT_PASSWORD: b.password,
    },
    base: {
      mqtt: { url: b.url, env: BENCH_ENV, username: b.username, password: b.password },
    },
  };
}

/**
 * VNodes and Leases of our env left by a run that was killed: the controller would take them
 * and spend the run health-polling bases that are gone (and the Ready count would be off).
 */
async function removeLeftovers(log: (line: string) => void): Promise<void> {
  const nodes = (await K8s(kind.Node).WithLabel(LABEL_ENV, BENCH_ENV).Get()).items;
  if (nodes.length === 0) return;
  log(`  removing ${nodes.length} VNodes left by an earlier run`);
  const names = nodes.map(n => n.metadata?.name ?? "");
  for (let i = 0; i < names.length; i += 50)
    await Promise.all(
      names
        .slice(i, i + 50)
        .flatMap(n => [
          K8s(kind.Node).Delete(n),
          K8s(Lease).InNamespace(NODE_LEASE_NAMESPACE).Delete(n),
        ]),
    );
}

/** Every base's VNode Ready, with a progress line every 10 s (1000 bases take minutes). */
async function waitForVNodes(bases: number, log: (line: string) => void): Promise<void> {
  const started = Date.now();
  let lastLog = started;
  await waitFor(
    `${bases} VNodes Ready`,
    async () => {
      const ready = await readyVNodes();
      if (Date.now() - lastLog >= 10_000) {
        lastLog = Date.now();
        log(`  ${ready}/${bases} VNodes Ready after ${Math.round((lastLog - started) / 1000)} s`);
      }
      return ready === bases;
    },
    120_000 + bases * 600,
  );
  log(`  ${bases} VNodes Ready in ${Math.round((Date.now() - started) / 1000)} s`);
}

/** With several replicas: every VNode held, none holding more than its share (balance settled). */
async function waitForShares(bases: number, replicas: number, log: (line: string) => void) {
  const share = Math.ceil(bases / replicas);
  const started = Date.now();
  const counts = await waitFor(
    `${bases} VNodes shared among ${replicas} replicas`,
    async () => {
      const leases = await K8s(Lease)
        .InNamespace(NODE_LEASE_NAMESPACE)
        .WithLabel(LABEL_ENV, BENCH_ENV)
        .Get();
      const by = new Map<string, number>();
      for (const l of leases.items) {
        const holder = l.spec?.holderIdentity ?? "";
        if (holder) by.set(holder, (by.get(holder) ?? 0) + 1);
      }
      const held = [...by.values()].reduce((a, b) => a + b, 0);
      const fair = by.size === replicas && [...by.values()].every(n => n <= share);
      return held === bases && fair ? Object.fromEntries(by) : undefined;
    },
    120_000,
  );
  log(
    `  shares settled in ${Math.round((Date.now() - started) / 1000)} s: ${JSON.stringify(counts)}`,
  );
}

export async function readyVNodes(): Promise<number> {
  const nodes = await K8s(kind.Node).WithLabel(LABEL_ENV, BENCH_ENV).Get();
  return nodes.items.filter(n =>
    n.status?.conditions?.some(c => c.type === "Ready" && c.status === "True"),
  ).length;
}

export async function tearDown(h: Harness, log: (line: string) => void): Promise<void> {
  if (live !== h) return; // already torn down (a signal during the normal teardown)
  live = undefined;
  log("tearing down");
  await K8s(kind.Namespace)
    .Delete(NAMESPACE)
    .catch(() => undefined);
  await waitFor(
    "bench pods gone",
    async () => (await K8s(kind.Pod).InNamespace(NAMESPACE).Get()).items.length === 0,
    180_000,
  ).catch(err => log(`  ${String(err)}`));
  await Promise.all(h.fleet.map(b => b.stop(true)));
  await sleep(2000);
  for (const r of h.replicas) await stopReplica(r, "SIGTERM");
  await stopPeprDev(h.dev);
  await h.broker?.stop();
  if (h.startedCluster) {
    keepAuditLog(log);
    await down();
  }
}

/**
 * A rolling restart of replicas 2..R (npm run dev, which serves admission, stays): each is
 * stopped with SIGTERM (a graceful handover of its VNodes), started again, and given
 * `settleMs` before the next one goes.
 */
export async function restartReplicas(
  h: Harness,
  log: (line: string) => void,
  settleMs = 5000,
): Promise<number> {
  for (let i = 0; i < h.replicas.length; i++) {
    const r = h.replicas[i];
    log(`  rolling restart: stopping replica ${r.id} (SIGTERM)`);
    await stopReplica(r, "SIGTERM");
    h.replicas[i] = await startReplica(r.id, r.tunnelPort, h.env);
    log(`  rolling restart: replica ${r.id} serves again`);
    await sleep(settleMs);
  }
  return h.replicas.length;
}

export interface HeapSnapshot {
  pid: number;
  rssMiB: number;
  file: string;
}

/** Heap snapshots of the controller's processes (started with --heapsnapshot-signal=SIGUSR2). */
export async function takeHeapSnapshots(
  h: Harness,
  log: (line: string) => void,
): Promise<HeapSnapshot[]> {
  const out: HeapSnapshot[] = [];
  for (const pid of controllerPids(h)) {
    const dir = readlinkSync(`/proc/${pid}/cwd`);
    const before = new Set(readdirSync(dir));
    const rssMiB = Math.round(sampleProcesses([pid]).rssMiB);
    process.kill(pid, "SIGUSR2");
    const found = () => readdirSync(dir).find(f => f.endsWith(".heapsnapshot") && !before.has(f));
    await waitFor(`a heap snapshot of pid ${pid}`, async () => found() !== undefined, 60_000);
    const file = join(dir, found() as string);
    // the file is complete when its size stops growing
    let size = -1;
    while (size !== statSync(file).size) {
      size = statSync(file).size;
      await sleep(2000);
    }
    log(`  heap snapshot of pid ${pid} (RSS ${rssMiB} MiB): ${file}`);
    out.push({ pid, rssMiB, file });
  }
  return out;
}

/** The audit log (KUBE_LOCAL_AUDIT=1) outlives the cluster: bench-results/audit-<time>.log. */
function keepAuditLog(log: (line: string) => void): void {
  if (!existsSync(AUDIT_LOG_PATH)) return;
  const dir = join(REPO_ROOT, "bench-results");
  mkdirSync(dir, { recursive: true });
  const to = join(dir, `audit-${new Date().toISOString().replace(/[:.]/g, "-")}.log`);
  copyFileSync(AUDIT_LOG_PATH, to);
  log(`  audit log kept: ${to}`);
}

/** The node processes of the controller: pepr dev's module fork and each replica. */
export function controllerPids(h: Harness): number[] {
  const groups = [h.dev?.child.pid, ...h.replicas.map(r => r.child.pid)].filter(
    (p): p is number => p !== undefined,
  );
  const pids: number[] = [];
  for (const entry of readdirSync("/proc").filter(e => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      // the module itself, not npm or the pepr CLI's build watcher
      if (groups.includes(pgrp) && /pepr-koupleless-pepr\.js|replica\/cli\.ts/.test(cmd))
        pids.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return pids;
}

export interface ProcSample {
  cpuSeconds: number;
  peakRssMiB: number;
  rssMiB: number;
}

const TICKS_PER_SECOND = 100; // Linux USER_HZ

export function sampleProcesses(pids: number[]): ProcSample {
  let ticks = 0;
  let peak = 0;
  let now = 0;
  for (const pid of pids) {
    try {
      ticks += cpuTicks(readFileSync(`/proc/${pid}/stat`, "utf8"));
      const m = memoryKiB(readFileSync(`/proc/${pid}/status`, "utf8"));
      peak += m.peak;
      now += m.now;
    } catch {
      // gone
    }
  }
  return { cpuSeconds: ticks / TICKS_PER_SECOND, peakRssMiB: peak / 1024, rssMiB: now / 1024 };
}

/** The apiserver's own metrics, through the kubectl built with the cluster. */
export function apiserverMetrics(): Promise<string> {
  const state = readState();
  const bin = state ? join(state.binDir, "kubectl") : "kubectl";
  return new Promise((res, rej) =>
    execFile(
      bin,
      ["get", "--raw", "/metrics"],
      { env: process.env, maxBuffer: 256 << 20 },
      (err, stdout) => (err ? rej(err) : res(stdout)),
    ),
  );
}
