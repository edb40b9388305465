// Which VNodes a replica should take and which it should let go, from one snapshot of the
// node Leases and the live replicas. Pure: the ownership loop feeds it and acts on the answer.
import { createHash } from "node:crypto";
import type { Lease } from "../kinds";

/** What the plan needs of a Lease. */
export interface LeaseView {
  name: string;
  holder: string;
  /** renewTime in ms since the epoch; 0 when never renewed. */
  renewMs: number;
  durationSeconds: number;
}

export interface Snapshot {
  me: string;
  now: number;
  /** Every VNode of our env. */
  vnodes: string[];
  /** Node Leases by VNode name (a VNode may not have one yet). */
  leases: Map<string, LeaseView>;
  /** Replica ids whose membership Lease is live; `me` is counted even if absent. */
  members: string[];
  /** What this replica holds and renews now. */
  mine: Set<string>;
}

export interface Plan {
  /** ceil(VNodes / live replicas): the most any replica should hold. */
  target: number;
  acquire: string[];
  release: string[];
}

export function leaseView(l: Lease): LeaseView {
  const spec = l.spec ?? {};
  const renew = spec.renewTime ?? spec.acquireTime;
  return {
    name: l.metadata?.name ?? "",
    holder: spec.holderIdentity ?? "",
    renewMs: renew ? Date.parse(renew) : 0,
    durationSeconds: spec.leaseDurationSeconds ?? 0,
  };
}

export type PatchOp =
  | { op: "test" | "add"; path: string; value: unknown }
  | { op: "remove"; path: string };

/**
 * Takes a Lease as it was read: the resourceVersion test makes the write fail if anyone wrote
 * in between. A change of holder counts as a transition and sets acquireTime.
 */
export function acquirePatch(
  lease: Lease,
  me: string,
  durationSeconds: number,
  now: string,
): PatchOp[] {
  const ops: PatchOp[] = [
    { op: "test", path: "/metadata/resourceVersion", value: lease.metadata?.resourceVersion },
    { op: "add", path: "/spec/holderIdentity", value: me },
    { op: "add", path: "/spec/renewTime", value: now },
    { op: "add", path: "/spec/leaseDurationSeconds", value: durationSeconds },
  ];
  if ((lease.spec?.holderIdentity ?? "") === me) return ops;
  const transitions = (lease.spec?.leaseTransitions ?? 0) + 1;
  return [
    ...ops,
    { op: "add", path: "/spec/acquireTime", value: now },
    { op: "add", path: "/spec/leaseTransitions", value: transitions },
  ];
}

export function expired(l: LeaseView, now: number): boolean {
  return l.renewMs + l.durationSeconds * 1000 < now;
}

/** Free for `me`: no holder, a holder whose lease ran out, or `me` after a restart. */
export function takeable(l: LeaseView | undefined, me: string, now: number): boolean {
  return !l || l.holder === "" || l.holder === me || expired(l, now);
}

/** A per-replica order, so that replicas racing for free Leases mostly try different ones. */
function rank(me: string, name: string): string {
  return createHash("sha1").update(`${me}/${name}`).digest("hex");
}

const byRank = (me: string) => (a: string, b: string) =>
  rank(me, a) < rank(me, b) ? -1 : rank(me, a) > rank(me, b) ? 1 : 0;

export function fairShare(vnodes: number, members: number): number {
  return Math.ceil(vnodes / Math.max(1, members));
}

export function planBalance(s: Snapshot): Plan {
  const members = new Set([...s.members, s.me]);
  const target = fairShare(s.vnodes.length, members.size);
  const mine = s.vnodes.filter(v => s.mine.has(v));
  if (mine.length > target) {
    // the ones that rank last for us go first; the others keep their order
    const release = mine
      .sort(byRank(s.me))
      .reverse()
      .slice(0, mine.length - target);
    return { target, acquire: [], release };
  }
  const free = s.vnodes
    .filter(v => !s.mine.has(v) && takeable(s.leases.get(v), s.me, s.now))
    .sort(byRank(s.me));
  // our own Leases from before a restart come back first, whatever the share
  const reclaim = free.filter(v => s.leases.get(v)?.holder === s.me);
  const others = free.filter(v => s.leases.get(v)?.holder !== s.me);
  const room = Math.max(0, target - mine.length - reclaim.length);
  return { target, acquire: [...reclaim, ...others.slice(0, room)], release: [] };
}
