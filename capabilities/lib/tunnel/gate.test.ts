import { describe, expect, it } from "@jest/globals";
import type { V1Node } from "@kubernetes/client-node";
import {
  Binding,
  bindingOf,
  Facts,
  HeartbeatGate,
  judge,
  RateLimiter,
  TokenBucket,
  takeoverAllowed,
} from "./gate";

const LIM = { unreachableMs: 25_000, maxVNodes: 3 };
const bound = (ip: string, verdict: Binding["verdict"] = "answers", since = 0): Binding => ({
  ip,
  verdict,
  since,
  local: false,
});
const hb = (ip: string, activated = true, now = 100_000): Facts => ({
  identity: "base-a",
  ip,
  activated,
  now,
});

describe("judge", () => {
  type Case = [string, Facts, Binding | undefined, number, number | string];
  const cases: Case[] = [
    ["a new identity under the cap", hb("10.0.0.1"), undefined, 2, "new"],
    ["a new identity at the cap", hb("10.0.0.1"), undefined, 3, 429],
    ["the bound address", hb("10.0.0.1"), bound("10.0.0.1"), 3, "known"],
    ["another address while the bound one answers", hb("10.0.0.9"), bound("10.0.0.1"), 1, 409],
    [
      "another address once the bound one is unreachable",
      hb("10.0.0.9"),
      bound("10.0.0.1", "unreachable"),
      1,
      "moved",
    ],
    [
      "another address while the bound one is new and silent",
      hb("10.0.0.9", true, 20_000),
      bound("10.0.0.1", "none", 0),
      1,
      409,
    ],
    [
      "another address once the bound one stayed silent past the threshold",
      hb("10.0.0.9", true, 30_000),
      bound("10.0.0.1", "none", 0),
      1,
      "moved",
    ],
    ["a goodbye from the bound address", hb("10.0.0.1", false), bound("10.0.0.1"), 1, "goodbye"],
    ["a goodbye from another address", hb("10.0.0.9", false), bound("10.0.0.1"), 1, 403],
    [
      "a goodbye from another address, even for an unreachable base",
      hb("10.0.0.9", false),
      bound("10.0.0.1", "unreachable"),
      1,
      403,
    ],
    ["a goodbye for an unknown identity", hb("10.0.0.9", false), undefined, 3, "stranger-goodbye"],
  ];
  it.each(cases)("%s", (...[, facts, binding, count, want]: Case) => {
    const v = judge(facts, binding, count, LIM);
    if (typeof want === "number") expect(v).toMatchObject({ ok: false, status: want });
    else expect(v).toEqual({ ok: true, kind: want });
  });

  it("says why, naming the address, the threshold and the setting", () => {
    const v = judge(hb("10.0.0.9"), bound("10.0.0.1"), 1, LIM);
    expect(v.ok ? "" : v.reason).toBe(
      "base-a is bound to 10.0.0.1, which still answers: another address takes it over only after 10.0.0.1 has been unreachable for 25s (KOUPLELESS_UNREACHABLE_SECONDS)",
    );
    const cap = judge(hb("10.0.0.1"), undefined, 3, LIM);
    expect(cap.ok ? "" : cap.reason).toContain("KOUPLELESS_MAX_VNODES=3");
    const bye = judge(hb("10.0.0.9", false), bound("10.0.0.1"), 1, LIM);
    expect(bye.ok ? "" : bye.reason).toContain("must come from its own address 10.0.0.1");
  });
});

describe("takeoverAllowed", () => {
  it("only for an unreachable or long-silent binding", () => {
    expect(takeoverAllowed(bound("a", "answers"), 1e9, 1)).toBe(false);
    expect(takeoverAllowed(bound("a", "unreachable"), 0, 1e9)).toBe(true);
    expect(takeoverAllowed(bound("a", "none", 100), 200, 100)).toBe(false);
    expect(takeoverAllowed(bound("a", "none", 100), 201, 100)).toBe(true);
  });
});

function node(ip: string | undefined, ready?: { status: string; reason: string; message: string }) {
  return {
    metadata: {
      name: "vnode.base-a.dev",
      creationTimestamp: new Date(5000),
      annotations: ip ? { "koupleless-pepr.io/base-address": ip } : {},
    },
    status: { conditions: ready ? [{ type: "Ready", ...ready }] : [] },
  } as unknown as V1Node;
}

