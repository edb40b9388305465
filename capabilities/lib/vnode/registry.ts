// VNode lifecycle at run time: heartbeats create VNodes (any replica, idempotently); for the
// VNodes this replica owns (ShardOwnership holds and renews their Leases), a worker polls
// /health and keeps the Node status true, marks it NotReady when the base goes silent, and
// deletes it past the TTL.
import { errText } from "../errors";
import type { V1Node, V1NodeStatus } from "@kubernetes/client-node";
import { Config } from "../config";
import { ANNOTATION_BASE_ADDRESS, identityOfVNode, MODULE_NAMESPACE, vnodeName } from "../contract";
import {
  apiRequest,
  applyObject,
  deleteIfPresent,
  getIfPresent,
  JSON_PATCH,
  MERGE_PATCH,
  paths,
} from "../kube/api";
import type { Logger } from "../logger";
import { OwnerHooks, ShardOwnership } from "../shards/ownership";
import { ArkletClient, ArkletUnreachable, HealthData } from "../arklet/client";
import { BaseStatus } from "../tunnel/heartbeat";
import { ModuleWorker } from "../modules/worker";
import { ShardStore } from "../queue/shard";
import { spreadInterval } from "../queue/primitives";
import { podKey } from "../modules/biz";
import type { V1Pod } from "@kubernetes/client-node";
import { bindingOf, HeartbeatGate, takeoverAllowed } from "../tunnel/gate";
import { intakeBacklog } from "../metrics";
import { Intake } from "./intake";
import {
  baseFromVNode,
  buildVNode,
  desiredStatus,
  fingerprint,
  LEASE_NAMESPACE,
  metadataPatch,
  vnodeLabels,
  withTimes,
} from "./node";

export type { Logger };

const getNode = (name: string) => getIfPresent<V1Node>(paths.node(name));

/** What this replica last made sure of for a base: its labels and address. */
const seenKey = (base: BaseStatus, env: string) =>
  JSON.stringify([vnodeLabels(base, env), base.localIP]);

interface Tracked {
  name: string;
  modules?: ModuleWorker;
  base: BaseStatus;
  /** Last time the base spoke to us: a heartbeat here or an answer to /health. */
  lastSeen: number;
  health?: HealthData;
  written: string;
  /** Stops its periodic timers. */
  timers: Array<() => void>;
  busy: boolean;
  /** The /health call on the wire, if any: a handover waits for it. */
  polling?: Promise<void>;
}

const LIVENESS_CHECK_MS = 3000;
/** Node and Lease writes for heartbeats in flight at once (the API client has 32 connections). */
const INTAKE_PARALLEL = 8;
/** A base that keeps heartbeating here is re-checked against its Node this often. */
const RECHECK_MS = 5 * 60_000;

/**
 * Any replica turns heartbeats into Nodes and Leases; only the VNodes this replica owns (see
 * ShardOwnership) are tracked here, each with its timers and module worker.
 */
export class VNodeRegistry implements OwnerHooks {
  private nodes = new Map<string, Tracked>();
  /** What this replica last made sure of for each base it hears from: labels and address. */
  private seen = new Map<string, { key: string; at: number }>();
  /** Every module pod bound to a VNode, by node name, so a worker starts with what is there. */
  private podsByNode = new Map<string, Map<string, V1Pod>>();
  private readonly arklet: ArkletClient;
  readonly ownership: ShardOwnership;
  private intake: Intake<{ base: BaseStatus; activated: boolean }>;

  constructor(
    private cfg: Config,
    private log: Logger,
    private gate?: HeartbeatGate,
  ) {
    this.arklet = new ArkletClient(`koupleless-pepr/${cfg.replicaId}`);
    this.ownership = new ShardOwnership(cfg, log, this);
    this.intake = new Intake(
      (_name, { base, activated }) => this.record(base, activated),
      INTAKE_PARALLEL,
      {
        onError: (name, err) =>
          log.warn({ vnode: name, err: errText(err) }, "heartbeat not recorded yet; retrying"),
        onSize: n => intakeBacklog.set(n),
      },
    );
  }

  /** Joins the replica set; our own Leases from before a restart come back at once (no flap). */
  async start(): Promise<void> {
    await this.ownership.start();
  }

  /** A module pod changed; its VNode's worker (if this replica owns it) takes it from here. */
  onModulePod(pod: V1Pod, deleted: boolean): void {
    const node = pod.spec?.nodeName;
    if (!node) return;
    const pods = this.podsByNode.get(node) ?? new Map<string, V1Pod>();
    this.podsByNode.set(node, pods);
    if (deleted) pods.delete(podKey(pod));
    else pods.set(podKey(pod), pod);
    this.nodes.get(node)?.modules?.onPod(pod, deleted);
  }

