// Who writes what: counts the apiserver's audit events (KUBE_LOCAL_AUDIT=1 npm run cluster:up)
// in a time window by client, user, verb and resource/subresource.
//   npx tsx hack/bench/audit.ts [.cluster/logs/audit.log] [--from ISO] [--to ISO]
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { AUDIT_LOG_PATH } from "../cluster/cluster";

interface AuditEvent {
  stage?: string;
  verb?: string;
  userAgent?: string;
  user?: { username?: string };
  objectRef?: { resource?: string; subresource?: string };
  stageTimestamp?: string;
}

/**
 * The client's name: the user-agent up to its first "/" or space, and for a client-go
 * user-agent the component it ends with ("kube-local:node-controller").
 */
export function agentName(userAgent: string | undefined): string {
  const ua = (userAgent ?? "").trim();
  if (ua === "") return "(none)";
  const component = / kubernetes\/[0-9a-f]+\/([^/ ]+)$/.exec(ua)?.[1];
  return `${ua.split(/[/ ]/)[0]}${component ? `:${component}` : ""}`;
}

/** "agent user verb resource[/subresource]" of one event. */
export function auditKey(e: AuditEvent): string {
  const ref = e.objectRef ?? {};
  const res = `${ref.resource ?? "?"}${ref.subresource ? `/${ref.subresource}` : ""}`;
  return `${agentName(e.userAgent)} ${e.user?.username ?? "?"} ${e.verb ?? "?"} ${res}`;
}

/** Completed requests between from and to (ms since the epoch), counted by auditKey. */
export function countWrites(lines: string[], from: number, to: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of lines) {
    if (line.trim() === "") continue;
    const e = JSON.parse(line) as AuditEvent;
    if (e.stage !== "ResponseComplete") continue;
    const t = Date.parse(e.stageTimestamp ?? "");
    if (!(t >= from && t < to)) continue;
    const k = auditKey(e);
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

/** Writes per second in [from, to) by auditKey, largest first; undefined without an audit log. */
export function writesPerSecondByClient(
  from: number,
  to: number,
  path = AUDIT_LOG_PATH,
): Record<string, number> | undefined {
  if (!existsSync(path)) return undefined;
  const counts = countWrites(readFileSync(path, "utf8").split("\n"), from, to);
  const seconds = (to - from) / 1000;
  return Object.fromEntries(
    Object.entries(counts)
      .sort(([, a], [, b]) => b - a)
      .map(([k, v]) => [k, Math.round((v / seconds) * 1000) / 1000]),
  );
}

function main(): void {
  process.stdout.on("error", () => process.exit(0)); // | head
  const { values: v, positionals } = parseArgs({
    options: { from: { type: "string" }, to: { type: "string" } },
    allowPositionals: true,
  });
  const from = v.from ? Date.parse(v.from) : 0;
  const to = v.to ? Date.parse(v.to) : Date.now();
  const rates = writesPerSecondByClient(from, to, positionals[0] ?? AUDIT_LOG_PATH);
  if (!rates) throw new Error("no audit log: start the cluster with KUBE_LOCAL_AUDIT=1");
  for (const [k, r] of Object.entries(rates)) console.log(`${r.toFixed(3)}/s  ${k}`);
}

if (require.main === module) main();
