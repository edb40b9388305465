import { afterEach, beforeEach, describe, expect, it, jest } from "@jest/globals";
import {
  Backoff,
  BackoffPolicy,
  DEFAULT_BACKOFF,
  KeyedSerial,
  Semaphore,
  spreadInterval,
} from "./primitives";

interface Deferred<T = void> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}
function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise reaction run. */
const settle = () => new Promise<void>(res => setImmediate(res));

describe("KeyedSerial", () => {
  it("runs tasks with the same key strictly in call order", async () => {
    const serial = new KeyedSerial();
    const gates = [deferred(), deferred(), deferred()];
    const log: string[] = [];
    const runs = gates.map((g, i) =>
      serial.run("biz1:1.0.0", async () => {
        log.push(`start ${i}`);
        await g.promise;
        log.push(`end ${i}`);
        return i;
      }),
    );
    await settle();
    expect(log).toEqual(["start 0"]);
    // finishing a later task's gate first must not let it start early
    gates[2].resolve();
    gates[1].resolve();
    await settle();
    expect(log).toEqual(["start 0"]);
    gates[0].resolve();
    await expect(Promise.all(runs)).resolves.toEqual([0, 1, 2]);
    expect(log).toEqual(["start 0", "end 0", "start 1", "end 1", "start 2", "end 2"]);
  });

  it("does not let a failing task block the next one", async () => {
    const serial = new KeyedSerial();
    const log: string[] = [];
    const first = serial.run("k", async () => {
      log.push("first");
      throw new Error("install failed");
    });
    const second = serial.run("k", async () => {
      log.push("second");
      return "ok";
    });
    await expect(first).rejects.toThrow("install failed");
    await expect(second).resolves.toBe("ok");
    expect(log).toEqual(["first", "second"]);
  });

  it("keeps working for a key after its queue drained", async () => {
    const serial = new KeyedSerial();
    await expect(serial.run("k", async () => 1)).resolves.toBe(1);
    await settle();
    await expect(serial.run("k", async () => Promise.reject(new Error("x")))).rejects.toThrow("x");
    await settle();
    await expect(serial.run("k", async () => 3)).resolves.toBe(3);
  });

  it("runs tasks with different keys concurrently", async () => {
    const serial = new KeyedSerial();
    const a = deferred();
    const b = deferred();
    const started: string[] = [];
    const ra = serial.run("a:1", async () => {
      started.push("a");
      await a.promise;
    });
    const rb = serial.run("b:1", async () => {
      started.push("b");
      await b.promise;
    });
    await settle();
    expect(started).toEqual(["a", "b"]);
    b.resolve();
    await rb; // b finishes while a still runs
    a.resolve();
    await ra;
  });
});

/** A semaphore test harness: each task waits on its own gate and records concurrency. */
function harness(sem: Semaphore, n: number) {
  const gates = Array.from({ length: n }, () => deferred());
  const started: number[] = [];
  let active = 0;
  let max = 0;
  const runs = gates.map((g, i) =>
    sem.run(async () => {
      active++;
      max = Math.max(max, active);
      started.push(i);
      try {
        await g.promise;
      } finally {
        active--;
      }
      return i;
    }),
  );
  return { gates, started, runs, max: () => max };
}

describe("Semaphore", () => {
  it.each([1, 2, 3])("never runs more than %i tasks at once", async limit => {
    const sem = new Semaphore(limit);
    const h = harness(sem, 7);
    await settle();
    expect(h.started).toHaveLength(limit);
    expect(sem.inUse).toBe(limit);
    expect(sem.queued).toBe(7 - limit);
    // release in an order unrelated to the start order
    for (const i of [1, 0, 4, 2, 6, 3, 5]) {
      h.gates[i].resolve();
      await settle();
      expect(sem.inUse).toBeLessThanOrEqual(limit);
    }
    await expect(Promise.all(h.runs)).resolves.toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(h.max()).toBe(limit);
    expect(sem.inUse).toBe(0);
    expect(sem.queued).toBe(0);
  });

  it("runs waiters in FIFO order", async () => {
    const sem = new Semaphore(1);
    const h = harness(sem, 5);
    for (let i = 0; i < 5; i++) {
      await settle();
      expect(h.started).toEqual([0, 1, 2, 3, 4].slice(0, i + 1));
      h.gates[i].resolve();
    }
    await Promise.all(h.runs);
    expect(h.max()).toBe(1);
  });

  it("frees the slot when a task fails", async () => {
    const sem = new Semaphore(1);
    const failing = sem.run(async () => {
      throw new Error("boom");
    });
    const next = sem.run(async () => "next");
    await expect(failing).rejects.toThrow("boom");
    await expect(next).resolves.toBe("next");
    expect(sem.inUse).toBe(0);
  });

  // a run() made while a finishing task hands its slot to a waiter must not slip in between
  it("does not let a newcomer take a slot being handed to a waiter", async () => {
    const sem = new Semaphore(1);
    const done = deferred();
    let active = 0;
    let max = 0;
    const order: string[] = [];
    const task = (name: string, gate: Promise<void>) => async () => {
      active++;
      max = Math.max(max, active);
      order.push(name);
      try {
        await gate;
      } finally {
        active--;
      }
    };
    const hold = deferred();
    const first = sem.run(() => done.promise);
    const waiter = sem.run(task("waiter", hold.promise));
    let newcomer: Promise<void> | undefined;
    void done.promise.then(() => {
      newcomer = sem.run(task("newcomer", hold.promise));
    });
    done.resolve();
    await first;
    await settle();
    hold.resolve();
    await Promise.all([waiter, newcomer]);
    expect(max).toBe(1);
    expect(order).toEqual(["waiter", "newcomer"]);
  });
});

