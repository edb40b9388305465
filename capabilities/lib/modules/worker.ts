// One per owned VNode: makes the base run exactly the bizzes its live module pods want, and
// makes those pods tell the truth about it. Level-triggered: every pass works from full state
// (pods bound here, the base's biz list, our own install outcomes), so events, timers and a
// restart all run the same code, and a crash loses nothing that the next pass does not redo.
// What a pass decides is pure (plan.ts); this shell keeps the timers, the concurrency and the
// I/O, which come in through WorkerDeps so that tests can fake them.
import type { V1Pod, V1PodStatus } from "@kubernetes/client-node";
import { ArkletUnreachable } from "../arklet/client";
import { bizViews, installAnswer, uninstallOutcome } from "../arklet/outcome";
import { Backoff, KeyedSerial, Semaphore, spreadInterval } from "../async/primitives";
import { Config } from "../config";
import { errText, isNotFound } from "../errors";
import { childOf, type Logger } from "../logger";
import { failures as failureCount, queueDepth, readySeconds, retries } from "../metrics";
import type { BaseCommands, BaseRef } from "../tunnel/seam";
import {
  admissionProblem,
  EXCLUDED_NAMESPACES,
  needsAdmissionFlag,
  NOT_ADMITTED_REASON,
  withAdmissionCondition,
} from "./admitted";
import { BizSpec, bizzesOf, isModulePod, podKey, specKey } from "./biz";
import { FOREIGN_REASON, foreignMessage, needsForeignFlag, withForeignCondition } from "./foreign";
import { finalDelete, podEvent, podsOnNode, writePodStatus } from "./kube";
import {
  deleteKey,
  INTERIM_STATUS_DELAY_MS,
  isTerminating,
  Pass,
  planPass,
  planStatus,
} from "./plan";
import type { PodIndex } from "./pod-index";
import type { RetryStore } from "./retry-store";
import { BizView, InstallFailure, withStableTimes } from "./status";
import { installVerdict } from "./verify";

/** Foreign pods are rare and cost a LIST: look every few biz polls (once a minute by default). */
const FOREIGN_CHECK_EVERY = 4;

/** The Kubernetes calls of a worker (the real ones by default, fakes in tests). */
export interface PodApi {
  writePodStatus(pod: V1Pod, status: V1PodStatus): Promise<void>;
  podEvent(pod: V1Pod, type: "Normal" | "Warning", reason: string, message: string): Promise<void>;
  finalDelete(pod: V1Pod): Promise<void>;
  podsOnNode(node: string): Promise<V1Pod[]>;
}

export const kubePods: PodApi = { writePodStatus, podEvent, finalDelete, podsOnNode };

export interface WorkerDeps {
  vnode: string;
  /** Where commands reach the base now (its address may change with a heartbeat). */
  base: () => BaseRef;
  commands: BaseCommands;
  /** The module pods of every node; this worker reads its own and finishes the ones it deletes. */
  index: PodIndex;
  cfg: Config;
  log: Logger;
  /** Where install failures and backoff survive a restart or a handover. */
  store?: RetryStore;
  /** False when this replica may no longer talk to the base (its Lease is lost or stale). */
  mayAct?: () => boolean;
  api?: PodApi;
}

export class ModuleWorker {
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
  /** The retry store has been read (or there is none): failures and backoff are what they were. */
  private restored = false;
  /** Failures read from the retry store for bizzes no pod seen by this process has wanted yet. */
  private unclaimed = new Set<string>();
  /** Bizzes the module pods bound here wanted at the last LIST (none yet: undefined). */
  private listedKeys?: Set<string>;
  private stopped = false;
  private polls = 0;
  /** When each pod was first seen bound here, until its Ready status is written. */
  private boundAt = new Map<string, number>();
  /** Operations on the wire, so a handover can wait for them. */
  private inflight = new Set<Promise<unknown>>();
  /** Pods bound here that admission never saw, by UID: never installed. */
  private unadmitted = new Set<string>();
  /** Of those, the ones flagged (or deleted) already. */
  private flagged = new Set<string>();

  readonly vnode: string;
  private log: Logger;
  private mayAct: () => boolean;
  private api: PodApi;

