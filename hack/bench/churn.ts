// Module churn: M one-pod Deployments (one biz each; or M bare module pods, to leave the
// controller-manager out) created at a steady rate, then M more as fast as the API takes them; each timed from its create call to the moment our watch sees
// its pod Ready, on this process's millisecond clock (the fake bases run in this process
// too, so their request log shares it). Then the same for deletion.
import { K8s, kind } from "kubernetes-fluent-client";
import type { V1Pod } from "@kubernetes/client-node";
import type { FakeBase, RequestLogEntry } from "../fake-base/fake-base";
import { sleep, waitFor } from "../dev/wait";
import { NAMESPACE } from "./harness";
import { summarize, Summary } from "./stats";

interface Times {
  created?: number; // create call made
  added?: number; // pod first seen (Deployment -> ReplicaSet -> pod, admission included)
  bound?: number; // spec.nodeName first seen
  ready?: number;
  deleteCall?: number;
  gone?: number;
}

export interface PassResult {
  modules: number;
  createLatencyMs: Summary;
  throughputPerSecond: number;
  successRatio: number;
  /** Create calls the API refused (e.g. a webhook call that failed). */
  createErrors: number;
  installCallsPerModule: number;
  /** Modules whose biz got more than one install call (the promise is exactly one). */
  installedMoreThanOnce: number;
  /** Mean and percentiles of each step, in ms. */
  phases: Record<string, Summary>;
}

export interface DeletionResult {
  modules: number;
  deleteToUninstalledMs: Summary;
  deleteToGoneMs: Summary;
  successRatio: number;
  uninstallCallsPerModule: number;
  /** Modules whose biz got more than one uninstall call (the promise is exactly one). */
  uninstalledMoreThanOnce: number;
  /** The calls of the first few such modules: who called, when, and the base's answer. */
  repeatedUninstalls: { app: string; calls: { at: number; from: string; code: string }[] }[];
}

/** Follows every pod of the bench namespace; the first time each milestone is seen counts. */
export class PodClock {
  readonly times = new Map<string, Times>();
  private watcher?: { close(): void };

  async start(): Promise<void> {
    const w = K8s(kind.Pod)
      .InNamespace(NAMESPACE)
      .Watch((pod, phase) => this.see(pod, String(phase)));
    await w.start();
    this.watcher = w;
  }

  stop(): void {
    this.watcher?.close();
  }

  entry(app: string): Times {
    const t = this.times.get(app) ?? {};
    this.times.set(app, t);
    return t;
  }

  private see(pod: V1Pod, phase: string): void {
    const app = pod.metadata?.labels?.app;
    if (!app) return;
    const t = this.entry(app);
    const now = Date.now();
    const reached: Array<[keyof Times, boolean]> = [
      ["added", true],
      ["bound", Boolean(pod.spec?.nodeName)],
      ["ready", isReady(pod)],
      ["gone", phase === "DELETED"],
    ];
    for (const [k, yes] of reached) if (yes && t[k] === undefined) t[k] = now;
  }
}

const isReady = (pod: V1Pod) =>
  (pod.status?.conditions ?? []).some(c => c.type === "Ready" && c.status === "True");

/** How the modules of a pass are made: through Deployments (default) or as bare pods. */
export interface PassOptions {
  /** Arrivals per second; 0 = as fast as the API takes them. */
  rate: number;
  bare: boolean;
}

const podLabels = (app: string) => ({ app, "virtual-kubelet.koupleless.io/component": "module" });

function moduleSpec(app: string): kind.Pod["spec"] {
  return {
    containers: [
      {
        name: app,
        image: `file:///opt/biz/${app}-1.0.0-ark-biz.jar`,
        env: [{ name: "BIZ_VERSION", value: "1.0.0" }],
      },
    ],
  };
}

export function moduleDeployment(app: string): kind.Deployment {
  return {
    metadata: { name: app, namespace: NAMESPACE },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app } },
      template: { metadata: { labels: podLabels(app) }, spec: moduleSpec(app) },
    },
  };
}

/** A module pod with no owner: no controller-manager between the create call and the pod. */
export function modulePod(app: string): kind.Pod {
  return {
    metadata: { name: app, namespace: NAMESPACE, labels: podLabels(app) },
    spec: moduleSpec(app),
  };
}

async function createModule(app: string, bare: boolean): Promise<void> {
  if (bare) await K8s(kind.Pod).Create(modulePod(app));
  else await K8s(kind.Deployment).Create(moduleDeployment(app));
}

async function deleteModule(app: string, bare: boolean): Promise<void> {
  if (bare) await K8s(kind.Pod).InNamespace(NAMESPACE).Delete(app);
  else await K8s(kind.Deployment).InNamespace(NAMESPACE).Delete(app);
}

