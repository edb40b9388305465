// What one reconcile pass of a VNode's worker decides, as pure functions of its state: which
// bizzes to install, which terminating pods to finish, which orphans to uninstall, which
// failures to forget, which status each pod should show, and when to look again. The worker
// (worker.ts) keeps the timers, the concurrency and the I/O.
import type { V1Pod, V1PodStatus } from "@kubernetes/client-node";
import { BizSpec, bizzesOf, podKey, specKey } from "./biz";
import {
  BizView,
  InstallFailure,
  interimHoldMs,
  podStatusFingerprint,
  podStatusFor,
  showsInstallFailure,
} from "./status";

/** States in which the base holds a biz that someone must uninstall if no pod wants it. */
const INSTALLED_STATES = new Set(["ACTIVATED", "RESOLVED", "DEACTIVATED", "BROKEN", "STOPPED"]);
/** An install younger than this shows no interim status (see interimHoldMs). */
export const INTERIM_STATUS_DELAY_MS = 1000;

export interface PassState {
  now: number;
  /** The admitted module pods bound here, terminating ones included. */
  pods: V1Pod[];
  /** What the base runs, by name:version. */
  bizzes: ReadonlyMap<string, BizView>;
  /** The base's biz list has been read at least once. */
  knownBizList: boolean;
  /** The retry store has been read (or there is none). */
  restored: boolean;
  failures: ReadonlyMap<string, InstallFailure>;
  /** Failures restored for bizzes no pod seen by this process has wanted yet. */
  unclaimed: ReadonlySet<string>;
  /** Bizzes the pods bound here wanted at the last LIST (undefined: no LIST yet). */
  listedKeys?: ReadonlySet<string>;
  /** Operations on the wire: biz keys (installs, orphan uninstalls) and deleteKey(pod). */
  busy: ReadonlySet<string>;
  /** Backoff left before a biz may be tried again (0 = go). */
  retryInMs: (key: string) => number;
  orphanSince: ReadonlyMap<string, number>;
  /** 0 turns orphan clean-up off. */
  orphanGraceMs: number;
}

export interface Pass {
  /** What the live pods want, by name:version. */
  wanted: Map<string, BizSpec>;
  /** Failures of bizzes no pod wants any more (with their backoff). */
  forget: string[];
  /** Restored failures a live pod now wants. */
  claim: string[];
  install: Array<{ key: string; spec: BizSpec }>;
  /** Terminating pods whose uninstall and final delete start now. */
  finish: V1Pod[];
  /** Bizzes no pod wants, past their grace: uninstall now. */
  orphans: string[];
  /** The orphan clock after this pass. */
  orphanSince: Map<string, number>;
  /** When a pass is due again for a backoff or a grace that runs out (undefined: no need). */
  againInMs?: number;
}

/** The busy key of a pod's deletion. */
export const deleteKey = (pod: V1Pod) => `delete:${podKey(pod)}`;

export const isTerminating = (pod: V1Pod) => Boolean(pod.metadata?.deletionTimestamp);

/** What the live pods want, by name:version. */
export function wantedBizzes(pods: V1Pod[]): Map<string, BizSpec> {
  const out = new Map<string, BizSpec>();
  for (const pod of pods)
    if (!isTerminating(pod)) for (const b of bizzesOf(pod)) out.set(specKey(b), b);
  return out;
}

export function planPass(s: PassState): Pass {
  const wanted = wantedBizzes(s.pods);
  const forget = staleFailures(s, wanted);
  const failures = new Map([...s.failures].filter(([k]) => !forget.includes(k)));
  const waits: number[] = [];
  const install = [...wanted]
    .filter(([key]) => mayInstall(s, key, failures, waits))
    .map(([key, spec]) => ({ key, spec }));
  const finish = s.pods.filter(p => isTerminating(p) && !s.busy.has(deleteKey(p)));
  const orphans = planOrphans(s, wanted, failures);
  waits.push(...orphans.waits);
  return {
    wanted,
    forget,
    claim: [...wanted.keys()].filter(k => s.unclaimed.has(k)),
    install,
    finish,
    orphans: orphans.due,
    orphanSince: orphans.since,
    againInMs: waits.length > 0 ? Math.min(...waits) : undefined,
  };
}

