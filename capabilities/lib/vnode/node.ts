// BaseStatus → VNode and health → NodeStatus, exactly as contract §2.3 lays them out, plus
// what upstream lacks: Ready=False with a reason when the base stops answering.
import type { V1Node, V1NodeCondition, V1NodeStatus } from "@kubernetes/client-node";
import {
  ANNOTATION_BASE_ADDRESS,
  ANNOTATION_TUNNEL,
  COMPONENT_VNODE,
  LABEL_BASE_CLUSTER_NAME,
  LABEL_BASE_HOST_NAME,
  LABEL_BASE_NAME,
  LABEL_BASE_TUNNEL_PORT,
  LABEL_BASE_VERSION,
  LABEL_COMPONENT,
  LABEL_ENV,
  LABEL_HOSTNAME,
  LABEL_ROLE,
  LABEL_TYPE,
  NODE_LEASE_NAMESPACE,
  ROLE_AGENT,
  TAINT_EFFECT,
  TAINT_NODE_ENV,
  TAINT_VIRTUAL_NODE,
  TAINT_VIRTUAL_NODE_VALUE,
  TYPE_VIRTUAL_KUBELET,
  ARKLET_DEFAULT_PORT,
  VNODE_PODS_CAPACITY,
  VNODE_PREFIX,
  vnodeName,
} from "../contract";
import type { HealthData } from "../arklet/client";
import type { BaseStatus } from "../tunnel/heartbeat";

export function vnodeLabels(status: BaseStatus, env: string): Record<string, string> {
  const m = status.baseMetadata;
  return {
    [LABEL_COMPONENT]: COMPONENT_VNODE,
    [LABEL_ENV]: env,
    [LABEL_BASE_NAME]: m.name,
    [LABEL_BASE_VERSION]: m.version,
    [LABEL_BASE_CLUSTER_NAME]: m.clusterName,
    [LABEL_BASE_HOST_NAME]: status.localHostName,
    // the Arklet port, where commands go: only bases on the HTTP tunnel have one (contract §1.1)
    ...(status.tunnel ? {} : { [LABEL_BASE_TUNNEL_PORT]: String(status.port) }),
    [LABEL_HOSTNAME]: status.localHostName,
    [LABEL_TYPE]: TYPE_VIRTUAL_KUBELET,
    [LABEL_ROLE]: ROLE_AGENT,
  };
}

/** The Node object for a base: metadata and spec (status is written separately). */
export function buildVNode(status: BaseStatus, env: string): V1Node {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: vnodeName(status.baseMetadata.identity, env),
      labels: vnodeLabels(status, env),
      annotations: {
        [ANNOTATION_BASE_ADDRESS]: status.localIP,
        ...(status.tunnel ? { [ANNOTATION_TUNNEL]: status.tunnel } : {}),
      },
    },
    spec: {
      taints: [
        { key: TAINT_VIRTUAL_NODE, value: TAINT_VIRTUAL_NODE_VALUE, effect: TAINT_EFFECT },
        { key: TAINT_NODE_ENV, value: env, effect: TAINT_EFFECT },
      ],
    },
  };
}

/** The identity of a VNode of ours (by labels and name), or undefined for any other Node. */
function identityOf(node: V1Node): string | undefined {
  const labels = node.metadata?.labels ?? {};
  const name = node.metadata?.name ?? "";
  const env = labels[LABEL_ENV] ?? "";
  if (labels[LABEL_COMPONENT] !== COMPONENT_VNODE || !env || !name.startsWith(VNODE_PREFIX))
    return undefined;
  if (!name.endsWith(`.${env}`)) return undefined;
  return name.slice(VNODE_PREFIX.length, name.length - env.length - 1);
}

/** The tunnel a VNode's base speaks, when it is not HTTP. */
function tunnelOf(node: V1Node): { tunnel?: string } {
  const tunnel = node.metadata?.annotations?.[ANNOTATION_TUNNEL];
  return tunnel ? { tunnel } : {};
}

