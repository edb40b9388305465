// Which heartbeats the tunnel believes. A pure judge (judge) beside a small stateful holder
// (HeartbeatGate) of what it needs: each identity's bound address, a cap on VNodes, a budget of
// new identities per minute and a per-identity spacing. Nothing here waits on the API server.
import type { V1Node, V1NodeCondition } from "@kubernetes/client-node";
import { ANNOTATION_BASE_ADDRESS } from "../contract";

/** What an identity is bound to. */
export interface Binding {
  /** The address the controller calls for this identity. */
  ip: string;
  /**
   * What the owner last said of the base at ip: it answers, it has been unreachable past the
   * threshold (Node Ready=False, BaseUnreachable), or nothing yet (no Ready condition).
   */
  verdict: "answers" | "unreachable" | "none";
  /** When the binding began (Node creation, or the heartbeat that moved it), ms. */
  since: number;
  /** True while it exists only here (accepted, Node not listed yet). */
  local: boolean;
}

export interface Facts {
  identity: string;
  /** The address the controller would call for this heartbeat. */
  ip: string;
  activated: boolean;
  now: number;
}

export interface Limits {
  /** A binding with no verdict on its address yet is free after this long (ms). */
  unreachableMs: number;
  maxVNodes: number;
}

export type Verdict =
  | { ok: true; kind: "known" | "new" | "moved" | "goodbye" | "stranger-goodbye" }
  | { ok: false; status: number; reason: string };

const refuse = (status: number, reason: string): Verdict => ({ ok: false, status, reason });

/** May another address take this identity over? Only once the bound one has gone quiet. */
export function takeoverAllowed(b: Binding, now: number, unreachableMs: number): boolean {
  if (b.verdict === "unreachable") return true;
  // never answered at all, for longer than the threshold
  return b.verdict === "none" && now - b.since > unreachableMs;
}

function judgeGoodbye(f: Facts, b: Binding | undefined): Verdict {
  if (!b) return { ok: true, kind: "stranger-goodbye" }; // nothing of ours to delete
  if (b.ip !== f.ip) {
    return refuse(
      403,
      `a goodbye (state deactivated) for ${f.identity} must come from its own address ${b.ip}, not ${f.ip}`,
    );
  }
  return { ok: true, kind: "goodbye" };
}

/** Pure: what a heartbeat may do, given the identity's binding and how many VNodes there are. */
export function judge(f: Facts, b: Binding | undefined, count: number, lim: Limits): Verdict {
  if (!f.activated) return judgeGoodbye(f, b);
  if (b && b.ip === f.ip) return { ok: true, kind: "known" };
  if (b) {
    if (takeoverAllowed(b, f.now, lim.unreachableMs)) return { ok: true, kind: "moved" };
    const s = Math.round(lim.unreachableMs / 1000);
    return refuse(
      409,
      `${f.identity} is bound to ${b.ip}, which still answers: another address takes it over only after ${b.ip} has been unreachable for ${s}s (KOUPLELESS_UNREACHABLE_SECONDS)`,
    );
  }
  if (count >= lim.maxVNodes) {
    return refuse(
      429,
      `this controller already drives ${count} bases, its limit (KOUPLELESS_MAX_VNODES=${lim.maxVNodes}): ${f.identity} gets no VNode until one goes`,
    );
  }
  return { ok: true, kind: "new" };
}

/** A bucket of `perMinute` tokens, refilled evenly: a burst of that size, then that rate. */
export class TokenBucket {
  private tokens: number;
  private at: number;
  constructor(
    private perMinute: number,
    now: number,
  ) {
    this.tokens = perMinute;
    this.at = now;
  }