/**
 * A failure of a biz no pod wants is history. After a start the watch may not have brought
 * every pod yet: a restored failure stays until a LIST of the pods bound here shows that
 * none wants it.
 */
function staleFailures(s: PassState, wanted: Map<string, BizSpec>): string[] {
  const pending = (k: string) => s.unclaimed.has(k) && (s.listedKeys?.has(k) ?? true);
  return [...s.failures.keys()].filter(k => !wanted.has(k) && !pending(k));
}

function mayInstall(
  s: PassState,
  key: string,
  failures: ReadonlyMap<string, InstallFailure>,
  waits: number[],
): boolean {
  if (!s.knownBizList || s.busy.has(key) || s.bizzes.has(key)) return false;
  // the pod's jar gave the base another biz, still there: installing again would only
  // answer REPEAT_BIZ or install the same biz, so wait until it goes (or the pod does)
  const stray = failures.get(key)?.stray;
  if (stray !== undefined && s.bizzes.has(stray)) return false;
  // until the retry store is read, a failed install is not retried at once after a restart
  if (!s.restored && s.pods.some(p => !isTerminating(p) && showsInstallFailure(p, key)))
    return false;
  const wait = s.retryInMs(key);
  if (wait > 0) waits.push(wait);
  return wait <= 0;
}

/**
 * A biz no live pod wants is uninstalled after the grace period. A stray (another biz the
 * pod's jar installed) stays while its pod lives and says why: uninstalling it would only
 * lead to installing it again, a loop the user never sees. Once the pod is gone its failure
 * is dropped, and the stray is an orphan like any other.
 */
function planOrphans(
  s: PassState,
  wanted: Map<string, BizSpec>,
  failures: ReadonlyMap<string, InstallFailure>,
): { due: string[]; since: Map<string, number>; waits: number[] } {
  const since = new Map(s.orphanSince);
  const out = { due: [] as string[], since, waits: [] as number[] };
  const terminating = new Set(s.pods.flatMap(p => bizzesOf(p).map(specKey)));
  const claimed = new Set([...failures.values()].flatMap(f => f.stray ?? []));
  for (const [key, view] of s.bizzes) {
    const held = INSTALLED_STATES.has(view.state.toUpperCase());
    if (wanted.has(key) || terminating.has(key) || claimed.has(key) || !held) {
      since.delete(key);
      continue;
    }
    if (s.orphanGraceMs === 0 || s.busy.has(key)) continue;
    const from = since.get(key) ?? s.now;
    since.set(key, from);
    const due = from + s.orphanGraceMs - s.now;
    if (due > 0) out.waits.push(due);
    else out.due.push(key);
  }
  return out;
}

export interface StatusState {
  now: number;
  bizzes: Map<string, BizView>;
  failures: Map<string, InstallFailure>;
  knownBizList: boolean;
  restored: boolean;
  /** Installs on the wire, by biz key, and since when. */
  installingSince: Map<string, number>;
  baseIP: string;
  /** The fingerprint of the status last written for this pod (undefined: none yet). */
  written?: string;
}

export type StatusStep =
  | { kind: "none" }
  | { kind: "later"; inMs: number }
  | { kind: "write"; status: V1PodStatus; fingerprint: string };

/** The status a pod should show now, if it differs from what it shows. */
export function planStatus(pod: V1Pod, s: StatusState): StatusStep {
  const keys = bizzesOf(pod).map(specKey);
  // without the biz list only failures are known: a pod with other bizzes would say BizInstalling
  if (!s.knownBizList && !keys.every(k => s.failures.has(k))) return { kind: "none" };
  // until the retry store is read, a pod whose biz is neither running nor failed gets no status:
  // after a restart it would flash BizInstalling over a failure about to be restored
  if (!s.restored && keys.some(k => !s.bizzes.has(k) && !s.failures.has(k)))
    return { kind: "none" };
  const hold = interimHoldMs(keys, s.installingSince, s.now, INTERIM_STATUS_DELAY_MS);
  if (hold > 0) return { kind: "later", inMs: hold };
  const view = { bizzes: s.bizzes, failures: s.failures, baseIP: s.baseIP, now: new Date(s.now) };
  const status = podStatusFor(pod, view);
  const fingerprint = podStatusFingerprint(status);
  if (fingerprint === (s.written ?? podStatusFingerprint(pod.status))) return { kind: "none" };
  return { kind: "write", status, fingerprint };
}