/** Reads the base back from a Node we made: used to adopt VNodes after a restart. */
export function baseFromVNode(node: V1Node): BaseStatus | undefined {
  const identity = identityOf(node);
  if (identity === undefined) return undefined;
  const label = (k: string) => node.metadata?.labels?.[k] ?? "";
  const internal = (node.status?.addresses ?? []).find(a => a.type === "InternalIP");
  // the annotation follows the newest heartbeat on any replica; the address only the owner's writes
  const ip = node.metadata?.annotations?.[ANNOTATION_BASE_ADDRESS] || internal?.address;
  return {
    baseMetadata: {
      identity,
      name: label(LABEL_BASE_NAME),
      version: label(LABEL_BASE_VERSION),
      clusterName: label(LABEL_BASE_CLUSTER_NAME),
    },
    localIP: ip || "127.0.0.1",
    localHostName: label(LABEL_BASE_HOST_NAME),
    port: Number(label(LABEL_BASE_TUNNEL_PORT)) || ARKLET_DEFAULT_PORT,
    state: "activated",
    ...tunnelOf(node),
  };
}

const KI = 1024;
const UNITS = ["Ki", "Mi", "Gi", "Ti"];

/** Bytes as the apiserver would write them back (largest whole binary unit), so a re-read compares equal. */
export function binaryQuantity(bytes: number): string {
  let v = Math.floor(bytes / KI);
  let unit = 0;
  while (v > 0 && v % KI === 0 && unit < UNITS.length - 1) {
    v /= KI;
    unit++;
  }
  return `${v}${UNITS[unit]}`;
}

function num(jvm: Record<string, number | string>, key: string): number | undefined {
  const v = Number(jvm[key]);
  return Number.isFinite(v) ? v : undefined;
}

/** Metaspace allocatable moves in steps of this share of max metaspace (ADR 7). */
const METASPACE_STEPS = 16;

/**
 * Memory from the JVM's limits, not from what it uses this second (ADR 7): a figure that
 * follows the heap would rewrite the Node on every /health. With max metaspace set, as
 * upstream: capacity = max, allocatable = max - committed, rounded down to a sixteenth of
 * max (committed only grows as classes load). With max metaspace -1 (the JVM default, where
 * upstream advertises 0 and nothing with a memory request fits) both are the max heap.
 */
export function memoryFrom(
  health: HealthData | undefined,
): { capacity: string; allocatable: string } | undefined {
  const jvm = health?.healthData?.jvm;
  if (!jvm) return undefined;
  const max = num(jvm, "java max metaspace") ?? -1;
  if (max > 0) {
    const step = max / METASPACE_STEPS;
    const free = Math.max(0, max - (num(jvm, "java committed metaspace") ?? 0));
    return {
      capacity: binaryQuantity(max),
      allocatable: binaryQuantity(Math.floor(free / step) * step),
    };
  }
  return heapMemory(jvm);
}

function heapMemory(
  jvm: Record<string, number | string>,
): { capacity: string; allocatable: string } | undefined {
  // the heap pool's max is fixed at JVM start; Runtime.maxMemory() can move with some collectors
  const heapMax = [num(jvm, "max heap memory(M)"), num(jvm, "max memory(M)")].find(
    v => (v ?? 0) > 0,
  );
  if (heapMax === undefined) return undefined;
  const q = binaryQuantity(heapMax * KI * KI);
  return { capacity: q, allocatable: q };
}

export interface Liveness {
  reachable: boolean;
  /** Seconds since the base last answered, for the NotReady message. */
  silentSeconds: number;
  address: string;
}

function readyCondition(l: Liveness): V1NodeCondition {
  return l.reachable
    ? {
        type: "Ready",
        status: "True",
        reason: "BaseReady",
        message: `Arklet at ${l.address} answers`,
      }
    : {
        type: "Ready",
        status: "False",
        reason: "BaseUnreachable",
        message: `Arklet at ${l.address} has not answered for ${l.silentSeconds}s`,
      };
}

const QUIET = ["MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"];

