import { describe, expect, it } from "@jest/globals";
import { cachedFor, withTimeout } from "./lookup";

/** A read that counts its calls and answers from `answers` (an Error rejects). */
function fakeRead(answers: Array<string | Error>) {
  const calls: string[] = [];
  const read = async (key: string) => {
    calls.push(key);
    const a = answers[calls.length - 1] ?? "last";
    if (a instanceof Error) throw a;
    return `${key}:${a}`;
  };
  return { read, calls };
}

describe("cachedFor", () => {
  const TTL = 5000;

  it.each([
    { name: "within the TTL: one read", at: [0, 4999], want: ["ns:1", "ns:1"], reads: 1 },
    { name: "at the TTL: read again", at: [0, 5000], want: ["ns:1", "ns:2"], reads: 2 },
    { name: "a clock going back: still cached", at: [100, 50], want: ["ns:1", "ns:1"], reads: 1 },
  ])("$name", async ({ at, want, reads }) => {
    const { read, calls } = fakeRead(["1", "2"]);
    let t = 0;
    const get = cachedFor(read, TTL, () => t);
    const got: string[] = [];
    for (const now of at) {
      t = now;
      got.push(await get("ns"));
    }
    expect(got).toEqual(want);
    expect(calls.length).toBe(reads);
  });

  it("concurrent callers share the read in flight", async () => {
    const { read, calls } = fakeRead(["1"]);
    const get = cachedFor(read, TTL, () => 0);
    expect(await Promise.all([get("ns"), get("ns"), get("ns")])).toEqual(["ns:1", "ns:1", "ns:1"]);
    expect(calls).toEqual(["ns"]);
  });

  it("keys are cached apart", async () => {
    const { read, calls } = fakeRead(["1", "2"]);
    const get = cachedFor(read, TTL, () => 0);
    expect([await get("a"), await get("b"), await get("a")]).toEqual(["a:1", "b:2", "a:1"]);
    expect(calls).toEqual(["a", "b"]);
  });

  it("a failure is not remembered: the next call reads again", async () => {
    const { read, calls } = fakeRead([new Error("boom"), "2"]);
    const get = cachedFor(read, TTL, () => 0);
    await expect(get("ns")).rejects.toThrow("boom");
    expect(await get("ns")).toBe("ns:2");
    expect(calls.length).toBe(2);
  });
});

describe("withTimeout", () => {
  const after = (ms: number, v: string) => new Promise<string>(r => setTimeout(() => r(v), ms));

  it("passes a quick answer through", async () => {
    expect(await withTimeout(after(1, "ok"), 1000, "GET namespace")).toBe("ok");
  });

  it("passes a quick failure through", async () => {
    await expect(withTimeout(Promise.reject(new Error("403")), 1000, "x")).rejects.toThrow("403");
  });

  it("gives up on a slow one, saying what timed out", async () => {
    await expect(withTimeout(after(200, "late"), 10, "GET namespace")).rejects.toThrow(
      "GET namespace timed out after 10 ms",
    );
  });
});
