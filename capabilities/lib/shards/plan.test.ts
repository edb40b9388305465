import { describe, expect, it } from "@jest/globals";
import {
  acquirePatch,
  expired,
  fairShare,
  LeaseView,
  leaseView,
  planBalance,
  Snapshot,
  takeable,
} from "./plan";

const NOW = 1_000_000;
const names = (n: number) => Array.from({ length: n }, (_, i) => `vnode.10.0.0.${i}.dev`);
const held = (holder: string, ageSeconds = 0, durationSeconds = 40) => ({
  holder,
  renewMs: NOW - ageSeconds * 1000,
  durationSeconds,
});

function snapshot(partial: Partial<Snapshot> & { holders?: Record<string, string> }): Snapshot {
  const vnodes = partial.vnodes ?? names(30);
  const leases = new Map<string, LeaseView>();
  for (const v of vnodes) leases.set(v, { name: v, ...held(partial.holders?.[v] ?? "") });
  return {
    me: "r1",
    now: NOW,
    vnodes,
    leases: partial.leases ?? leases,
    members: ["r1", "r2", "r3"],
    mine: new Set(),
    ...partial,
  };
}

/** One replica's pass, acted on; true if a Lease changed hands. */
function pass(me: string, vnodes: string[], members: string[], holders: Record<string, string>) {
  const mine = new Set(vnodes.filter(v => holders[v] === me));
  const plan = planBalance(snapshot({ me, vnodes, members, mine, holders }));
  plan.release.forEach(v => (holders[v] = ""));
  const taken = plan.acquire.filter(v => !mine.has(v) && !holders[v]);
  taken.forEach(v => (holders[v] = me));
  return plan.release.length + taken.length > 0;
}

/** Runs every replica's plan in turn until nothing changes. */
function settle(vnodes: string[], members: string[], start: Record<string, string> = {}) {
  const holders: Record<string, string> = { ...start };
  for (let round = 0; round < 20; round++) {
    const changed = members.map(me => pass(me, vnodes, members, holders)).some(Boolean);
    if (!changed) break;
  }
  const counts: Record<string, number> = {};
  for (const m of members) counts[m] = vnodes.filter(v => holders[v] === m).length;
  return { holders, counts };
}

describe("fairShare", () => {
  it.each([
    [30, 3, 10],
    [31, 3, 11],
    [0, 3, 0],
    [5, 0, 5],
    [1, 4, 1],
  ])("%i VNodes over %i replicas: at most %i each", (v, m, want) => {
    expect(fairShare(v, m)).toBe(want);
  });
});

describe("expiry and what may be taken", () => {
  it("a Lease is expired only after renewTime + duration", () => {
    expect(expired({ name: "a", ...held("r2", 40) }, NOW)).toBe(false);
    expect(expired({ name: "a", ...held("r2", 41) }, NOW)).toBe(true);
  });
  it("takes a missing, free, expired or own Lease; never a live peer's", () => {
    expect(takeable(undefined, "r1", NOW)).toBe(true);
    expect(takeable({ name: "a", ...held("") }, "r1", NOW)).toBe(true);
    expect(takeable({ name: "a", ...held("r2", 60) }, "r1", NOW)).toBe(true);
    expect(takeable({ name: "a", ...held("r1", 1) }, "r1", NOW)).toBe(true);
    expect(takeable({ name: "a", ...held("r2", 1) }, "r1", NOW)).toBe(false);
  });
  it("reads a Lease object, renewTime first, acquireTime as fallback", () => {
    const v = leaseView({
      metadata: { name: "x" },
      spec: {
        holderIdentity: "r2",
        leaseDurationSeconds: 40,
        acquireTime: "2026-01-01T00:00:00.000000Z",
      },
    });
    expect(v).toEqual({
      name: "x",
      holder: "r2",
      renewMs: Date.parse("2026-01-01T00:00:00Z"),
      durationSeconds: 40,
    });
    expect(leaseView({ metadata: { name: "y" } })).toEqual({
      name: "y",
      holder: "",
      renewMs: 0,
      durationSeconds: 0,
    });
  });
});