  take(now: number): boolean {
    this.tokens = Math.min(
      this.perMinute,
      this.tokens + ((now - this.at) * this.perMinute) / 60_000,
    );
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * Per-identity minimum spacing of accepted heartbeats. Memory stays bounded: entries older than
 * the spacing decide nothing, so they are swept once per spacing.
 */
export class RateLimiter {
  private last = new Map<string, number>();
  private swept = 0;
  constructor(private minIntervalMs: number) {}

  allow(identity: string, now: number): boolean {
    this.sweep(now);
    const prev = this.last.get(identity);
    if (prev !== undefined && now - prev < this.minIntervalMs) return false;
    this.last.set(identity, now);
    return true;
  }

  get size(): number {
    return this.last.size;
  }

  private sweep(now: number): void {
    if (now - this.swept < this.minIntervalMs) return;
    this.swept = now;
    for (const [k, t] of this.last) if (now - t >= this.minIntervalMs) this.last.delete(k);
  }
}

/**
 * The binding a listed VNode stands for; undefined for a Node without a base address. A Ready
 * verdict counts only for the address it was about (its message names it): right after a
 * move, the Node still says the old address is unreachable.
 */
export function bindingOf(node: V1Node): Binding | undefined {
  const ip = node.metadata?.annotations?.[ANNOTATION_BASE_ADDRESS];
  if (!ip) return undefined;
  const ready = (node.status?.conditions ?? []).find(c => c.type === "Ready");
  const since = new Date(node.metadata?.creationTimestamp ?? 0).getTime();
  return { ip, verdict: verdictOn(ip, ready), since, local: false };
}

function verdictOn(ip: string, ready: V1NodeCondition | undefined): Binding["verdict"] {
  if (!ready) return "none";
  // about another address (just moved): not a verdict on this one yet
  if (!(ready.message ?? "").includes(` ${ip}:`)) return "answers";
  const down = ready.status === "False" && ready.reason === "BaseUnreachable";
  return down ? "unreachable" : "answers";
}

/** A binding accepted here, before any Node says anything of it. */
const localBinding = (ip: string, now: number): Binding => ({
  ip,
  verdict: "none",
  since: now,
  local: true,
});

/** How long an accepted identity with no Node yet keeps its place (its creation may be retrying). */
const LOCAL_KEEP_MS = 5 * 60_000;

export interface GateOptions extends Limits {
  minIntervalMs: number;
  newBasesPerMinute: number;
}

/** The tunnel's memory of identities, kept in step with the VNode list by sync(). */
export class HeartbeatGate {
  private book = new Map<string, Binding>();
  private bucket: TokenBucket;
  private limiter: RateLimiter;

  constructor(
    private opts: GateOptions,
    now = Date.now(),
  ) {
    this.bucket = new TokenBucket(opts.newBasesPerMinute, now);
    this.limiter = new RateLimiter(opts.minIntervalMs);
  }

  /** Judges a heartbeat and, when it is accepted, records what it changes. */
  check(f: Facts): Verdict {
    const v = judge(f, this.book.get(f.identity), this.book.size, this.opts);
    if (!v.ok) return v;
    // a goodbye is never rate-limited: dropping it would leave a dead base's Node for the whole TTL
    if (f.activated && !this.limiter.allow(f.identity, f.now)) {
      return refuse(
        429,
        `heartbeats from ${f.identity} arrive faster than one per ${this.opts.minIntervalMs} ms`,
      );
    }
    if (v.kind === "new" && !this.bucket.take(f.now)) {
      return refuse(
        429,
        `more than ${this.opts.newBasesPerMinute} new bases a minute (KOUPLELESS_NEW_BASES_PER_MINUTE): ${f.identity} may try again in a few seconds`,
      );
    }
    if (v.kind === "new" || v.kind === "moved")
      this.book.set(f.identity, localBinding(f.ip, f.now));
    if (v.kind === "goodbye") this.book.delete(f.identity);
    return v;
  }

  /** What the Node itself says, when it contradicts what this replica believed. */
  learn(identity: string, b: Binding): void {
    this.book.set(identity, b);
  }

  /** The identity is gone (its VNode was deleted). */
  forget(identity: string): void {
    this.book.delete(identity);
  }

  /** Every VNode as listed by a LIST that started at listedAt; what we learned since is kept. */
  sync(nodes: Array<{ identity: string; node: V1Node }>, listedAt: number): void {
    const listed = new Map<string, Binding>();
    for (const { identity, node } of nodes) {
      const b = bindingOf(node);
      if (b) listed.set(identity, b);
    }
    for (const [identity, b] of this.book) {
      const newer = b.local && b.since >= listedAt;
      const waiting = b.local && !listed.has(identity) && listedAt - b.since < LOCAL_KEEP_MS;
      if (newer || waiting) listed.set(identity, b);
    }
    this.book = listed;
  }

  get size(): number {
    return this.book.size;
  }

  binding(identity: string): Binding | undefined {
    return this.book.get(identity);
  }
}
