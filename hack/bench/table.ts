// npm run bench:table -- bench-results/a.json [b.json ...]
// Prints the Markdown tables of docs/benchmarks.md from bench JSON files, so the published
// numbers are exactly what the runs wrote.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import type { BenchResult } from "./cli";
import type { PassResult } from "./churn";
import type { Summary } from "./stats";

type Named = { name: string; r: BenchResult };

const row = (cells: Array<string | number>) => `| ${cells.join(" | ")} |`;
const head = (cells: string[]) => [row(cells), row(cells.map(() => "---"))];
const pcts = (s: Summary) => `${s.p50} / ${s.p90} / ${s.p99} / ${s.max}`;
const p5090 = (s: Summary | undefined) => (s ? `${s.p50} / ${s.p90}` : "");
const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;

/** The five steps, in the order phasesOf names them. */
function steps(p: PassResult): string[] {
  return Object.values(p.phases).map(p5090);
}

export function churnTable(runs: Named[]): string[] {
  const out = head([
    "run",
    "pass",
    "modules",
    "create→Ready p50 / p90 / p99 / max (ms)",
    "modules/s",
    "success",
    "installs/module",
    "controllers+admission p50/p90",
    "scheduling p50/p90",
    "our queue p50/p90",
    "Arklet p50/p90",
    "status write p50/p90",
  ]);
  for (const { name, r } of runs) {
    const c = r.churn;
    if (!c) continue;
    for (const [pass, p] of Object.entries({ steady: c.steady, burst: c.burst })) {
      if (!p) continue;
      out.push(
        row([
          name,
          pass,
          p.modules,
          pcts(p.createLatencyMs),
          p.throughputPerSecond,
          pct(p.successRatio),
          p.installCallsPerModule,
          ...steps(p),
        ]),
      );
    }
  }
  return out;
}

export function deletionTable(runs: Named[]): string[] {
  const out = head([
    "run",
    "modules",
    "delete→uninstalled p50 / p90 / max (ms)",
    "delete→pod gone p50 / p90 / max (ms)",
    "success",
    "uninstalls/module (more than once)",
    "controller CPU (cores) during churn",
    "controller peak RSS (MiB)",
  ]);
  const three = (s: Summary) => `${s.p50} / ${s.p90} / ${s.max}`;
  for (const { name, r } of runs) {
    const c = r.churn;
    if (!c) continue;
    const d = c.deletion;
    out.push(
      row([
        name,
        d.modules,
        three(d.deleteToUninstalledMs),
        three(d.deleteToGoneMs),
        pct(d.successRatio),
        `${d.uninstallCallsPerModule} (${d.uninstalledMoreThanOnce})`,
        // the processes measured at the start are gone after a rolling restart
        c.restartedReplicas ? "n/a (restarted)" : c.cost.controllerCpuCores,
        c.restartedReplicas ? "n/a (restarted)" : c.cost.controllerPeakRssMiB,
      ]),
    );
  }
  return out;
}

export function admissionTable(runs: Named[]): string[] {
  const out = head([
    "run",
    "concurrent creates",
    "with webhook p50 / p99 (ms)",
    "without p50 / p99 (ms)",
    "added p50 / p99 (ms)",
  ]);
  const two = (s: Summary) => `${s.p50} / ${s.p99}`;
  for (const { name, r } of runs)
    for (const a of r.admission ?? [])
      out.push(
        row([
          name,
          a.concurrency,
          two(a.withWebhookMs),
          two(a.withoutWebhookMs),
          `${a.addedP50Ms} / ${a.addedP99Ms}`,
        ]),
      );
  return out;
}

export function idleTable(runs: Named[]): string[] {
  const out = head([
    "bases",
    "window (s)",
    "controller CPU (cores)",
    "controller peak RSS (MiB)",
    "writes per base per minute",
    "apiserver requests/s by verb (whole cluster)",
  ]);
  for (const { r } of runs) {
    const i = r.idle;
    if (!i) continue;
    const verbs = Object.entries(i.apiRequestsPerSecondByVerb)
      .filter(([, v]) => v > 0)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    out.push(
      row([
        i.bases,
        i.seconds,
        i.controllerCpuCores,
        i.controllerPeakRssMiB,
        i.writesPerBasePerMinute,
        verbs,
      ]),
    );
  }
  return out;
}

/** Who wrote what at idle, from the apiserver's audit log (runs with KUBE_LOCAL_AUDIT=1). */
export function writersTable(runs: Named[]): string[] {
  const out = head([
    "run",
    "bases",
    "client",
    "user",
    "verb",
    "resource",
    "writes/s",
    "per base per minute",
  ]);
  for (const { name, r } of runs) {
    const i = r.idle;
    for (const [key, perSecond] of Object.entries(i?.writesByClientPerSecond ?? {})) {
      const [client, user, verb, resource] = key.split(" ");
      const perBase = Math.round(((perSecond * 60) / Math.max(1, i?.bases ?? 1)) * 100) / 100;
      out.push(row([name, i?.bases ?? 0, client, user, verb, resource, perSecond, perBase]));
    }
  }
  return out;
}

function main(files: string[]): void {
  if (files.length === 0) {
    console.error("usage: npm run bench:table -- bench-results/<run>.json [...]");
    process.exit(2);
  }
  const runs = files.map(f => ({
    name: basename(f, ".json"),
    r: JSON.parse(readFileSync(f, "utf8")) as BenchResult,
  }));
  for (const r of runs) console.log(`- ${r.name}: \`${r.r.command}\` (${r.r.date})`);
  for (const table of [churnTable, deletionTable, admissionTable, idleTable, writersTable]) {
    const lines = table(runs);
    if (lines.length > 2) console.log(`\n${lines.join("\n")}`);
  }
}

if (require.main === module) main(process.argv.slice(2));
