// Biz state → container status → pod status, per contract §3.4, computed from what we know
// (the base's biz list and our own install outcomes), never from events. Pure.
import type {
  V1Container,
  V1ContainerState,
  V1ContainerStatus,
  V1Pod,
  V1PodCondition,
  V1PodStatus,
} from "@kubernetes/client-node";
import { bizVersion } from "./biz";

/** What the base says about one biz (queryAllBiz, or an install answer). */
export interface BizView {
  state: string;
  changeTime: number;
  /** changeTime is ours (when we first saw this state): the base's records carry no time. */
  guessed?: boolean;
  reason?: string;
  message?: string;
}

/** Why our last install of a biz failed. */
export interface InstallFailure {
  reason: string;
  message: string;
  /**
   * The name:version the base runs from the pod's jar instead of the one asked (its manifest
   * wins): kept for the pod while it lives, and not installed again while it is there.
   */
  stray?: string;
}

export interface PodView {
  /** name:version → what the base runs. */
  bizzes: Map<string, BizView>;
  /** name:version → last install failure, while the biz is not running. */
  failures: Map<string, InstallFailure>;
  baseIP: string;
  now: Date;
}

/** What the biz list says of one biz; changeTime is missing when its records have no times. */
export type ReportedBiz = Omit<BizView, "changeTime"> & { changeTime?: number };

/**
 * Gives every reported biz a time that stays put while nothing happens. A record's own time
 * wins; without one (records serialised as `{}`) a biz keeps the time we had for it in the
 * same state, else it gets now, marked as guessed (see podTime). So an unchanged biz never
 * moves startedAt.
 */
export function withStableTimes(
  reported: Map<string, ReportedBiz>,
  known: Map<string, BizView>,
  now: number,
): Map<string, BizView> {
  const out = new Map<string, BizView>();
  for (const [key, b] of reported) {
    const prev = known.get(key);
    if (b.changeTime !== undefined) out.set(key, { ...b, changeTime: b.changeTime });
    else if (prev && sameState(prev, b))
      out.set(key, { ...b, changeTime: prev.changeTime, guessed: prev.guessed });
    else out.set(key, { ...b, changeTime: now, guessed: true });
  }
  return out;
}

const sameState = (a: { state: string }, b: { state: string }) =>
  a.state.toUpperCase() === b.state.toUpperCase();

/**
 * A guessed time yields to the startedAt the pod already shows for a running container: that
 * is when it was first seen active, by us or by a controller before a restart.
 */
function podTime(biz: BizView | undefined, current: V1ContainerStatus | undefined) {
  const shown = current?.state?.running?.startedAt;
  if (!biz?.guessed || !shown) return biz;
  return { ...biz, changeTime: new Date(shown).getTime() };
}

/** Waiting reasons that are a biz state or our interim, not an install failure. */
const NOT_FAILURES = new Set([
  "BizInstalling",
  "BizResolved",
  "BizDeactivated",
  "BizBroken",
  "BizUnresolved",
]);

/** True when the pod's status shows a failed install of this biz (our memory across a restart). */
export function showsInstallFailure(pod: V1Pod, key: string): boolean {
  const c = pod.status?.containerStatuses?.find(s => s.containerID === `arklet://${key}`);
  const reason = c?.state?.waiting?.reason;
  return reason !== undefined && !NOT_FAILURES.has(reason);
}

type Kind = "ready" | "waiting" | "empty" | "terminated";

const WAITING_STATES = new Set(["RESOLVED", "DEACTIVATED", "BROKEN"]);

function stoppedState(biz: BizView, since: Date): V1ContainerState {
  const terminated = {
    exitCode: 1,
    reason: biz.reason || "Stopped",
    message: biz.message ?? "",
    startedAt: since,
    finishedAt: since,
  };
  return { terminated };
}

/** The container state a biz state maps to (contract §3.4). */
function stateOf(
  biz: BizView | undefined,
  failure: InstallFailure | undefined,
  key: string,
): [V1ContainerState, Kind] {
  if (!biz) {
    if (failure)
      return [{ waiting: { reason: failure.reason, message: failure.message } }, "waiting"];
    // not on the base (yet): like a kubelet's ContainerCreating, and the pod stays Pending
    return [
      { waiting: { reason: "BizInstalling", message: `installing ${key} on the base` } },
      "empty",
    ];
  }
  const state = biz.state.toUpperCase();
  const since = new Date(biz.changeTime);
  if (state === "ACTIVATED") return [{ running: { startedAt: since } }, "ready"];
  if (state === "STOPPED") return [stoppedState(biz, since), "terminated"];
  if (WAITING_STATES.has(state)) {
    const reason = `Biz${state.charAt(0)}${state.slice(1).toLowerCase()}`;
    return [{ waiting: { reason, message: biz.message ?? "" } }, "waiting"];
  }
  return [
    { waiting: { reason: "BizUnresolved", message: `${key} is ${biz.state} on the base` } },
    "empty",
  ];
}

