// `koupleless-pepr status`, the pure part: one row per base (VNode) and one per biz container
// of a module pod, from Node, Lease and Pod objects as the API returns them, and their
// rendering as aligned tables or as JSON. The CLI (cli.ts) only fetches and prints.
import type {
  V1ContainerStateTerminated,
  V1ContainerStatus,
  V1Node,
  V1Pod,
} from "@kubernetes/client-node";
import {
  LABEL_BASE_CLUSTER_NAME,
  LABEL_BASE_NAME,
  LABEL_BASE_VERSION,
  LABEL_ENV,
  TAINT_NODE_ENV,
} from "../../capabilities/lib/contract";
import type { Lease } from "../../capabilities/lib/kinds";
import { bizzesOf, specKey } from "../../capabilities/lib/modules/biz";
import { expired, leaseView } from "../../capabilities/lib/shards/plan";

export interface BaseRow {
  name: string;
  env: string;
  /** The Node's Ready condition; status "Unknown" when it has none. */
  ready: { status: string; reason: string; message: string };
  /** Set when kubectl cordon made the VNode unschedulable. */
  cordoned: boolean;
  /** The replica driving this VNode: the Lease holder while the Lease is live, else "". */
  owner: string;
  lease: { holder: string; renewTime: string; durationSeconds: number; expired: boolean } | null;
  /** Module pods bound to this VNode, in every namespace. */
  pods: number;
  /** What the base advertises as memory (metaspace, or heap when metaspace is unbounded). */
  memory: { allocatableMi: number; capacityMi: number } | null;
  base: { name: string; version: string; clusterName: string };
  address: string;
}

export type BizState = "running" | "waiting" | "terminated" | "pending";

export interface ModuleRow {
  namespace: string;
  pod: string;
  /** "" while the pod is not bound to a VNode. */
  vnode: string;
  /** False when the pod is bound to a VNode that no longer exists (its base went away). */
  vnodeExists: boolean;
  env: string;
  /** name:version, Arklet's key for the biz. */
  biz: string;
  state: BizState;
  ready: boolean;
  /** The pod is being deleted (the biz is being uninstalled). */
  deleting: boolean;
  phase: string;
  reason: string;
  message: string;
}

export interface StatusJson {
  bases: BaseRow[];
  modules: ModuleRow[];
}

const MI = 1024 * 1024;
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const DECIMAL: Record<string, number> = { "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, m: 1e-3 };

/** Bytes in a Kubernetes quantity ("262144Ki", "2Gi", "1500M"), or undefined if unreadable. */
export function quantityBytes(q: string | undefined): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)([a-zA-Z]*)$/.exec(q ?? "");
  if (!m) return undefined;
  const factor = BINARY[m[2]] ?? DECIMAL[m[2]];
  return factor === undefined ? undefined : Number(m[1]) * factor;
}

function memoryOf(node: V1Node): BaseRow["memory"] {
  const capacity = quantityBytes(node.status?.capacity?.memory);
  const allocatable = quantityBytes(node.status?.allocatable?.memory);
  if (capacity === undefined || allocatable === undefined) return null;
  return { allocatableMi: Math.floor(allocatable / MI), capacityMi: Math.floor(capacity / MI) };
}

function readyOf(node: V1Node): BaseRow["ready"] {
  const c = (node.status?.conditions ?? []).find(x => x.type === "Ready");
  if (!c) return { status: "Unknown", reason: "NoReadyCondition", message: "" };
  return { status: c.status, reason: c.reason ?? "", message: c.message ?? "" };
}

function leaseOf(lease: Lease | undefined, now: number): BaseRow["lease"] {
  if (!lease) return null;
  const v = leaseView(lease);
  return {
    holder: v.holder,
    renewTime: lease.spec?.renewTime ?? lease.spec?.acquireTime ?? "",
    durationSeconds: v.durationSeconds,
    expired: expired(v, now),
  };
}

const nameOf = (o: { metadata?: { name?: string } }) => o.metadata?.name ?? "";
const byName = <T extends { name: string }>(a: T, b: T) => a.name.localeCompare(b.name);