describe("bindingOf", () => {
  it("reads the address and the owner's verdict on that address", () => {
    const down = {
      status: "False",
      reason: "BaseUnreachable",
      message: "Arklet at 10.0.0.1:1238 has not answered for 30s",
    };
    const up = { status: "True", reason: "BaseReady", message: "Arklet at 10.0.0.1:1238 answers" };
    expect(bindingOf(node("10.0.0.1", down))).toEqual({
      ip: "10.0.0.1",
      verdict: "unreachable",
      since: 5000,
      local: false,
    });
    expect(bindingOf(node("10.0.0.1", up))?.verdict).toBe("answers");
    expect(bindingOf(node("10.0.0.1"))?.verdict).toBe("none");
    // just moved: the NotReady is about the old address, not a verdict on the new one
    expect(bindingOf(node("10.0.0.2", down))?.verdict).toBe("answers");
    expect(bindingOf(node(undefined, up))).toBeUndefined();
  });
});

describe("TokenBucket", () => {
  it("allows a burst of perMinute, then refills evenly", () => {
    const b = new TokenBucket(60, 0);
    for (let i = 0; i < 60; i++) expect(b.take(0)).toBe(true);
    expect(b.take(0)).toBe(false);
    expect(b.take(999)).toBe(false);
    expect(b.take(1000)).toBe(true);
    expect(b.take(1000)).toBe(false);
  });
});

describe("RateLimiter", () => {
  it("refuses a second heartbeat inside the interval, per identity", () => {
    const r = new RateLimiter(1000);
    expect(r.allow("a", 0)).toBe(true);
    expect(r.allow("a", 500)).toBe(false);
    expect(r.allow("b", 500)).toBe(true);
    expect(r.allow("a", 1000)).toBe(true);
  });
  it("keeps only the identities heard within one interval", () => {
    const r = new RateLimiter(1000);
    for (let i = 0; i < 5000; i++) r.allow(`id-${i}`, i % 1000);
    expect(r.size).toBe(5000);
    r.allow("late", 5000);
    expect(r.size).toBe(1);
  });
});

describe("HeartbeatGate", () => {
  const opts = { ...LIM, minIntervalMs: 1000, newBasesPerMinute: 2 };
  const f = (identity: string, ip: string, now: number, activated = true): Facts => ({
    identity,
    ip,
    now,
    activated,
  });

  it("binds a new identity to its address, then refuses another address for it", () => {
    const g = new HeartbeatGate(opts, 0);
    expect(g.check(f("a", "10.0.0.1", 0))).toEqual({ ok: true, kind: "new" });
    expect(g.check(f("a", "10.0.0.1", 2000))).toEqual({ ok: true, kind: "known" });
    expect(g.check(f("a", "10.0.0.9", 4000))).toMatchObject({ ok: false, status: 409 });
    expect(g.check(f("a", "10.0.0.9", 6000, false))).toMatchObject({ ok: false, status: 403 });
    expect(g.binding("a")?.ip).toBe("10.0.0.1");
  });

  it("limits new identities per minute and the number of VNodes", () => {
    const g = new HeartbeatGate(opts, 0);
    expect(g.check(f("a", "10.0.0.1", 0)).ok).toBe(true);
    expect(g.check(f("b", "10.0.0.2", 0)).ok).toBe(true);
    const third = g.check(f("c", "10.0.0.3", 0));
    expect(third).toMatchObject({ ok: false, status: 429 });
    expect(third.ok ? "" : third.reason).toContain("KOUPLELESS_NEW_BASES_PER_MINUTE");
    expect(g.check(f("c", "10.0.0.3", 60_000)).ok).toBe(true);
    const fourth = g.check(f("d", "10.0.0.4", 120_000));
    expect(fourth.ok ? "" : fourth.reason).toContain("KOUPLELESS_MAX_VNODES");
  });

  it("spaces heartbeats per identity but never a goodbye", () => {
    const g = new HeartbeatGate(opts, 0);
    g.check(f("a", "10.0.0.1", 0));
    expect(g.check(f("a", "10.0.0.1", 10))).toMatchObject({ ok: false, status: 429 });
    expect(g.check(f("a", "10.0.0.1", 20, false))).toEqual({ ok: true, kind: "goodbye" });
    expect(g.size).toBe(0);
  });

  it("follows the VNode list but keeps what it accepted after the list started", () => {
    const g = new HeartbeatGate(opts, 0);
    g.check(f("fresh", "10.0.0.5", 1000));
    const listed = { identity: "a", node: node("10.0.0.1") };
    g.sync([listed], 500);
    expect(g.binding("a")?.ip).toBe("10.0.0.1");
    expect(g.binding("fresh")?.local).toBe(true);
    // still not listed five minutes later: its Node was never made, so it loses its place
    g.sync([listed], 1000 + 5 * 60_000);
    expect(g.binding("fresh")).toBeUndefined();
    g.sync([], 2000 + 5 * 60_000);
    expect(g.size).toBe(0);
  });
});