describe("Backoff", () => {
  const policy: BackoffPolicy = { transientMs: 100, terminalMs: 1000, maxMs: 5000 };
  const exact = () => 0.5; // jitter factor 0.8 + 0.4 * 0.5 = 1

  it.each([
    { name: "transient", terminal: false, want: [100, 200, 400, 800, 1600, 3200, 5000, 5000] },
    { name: "terminal", terminal: true, want: [1000, 2000, 4000, 5000, 5000] },
  ])("doubles $name delays per failure up to maxMs", ({ terminal, want }) => {
    const b = new Backoff(policy, exact);
    expect(want.map(() => b.fail("k", 0, terminal))).toEqual(want);
  });

  it("counts failures per key", () => {
    const b = new Backoff(policy, exact);
    expect(b.fail("a", 0, false)).toBe(100);
    expect(b.fail("a", 0, false)).toBe(200);
    expect(b.fail("b", 0, false)).toBe(100);
    expect(b.fail("c", 0, true)).toBe(1000);
  });

  it("keeps doubling across transient and terminal failures of one key", () => {
    const b = new Backoff(policy, exact);
    expect(b.fail("k", 0, false)).toBe(100);
    expect(b.fail("k", 0, true)).toBe(2000);
  });

  it("stays bounded after very many failures", () => {
    const b = new Backoff(policy, exact);
    let last = 0;
    for (let i = 0; i < 2000; i++) last = b.fail("k", 0, false);
    expect(last).toBe(5000);
  });

  it.each([
    { name: "low", random: () => 0, factor: 0.8 },
    { name: "high", random: () => 1, factor: 1.2 },
  ])("keeps $name jitter within ±20 %", ({ random, factor }) => {
    const b = new Backoff(policy, random);
    const got = [100, 200, 400, 800, 1600, 3200, 5000].map(() => b.fail("k", 0, false));
    // jitter never pushes a delay past maxMs
    expect(got).toEqual(
      [100, 200, 400, 800, 1600, 3200, 5000].map(d => Math.min(5000, Math.round(d * factor))),
    );
    const t = new Backoff(policy, random);
    expect(t.fail("t", 0, true)).toBe(Math.round(1000 * factor));
  });

  it("jitters within ±20 % with the default random source", () => {
    const b = new Backoff(policy);
    for (let i = 0; i < 200; i++) {
      const d = b.fail(`k${i}`, 0, true);
      expect(d).toBeGreaterThanOrEqual(800);
      expect(d).toBeLessThanOrEqual(1200);
    }
  });

  it("counts the wait down and reaches 0 when the delay is over", () => {
    const b = new Backoff(policy, exact);
    expect(b.waitMs("k", 1000)).toBe(0);
    expect(b.fail("k", 1000, false)).toBe(100);
    expect(b.waitMs("k", 1000)).toBe(100);
    expect(b.waitMs("k", 1060)).toBe(40);
    expect(b.waitMs("k", 1100)).toBe(0);
    expect(b.waitMs("k", 9999)).toBe(0);
    expect(b.waitMs("other", 1000)).toBe(0);
  });

  it("measures the wait from the latest failure", () => {
    const b = new Backoff(policy, exact);
    b.fail("k", 0, false);
    expect(b.fail("k", 500, false)).toBe(200);
    expect(b.waitMs("k", 600)).toBe(100);
  });

  it("reset clears the wait and the failure count", () => {
    const b = new Backoff(policy, exact);
    b.fail("k", 0, true);
    b.fail("k", 0, true);
    b.fail("other", 0, true);
    b.reset("k");
    expect(b.waitMs("k", 0)).toBe(0);
    expect(b.fail("k", 0, false)).toBe(100);
    expect(b.waitMs("other", 0)).toBe(1000);
  });

  it("uses the documented defaults", () => {
    expect(DEFAULT_BACKOFF).toEqual({ transientMs: 1000, terminalMs: 5000, maxMs: 300_000 });
    const b = new Backoff(undefined, exact);
    expect(b.fail("t", 0, false)).toBe(1000);
    expect(b.fail("x", 0, true)).toBe(5000);
  });
});

describe("spreadInterval", () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it("first fires after the random part of the period, then every period", () => {
    const calls: number[] = [];
    const start = Date.now();
    const stop = spreadInterval(
      () => calls.push(Date.now() - start),
      1000,
      () => 0.25,
    );
    jest.advanceTimersByTime(249);
    expect(calls).toEqual([]);
    jest.advanceTimersByTime(2001);
    expect(calls).toEqual([250, 1250, 2250]);
    stop();
    jest.advanceTimersByTime(5000);
    expect(calls).toHaveLength(3);
  });

  it("stops before its first call too", () => {
    const fn = jest.fn();
    spreadInterval(fn, 1000, () => 0.9)();
    jest.advanceTimersByTime(5000);
    expect(fn).not.toHaveBeenCalled();
  });
});
