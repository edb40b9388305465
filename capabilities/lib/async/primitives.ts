// Small scheduling primitives for biz operations: strict order per name:version, a bound on
// concurrent operations per base, and bounded exponential backoff with jitter.

/** Runs tasks with the same key one after another, in call order. */
export class KeyedSerial {
  private tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(task);
    this.tails.set(key, next);
    void next
      .catch(() => undefined)
      .finally(() => {
        if (this.tails.get(key) === next) this.tails.delete(key);
      });
    return next;
  }
}

/** At most `limit` tasks at once; the rest wait in FIFO order. */
export class Semaphore {
  private active = 0;
  private waiters: Array<() => void> = [];

  constructor(private limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    // a woken waiter inherits the finishing task's slot, so no newcomer can slip in between
    if (this.active >= this.limit) await new Promise<void>(res => this.waiters.push(res));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.waiters.shift();
      if (next) next();
      else this.active--;
    }
  }

  get inUse(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiters.length;
  }
}

export interface BackoffPolicy {
  /** First delay after a transient failure (the base did not answer). */
  transientMs: number;
  /** First delay after a terminal failure (the base answered: the biz cannot start). */
  terminalMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  transientMs: 1000,
  terminalMs: 5000,
  maxMs: 5 * 60_000,
};

/** Per-key exponential backoff: doubles per failure up to a cap, with ±20 % jitter. */
export class Backoff {
  private state = new Map<string, { failures: number; until: number }>();

  constructor(
    private policy: BackoffPolicy = DEFAULT_BACKOFF,
    private random: () => number = Math.random,
  ) {}

  /** Records a failure and returns the delay before the next attempt. */
  fail(key: string, now: number, terminal: boolean): number {
    const failures = (this.state.get(key)?.failures ?? 0) + 1;
    const first = terminal ? this.policy.terminalMs : this.policy.transientMs;
    const raw = Math.min(this.policy.maxMs, first * 2 ** (failures - 1));
    const delay = Math.min(this.policy.maxMs, Math.round(raw * (0.8 + 0.4 * this.random())));
    this.state.set(key, { failures, until: now + delay });
    return delay;
  }

  /** How long to wait before the next attempt (0 = go). */
  waitMs(key: string, now: number): number {
    return Math.max(0, (this.state.get(key)?.until ?? 0) - now);
  }

  reset(key: string): void {
    this.state.delete(key);
  }

  /** For persistence: every key's failure count and retry time. */
  snapshot(): Record<string, { failures: number; until: number }> {
    return Object.fromEntries(this.state);
  }

  /** Restores a snapshot, keeping what this process already learned. */
  restore(saved: Record<string, { failures: number; until: number }>): void {
    for (const [key, v] of Object.entries(saved)) if (!this.state.has(key)) this.state.set(key, v);
  }
}

/**
 * Calls fn every `ms`, the first time after a random part of `ms`: the timers of many VNodes
 * taken at once then spread over the period instead of firing in step (1000 health calls,
 * biz polls or pod LISTs in the same second). Returns the function that stops it.
 */
export function spreadInterval(fn: () => void, ms: number, random = Math.random): () => void {
  let every: NodeJS.Timeout | undefined;
  const first = setTimeout(
    () => {
      fn();
      every = setInterval(fn, ms);
    },
    Math.floor(random() * ms),
  );
  return () => {
    clearTimeout(first);
    clearInterval(every);
  };
}