  /** Graceful: hands every VNode to a peer first. Otherwise stops at once (Leases expire). */
  async stop(graceful: boolean): Promise<void> {
    this.intake.stop();
    if (graceful) await this.ownership.stop();
    else this.ownership.halt();
    for (const t of this.nodes.values()) this.untrack(t).modules?.stop();
    this.nodes.clear();
    await this.arklet.close();
  }

  /**
   * Called by the tunnel for every accepted heartbeat; never waits on the API server. A known
   * base whose labels and address are unchanged costs nothing; anything else is queued.
   */
  onHeartbeat(base: BaseStatus, activated: boolean): void {
    const name = vnodeName(base.baseMetadata.identity, this.cfg.env);
    if (activated) {
      // a new address takes effect only once the Node agrees (record, below)
      const t = this.nodes.get(name);
      if (t && t.base.localIP === base.localIP) this.heard(t, base);
      const last = this.seen.get(name);
      if (last && last.key === seenKey(base, this.cfg.env) && Date.now() - last.at <= RECHECK_MS)
        return;
    }
    this.intake.push(name, { base, activated });
  }

  /** The API side of a heartbeat (from the intake queue): Node and Lease, or their deletion. */
  private async record(base: BaseStatus, activated: boolean): Promise<void> {
    const name = vnodeName(base.baseMetadata.identity, this.cfg.env);
    if (!activated) {
      await this.goodbye(name, base.localIP);
    } else {
      // Node and Lease first: the owner's worker writes to both
      if (!(await this.ensureNode(base))) return;
      const t = this.nodes.get(name);
      if (t) this.heard(t, base);
      await this.ensureLease(name, base);
      this.seen.set(name, { key: seenKey(base, this.cfg.env), at: Date.now() });
    }
  }

  private heard(t: Tracked, base: BaseStatus): void {
    t.base = base;
    t.lastSeen = Date.now();
  }

  /** Deletes the VNode, but only if it is still bound to the address the goodbye came from. */
  private async goodbye(name: string, ip: string): Promise<void> {
    const node = await getNode(name);
    const bound = node?.metadata?.annotations?.[ANNOTATION_BASE_ADDRESS];
    if (node && bound !== ip) {
      this.log.warn({ vnode: name, from: ip, bound }, "goodbye from another address: ignored");
      return;
    }
    this.log.info({ vnode: name }, "base sent a DEACTIVATED heartbeat: deleting its VNode");
    await this.remove(name);
  }

  // ---------- ownership hooks ----------

  take(name: string, node: V1Node): void {
    const base = baseFromVNode(node);
    if (this.nodes.has(name) || !base) return;
    const t: Tracked = {
      name,
      base,
      lastSeen: Date.now(),
      written: fingerprint(node.status),
      timers: [],
      busy: false,
    };
    this.nodes.set(name, t);
    this.startWorker(t);
  }

  async drop(name: string, how: "release" | "lost" | "gone"): Promise<void> {
    const t = this.nodes.get(name);
    if (!t) return;
    this.nodes.delete(name);
    this.untrack(t);
    if (how === "lost") t.modules?.stop();
    if (how === "gone") await t.modules?.forget();
    if (how === "release") {
      await t.polling?.catch(() => undefined);
      await t.modules?.drain(this.cfg.drainSeconds * 1000);
    }
  }

  refresh(name: string, node: V1Node): void {
    const t = this.nodes.get(name);
    const base = baseFromVNode(node);
    if (!t || !base) return;
    if (t.base.localIP !== base.localIP || t.base.port !== base.port) t.base = base;
  }

  /** Every VNode, as listed by a LIST that started at listedAt. */
  listed(nodes: Map<string, V1Node>, listedAt: number): void {
    for (const name of this.seen.keys()) if (!nodes.has(name)) this.seen.delete(name);
    const bound = [...nodes.values()].flatMap(node => {
      const identity = baseFromVNode(node)?.baseMetadata.identity;
      return identity === undefined ? [] : [{ identity, node }];
    });
    this.gate?.sync(bound, listedAt);
  }

  // ---------- tracking and timers ----------

  private startWorker(t: Tracked): void {
    const every = (ms: number, fn: () => Promise<void>) => {
      const tick = (): void => {
        fn().catch(err =>
          this.log.error({ vnode: t.name, err: errText(err) }, "VNode worker step failed"),
        );
      };
      t.timers.push(spreadInterval(tick, ms));
      tick(); // at once: after a restart the Lease must not wait a whole period
    };
    every(this.cfg.healthPollSeconds * 1000, () => (t.polling = this.pollHealth(t)));
    every(LIVENESS_CHECK_MS, () => this.checkLiveness(t));
    const address = () => ({ ip: t.base.localIP, port: t.base.port });
    const shard = new ShardStore(t.name, {
      namespace: MODULE_NAMESPACE,
      env: this.cfg.env,
      log: this.log,
    });
    t.modules = new ModuleWorker({
      shard,
      mayAct: () => this.ownership.owns(t.name),
      vnode: t.name,
      base: address,
      arklet: this.arklet,
      cfg: this.cfg,
      log: this.log,
    });
    for (const pod of this.podsByNode.get(t.name)?.values() ?? []) t.modules.onPod(pod, false);
    t.modules.start();
  }