/** Runs `work` for each item: at `rate` per second, or (rate 0) with `parallel` in flight. */
async function paced<T>(items: T[], rate: number, work: (t: T) => Promise<void>): Promise<void> {
  const parallel = 16;
  if (rate > 0) {
    const t0 = Date.now();
    const running: Promise<void>[] = [];
    for (let i = 0; i < items.length; i++) {
      const due = t0 + (i * 1000) / rate;
      if (due > Date.now()) await sleep(due - Date.now());
      running.push(work(items[i]));
    }
    await Promise.all(running);
    return;
  }
  const queue = [...items];
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

function bizCalls(fleet: FakeBase[], command: string): Map<string, RequestLogEntry[]> {
  const out = new Map<string, RequestLogEntry[]>();
  for (const b of fleet)
    for (const e of b.log) {
      if (e.command !== command) continue;
      const name = (e.body as { bizName?: string } | undefined)?.bizName ?? "";
      out.set(name, [...(out.get(name) ?? []), e]);
    }
  return out;
}

const gap = (a?: number, b?: number) => (a !== undefined && b !== undefined ? b - a : NaN);

/** Where each module's time went, from our clock and the base's request log. */
export function phasesOf(t: Times, install?: RequestLogEntry): Record<string, number> {
  return {
    "controllers+admission (create -> pod seen)": gap(t.created, t.added), // bare: admission only
    "scheduling (pod seen -> bound)": gap(t.added, t.bound),
    "our queue (bound -> Arklet call arrives)": gap(t.bound, install?.receivedAt),
    "Arklet installBiz": gap(install?.receivedAt, install?.at),
    "status write (Arklet answer -> Ready seen)": gap(install?.at, t.ready),
  };
}

export async function createPass(
  clock: PodClock,
  fleet: FakeBase[],
  apps: string[],
  o: PassOptions,
): Promise<PassResult> {
  let createErrors = 0;
  await paced(apps, o.rate, async app => {
    clock.entry(app).created = Date.now();
    // a refused create is a failed module, not a failed run: the success ratio shows it
    await createModule(app, o.bare).catch(() => createErrors++);
  });
  await waitFor(
    `${apps.length} modules Ready`,
    async () => apps.every(a => clock.entry(a).ready !== undefined),
    120_000 + apps.length * 300,
  ).catch(() => undefined); // a partial result is still a result: successRatio says it
  const installs = bizCalls(fleet, "installBiz");
  const ok = apps.filter(a => clock.entry(a).ready !== undefined);
  const phases: Record<string, number[]> = {};
  for (const a of ok) {
    const first = installs.get(a)?.find(e => e.code === "SUCCESS");
    for (const [k, v] of Object.entries(phasesOf(clock.entry(a), first)))
      (phases[k] ??= []).push(v);
  }
  const readyTimes = ok.map(a => clock.entry(a).ready as number);
  const start = Math.min(...apps.map(a => clock.entry(a).created as number));
  const span = (Math.max(...readyTimes) - start) / 1000;
  return {
    modules: apps.length,
    createLatencyMs: summarize(ok.map(a => gap(clock.entry(a).created, clock.entry(a).ready))),
    throughputPerSecond: Math.round((ok.length / span) * 10) / 10,
    successRatio: ok.length / apps.length,
    createErrors,
    installCallsPerModule:
      apps.reduce((n, a) => n + (installs.get(a)?.length ?? 0), 0) / apps.length,
    installedMoreThanOnce: apps.filter(a => (installs.get(a)?.length ?? 0) > 1).length,
    phases: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, summarize(v)])),
  };
}

export async function deletePass(
  clock: PodClock,
  fleet: FakeBase[],
  apps: string[],
  bare: boolean,
): Promise<DeletionResult> {
  await paced(apps, 0, async app => {
    clock.entry(app).deleteCall = Date.now();
    await deleteModule(app, bare);
  });
  await waitFor(
    `${apps.length} module pods gone`,
    async () => apps.every(a => clock.entry(a).gone !== undefined),
    120_000 + apps.length * 300,
  ).catch(() => undefined);
  const uninstalls = bizCalls(fleet, "uninstallBiz");
  const t = (a: string) => clock.entry(a);
  return {
    modules: apps.length,
    deleteToUninstalledMs: summarize(
      apps.map(a => gap(t(a).deleteCall, uninstalls.get(a)?.find(e => e.code === "SUCCESS")?.at)),
    ),
    deleteToGoneMs: summarize(apps.map(a => gap(t(a).deleteCall, t(a).gone))),
    successRatio: apps.filter(a => t(a).gone !== undefined).length / apps.length,
    uninstallCallsPerModule:
      apps.reduce((n, a) => n + (uninstalls.get(a)?.length ?? 0), 0) / apps.length,
    uninstalledMoreThanOnce: apps.filter(a => (uninstalls.get(a)?.length ?? 0) > 1).length,
    repeatedUninstalls: apps
      .filter(a => (uninstalls.get(a)?.length ?? 0) > 1)
      .slice(0, 5)
      .map(app => ({
        app,
        calls: (uninstalls.get(app) ?? []).map(e => ({
          at: e.receivedAt - (t(app).deleteCall ?? 0),
          from: e.userAgent,
          code: e.code,
        })),
      })),
  };
}
