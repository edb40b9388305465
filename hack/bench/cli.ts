// npm run bench -- [--bases B] [--modules M] [--replicas R] [--install-ms L] [--rate N]
//                   [--bare] [--passes steady,burst] [--admission]
//                   [--idle-bases N --duration S] [--out FILE]
// Brings up what it needs, runs the scenario, tears down what it started, and writes JSON
// plus a short summary. Numbers only: no thresholds (they belong in docs/benchmarks.md).
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../cluster/cluster";
import { admissionLatency, AdmissionLevel } from "./admission";
import { createPass, deletePass, DeletionResult, PassResult, PodClock } from "./churn";
import {
  bringUp,
  Harness,
  HeapSnapshot,
  restartReplicas,
  takeHeapSnapshots,
  tearDown,
  tearDownOnSignals,
} from "./harness";
import { CostResult, measureCost, quietFor } from "./idle";

const USAGE = `usage: npm run bench -- [options]
  --bases B           fake bases for the churn and admission scenarios (default 3)
  --modules M         modules per churn pass (default 20; 0 skips churn)
  --replicas R        controller replicas: npm run dev plus R-1 npm run replica (default 1)
  --install-ms L      how long a fake base takes to install a biz (default 0: an instant base)
  --rate N            arrivals per second in the steady pass (default 20)
  --bare              create bare module pods instead of Deployments (leaves the
                      controller-manager out: what remains is admission, scheduler and us)
  --passes LIST       which create passes to run: steady, burst or steady,burst (default)
  --admission         also measure the webhook's added latency at 1, 10, 50 concurrent creates
  --admission-requests K  creates per level and per side (default 100)
  --idle-bases N      instead: N idle bases, measured for --duration seconds (default 300)
  --tunnel http|mqtt  how the fake bases reach the controller (default http); mqtt starts a
                      local Mosquitto (npm run broker) and ENABLE_MQTT_TUNNEL=true
  --rolling-restart   with --replicas R > 1: restart replicas 2..R one by one (SIGTERM, a
                      graceful handover, then start again) during the steady pass
  --heap-snapshot     after the create passes, write a heap snapshot of each controller
                      process (needs BENCH_NODE_OPTIONS=--heapsnapshot-signal=SIGUSR2)
  --out FILE          JSON output (default bench-results/<scenario>-<time>.json)`;

interface Options {
  bases: number;
  modules: number;
  replicas: number;
  installMs: number;
  rate: number;
  bare: boolean;
  passes: Pass[];
  admission: boolean;
  admissionRequests: number;
  idleBases: number;
  duration: number;
  tunnel: "http" | "mqtt";
  rollingRestart: boolean;
  heapSnapshot: boolean;
  out?: string;
}

function num(raw: string | undefined, name: string, def: number, min: number): number {
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${name} ${raw}: expected a whole number >= ${min}\n${USAGE}`);
  return n;
}

type Pass = "steady" | "burst";

function passes(raw: string | undefined): Pass[] {
  const list = (raw ?? "steady,burst").split(",").map(p => p.trim());
  const bad = list.filter(p => p !== "steady" && p !== "burst");
  if (bad.length > 0 || list.length === 0)
    throw new Error(`--passes ${raw}: expected steady, burst or steady,burst\n${USAGE}`);
  return list as Pass[];
}

function tunnel(raw: string | undefined): "http" | "mqtt" {
  if (raw === undefined || raw === "http" || raw === "mqtt") return raw ?? "http";
  throw new Error(`--tunnel ${raw}: expected http or mqtt\n${USAGE}`);
}

function options(argv: string[]): Options {
  const s = { type: "string" } as const;
  const { values: v } = parseArgs({
    args: argv,
    options: {
      bases: s,
      modules: s,
      replicas: s,
      "install-ms": s,
      rate: s,
      passes: s,
      "admission-requests": s,
      "idle-bases": s,
      duration: s,
      out: s,
      tunnel: s,
      admission: { type: "boolean" },
      bare: { type: "boolean" },
      "rolling-restart": { type: "boolean" },
      "heap-snapshot": { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return {
    bases: num(v.bases, "bases", 3, 1),
    modules: num(v.modules, "modules", 20, 0),
    replicas: num(v.replicas, "replicas", 1, 1),
    installMs: num(v["install-ms"], "install-ms", 0, 0),
    rate: num(v.rate, "rate", 20, 1),
    bare: v.bare ?? false,
    passes: passes(v.passes),
    admission: v.admission ?? false,
    admissionRequests: num(v["admission-requests"], "admission-requests", 100, 1),
    idleBases: num(v["idle-bases"], "idle-bases", 0, 0),
    duration: num(v.duration, "duration", 300, 1),
    tunnel: tunnel(v.tunnel),
    rollingRestart: v["rolling-restart"] ?? false,
    heapSnapshot: v["heap-snapshot"] ?? false,
    out: v.out,
  };
}

export interface BenchResult {
  scenario: string;
  command: string;
  date: string;
  machine: { cpus: number; model: string; memoryGiB: number; node: string };
  options: Options;
  churn?: {
    steady?: PassResult;
    burst?: PassResult;
    deletion: DeletionResult;
    cost: CostResult;
    /** replicas restarted (one by one, gracefully) during the steady pass */
    restartedReplicas?: number;
    heapSnapshots?: HeapSnapshot[];
  };
  admission?: AdmissionLevel[];
  idle?: CostResult;
}

const log = (line: string) => console.error(`[bench] ${line}`);

async function runChurn(h: Harness, o: Options): Promise<BenchResult["churn"]> {
  const clock = new PodClock();
  await clock.start();
  try {
    const names = (pass: Pass) => Array.from({ length: o.modules }, (_, i) => `m${pass[0]}-${i}`);
    const what = o.bare ? "bare module pods" : "module Deployments";
    const done: Partial<Record<Pass, PassResult>> = {};
    let restartedReplicas: number | undefined;
    const cost = await measureCost(h, o.bases, async () => {
      for (const pass of o.passes) {
        const rate = pass === "steady" ? o.rate : 0;
        log(
          `${pass} pass: ${o.modules} ${what} ${rate ? `at ${rate}/s` : "as fast as the API takes them"}`,
        );
        const restart = o.rollingRestart && pass === "steady";
        const [result, restarted] = await Promise.all([
          createPass(clock, h.fleet, names(pass), { rate, bare: o.bare }),
          restart ? restartReplicas(h, log) : Promise.resolve(undefined),
        ]);
        done[pass] = result;
        if (restarted !== undefined) restartedReplicas = restarted;
      }
    });
    const heapSnapshots = o.heapSnapshot ? await takeHeapSnapshots(h, log) : undefined;
    log("deletion");
    const deletion = await deletePass(clock, h.fleet, o.passes.flatMap(names), o.bare);
    return { ...done, deletion, cost, restartedReplicas, heapSnapshots };
  } finally {
    clock.stop();
  }
}

async function run(o: Options): Promise<BenchResult> {
  const idle = o.idleBases > 0;
  const result: BenchResult = {
    scenario: idle ? "idle" : "churn",
    command: `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim(),
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model ?? "",
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    options: o,
  };
  const h = await bringUp({
    bases: idle ? o.idleBases : o.bases,
    replicas: o.replicas,
    installMs: o.installMs,
    tunnel: o.tunnel,
    log,
  });
  try {
    if (idle) {
      log(`idle: ${o.idleBases} bases for ${o.duration} s`);
      result.idle = await measureCost(h, o.idleBases, quietFor(o.duration));
    } else {
      if (o.modules > 0) result.churn = await runChurn(h, o);
      if (o.admission) {
        log("admission latency");
        result.admission = await admissionLatency([1, 10, 50], o.admissionRequests);
      }
    }
  } finally {
    await tearDown(h, log);
  }
  return result;
}