/**
 * One row per VNode. `leases` are the node Leases (matched by name), `pods` the module pods
 * (counted by the Node they are bound to); `now` decides whether a Lease has expired.
 */
export function baseRows(nodes: V1Node[], leases: Lease[], pods: V1Pod[], now: number): BaseRow[] {
  const leaseByName = new Map(leases.map(l => [nameOf(l), l]));
  const bound = new Map<string, number>();
  for (const p of pods) {
    const n = p.spec?.nodeName;
    if (n) bound.set(n, (bound.get(n) ?? 0) + 1);
  }
  return nodes
    .map(node => {
      const name = nameOf(node);
      const label = (k: string) => node.metadata?.labels?.[k] ?? "";
      const lease = leaseOf(leaseByName.get(name), now);
      const internal = (node.status?.addresses ?? []).find(a => a.type === "InternalIP");
      return {
        name,
        env: label(LABEL_ENV),
        ready: readyOf(node),
        cordoned: node.spec?.unschedulable === true,
        owner: lease && !lease.expired ? lease.holder : "",
        lease,
        pods: bound.get(name) ?? 0,
        memory: memoryOf(node),
        base: {
          name: label(LABEL_BASE_NAME),
          version: label(LABEL_BASE_VERSION),
          clusterName: label(LABEL_BASE_CLUSTER_NAME),
        },
        address: internal?.address ?? "",
      };
    })
    .sort(byName);
}

type StateCells = Pick<ModuleRow, "state" | "reason" | "message">;

function terminatedCells(t: V1ContainerStateTerminated): StateCells {
  const reason = `${t.reason || "Terminated"} (exit ${t.exitCode})`;
  return { state: "terminated", reason, message: t.message ?? "" };
}

/** State, reason and message of one container status (or of its absence). */
function stateOf(cs: V1ContainerStatus | undefined): StateCells {
  const st = cs?.state ?? {};
  if (st.running) return { state: "running", reason: "", message: "" };
  if (st.terminated) return terminatedCells(st.terminated);
  if (st.waiting) {
    const { reason = "", message = "" } = st.waiting;
    return { state: "waiting", reason, message };
  }
  return { state: "pending", reason: "", message: "" };
}

/** Why a pod without a VNode is not bound yet (the scheduler's PodScheduled condition). */
function unscheduled(pod: V1Pod): { reason: string; message: string } {
  const c = (pod.status?.conditions ?? []).find(x => x.type === "PodScheduled");
  if (c?.status === "False") return { reason: c.reason ?? "", message: c.message ?? "" };
  return { reason: "", message: "" };
}

/** The env a module pod belongs to: its VNode's, or before binding the env it tolerates. */
function envOf(pod: V1Pod, nodeEnv: Map<string, string>): string {
  const bound = nodeEnv.get(pod.spec?.nodeName ?? "");
  if (bound !== undefined) return bound;
  const t = (pod.spec?.tolerations ?? []).find(x => x.key === TAINT_NODE_ENV);
  return t?.value ?? "";
}

/** The cells every row of one pod shares. */
function podCells(pod: V1Pod, nodeEnv: Map<string, string>) {
  const vnode = pod.spec?.nodeName ?? "";
  return {
    namespace: pod.metadata?.namespace ?? "",
    pod: nameOf(pod),
    vnode,
    vnodeExists: vnode === "" || nodeEnv.has(vnode),
    env: envOf(pod, nodeEnv),
    deleting: Boolean(pod.metadata?.deletionTimestamp),
    phase: pod.status?.phase ?? "",
  };
}

function podRows(pod: V1Pod, nodeEnv: Map<string, string>): ModuleRow[] {
  const common = podCells(pod, nodeEnv);
  const statuses = pod.status?.containerStatuses ?? [];
  const bizzes = bizzesOf(pod);
  if (bizzes.length === 0) {
    // upstream counts only containers whose image is a jar: such a pod runs nothing
    const why = { reason: "NoBizContainer", message: "no container image is a .jar" };
    return [{ ...common, biz: "", state: "pending", ready: false, ...why }];
  }
  return bizzes.map(b => {
    const cs = statuses.find(s => s.name === b.bizName);
    const state = stateOf(cs);
    const why = common.vnode === "" && state.reason === "" ? unscheduled(pod) : {};
    return { ...common, biz: specKey(b), ready: cs?.ready === true, ...state, ...why };
  });
}

