// The retry state of a VNode's module worker: install failures and their backoff, so a
// restarted or new owner keeps retrying a broken biz slowly instead of hot, and the pods keep
// showing why. One PeprStore object per VNode in the module's namespace, written only by the
// VNode's owner with resourceVersion preconditions, never through Pepr's Store API (its
// debounced, last-writer-wins flushes lose writes: see shared/reference/pepr-notes.md).
// Everything else is recomputed from cluster and base state, so correctness never rests on it.
import { createHash } from "node:crypto";
import { applyObject, apiRequest, deleteIfPresent, paths } from "../kube/api";
import { COMPONENT_VNODE_SHARD, LABEL_COMPONENT, LABEL_ENV } from "../contract";
import type { InstallFailure } from "./status";
import { errText, isConflict, isNotFound } from "../errors";
import type { Logger } from "../logger";

interface RetryRecord {
  metadata?: { resourceVersion?: string };
  data?: Record<string, string>;
}

export interface RetryState {
  failures: Record<string, InstallFailure>;
  backoff: Record<string, { failures: number; until: number }>;
}

export const RETRY_STATE_VERSION = "1";

/** The object name for a VNode's shard: readable, hashed when it would be too long. */
export function retryStoreName(vnode: string): string {
  const name = `koupleless-shard.${vnode}`;
  if (name.length <= 253) return name;
  return `koupleless-shard.${createHash("sha256").update(vnode).digest("hex").slice(0, 40)}`;
}

export function encodeRetryState(state: RetryState): Record<string, string> {
  return { version: RETRY_STATE_VERSION, state: JSON.stringify(state) };
}

/** Decodes a stored shard; anything unreadable is treated as empty (it is only a cache of retries). */
export function decodeRetryState(data: Record<string, string> | undefined): RetryState {
  const empty: RetryState = { failures: {}, backoff: {} };
  if (!data || data.version !== RETRY_STATE_VERSION) return empty;
  try {
    const s = JSON.parse(data.state ?? "{}") as Partial<RetryState>;
    return { failures: s.failures ?? {}, backoff: s.backoff ?? {} };
  } catch {
    return empty;
  }
}

const WRITE_DELAY_MS = 250;

export class RetryStore {
  private rv?: string;
  private pending?: RetryState;
  private timer?: NodeJS.Timeout;
  private writing = Promise.resolve();
  /** Set once the VNode is gone: no write may recreate the object after its deletion. */
  private deleted = false;
  readonly name: string;

  constructor(
    private vnode: string,
    private opts: { namespace: string; env: string; log: Logger },
  ) {
    this.name = retryStoreName(vnode);
  }

  async load(): Promise<RetryState> {
    try {
      const rec = await apiRequest<RetryRecord>("GET", this.path());
      this.rv = rec.metadata?.resourceVersion;
      return decodeRetryState(rec.data);
    } catch (err) {
      if (!isNotFound(err))
        this.opts.log.warn(
          { vnode: this.vnode, err: errText(err) },
          "could not read the queue shard",
        );
      return decodeRetryState(undefined);
    }
  }

  /** Saves soon, off the caller's path; bursts collapse into one write. */
  save(state: RetryState): void {
    if (this.deleted) return;
    this.pending = state;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.chainFlush();
    }, WRITE_DELAY_MS);
  }

  /** Writes what is pending now and waits for it (a handover must leave the shard saved). */
  async flushNow(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.chainFlush();
    }
    await this.writing;
  }

  private chainFlush(): void {
    this.writing = this.writing
      .then(() => this.flush())
      .catch(err =>
        this.opts.log.warn(
          { vnode: this.vnode, err: errText(err) },
          "could not save the queue shard",
        ),
      );
  }

  private async flush(): Promise<void> {
    const state = this.pending;
    if (!state || this.deleted) return;
    this.pending = undefined;
    try {
      await this.write(state);
    } catch (err) {
      if (!isConflict(err)) throw err;
      await this.load(); // someone else wrote (a previous owner): take its version and write ours
      if (!this.deleted) await this.write(state);
    }
  }

  private async write(state: RetryState): Promise<void> {
    const rec = await applyObject<RetryRecord>(this.path(), {
      apiVersion: "pepr.dev/v1",
      kind: "PeprStore",
      metadata: {
        name: this.name,
        namespace: this.opts.namespace,
        labels: { [LABEL_COMPONENT]: COMPONENT_VNODE_SHARD, [LABEL_ENV]: this.opts.env },
        annotations: { "koupleless-pepr.io/vnode": this.vnode },
        ...(this.rv ? { resourceVersion: this.rv } : {}),
      },
      data: encodeRetryState(state),
    });
    this.rv = rec.metadata?.resourceVersion;
  }

  async delete(): Promise<void> {
    this.deleted = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
    await this.writing; // a write already on the wire must land before the delete, not after
    await deleteIfPresent(this.path());
  }

  private path(): string {
    return paths.peprStore(this.opts.namespace, this.name);
  }
}