const ms = (s: { p50: number; p90: number; p99: number; max: number }) =>
  `p50 ${s.p50} / p90 ${s.p90} / p99 ${s.p99} / max ${s.max} ms`;

function churnSummary(c: NonNullable<BenchResult["churn"]>): string[] {
  const lines: string[] = [];
  for (const [name, p] of Object.entries({ steady: c.steady, burst: c.burst })) {
    if (!p) continue;
    lines.push(
      `${name}: create->Ready ${ms(p.createLatencyMs)}; ${p.throughputPerSecond} modules/s; ` +
        `success ${(p.successRatio * 100).toFixed(1)}% (${p.createErrors} creates refused); ` +
        `${p.installCallsPerModule} install calls/module, ${p.installedMoreThanOnce} installed more than once`,
    );
    for (const [phase, s] of Object.entries(p.phases))
      lines.push(`    ${phase}: p50 ${s.p50}, p90 ${s.p90} ms`);
  }
  lines.push(
    `deletion: delete->uninstalled ${ms(c.deletion.deleteToUninstalledMs)}; delete->gone ${ms(c.deletion.deleteToGoneMs)}; ` +
      `${c.deletion.uninstallCallsPerModule} uninstall calls/module, ${c.deletion.uninstalledMoreThanOnce} uninstalled more than once` +
      c.deletion.repeatedUninstalls.map(r => `\n    ${r.app}: ${JSON.stringify(r.calls)}`).join(""),
    `controller during churn: ${c.cost.controllerCpuCores} cores, peak RSS ${c.cost.controllerPeakRssMiB} MiB`,
  );
  if (c.restartedReplicas !== undefined)
    lines.push(`rolling restart: ${c.restartedReplicas} replicas restarted during the steady pass`);
  for (const s of c.heapSnapshots ?? [])
    lines.push(`heap snapshot of pid ${s.pid} at RSS ${s.rssMiB} MiB: ${s.file}`);
  return lines;
}

function idleSummary(i: CostResult): string {
  return (
    `idle ${i.bases} bases, ${i.seconds} s: ${i.controllerCpuCores} cores, peak RSS ${i.controllerPeakRssMiB} MiB, ` +
    `${i.writesPerBasePerMinute} writes/base/min, API req/s ${JSON.stringify(i.apiRequestsPerSecondByVerb)}` +
    Object.entries(i.writesByClientPerSecond ?? {})
      .map(([k, v]) => `\n    ${v}/s ${k}`)
      .join("")
  );
}

export function summary(r: BenchResult): string {
  const lines: string[] = [`${r.command}  (${r.machine.cpus} cores, ${r.date})`];
  if (r.churn) lines.push(...churnSummary(r.churn));
  for (const a of r.admission ?? [])
    lines.push(
      `admission x${a.concurrency}: +${a.addedP50Ms} ms p50, +${a.addedP99Ms} ms p99 (with ${ms(a.withWebhookMs)})`,
    );
  if (r.idle) lines.push(idleSummary(r.idle));
  return lines.join("\n");
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  tearDownOnSignals(log);
  const r = await run(o);
  const out =
    o.out ?? join(REPO_ROOT, "bench-results", `${r.scenario}-${r.date.replace(/[:.]/g, "-")}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(r, null, 2)}\n`);
  console.log(`${summary(r)}\nJSON: ${out}`);
  process.exit(0); // watches and keep-alive sockets would hold the process open
}

if (require.main === module) {
  main().catch(err => {
    console.error(`bench failed: ${err instanceof Error ? err.message : JSON.stringify(err)}`);
    process.exit(1);
  });
}