  constructor(private deps: WorkerDeps) {
    this.vnode = deps.vnode;
    // every line names its VNode
    this.log = childOf(deps.log, { component: "modules", vnode: deps.vnode });
    this.mayAct = deps.mayAct ?? (() => true);
    this.api = deps.api ?? kubePods;
    this.limit = new Semaphore(deps.cfg.maxParallelOps);
  }

  private get cfg(): Config {
    return this.deps.cfg;
  }

  start(): void {
    // the pods bound here before this worker existed (a start, a takeover)
    for (const pod of [...this.deps.index.on(this.vnode).values()]) this.onPod(pod, false);
    this.stopPolling = spreadInterval(() => void this.poll(), this.cfg.bizPollSeconds * 1000);
    void this.restore(); // in parallel: persistence never delays the first install
    void this.poll();
  }

  /** Takes over the failures and backoff a previous process saved for this VNode. */
  private async restore(): Promise<void> {
    const saved = (await this.deps.store?.load()) ?? { failures: {}, backoff: {} };
    for (const [key, f] of Object.entries(saved.failures)) {
      if (this.failures.has(key)) continue;
      this.failures.set(key, f);
      this.unclaimed.add(key);
    }
    this.backoff.restore(saved.backoff);
    this.restored = true;
    this.kick(0); // what waited for the retry store
  }

  private persist(): void {
    this.deps.store?.save({
      failures: Object.fromEntries(this.failures),
      backoff: this.backoff.snapshot(),
    });
  }

  /** Stops and deletes the persisted retry state (the VNode is gone). */
  async forget(): Promise<void> {
    this.stop();
    await this.deps.store?.delete();
  }

  stop(): void {
    this.stopped = true;
    this.stopPolling();
    clearTimeout(this.pending);
  }

