// One per owned VNode: makes the base run exactly the bizzes its live module pods want, and
// makes those pods tell the truth about it. Level-triggered: every pass works from full state
// (pods bound here, the base's biz list, our own install outcomes), so events, timers and a
// restart all run the same code, and a crash loses nothing that the next pass does not redo.
import { errText, isNotFound } from "../errors";
import type { V1Pod, V1PodStatus } from "@kubernetes/client-node";
import { Config } from "../config";
import { ArkletClient, ArkletUnreachable, BaseAddress } from "../arklet/client";
import { bizViews, installAnswer, uninstallOutcome } from "../arklet/outcome";
import { BizSpec, bizzesOf, isModulePod, podKey, specKey } from "./biz";
import { finalDelete, podEvent, podsOnNode, writePodStatus } from "./kube";
import { FOREIGN_REASON, foreignMessage, needsForeignFlag, withForeignCondition } from "./foreign";
import {
  admissionProblem,
  EXCLUDED_NAMESPACES,
  needsAdmissionFlag,
  NOT_ADMITTED_REASON,
  withAdmissionCondition,
} from "./admitted";
import {
  BizView,
  InstallFailure,
  interimHoldMs,
  podStatusFingerprint,
  podStatusFor,
  showsInstallFailure,
  withStableTimes,
} from "./status";
import { installVerdict } from "./verify";
import { childOf, type Logger } from "../logger";
import { Backoff, KeyedSerial, Semaphore, spreadInterval } from "../queue/primitives";
import type { ShardStore } from "../queue/shard";
import { failures as failureCount, queueDepth, readySeconds, retries } from "../metrics";

/** Foreign pods are rare and cost a LIST: look every few biz polls (once a minute by default). */
const FOREIGN_CHECK_EVERY = 4;
/** An install younger than this shows no interim status (see interimHoldMs) and no Installing Event. */
const INTERIM_STATUS_DELAY_MS = 1000;
const INSTALLED_STATES = new Set(["ACTIVATED", "RESOLVED", "DEACTIVATED", "BROKEN", "STOPPED"]);

export interface WorkerDeps {
  vnode: string;
  /** The base's current address (it may change with a heartbeat). */
  base: () => BaseAddress;
  arklet: ArkletClient;
  cfg: Config;
  log: Logger;
  /** Where install failures and backoff survive a restart or a handover. */
  shard?: ShardStore;
  /** False when this replica may no longer talk to the base (its Lease is lost or stale). */
  mayAct?: () => boolean;
}

export class ModuleWorker {
  private pods = new Map<string, V1Pod>();
  /** Pods this worker deleted for good, so that a late event cannot revive them. */
  private finished = new FinishedPods();
  private bizzes = new Map<string, BizView>();
  private failures = new Map<string, InstallFailure>();
  private written = new Map<string, string>();
  private orphanSince = new Map<string, number>();
  private busy = new Set<string>();
  /** Installs on the wire, by biz key, and since when. */
  private installingSince = new Map<string, number>();
  private backoff = new Backoff();
  private serial = new KeyedSerial();
  private statusWrites = new KeyedSerial();
  private limit: Semaphore;
  private pending?: NodeJS.Timeout;
  private pendingDue = 0;
  private stopPolling = (): void => undefined;
  private knownBizList = false;
  /** The shard has been read (or there is none): failures and backoff are what they were. */
  private restored = false;
  /** Failures read from the shard for bizzes no pod seen by this process has wanted yet. */
  private unclaimed = new Set<string>();
  /** Bizzes the module pods bound here wanted at the last LIST (none yet: undefined). */
  private listedKeys?: Set<string>;
  private stopped = false;
  private polls = 0;
  /** When each pod was first seen bound here, until its Ready status is written. */
  private boundAt = new Map<string, number>();
  /** Operations on the wire, so a handover can wait for them. */
  private inflight = new Set<Promise<unknown>>();
  /** Pods admission never saw that are flagged (or deleted) already, by UID. */
  private flagged = new Set<string>();

