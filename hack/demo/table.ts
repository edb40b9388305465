// The demo's result: where each module pod runs and what its base says about the biz.
import type { V1Pod } from "@kubernetes/client-node";
import { bizzesOf, specKey } from "../../capabilities/lib/modules/biz";
import { formatTable } from "../status/status";

export interface DemoRow {
  pod: string;
  vnode: string;
  base: string;
  biz: string;
  state: string;
  ready: boolean;
}

function containerState(pod: V1Pod, name: string): string {
  const s = pod.status?.containerStatuses?.find(c => c.name === name)?.state ?? {};
  if (s.running) return "running";
  const [word, detail] = s.terminated ? ["terminated", s.terminated] : ["waiting", s.waiting];
  return detail ? `${word} (${detail.reason ?? ""})` : "-";
}

/** One row per biz of every pod, sorted by pod name. */
export function demoRows(pods: V1Pod[]): DemoRow[] {
  return pods
    .filter(p => !p.metadata?.deletionTimestamp)
    .flatMap(p =>
      bizzesOf(p).map(b => ({
        pod: p.metadata?.name ?? "",
        vnode: p.spec?.nodeName ?? "(not scheduled)",
        base: p.status?.hostIP ?? "-",
        biz: specKey(b),
        state: containerState(p, b.bizName),
        ready: (p.status?.conditions ?? []).some(c => c.type === "Ready" && c.status === "True"),
      })),
    )
    .sort((a, b) => a.pod.localeCompare(b.pod));
}

export function demoTable(rows: DemoRow[]): string {
  return formatTable(
    ["MODULE POD", "VNODE", "BASE", "BIZ", "BIZ STATE", "READY"],
    rows.map(r => [r.pod, r.vnode, r.base, r.biz, r.state, String(r.ready)]),
  );
}