  /** For a handover: start nothing new, let what is on the wire finish (bounded), save the retry state. */
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
    await this.deps.store?.flushNow();
  }

  /** Tracks an operation until it settles. */
  private onWire<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => undefined);
    return p;
  }

  /** A module pod bound to this VNode changed (the index has it already), or is gone. */
  onPod(pod: V1Pod, deleted: boolean): void {
    const uid = pod.metadata?.uid ?? podKey(pod);
    const why = admissionProblem(pod, EXCLUDED_NAMESPACES);
    if (why !== undefined) return this.refuseUnadmitted(pod, deleted, why);
    this.unadmitted.delete(uid);
    const key = podKey(pod);
    if (deleted) {
      this.written.delete(key);
      this.boundAt.delete(key);
    } else if (!this.boundAt.has(key) && !isReadyStatus(pod.status)) {
      this.boundAt.set(key, Date.now());
    }
    this.kick(0);
  }

  /**
   * A module pod admission never saw is never installed: flagged once (Warning Event and
   * condition), and when it is deleted, deleted for good without an uninstall.
   */
  private refuseUnadmitted(pod: V1Pod, deleted: boolean, why: string): void {
    const uid = pod.metadata?.uid ?? podKey(pod);
    if (!this.unadmitted.has(uid)) this.kick(0); // it may have wanted a biz until now
    this.unadmitted.add(uid);
    if (deleted) {
      this.unadmitted.delete(uid);
      return void this.flagged.delete(uid);
    }
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
    if (pod.metadata?.deletionTimestamp) return this.api.finalDelete(pod);
    if (this.flagged.has(uid) || !needsAdmissionFlag(pod)) return undefined;
    this.log.warn({ pod: podKey(pod), why }, "module pod not admitted");
    const conditions = withAdmissionCondition(pod, why, new Date());
    return this.api
      .writePodStatus(pod, { conditions })
      .then(() => this.api.podEvent(pod, "Warning", NOT_ADMITTED_REASON, why));
  }

  /** Flags non-module pods bound here, once each (a LIST by field selector, every few polls). */
  private async checkForeignPods(): Promise<void> {
    const pods = await this.api.podsOnNode(this.vnode);
    const live = pods.filter(p => isModulePod(p) && !p.metadata?.deletionTimestamp);
    this.listedKeys = new Set(live.flatMap(p => bizzesOf(p).map(specKey)));
    for (const pod of pods.filter(needsForeignFlag)) {
      const conditions = withForeignCondition(pod, this.vnode, new Date());
      await this.api.writePodStatus(pod, { conditions });
      await this.api.podEvent(pod, "Warning", FOREIGN_REASON, foreignMessage(this.vnode));
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
    const env = await this.deps.commands.queryAllBiz(this.deps.base(), this.cfg.arkletTimeoutMs);
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

  /** The admitted module pods bound here, terminating ones included. */
  private pods(): V1Pod[] {
    const all = [...this.deps.index.on(this.vnode).values()];
    return all.filter(p => !this.unadmitted.has(p.metadata?.uid ?? podKey(p)));
  }

  private live(): V1Pod[] {
    return this.pods().filter(p => !isTerminating(p));
  }

  /** One pass: plan from the whole state, then start what the plan says. */
  async reconcile(): Promise<void> {
    if (!this.mayAct()) return this.kick(1000); // Lease being renewed or lost: look again soon
    const pods = this.pods();
    const now = Date.now();
    const pass = planPass({
      now,
      pods,
      bizzes: this.bizzes,
      knownBizList: this.knownBizList,
      restored: this.restored,
      failures: this.failures,
      unclaimed: this.unclaimed,
      listedKeys: this.listedKeys,
      busy: this.busy,
      retryInMs: key => this.backoff.waitMs(key, now),
      orphanSince: this.orphanSince,
      orphanGraceMs: this.cfg.orphanGraceSeconds * 1000,
    });
    this.apply(pass);
    queueDepth.set({ vnode: this.vnode }, this.limit.inUse + this.limit.queued);
    await Promise.all(pods.filter(p => !isTerminating(p)).map(pod => this.syncStatus(pod)));
  }

  private apply(pass: Pass): void {
    for (const key of pass.claim) this.unclaimed.delete(key);
    for (const key of pass.forget) {
      this.failures.delete(key);
      this.unclaimed.delete(key);
      this.backoff.reset(key);
    }
    if (pass.forget.length > 0) this.persist();
    for (const { key, spec } of pass.install) this.startInstall(key, spec);
    for (const pod of pass.finish) this.startDeletion(pod, pass.wanted);
    this.orphanSince = pass.orphanSince;
    for (const key of pass.orphans) this.startOrphanUninstall(key);
    if (pass.againInMs !== undefined) this.kick(pass.againInMs);
  }

  // ---------- install ----------

  private startInstall(key: string, spec: BizSpec): void {
    this.busy.add(key);
    this.installingSince.set(key, Date.now());
    const pods = this.live().filter(p => bizzesOf(p).some(b => specKey(b) === key));
    void this.onWire(this.serial.run(key, () => this.limit.run(() => this.install(key, spec))))
      .finally(() => {
        this.busy.delete(key);
        this.installingSince.delete(key);
        this.kick(0);
      })
      // the answer shows on its pods at once, not one timer round later
      .then(() => Promise.all(pods.map(p => this.syncStatus(p))))
      .catch(err => this.log.warn({ biz: key, err: errText(err) }, "install step failed"));
  }

  private async install(key: string, spec: BizSpec): Promise<void> {
    const pods = this.live().filter(p => bizzesOf(p).some(b => specKey(b) === key));
    if (pods.length === 0 || this.stopped || !this.mayAct()) return;
    // for people, when an install is slow enough to watch: a fast one just says Installed
    // (one API write less per module); never awaited, so it never holds the install back
    const slow = setTimeout(() => {
      const message = `installing ${key} from ${spec.bizUrl} on ${this.vnode}`;
      for (const p of pods) void this.api.podEvent(p, "Normal", "Installing", message);
    }, INTERIM_STATUS_DELAY_MS);
    try {
      const answer = installAnswer(
        await this.deps.commands.installBiz(this.deps.base(), spec, this.cfg.installTimeoutMs),
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
      void this.api.podEvent(p, "Normal", "Installed", `${key} is running on ${this.vnode}`);
  }

  private failed(key: string, pods: V1Pod[], f: InstallFailure, terminal: boolean): void {
    this.failures.set(key, f);
    const wait = this.backoff.fail(key, Date.now(), terminal);
    failureCount.inc({ operation: "installBiz", reason: f.reason });
    this.persist();
    retries.inc();
    this.log.warn({ biz: key, reason: f.reason, retryInMs: wait }, "biz install failed");
    const [reason, message] = f.stray
      ? [f.reason, f.message] // no retry while the other biz stands (see plan.ts)
      : [
          "InstallFailed",
          `${key}: ${f.reason}: ${f.message} (retry in ${Math.round(wait / 1000)}s)`,
        ];
    for (const p of pods) void this.api.podEvent(p, "Warning", reason, message);
  }

  // ---------- uninstall and deletion ----------

  private startDeletion(pod: V1Pod, wanted: ReadonlyMap<string, BizSpec>): void {
    const key = deleteKey(pod);
    this.busy.add(key);
    void this.onWire(this.finishDeletion(pod, wanted))
      .catch(err => {
        const at = { pod: podKey(pod), err: errText(err) };
        this.log.warn(at, "pod deletion not finished; retrying");
        this.kick(2000);
      })
      .finally(() => this.busy.delete(key));
  }

  /** Uninstalls what no other live pod here wants, then deletes the pod for good. */
  private async finishDeletion(pod: V1Pod, wanted: ReadonlyMap<string, BizSpec>): Promise<void> {
    const mine = bizzesOf(pod).filter(b => !wanted.has(specKey(b)));
    const graceOver = Date.now() >= deletionDeadline(pod);
    try {
      for (const b of mine) await this.uninstall(b, pod);
    } catch (err) {
      // a dead base must not hold the pod forever: after its grace, let it go; the orphan rule cleans up later
      if (!(err instanceof ArkletUnreachable) || !graceOver) throw err;
    }
    await this.api.finalDelete(pod);
    // gone: forget it now rather than on the watch's DELETED event, which may come late or never;
    // a MODIFIED event still on its way must not bring it back for a second uninstall
    this.deps.index.finish(pod, Date.now());
    this.written.delete(podKey(pod));
    this.boundAt.delete(podKey(pod));
  }

  private uninstall(b: BizSpec, pod?: V1Pod): Promise<void> {
    const key = specKey(b);
    return this.serial.run(key, () =>
      this.limit.run(async () => {
        if (this.stopped || !this.mayAct()) throw new Error(`not the owner of ${this.vnode} now`);
        const from = `${key} from ${this.vnode}`;
        if (pod) await this.api.podEvent(pod, "Normal", "Uninstalling", `uninstalling ${from}`);
        const out = uninstallOutcome(
          await this.deps.commands.uninstallBiz(this.deps.base(), b, this.cfg.installTimeoutMs),
        );
        if (!out.ok) throw new Error(`uninstall ${key}: ${out.reason}: ${out.message}`);
        this.bizzes.delete(key);
        this.log.info({ biz: key }, "biz uninstalled");
        if (pod)
          await this.api.podEvent(
            pod,
            "Normal",
            "Uninstalled",
            `${key} was uninstalled from ${this.vnode}`,
          );
      }),
    );
  }

  /** A biz no live pod wants, past its grace: uninstalled (see plan.ts). */
  private startOrphanUninstall(key: string): void {
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
    return this.statusWrites.run(key, () =>
      this.writeStatus(this.deps.index.on(this.vnode).get(key) ?? pod),
    );
  }

  private async writeStatus(pod: V1Pod): Promise<void> {
    if (isTerminating(pod) || this.deps.index.isFinished(pod)) return;
    const key = podKey(pod);
    const step = planStatus(pod, {
      now: Date.now(),
      bizzes: this.bizzes,
      failures: this.failures,
      knownBizList: this.knownBizList,
      restored: this.restored,
      installingSince: this.installingSince,
      baseIP: this.deps.base().ip,
      written: this.written.get(key),
    });
    if (step.kind === "later") return this.kick(step.inMs);
    if (step.kind === "none") return;
    this.written.set(key, step.fingerprint);
    try {
      await this.api.writePodStatus(pod, step.status);
      this.observeReady(key, step.status);
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