  readonly vnode: string;
  private base: () => BaseAddress;
  private arklet: ArkletClient;
  private cfg: Config;
  private log: Logger;
  private shard?: ShardStore;
  private mayAct: () => boolean;

  constructor(deps: WorkerDeps) {
    ({ vnode: this.vnode, base: this.base, arklet: this.arklet, cfg: this.cfg } = deps);
    // every line names its VNode
    this.log = childOf(deps.log, { component: "modules", vnode: deps.vnode });
    this.shard = deps.shard;
    this.mayAct = deps.mayAct ?? (() => true);
    this.limit = new Semaphore(deps.cfg.maxParallelOps);
  }

  start(): void {
    this.stopPolling = spreadInterval(() => void this.poll(), this.cfg.bizPollSeconds * 1000);
    void this.restore(); // in parallel: persistence never delays the first install
    void this.poll();
  }

  /** Takes over the failures and backoff a previous process saved for this VNode. */
  private async restore(): Promise<void> {
    const saved = (await this.shard?.load()) ?? { failures: {}, backoff: {} };
    for (const [key, f] of Object.entries(saved.failures)) {
      if (this.failures.has(key)) continue;
      this.failures.set(key, f);
      this.unclaimed.add(key);
    }
    this.backoff.restore(saved.backoff);
    this.restored = true;
    this.kick(0); // what waited for the shard (see waitsForShard)
  }

  /**
   * Until the shard is read, a biz whose pod shows a failed install is not retried and a pod
   * whose biz is missing gets no status: after a restart that would retry at once, undo a
   * settled version mismatch, and flash BizInstalling. Fresh installs do not wait.
   */
  private waitsForShard(pod: V1Pod, key?: string): boolean {
    if (this.restored) return false;
    if (key) return showsInstallFailure(pod, key);
    return bizzesOf(pod).some(b => !this.bizzes.has(specKey(b)) && !this.failures.has(specKey(b)));
  }

  private persist(): void {
    this.shard?.save({
      failures: Object.fromEntries(this.failures),
      backoff: this.backoff.snapshot(),
    });
  }

  /** Stops and deletes the persisted shard (the VNode is gone). */
  async forget(): Promise<void> {
    this.stop();
    await this.shard?.delete();
  }

  stop(): void {
    this.stopped = true;
    this.stopPolling();
    clearTimeout(this.pending);
  }

  /** For a handover: start nothing new, let what is on the wire finish (bounded), save the shard. */
  async drain(maxMs: number): Promise<void> {
    this.stop();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>(res => (timer = setTimeout(() => res(true), maxMs)));
    const done = Promise.allSettled([...this.inflight]).then(() => false);
    if (await Promise.race([done, late]))
      this.log.warn(
        { operations: this.inflight.size },
        "handing over with operations still running: the next owner's answers will be idempotent",
      );
    clearTimeout(timer);
    await this.shard?.flushNow();
  }

