// Heartbeat work that needs the API server (create or relabel a Node, create its Lease, delete
// it on a goodbye), taken off the request path: a heartbeat is answered at once and its work
// waits here. Only the newest item per identity is kept, a bounded number run at a time, and
// a failed item is retried with backoff unless a newer heartbeat replaced it.
import { Backoff } from "../async/primitives";

/** Retries of Node and Lease writes: soon at first, at most every 30 s while the API is down. */
const INTAKE_BACKOFF = { transientMs: 500, terminalMs: 500, maxMs: 30_000 };

export class Intake<T> {
  private pending = new Map<string, T>();
  private running = new Set<string>();
  private backoff = new Backoff(INTAKE_BACKOFF);
  private timer?: NodeJS.Timeout;
  private timerDue = 0;
  private stopped = false;

  constructor(
    private work: (key: string, item: T) => Promise<void>,
    private limit: number,
    private hooks: {
      onError: (key: string, err: unknown) => void;
      /** Told the number of items waiting or running whenever it changes. */
      onSize?: (n: number) => void;
    },
  ) {}

  /** Queues the item, replacing an older one for the same key that has not started. */
  push(key: string, item: T): void {
    this.pending.set(key, item);
    this.pump();
    this.hooks.onSize?.(this.size);
  }

  /** Items waiting or running. */
  get size(): number {
    return this.pending.size + this.running.size;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private pump(): void {
    if (this.stopped) return;
    const now = Date.now();
    for (const [key, item] of this.pending) {
      if (this.running.size >= this.limit) return;
      if (this.running.has(key)) continue;
      const wait = this.backoff.waitMs(key, now);
      if (wait > 0) this.wake(wait);
      else this.run(key, item);
    }
  }

  private run(key: string, item: T): void {
    this.pending.delete(key);
    this.running.add(key);
    this.work(key, item)
      .then(
        () => this.backoff.reset(key),
        err => {
          this.hooks.onError(key, err);
          this.backoff.fail(key, Date.now(), false);
          if (!this.pending.has(key)) this.pending.set(key, item);
        },
      )
      .finally(() => {
        this.running.delete(key);
        this.pump();
        this.hooks.onSize?.(this.size);
      })
      .catch(() => undefined);
  }

  /** One timer for the earliest retry that is due. */
  private wake(ms: number): void {
    const due = Date.now() + ms;
    if (this.timer && this.timerDue <= due) return;
    clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, ms);
  }
}