function containerStatus(
  { name, image = "" }: V1Container,
  key: string,
  v: PodView,
  current: V1ContainerStatus | undefined,
): [V1ContainerStatus, Kind] {
  const [state, kind] = stateOf(podTime(v.bizzes.get(key), current), v.failures.get(key), key);
  const ready = kind === "ready";
  return [
    {
      name,
      image,
      imageID: image,
      containerID: `arklet://${key}`,
      restartCount: 0,
      ready,
      started: ready,
      state,
    },
    kind,
  ];
}

function phaseOf(kinds: Kind[]): { phase: string; ready: boolean } {
  if (kinds.length === 0 || kinds.every(k => k === "terminated"))
    return { phase: "Succeeded", ready: false };
  if (kinds.every(k => k === "ready")) return { phase: "Running", ready: true };
  if (kinds.every(k => k === "empty")) return { phase: "Pending", ready: false };
  return { phase: "Running", ready: false };
}

function condition(
  type: string,
  ok: boolean,
  current: V1PodStatus | undefined,
  now: Date,
): V1PodCondition {
  const status = ok ? "True" : "False";
  const prev = current?.conditions?.find(c => c.type === type);
  const lastTransitionTime =
    prev?.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : now;
  const notReady = !ok && (type === "Ready" || type === "ContainersReady");
  return {
    type,
    status,
    lastTransitionTime,
    ...(notReady ? { reason: "ContainersNotReady" } : {}),
  };
}

/** The pod status the base's state implies. */
export function podStatusFor(pod: V1Pod, v: PodView): V1PodStatus {
  const containers = (pod.spec?.containers ?? []).filter(c => (c.image ?? "").includes(".jar"));
  const pairs = containers.map(c =>
    containerStatus(
      c,
      `${c.name}:${bizVersion(c) ?? ""}`,
      v,
      pod.status?.containerStatuses?.find(s => s.name === c.name),
    ),
  );
  const { phase, ready } = phaseOf(pairs.map(([, k]) => k));
  const cur = pod.status;
  return {
    phase,
    conditions: [
      condition("PodScheduled", true, cur, v.now),
      condition("Initialized", true, cur, v.now),
      condition("ContainersReady", ready, cur, v.now),
      condition("Ready", ready, cur, v.now),
    ],
    containerStatuses: pairs.map(([s]) => s),
    hostIP: v.baseIP,
    hostIPs: [{ ip: v.baseIP }],
    podIP: v.baseIP,
    podIPs: [{ ip: v.baseIP }],
    startTime: cur?.startTime ?? v.now,
  };
}

/**
 * How long to hold a pod's interim status back: while one of its installs started less than
 * `delayMs` ago, a fast install goes straight to Ready with one status write instead of two
 * (and a slow one still shows BizInstalling after `delayMs`). 0 means write now.
 */
export function interimHoldMs(
  keys: string[],
  installingSince: Map<string, number>,
  now: number,
  delayMs: number,
): number {
  const starts = keys.flatMap(k => installingSince.get(k) ?? []);
  if (starts.length === 0) return 0;
  return Math.max(0, Math.min(...starts) + delayMs - now);
}

/** API timestamps have second resolution: compare at that resolution. */
const iso = (d: unknown) => {
  const t = new Date(d as string | Date).getTime();
  return Number.isFinite(t) ? new Date(Math.floor(t / 1000) * 1000).toISOString() : "";
};

/** Comparable form of a pod status: what a user would see change. */
export function podStatusFingerprint(s: V1PodStatus | undefined): string {
  if (!s) return "";
  const conds = (s.conditions ?? []).map(c => `${c.type}=${c.status}`).sort();
  const cs = (s.containerStatuses ?? []).map(c => {
    const st = c.state ?? {};
    const detail = st.running
      ? `running@${iso(st.running.startedAt)}`
      : st.terminated
        ? `terminated:${st.terminated.reason ?? ""}`
        : `waiting:${st.waiting?.reason ?? ""}:${st.waiting?.message ?? ""}`;
    return `${c.name}:${c.ready}:${detail}`;
  });
  return JSON.stringify([s.phase, conds, cs, s.podIP, s.hostIP]);
}