  /** Tracks an operation until it settles. */
  private onWire<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => undefined);
    return p;
  }

  /** A module pod bound to this VNode changed (or is gone, when deleted is true). */
  onPod(pod: V1Pod, deleted: boolean): void {
    if (this.finished.lateEvent(pod)) return;
    const why = admissionProblem(pod, EXCLUDED_NAMESPACES);
    if (why !== undefined) return this.refuseUnadmitted(pod, deleted, why);
    const key = podKey(pod);
    if (deleted) {
      this.pods.delete(key);
      this.written.delete(key);
      this.boundAt.delete(key);
    } else {
      this.pods.set(key, pod);
      if (!this.boundAt.has(key) && !isReadyStatus(pod.status)) this.boundAt.set(key, Date.now());
    }
    this.kick(0);
  }

  /**
   * A module pod admission never saw is never installed: flagged once (Warning Event and
   * condition), and when it is deleted, deleted for good without an uninstall.
   */
  private refuseUnadmitted(pod: V1Pod, deleted: boolean, why: string): void {
    const uid = pod.metadata?.uid ?? podKey(pod);
    if (this.pods.delete(podKey(pod))) this.kick(0); // it wanted a biz until now
    if (deleted) return void this.flagged.delete(uid);
    const work = !this.stopped && this.mayAct() ? this.unadmittedWork(pod, uid, why) : undefined;
    if (!work) return; // nothing left to do, or not ours to do (the next owner replays it)
    this.flagged.add(uid);
    void this.onWire(work).catch(err => {
      this.flagged.delete(uid); // the next event tries again
      const at = { pod: podKey(pod), err: errText(err) };
      this.log.warn(at, "could not flag or delete a module pod admission never saw");
    });
  }

  private unadmittedWork(pod: V1Pod, uid: string, why: string): Promise<void> | undefined {
    if (pod.metadata?.deletionTimestamp) return finalDelete(pod);
    if (this.flagged.has(uid) || !needsAdmissionFlag(pod)) return undefined;
    this.log.warn({ pod: podKey(pod), why }, "module pod not admitted");
    const conditions = withAdmissionCondition(pod, why, new Date());
    return writePodStatus(pod, { conditions }).then(() =>
      podEvent(pod, "Warning", NOT_ADMITTED_REASON, why),
    );
  }

  /** Flags non-module pods bound here, once each (a LIST by field selector, every few polls). */
  private async checkForeignPods(): Promise<void> {
    const pods = await podsOnNode(this.vnode);
    const live = pods.filter(p => isModulePod(p) && !p.metadata?.deletionTimestamp);
    this.listedKeys = new Set(live.flatMap(p => bizzesOf(p).map(specKey)));
    for (const pod of pods.filter(needsForeignFlag)) {
      await writePodStatus(pod, { conditions: withForeignCondition(pod, this.vnode, new Date()) });
      await podEvent(pod, "Warning", FOREIGN_REASON, foreignMessage(this.vnode));
      this.log.warn({ pod: podKey(pod) }, "a pod without the module label is bound to this VNode");
    }
  }

  /** Reads the base's biz list, then reconciles. */
  async poll(): Promise<void> {
    if (!this.mayAct()) return;
    if (this.polls++ % FOREIGN_CHECK_EVERY === 0) {
      await this.checkForeignPods().catch(err =>
        this.log.warn({ err: errText(err) }, "could not check for foreign pods"),
      );
    }
    try {
      await this.readBizList();
    } catch (err) {
      if (!(err instanceof ArkletUnreachable)) throw err;
    }
    this.kick(0);
  }

  /** Reads the base's biz list; a biz whose records carry no time keeps the one we knew. */
  private async readBizList(): Promise<void> {
    const env = await this.arklet.queryAllBiz(this.base(), this.cfg.arkletTimeoutMs);
    if (env.code !== "SUCCESS") return;
    this.bizzes = withStableTimes(bizViews(env.data), this.bizzes, Date.now());
    this.knownBizList = true;
  }

  /**
   * Coalesces bursts of events into one reconcile pass, at the earliest time anyone asked
   * for: a retry due in a minute must not hold back a pod event that wants a pass now.
   */
  private kick(delayMs: number): void {
    if (this.stopped) return;
    const due = Date.now() + delayMs;
    if (this.pending && this.pendingDue <= due) return;
    clearTimeout(this.pending);
    this.pendingDue = due;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.reconcile().catch(err =>
        this.log.error({ err: errText(err) }, "module reconcile failed"),
      );
    }, delayMs);
  }

  private live(): V1Pod[] {
    return [...this.pods.values()].filter(p => !p.metadata?.deletionTimestamp);
  }

  private wanted(): Map<string, BizSpec> {
    const out = new Map<string, BizSpec>();
    for (const pod of this.live()) for (const b of bizzesOf(pod)) out.set(specKey(b), b);
    return out;
  }

  private async reconcile(): Promise<void> {
    if (!this.mayAct()) return this.kick(1000); // Lease being renewed or lost: look again soon
    const wanted = this.wanted();
    this.dropUnwantedFailures(wanted);
    for (const [key, spec] of wanted) this.ensureInstalled(key, spec);
    for (const pod of this.pods.values()) {
      if (pod.metadata?.deletionTimestamp) this.startDeletion(pod, wanted);
    }
    this.collectOrphans(wanted);
    queueDepth.set({ vnode: this.vnode }, this.limit.inUse + this.limit.queued);
    await Promise.all(this.live().map(pod => this.syncStatus(pod)));
  }

  /** A failure of a biz no pod wants any more is history: forget it (and its backoff). */
  private dropUnwantedFailures(wanted: Map<string, BizSpec>): void {
    for (const k of wanted.keys()) this.unclaimed.delete(k);
    // after a start the watch may not have brought every pod yet: a restored failure stays
    // until a LIST of the pods bound here shows that none wants it
    const pending = (k: string) => this.unclaimed.has(k) && (this.listedKeys?.has(k) ?? true);
    const stale = [...this.failures.keys()].filter(k => !wanted.has(k) && !pending(k));
    for (const k of stale) {
      this.failures.delete(k);
      this.unclaimed.delete(k);
      this.backoff.reset(k);
    }
    if (stale.length > 0) this.persist();
  }

  // ---------- install ----------

  private ensureInstalled(key: string, spec: BizSpec): void {
    if (!this.knownBizList || this.busy.has(key) || this.bizzes.has(key)) return;
    if (this.strayStands(key)) return; // the base would install the same other biz again
    if (this.live().some(p => this.waitsForShard(p, key))) return;
    const wait = this.backoff.waitMs(key, Date.now());
    if (wait > 0) return this.kick(wait);
    this.busy.add(key);
    this.installingSince.set(key, Date.now());
    void this.onWire(
      this.serial.run(key, () => this.limit.run(() => this.install(key, spec))),
    ).finally(() => {
      this.busy.delete(key);
      this.installingSince.delete(key);
      this.kick(0);
    });
  }

  private async install(key: string, spec: BizSpec): Promise<void> {
    const pods = this.live().filter(p => bizzesOf(p).some(b => specKey(b) === key));
    if (pods.length === 0 || this.stopped || !this.mayAct()) return;
    // for people, when an install is slow enough to watch: a fast one just says Installed
    // (one API write less per module); never awaited, so it never holds the install back
    const slow = setTimeout(() => {
      for (const p of pods)
        void podEvent(
          p,
          "Normal",
          "Installing",
          `installing ${key} from ${spec.bizUrl} on ${this.vnode}`,
        );
    }, INTERIM_STATUS_DELAY_MS);
    try {
      const answer = installAnswer(
        await this.arklet.installBiz(this.base(), spec, this.cfg.installTimeoutMs),
      );
      if (answer.kind === "installed") {
        const known = withStableTimes(answer.bizzes, this.bizzes, Date.now());
        for (const [k, view] of known) this.bizzes.set(k, view);
      }
      // REPEAT_BIZ names the jar's biz, maybe another module's: see what the base runs
      if (answer.kind === "repeat") await this.readBizList();
      const verdict = installVerdict(spec, answer, this.bizzes);
      if (verdict.ok) return this.installed(key, pods);
      this.failed(key, pods, verdict.failure, true);
    } catch (err) {
      if (!(err instanceof ArkletUnreachable)) throw err;
      this.failed(key, pods, { reason: "BaseUnreachable", message: err.message }, false);
    } finally {
      clearTimeout(slow);
    }
  }

  private installed(key: string, pods: V1Pod[]): void {
    // a base that lists nothing in its answer: believed until the next biz list
    if (!this.bizzes.has(key))
      this.bizzes.set(key, { state: "ACTIVATED", changeTime: Date.now(), reason: "Started" });
    const hadFailed = this.failures.delete(key);
    this.backoff.reset(key);
    if (hadFailed) this.persist();
    this.log.info({ biz: key }, "biz installed");
    for (const p of pods)
      void podEvent(p, "Normal", "Installed", `${key} is running on ${this.vnode}`);
  }

  private failed(key: string, pods: V1Pod[], f: InstallFailure, terminal: boolean): void {
    this.failures.set(key, f);
    const wait = this.backoff.fail(key, Date.now(), terminal);
    failureCount.inc({ operation: "installBiz", reason: f.reason });
    this.persist();
    retries.inc();
    this.log.warn({ biz: key, reason: f.reason, retryInMs: wait }, "biz install failed");
    const [reason, message] = f.stray
      ? [f.reason, f.message] // no retry while the other biz stands (see strayStands)
      : [
          "InstallFailed",
          `${key}: ${f.reason}: ${f.message} (retry in ${Math.round(wait / 1000)}s)`,
        ];
    for (const p of pods) void podEvent(p, "Warning", reason, message);
  }

  /**
   * The pod's jar gave the base another biz than it asks for (its manifest won), and that
   * biz is still there: installing again would only answer REPEAT_BIZ or install the same
   * biz, so we wait until it goes (a base restart, an uninstall) or the pod does.
   */
  private strayStands(key: string): boolean {
    const stray = this.failures.get(key)?.stray;
    return stray !== undefined && this.bizzes.has(stray);
  }

  // ---------- uninstall and deletion ----------

  private startDeletion(pod: V1Pod, wanted: Map<string, BizSpec>): void {
    const key = `delete:${podKey(pod)}`;
    if (this.busy.has(key)) return;
    this.busy.add(key);
    void this.onWire(this.finishDeletion(pod, wanted))
      .catch(err => {
        this.log.warn(
          { pod: podKey(pod), err: errText(err) },
          "pod deletion not finished; retrying",
        );
        this.kick(2000);
      })
      .finally(() => this.busy.delete(key));
  }

  /** Uninstalls what no other live pod here wants, then deletes the pod for good. */
  private async finishDeletion(pod: V1Pod, wanted: Map<string, BizSpec>): Promise<void> {
    const mine = bizzesOf(pod).filter(b => !wanted.has(specKey(b)));
    const graceOver = Date.now() >= deletionDeadline(pod);
    try {
      for (const b of mine) await this.uninstall(b, pod);
    } catch (err) {
      // a dead base must not hold the pod forever: after its grace, let it go; the orphan rule cleans up later
      if (!(err instanceof ArkletUnreachable) || !graceOver) throw err;
    }
    await finalDelete(pod);
    // gone: forget it now rather than on the watch's DELETED event, which may come late or never;
    // a MODIFIED event still on its way must not bring it back for a second uninstall
    this.finished.add(pod, Date.now());
    this.pods.delete(podKey(pod));
    this.written.delete(podKey(pod));
    this.boundAt.delete(podKey(pod));
  }

  private uninstall(b: BizSpec, pod?: V1Pod): Promise<void> {
    const key = specKey(b);
    return this.serial.run(key, () =>
      this.limit.run(async () => {
        if (this.stopped || !this.mayAct()) throw new Error(`not the owner of ${this.vnode} now`);
        if (pod)
          await podEvent(pod, "Normal", "Uninstalling", `uninstalling ${key} from ${this.vnode}`);
        const out = uninstallOutcome(
          await this.arklet.uninstallBiz(this.base(), b, this.cfg.installTimeoutMs),
        );
        if (!out.ok) throw new Error(`uninstall ${key}: ${out.reason}: ${out.message}`);
        this.bizzes.delete(key);
        this.log.info({ biz: key }, "biz uninstalled");
        if (pod)
          await podEvent(pod, "Normal", "Uninstalled", `${key} was uninstalled from ${this.vnode}`);
      }),
    );
  }

  /** A biz no live pod wants: uninstalled after the grace period, if the rule is on. */
  private collectOrphans(wanted: Map<string, BizSpec>): void {
    const now = Date.now();
    const terminating = new Set([...this.pods.values()].flatMap(p => bizzesOf(p).map(specKey)));
    // A stray (another biz the pod's jar installed) stays while its pod lives and says why:
    // uninstalling it would only lead to installing it again, a loop the user never sees.
    // Once the pod is gone its failure is dropped, and the stray is an orphan like any other.
    const claimed = new Set([...this.failures.values()].flatMap(f => f.stray ?? []));
    for (const [key, view] of this.bizzes) {
      if (
        wanted.has(key) ||
        terminating.has(key) ||
        claimed.has(key) ||
        !INSTALLED_STATES.has(view.state.toUpperCase())
      ) {
        this.orphanSince.delete(key);
        continue;
      }
      this.handleOrphan(key, now);
    }
  }

  private handleOrphan(key: string, now: number): void {
    if (this.cfg.orphanGraceSeconds === 0 || this.busy.has(key)) return;
    const since = this.orphanSince.get(key) ?? now;
    this.orphanSince.set(key, since);
    const due = since + this.cfg.orphanGraceSeconds * 1000 - now;
    if (due > 0) return this.kick(due);
    const [bizName, bizVersion] = key.split(":");
    this.busy.add(key);
    this.log.info({ biz: key }, "no pod wants this biz: uninstalling it");
    void this.onWire(this.uninstall({ bizName, bizVersion, bizUrl: "" }))
      .catch(err => this.log.warn({ biz: key, err: errText(err) }, "orphan uninstall failed"))
      .finally(() => {
        this.busy.delete(key);
        this.orphanSince.delete(key);
      });
  }

  // ---------- status ----------

  private observeReady(key: string, status: V1PodStatus): void {
    const since = this.boundAt.get(key);
    if (since === undefined || !isReadyStatus(status)) return;
    readySeconds.observe((Date.now() - since) / 1000);
    this.boundAt.delete(key);
  }

  /**
   * One status write per pod at a time, each computed when its turn comes: two writes in
   * flight at once could land out of order and leave an older status (BizInstalling) on top.
   */
  private syncStatus(pod: V1Pod): Promise<void> {
    const key = podKey(pod);
    return this.statusWrites.run(key, () => this.writeStatus(this.pods.get(key) ?? pod));
  }

  private async writeStatus(pod: V1Pod): Promise<void> {
    const keys = bizzesOf(pod).map(specKey);
    // without the biz list only failures are known: a pod with other bizzes would say BizInstalling
    if (!this.knownBizList && !keys.every(k => this.failures.has(k))) return;
    if (this.waitsForShard(pod)) return;
    const hold = interimHoldMs(keys, this.installingSince, Date.now(), INTERIM_STATUS_DELAY_MS);
    if (hold > 0) return this.kick(hold);
    const status = podStatusFor(pod, {
      bizzes: this.bizzes,
      failures: this.failures,
      baseIP: this.base().ip,
      now: new Date(),
    });
    const key = podKey(pod);
    const fp = podStatusFingerprint(status);
    if (fp === (this.written.get(key) ?? podStatusFingerprint(pod.status))) return;
    this.written.set(key, fp);
    try {
      await writePodStatus(pod, status);
      this.observeReady(key, status);
    } catch (err) {
      this.written.delete(key);
      if (!isNotFound(err)) throw err;
    }
  }
}