/**
 * One row per biz container of each module pod. `nodes` are the VNodes (for the pods' env);
 * sorted by namespace, pod, then container order.
 */
export function moduleRows(pods: V1Pod[], nodes: V1Node[]): ModuleRow[] {
  const nodeEnv = new Map(nodes.map(n => [nameOf(n), n.metadata?.labels?.[LABEL_ENV] ?? ""]));
  const sorted = [...pods].sort(
    (a, b) =>
      (a.metadata?.namespace ?? "").localeCompare(b.metadata?.namespace ?? "") ||
      nameOf(a).localeCompare(nameOf(b)),
  );
  return sorted.flatMap(p => podRows(p, nodeEnv));
}

export interface Filter {
  env?: string;
  namespace?: string;
}

/** Applies --env to both tables and --namespace to modules (bases still count every pod). */
export function applyFilter(s: StatusJson, f: Filter): StatusJson {
  const inEnv = (env: string) => f.env === undefined || env === f.env;
  return {
    bases: s.bases.filter(b => inEnv(b.env)),
    modules: s.modules.filter(
      m => inEnv(m.env) && (f.namespace === undefined || m.namespace === f.namespace),
    ),
  };
}

/** First line, whitespace collapsed, at most `max` characters: Arklet messages can be stack traces. */
export function shorten(text: string, max: number): string {
  const line = (text.split("\n")[0] ?? "").replace(/\s+/g, " ").trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/** Columns separated by three spaces, as kubectl prints them; no trailing blanks. */
export function formatTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map(r => (r[i] ?? "").length)));
  return all
    .map(r =>
      r
        .map((cell, i) => cell.padEnd(widths[i]))
        .join("   ")
        .trimEnd(),
    )
    .join("\n");
}

const dash = (s: string) => s || "-";

function readyCell(b: BaseRow): string {
  const r = b.ready.status === "True" ? "True" : `${b.ready.status} (${dash(b.ready.reason)})`;
  return b.cordoned ? `${r},SchedulingDisabled` : r;
}

function memoryCell(b: BaseRow): string {
  return b.memory ? `${b.memory.allocatableMi}/${b.memory.capacityMi}Mi` : "-";
}

export function basesTable(rows: BaseRow[]): string {
  if (rows.length === 0) return "No VNodes.";
  const header = ["VNODE", "READY", "OWNER", "PODS", "MEMORY", "BASE", "CLUSTER"];
  const cells = rows.map(b => [
    b.name,
    readyCell(b),
    dash(b.owner),
    String(b.pods),
    memoryCell(b),
    b.base.name ? `${b.base.name}:${b.base.version}` : "-",
    dash(b.base.clusterName),
  ]);
  return formatTable(header, cells);
}

const REASON_WIDTH = 60;

function reasonCell(m: ModuleRow): string {
  const text = m.reason && m.message ? `${m.reason}: ${m.message}` : m.reason || m.message;
  return dash(shorten(text, REASON_WIDTH));
}

export function modulesTable(rows: ModuleRow[]): string {
  if (rows.length === 0) return "No module pods.";
  const header = ["POD", "VNODE", "BIZ", "READY", "STATE", "REASON"];
  const cells = rows.map(m => [
    `${m.namespace}/${m.pod}`,
    m.vnodeExists ? dash(m.vnode) : `${m.vnode} (gone)`,
    dash(m.biz),
    String(m.ready),
    m.deleting ? `${m.state},deleting` : m.state,
    reasonCell(m),
  ]);
  return formatTable(header, cells);
}

/** What the CLI prints without --json: both tables, each under a title. */
export function renderText(s: StatusJson): string {
  return `Bases\n${basesTable(s.bases)}\n\nModules\n${modulesTable(s.modules)}`;
}

/** What --json prints: the same rows, untruncated, for scripts. */
export function renderJson(s: StatusJson): string {
  return JSON.stringify({ bases: s.bases, modules: s.modules }, null, 2);
}
