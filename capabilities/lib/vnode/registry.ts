// VNode lifecycle at run time: heartbeats create VNodes (any replica, idempotently); for the
// VNodes this replica owns, a worker renews the Lease, polls /health and keeps the Node status
// true, marks it NotReady when the base goes silent, and deletes it past the TTL.
import { errText, httpStatus } from "../errors";
import { K8s, kind } from "kubernetes-fluent-client";
import type { V1Node, V1NodeStatus } from "@kubernetes/client-node";
import { Config } from "../config";
import {
  COMPONENT_VNODE,
  LABEL_COMPONENT,
  LABEL_ENV,
  MODULE_NAMESPACE,
  vnodeName,
} from "../contract";
import { Lease, microTime } from "../kinds";
import { ArkletClient, ArkletUnreachable, HealthData } from "../arklet/client";
import { BaseStatus } from "../tunnel/heartbeat";
import { ModuleWorker } from "../modules/worker";
import { ShardStore } from "../queue/shard";
import { podKey } from "../modules/biz";
import type { V1Pod } from "@kubernetes/client-node";
import {
  baseFromVNode,
  buildVNode,
  desiredStatus,
  fingerprint,
  LEASE_NAMESPACE,
  leaseLabels,
  vnodeLabels,
  withTimes,
} from "./node";

/** The seam where sharding plugs in: which VNodes this replica drives. */
export interface Ownership {
  owns(vnode: string): boolean;
}

/** One replica owns everything. */
export const SOLE_OWNER: Ownership = { owns: () => true };

export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

interface Tracked {
  name: string;
  modules?: ModuleWorker;
  base: BaseStatus;
  /** Last time the base spoke to us: a heartbeat here or an answer to /health. */
  lastSeen: number;
  health?: HealthData;
  written: string;
  timers: NodeJS.Timeout[];
  busy: boolean;
}

const LIVENESS_CHECK_MS = 3000;

export class VNodeRegistry {
  private nodes = new Map<string, Tracked>();
  /** Every module pod bound to a VNode, by node name, so a worker starts with what is there. */
  private podsByNode = new Map<string, Map<string, V1Pod>>();
  private readonly arklet: ArkletClient;

  constructor(
    private cfg: Config,
    private log: Logger,
    private ownership: Ownership = SOLE_OWNER,
  ) {
    this.arklet = new ArkletClient(`koupleless-pepr/${cfg.replicaId}`);
  }