function isReadyStatus(s: V1PodStatus | undefined): boolean {
  return (s?.conditions ?? []).some(c => c.type === "Ready" && c.status === "True");
}

function deletionDeadline(pod: V1Pod): number {
  const ts = pod.metadata?.deletionTimestamp;
  return ts ? new Date(ts).getTime() : 0;
}

/** How long a pod we deleted is remembered: far longer than any watch delivers late. */
const FINISHED_MEMORY_MS = 10 * 60_000;

/** The UIDs of pods whose deletion this worker finished, for a bounded time. */
export class FinishedPods {
  private at = new Map<string, number>();

  add(pod: V1Pod, now: number): void {
    for (const [uid, t] of this.at) if (now - t > FINISHED_MEMORY_MS) this.at.delete(uid);
    const uid = pod.metadata?.uid;
    if (uid) this.at.set(uid, now);
  }

  /**
   * True for an event of a pod we already deleted. Even its DELETED event is not its last word:
   * Pepr hands watch events over asynchronously, so an older MODIFIED event can still come
   * after it (seen with 3 replicas under a burst: a second uninstall 63-86 ms after the first).
   * A UID is never reused, so the memory simply runs out after FINISHED_MEMORY_MS.
   */
  lateEvent(pod: V1Pod): boolean {
    const uid = pod.metadata?.uid;
    return uid !== undefined && this.at.has(uid);
  }
}