  private async checkLiveness(t: Tracked): Promise<void> {
    const silent = (Date.now() - t.lastSeen) / 1000;
    if (silent > this.cfg.vnodeTtlSeconds) {
      this.log.warn(
        { vnode: t.name, silentSeconds: Math.round(silent) },
        "base silent past the VNode TTL: deleting its VNode",
      );
      await this.remove(t.name);
      return;
    }
    await this.syncStatus(t);
  }

  private async pollHealth(t: Tracked): Promise<void> {
    if (t.busy || !this.ownership.owns(t.name)) return;
    t.busy = true;
    try {
      const res = await this.arklet.health(
        { ip: t.base.localIP, port: t.base.port },
        this.cfg.arkletTimeoutMs,
      );
      if (res.code === "SUCCESS") {
        t.health = res.data;
        t.lastSeen = Date.now();
      }
    } catch (err) {
      if (!(err instanceof ArkletUnreachable)) throw err;
    } finally {
      t.busy = false;
    }
    await this.syncStatus(t);
  }

  // ---------- Kubernetes writes ----------

  /** Creates the Node, or patches only our labels and annotation: never re-sends taints the node-lifecycle controller may have added. */
  private async ensureNode(base: BaseStatus): Promise<boolean> {
    const want = buildVNode(base, this.cfg.env);
    const name = want.metadata?.name ?? "";
    const node = await getNode(name);
    if (!node) {
      await applyObject(paths.node(name), want);
      this.log.info({ vnode: name }, "created VNode");
      return true;
    }
    if (!this.mayRebind(node, base)) return false;
    const patch = metadataPatch(node, want);
    if (patch.length > 0) await apiRequest("PATCH", paths.node(name), patch, JSON_PATCH);
    return true;
  }

  /**
   * The gate judged this heartbeat on a view up to one LIST old; the Node itself decides. A Node
   * bound to another address that still answers keeps it, and the gate learns the binding.
   */
  private mayRebind(node: V1Node, base: BaseStatus): boolean {
    const bound = bindingOf(node);
    if (!bound || bound.ip === base.localIP) return true;
    if (takeoverAllowed(bound, Date.now(), this.cfg.unreachableSeconds * 1000)) return true;
    this.gate?.learn(base.baseMetadata.identity, bound);
    this.log.warn(
      { vnode: node.metadata?.name, from: base.localIP, bound: bound.ip },
      "heartbeat from another address for a base that still answers: ignored",
    );
    return false;
  }

  /** A missing Lease is created through ownership: held by us if we are under our share. */
  private async ensureLease(name: string, base: BaseStatus): Promise<void> {
    if (await getIfPresent(paths.lease(LEASE_NAMESPACE, name))) return;
    await this.ownership.createLease(name, buildVNode(base, this.cfg.env));
  }

  private async syncStatus(t: Tracked): Promise<void> {
    const silent = Math.round((Date.now() - t.lastSeen) / 1000);
    const reachable = silent <= this.cfg.unreachableSeconds;
    const address = `${t.base.localIP}:${t.base.port}`;
    const desired = desiredStatus(t.base, t.health, { reachable, silentSeconds: silent, address });
    const fp = fingerprint(desired);
    if (fp === t.written) return;
    if (!t.health && reachable) return; // adopted or new: keep what is there until the base answers
    const path = paths.node(t.name);
    const current = (await apiRequest<V1Node>("GET", path)).status as V1NodeStatus | undefined;
    const status = withTimes(desired, current, new Date());
    await apiRequest("PATCH", `${path}/status`, { status }, MERGE_PATCH);
    if (t.written !== "" || !reachable) {
      this.log.info(
        { vnode: t.name, ready: reachable },
        reachable ? "base answers: VNode Ready" : "base silent: VNode NotReady",
      );
    }
    t.written = fp;
  }

  private untrack(t: Tracked): Tracked {
    t.timers.forEach(stop => stop());
    t.timers = [];
    return t;
  }

  /** Deletes the Node and its Lease and forgets the base (any replica may: DEACTIVATED, TTL). */
  async remove(name: string): Promise<void> {
    const t = this.nodes.get(name);
    this.nodes.delete(name);
    this.seen.delete(name);
    this.gate?.forget(identityOfVNode(name, this.cfg.env));
    if (t) await this.untrack(t).modules?.forget();
    await deleteIfPresent(paths.node(name));
    await deleteIfPresent(paths.lease(LEASE_NAMESPACE, name));
  }
}