function resources(health: HealthData | undefined): {
  capacity: Record<string, string>;
  allocatable: Record<string, string>;
} {
  const capacity: Record<string, string> = { pods: VNODE_PODS_CAPACITY };
  const allocatable: Record<string, string> = { pods: VNODE_PODS_CAPACITY };
  const mem = memoryFrom(health);
  if (mem) {
    capacity.memory = mem.capacity;
    allocatable.memory = mem.allocatable;
  }
  const cpu = Number(health?.healthData?.cpu?.count ?? 0);
  if (cpu > 0) capacity.cpu = allocatable.cpu = String(cpu);
  return { capacity, allocatable };
}

const NODE_INFO = {
  architecture: process.arch === "x64" ? "amd64" : process.arch,
  operatingSystem: "linux",
  bootID: "",
  containerRuntimeVersion: "arklet://",
  kernelVersion: "",
  kubeProxyVersion: "",
  kubeletVersion: "",
  machineID: "",
  osImage: "",
  systemUUID: "",
};

/** The status we want on the Node; timestamps are filled in by withTimes(). */
export function desiredStatus(
  base: BaseStatus,
  health: HealthData | undefined,
  l: Liveness,
): V1NodeStatus {
  return {
    phase: "Running",
    conditions: [
      readyCondition(l),
      ...QUIET.map(type => ({ type, status: "False", reason: "BaseReported", message: "" })),
    ],
    addresses: [
      { type: "InternalIP", address: base.localIP || "127.0.0.1" },
      { type: "Hostname", address: base.localHostName || base.localIP },
    ],
    ...resources(health),
    nodeInfo: NODE_INFO,
  };
}

/** A comparable form: what changed, ignoring heartbeat and transition times. */
export function fingerprint(status: V1NodeStatus | undefined): string {
  if (!status) return "";
  const conds = (status.conditions ?? [])
    .map(
      c =>
        `${c.type}=${c.status}/${c.reason ?? ""}/${c.type === "Ready" && c.status === "False" ? "" : (c.message ?? "")}`,
    )
    .sort();
  // the apiserver returns maps and addresses with their keys in its own order: compare values
  const sorted = (m: Record<string, string> | undefined) => Object.entries(m ?? {}).sort();
  return JSON.stringify([
    conds,
    sorted(status.capacity),
    sorted(status.allocatable),
    (status.addresses ?? []).map(a => `${a.type}=${a.address}`),
  ]);
}

/** Stamps times: lastTransitionTime is kept from the current condition when the status is the same. */
export function withTimes(
  desired: V1NodeStatus,
  current: V1NodeStatus | undefined,
  now: Date,
): V1NodeStatus {
  const conditions = (desired.conditions ?? []).map(c => {
    const prev = current?.conditions?.find(p => p.type === c.type);
    const lastTransitionTime =
      prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : now;
    return { ...c, lastHeartbeatTime: now, lastTransitionTime };
  });
  return { ...desired, conditions };
}

/** One JSON-patch operation of metadataPatch. */
export type MetadataOp = { op: "add"; path: string; value: unknown };

/** JSON-patch ops that bring a Node's labels and annotations to what we want, touching nothing else. */
export function metadataPatch(current: V1Node, want: V1Node): MetadataOp[] {
  const esc = (k: string) => k.replace(/~/g, "~0").replace(/\//g, "~1");
  const stale = (have: Record<string, string> | undefined, need: Record<string, string>) =>
    Object.entries(need).filter(([k, v]) => have?.[k] !== v);
  const ops: Array<{ op: "add"; path: string; value: unknown }> = [];
  for (const field of ["labels", "annotations"] as const) {
    const have = current.metadata?.[field];
    const need = want.metadata?.[field] ?? {};
    const missing = stale(have, need);
    if (missing.length === 0) continue;
    if (!have) ops.push({ op: "add", path: `/metadata/${field}`, value: need });
    else
      for (const [k, v] of missing)
        ops.push({ op: "add", path: `/metadata/${field}/${esc(k)}`, value: v });
  }
  return ops;
}

export const LEASE_NAMESPACE = NODE_LEASE_NAMESPACE;
