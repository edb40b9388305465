// The health of one owned VNode: polls the base's /health, notices when it falls silent, and
// keeps the Node status true, writing it only when what it says changes.
import type { V1Node, V1NodeStatus } from "@kubernetes/client-node";
import { ArkletUnreachable, HealthData } from "../arklet/client";
import { spreadInterval } from "../async/primitives";
import { Config } from "../config";
import { errText } from "../errors";
import { apiRequest, MERGE_PATCH, paths } from "../kube/api";
import type { Logger } from "../logger";
import type { BaseStatus } from "../tunnel/heartbeat";
import type { BaseCommands, BaseRef } from "../tunnel/seam";
import { desiredStatus, fingerprint, withTimes } from "./node";

const LIVENESS_CHECK_MS = 3000;

/** The Node status reads and writes health needs (real ones by default, fakes in tests). */
export interface NodeStatusApi {
  read(name: string): Promise<V1NodeStatus | undefined>;
  write(name: string, status: V1NodeStatus): Promise<void>;
}

export const kubeNodeStatus: NodeStatusApi = {
  read: async name => (await apiRequest<V1Node>("GET", paths.node(name))).status,
  write: async (name, status) => {
    await apiRequest("PATCH", `${paths.node(name)}/status`, { status }, MERGE_PATCH);
  },
};

export interface HealthDeps {
  name: string;
  cfg: Config;
  log: Logger;
  commands: BaseCommands;
  /** False when this replica may no longer talk to the base (its Lease is lost or stale). */
  mayAct: () => boolean;
  /** The base stayed silent past the VNode TTL: delete its VNode. */
  expire: (name: string) => Promise<void>;
  api?: NodeStatusApi;
}

export class NodeHealth {
  base: BaseStatus;
  /** Last time the base spoke to us: a heartbeat here or an answer to /health. */
  private lastSeen = Date.now();
  private health?: HealthData;
  private busy = false;
  /** The /health call on the wire, if any: a handover waits for it. */
  private polling?: Promise<void>;
  private timers: Array<() => void> = [];
  private api: NodeStatusApi;

  constructor(
    private deps: HealthDeps,
    base: BaseStatus,
    /** The fingerprint of the status the Node has now. */
    private written: string,
  ) {
    this.base = base;
    this.api = deps.api ?? kubeNodeStatus;
  }

  get name(): string {
    return this.deps.name;
  }

  /** Where commands reach the base now (the address may change with a heartbeat). */
  ref(): BaseRef {
    const b = this.base;
    const ref = { identity: b.baseMetadata.identity, ip: b.localIP, port: b.port };
    return b.tunnel ? { ...ref, tunnel: b.tunnel } : ref;
  }

  /**
   * Seconds since the base last spoke, counted from when the tunnel could hear it at all;
   * undefined while the tunnel hears nothing (a broker down): that says nothing about the base.
   */
  private silentSeconds(): number | undefined {
    const sight = this.deps.commands.sightSince(this.ref());
    if (sight === undefined) return undefined;
    return (Date.now() - Math.max(this.lastSeen, sight)) / 1000;
  }

  /** The base spoke (a heartbeat this replica accepted). */
  heard(base: BaseStatus): void {
    this.base = base;
    this.lastSeen = Date.now();
  }

  start(): void {
    this.every(this.deps.cfg.healthPollSeconds * 1000, () => (this.polling = this.poll()));
    this.every(LIVENESS_CHECK_MS, () => this.checkLiveness());
  }

  stop(): void {
    this.timers.forEach(stop => stop());
    this.timers = [];
  }

  /** Waits for the /health call on the wire, if any. */
  async settle(): Promise<void> {
    await this.polling?.catch(() => undefined);
  }

  private every(ms: number, fn: () => Promise<void>): void {
    const tick = (): void => {
      fn().catch(err =>
        this.deps.log.error({ vnode: this.name, err: errText(err) }, "VNode health step failed"),
      );
    };
    this.timers.push(spreadInterval(tick, ms));
    tick(); // at once: after a restart the Node must not wait a whole period
  }

  async poll(): Promise<void> {
    if (this.busy || !this.deps.mayAct()) return;
    this.busy = true;
    try {
      const res = await this.deps.commands.health(this.ref(), this.deps.cfg.arkletTimeoutMs);
      if (res.code === "SUCCESS") {
        this.health = res.data;
        this.lastSeen = Date.now();
      }
    } catch (err) {
      if (!(err instanceof ArkletUnreachable)) throw err;
    } finally {
      this.busy = false;
    }
    await this.syncStatus();
  }

  async checkLiveness(): Promise<void> {
    const silent = this.silentSeconds();
    if (silent === undefined) return;
    if (silent > this.deps.cfg.vnodeTtlSeconds) {
      this.deps.log.warn(
        { vnode: this.name, silentSeconds: Math.round(silent) },
        "base silent past the VNode TTL: deleting its VNode",
      );
      await this.deps.expire(this.name);
      return;
    }
    await this.syncStatus();
  }

  private async syncStatus(): Promise<void> {
    const seconds = this.silentSeconds();
    if (seconds === undefined) return;
    const silent = Math.round(seconds);
    const reachable = silent <= this.deps.cfg.unreachableSeconds;
    const address = `${this.base.localIP}:${this.base.port}`;
    const liveness = { reachable, silentSeconds: silent, address };
    const desired = desiredStatus(this.base, this.health, liveness);
    const fp = fingerprint(desired);
    if (fp === this.written) return;
    if (!this.health && reachable) return; // adopted or new: keep what is there until the base answers
    const status = withTimes(desired, await this.api.read(this.name), new Date());
    await this.api.write(this.name, status);
    if (this.written !== "" || !reachable) {
      this.deps.log.info(
        { vnode: this.name, ready: reachable },
        reachable ? "base answers: VNode Ready" : "base silent: VNode NotReady",
      );
    }
    this.written = fp;
  }
}