describe("planBalance", () => {
  it("takes free Leases up to ceil(VNodes / replicas) and no more", () => {
    const plan = planBalance(snapshot({}));
    expect(plan.target).toBe(10);
    expect(plan.acquire).toHaveLength(10);
    expect(plan.release).toEqual([]);
  });

  it("three replicas over 30 free VNodes settle at 10 each, every VNode owned once", () => {
    const { holders, counts } = settle(names(30), ["r1", "r2", "r3"]);
    expect(counts).toEqual({ r1: 10, r2: 10, r3: 10 });
    expect(Object.values(holders).filter(h => h === "")).toEqual([]);
  });

  it("a joining replica gets its share: the others release their surplus", () => {
    const vnodes = names(30);
    const start = Object.fromEntries(vnodes.map((v, i) => [v, i < 15 ? "r1" : "r2"]));
    const { counts } = settle(vnodes, ["r1", "r2", "r3"], start);
    expect(counts).toEqual({ r1: 10, r2: 10, r3: 10 });
  });

  it("releases the surplus, and nothing is taken in the same pass", () => {
    const vnodes = names(30);
    const mine = new Set(vnodes.slice(0, 15));
    const plan = planBalance(snapshot({ vnodes, mine }));
    expect(plan.release).toHaveLength(5);
    expect(plan.release.every(v => mine.has(v))).toBe(true);
    expect(plan.acquire).toEqual([]);
  });

  it("a dead replica's Leases are taken only once they expire", () => {
    const vnodes = names(30);
    const holders = Object.fromEntries(vnodes.map((v, i) => [v, ["r1", "r2", "r3"][i % 3]]));
    const mine = new Set(vnodes.filter(v => holders[v] === "r1"));
    const fresh = snapshot({ vnodes, holders, mine, members: ["r1", "r2"] });
    expect(planBalance(fresh).acquire).toEqual([]); // r3's Leases are still live
    const leases = new Map(
      vnodes.map(v => [v, { name: v, ...held(holders[v], holders[v] === "r3" ? 41 : 0) }]),
    );
    const later = planBalance({ ...fresh, leases });
    expect(later.target).toBe(15);
    expect(later.acquire).toHaveLength(5);
    expect(later.acquire.every(v => holders[v] === "r3")).toBe(true);
  });

  it("a restarted replica takes back its own live Leases at once, even past its share", () => {
    const vnodes = names(6);
    const holders = Object.fromEntries(vnodes.map(v => [v, "r1"]));
    const plan = planBalance(snapshot({ vnodes, holders, members: ["r1", "r2"] }));
    expect(plan.acquire.sort()).toEqual([...vnodes].sort());
  });

  it("counts itself even when its membership Lease is not listed yet", () => {
    expect(planBalance(snapshot({ members: [] })).target).toBe(30);
    expect(planBalance(snapshot({ members: ["r2"] })).target).toBe(15);
  });

  it("different replicas try free Leases in different orders", () => {
    const a = planBalance(snapshot({ me: "r1" })).acquire;
    const b = planBalance(snapshot({ me: "r2" })).acquire;
    expect(a).not.toEqual(b);
  });
});

describe("acquirePatch", () => {
  const lease = (holder?: string, transitions?: number) => ({
    metadata: { name: "v", resourceVersion: "42" },
    spec: { holderIdentity: holder, leaseTransitions: transitions },
  });
  it("is guarded by the resourceVersion it read, and counts a change of holder", () => {
    expect(acquirePatch(lease("r2", 3), "r1", 40, "T")).toEqual([
      { op: "test", path: "/metadata/resourceVersion", value: "42" },
      { op: "add", path: "/spec/holderIdentity", value: "r1" },
      { op: "add", path: "/spec/renewTime", value: "T" },
      { op: "add", path: "/spec/leaseDurationSeconds", value: 40 },
      { op: "add", path: "/spec/acquireTime", value: "T" },
      { op: "add", path: "/spec/leaseTransitions", value: 4 },
    ]);
  });
  it("a free Lease's first holder is transition 1", () => {
    expect(acquirePatch(lease(undefined), "r1", 40, "T").at(-1)).toEqual({
      op: "add",
      path: "/spec/leaseTransitions",
      value: 1,
    });
  });
  it("taking back our own Lease after a restart is no transition", () => {
    expect(acquirePatch(lease("r1", 3), "r1", 40, "T")).toHaveLength(4);
  });
});
