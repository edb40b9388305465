import { describe, expect, it } from "@jest/globals";
import { decodeRetryState, encodeRetryState, retryStoreName, RetryState } from "./retry-store";
import { Backoff } from "../async/primitives";

describe("retry state encoding", () => {
  const state: RetryState = {
    failures: { "biz1:1.0": { reason: "CMD_PROCESS_INTERNAL_ERROR", message: "boom" } },
    backoff: { "biz1:1.0": { failures: 3, until: 12345 } },
  };

  it("round-trips", () => {
    expect(decodeRetryState(encodeRetryState(state))).toEqual(state);
  });

  it.each([
    ["nothing stored", undefined],
    ["another version", { version: "0", state: "{}" }],
    ["garbage", { version: "1", state: "{not json" }],
  ])("reads %s as empty", (_what, data) => {
    expect(decodeRetryState(data)).toEqual({ failures: {}, backoff: {} });
  });

  it("names the object after the VNode, hashing names that would be too long", () => {
    expect(retryStoreName("vnode.10.0.0.1.dev")).toBe("koupleless-shard.vnode.10.0.0.1.dev");
    const long = retryStoreName(`vnode.${"a".repeat(250)}.dev`);
    expect(long.length).toBeLessThanOrEqual(253);
    expect(long).toMatch(/^koupleless-shard\.[0-9a-f]{40}$/);
  });
});

describe("Backoff snapshot", () => {
  it("restores what another process saved, without overwriting what this one knows", () => {
    const a = new Backoff(undefined, () => 0.5);
    a.fail("x", 0, true);
    a.fail("y", 0, true);
    const b = new Backoff(undefined, () => 0.5);
    b.fail("y", 100, false);
    b.restore(a.snapshot());
    expect(b.waitMs("x", 0)).toBe(a.waitMs("x", 0));
    expect(b.waitMs("y", 100)).toBe(1000); // its own transient backoff, not the saved one
  });
});