  /** Adopts the VNodes that already exist, without waiting for heartbeats (no flap on restart). */
  async start(): Promise<void> {
    const list = await K8s(kind.Node)
      .WithLabel(LABEL_COMPONENT, COMPONENT_VNODE)
      .WithLabel(LABEL_ENV, this.cfg.env)
      .Get();
    for (const node of list.items) {
      const base = baseFromVNode(node);
      if (!base) continue;
      const t = this.track(node.metadata?.name ?? "", base);
      t.written = fingerprint(node.status);
      this.log.info({ vnode: t.name }, "adopted existing VNode");
    }
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

  stop(): void {
    for (const t of this.nodes.values()) {
      t.timers.forEach(clearInterval);
      t.modules?.stop();
    }
    this.nodes.clear();
    void this.arklet.close();
  }

  /** Called by the tunnel for every valid heartbeat. */
  async onHeartbeat(base: BaseStatus, activated: boolean): Promise<void> {
    const name = vnodeName(base.baseMetadata.identity, this.cfg.env);
    if (!activated) {
      this.log.info({ vnode: name }, "base sent a DEACTIVATED heartbeat: deleting its VNode");
      await this.remove(name);
      return;
    }
    const known = this.nodes.get(name);
    const changed =
      !known ||
      JSON.stringify(vnodeLabels(known.base, this.cfg.env)) !==
        JSON.stringify(vnodeLabels(base, this.cfg.env)) ||
      known.base.localIP !== base.localIP;
    if (changed) {
      // Node and Lease first: the worker that track() starts writes to both at once
      await this.ensureNode(base);
      await this.ensureLease(name);
    }
    const t = this.track(name, base);
    t.lastSeen = Date.now();
  }

  // ---------- tracking and timers ----------

  private track(name: string, base: BaseStatus): Tracked {
    const existing = this.nodes.get(name);
    if (existing) {
      existing.base = base;
      return existing;
    }
    const t: Tracked = { name, base, lastSeen: Date.now(), written: "", timers: [], busy: false };
    this.nodes.set(name, t);
    if (this.ownership.owns(name)) this.startWorker(t);
    return t;
  }

  private startWorker(t: Tracked): void {
    const every = (ms: number, fn: () => Promise<void>) => {
      const tick = (): void => {
        fn().catch(err =>
          this.log.error({ vnode: t.name, err: errText(err) }, "VNode worker step failed"),
        );
      };
      t.timers.push(setInterval(tick, ms));
      tick(); // at once: after a restart the Lease must not wait a whole period
    };
    every(this.cfg.leaseRenewSeconds * 1000, () => this.renewLease(t.name));
    every(this.cfg.healthPollSeconds * 1000, () => this.pollHealth(t));
    every(LIVENESS_CHECK_MS, () => this.checkLiveness(t));
    const address = () => ({ ip: t.base.localIP, port: t.base.port });
    const shard = new ShardStore(t.name, {
      namespace: MODULE_NAMESPACE,
      env: this.cfg.env,
      log: this.log,
    });
    t.modules = new ModuleWorker({
      shard,
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
    if (t.busy) return;
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

  /** Creates the Node, or patches only our labels: never re-sends taints the node-lifecycle controller may have added. */
  private async ensureNode(base: BaseStatus): Promise<void> {
    const want = buildVNode(base, this.cfg.env);
    const name = want.metadata?.name ?? "";
    let node: V1Node | undefined;
    try {
      node = await K8s(kind.Node).Get(name);
    } catch (err) {
      if (httpStatus(err) !== 404) throw err;
    }
    if (!node) {
      await K8s(kind.Node).Apply(want as kind.Node, { force: true });
      this.log.info({ vnode: name }, "created VNode");
      return;
    }
    const labels = want.metadata?.labels ?? {};
    const stale = Object.entries(labels).filter(([k, v]) => node?.metadata?.labels?.[k] !== v);
    if (stale.length === 0) return;
    await K8s(kind.Node).Patch(
      stale.map(([k, v]) => ({
        op: "add" as const,
        path: `/metadata/labels/${k.replace(/~/g, "~0").replace(/\//g, "~1")}`,
        value: v,
      })),
    );
  }

  private async ensureLease(name: string): Promise<void> {
    try {
      await K8s(Lease).InNamespace(LEASE_NAMESPACE).Get(name);
      return;
    } catch (err) {
      if (httpStatus(err) !== 404) throw err;
    }
    const now = microTime();
    const owner = this.ownership.owns(name) ? this.cfg.replicaId : undefined;
    await K8s(Lease).Create({
      metadata: { name, namespace: LEASE_NAMESPACE, labels: leaseLabels(this.cfg.env) },
      spec: {
        holderIdentity: owner,
        leaseDurationSeconds: this.cfg.leaseDurationSeconds,
        acquireTime: now,
        renewTime: now,
      },
    });
  }

  private async renewLease(name: string): Promise<void> {
    try {
      await this.patchLease(name);
    } catch (err) {
      if (httpStatus(err) !== 404) throw err;
      await this.ensureLease(name); // deleted behind our back, or not created yet
    }
  }

  private async patchLease(name: string): Promise<void> {
    await K8s(Lease, { namespace: LEASE_NAMESPACE, name }).Patch([
      { op: "add", path: "/spec/renewTime", value: microTime() },
      { op: "add", path: "/spec/holderIdentity", value: this.cfg.replicaId },
    ]);
  }

  private async syncStatus(t: Tracked): Promise<void> {
    const silent = Math.round((Date.now() - t.lastSeen) / 1000);
    const reachable = silent <= this.cfg.unreachableSeconds;
    const address = `${t.base.localIP}:${t.base.port}`;
    const desired = desiredStatus(t.base, t.health, { reachable, silentSeconds: silent, address });
    const fp = fingerprint(desired);
    if (fp === t.written) return;
    if (!t.health && reachable) return; // adopted or new: keep what is there until the base answers
    const current = (await K8s(kind.Node).Get(t.name)).status as V1NodeStatus | undefined;
    await K8s(kind.Node).PatchStatus({
      metadata: { name: t.name },
      status: withTimes(desired, current, new Date()),
    } as kind.Node);
    if (t.written !== "" || !reachable) {
      this.log.info(
        { vnode: t.name, ready: reachable },
        reachable ? "base answers: VNode Ready" : "base silent: VNode NotReady",
      );
    }
    t.written = fp;
  }

  /** Deletes the Node and its Lease and forgets the base. */
  async remove(name: string): Promise<void> {
    const t = this.nodes.get(name);
    t?.timers.forEach(clearInterval);
    await t?.modules?.forget();
    this.nodes.delete(name);
    await K8s(kind.Node).Delete(name);
    await K8s(Lease).InNamespace(LEASE_NAMESPACE).Delete(name);
  }
}
