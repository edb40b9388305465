// VNodes at run time, composed: discovery (heartbeat -> Node and Lease, any replica), and for
// the VNodes this replica owns (ShardOwnership holds and renews their Leases) their health
// (poll -> Node status, silence -> NotReady, TTL -> deletion) and their module worker, which
// reads the module pods from the one pod index filled here.
import type { V1Node, V1Pod } from "@kubernetes/client-node";
import { Config } from "../config";
import { bizzesOf } from "../modules/biz";
import { identityOfVNode, MODULE_NAMESPACE, vnodeName } from "../contract";
import { deleteIfPresent, paths } from "../kube/api";
import type { Logger } from "../logger";
import { PodIndex } from "../modules/pod-index";
import { RetryStore } from "../modules/retry-store";
import { ModuleWorker } from "../modules/worker";
import { OwnerHooks, ShardOwnership } from "../shards/ownership";
import type { HeartbeatGate } from "../tunnel/gate";
import type { BaseStatus } from "../tunnel/heartbeat";
import type { BaseCommands, HeartbeatSink } from "../tunnel/seam";
import type { BizRequest } from "../arklet/client";
import { Discovery, DiscoveryApi } from "./discovery";
import { NodeHealth, NodeStatusApi } from "./health";
import { baseFromVNode, fingerprint, LEASE_NAMESPACE } from "./node";

export type { Logger };

interface Tracked {
  health: NodeHealth;
  modules: ModuleWorker;
}

export interface RegistryDeps {
  /** How commands reach bases (the tunnel). */
  commands: BaseCommands;
  gate?: HeartbeatGate;
  /** Fakes for tests; the real API by default. */
  discoveryApi?: DiscoveryApi;
  statusApi?: NodeStatusApi;
}

/**
 * Any replica turns heartbeats into Nodes and Leases; only the VNodes this replica owns (see
 * ShardOwnership) are tracked here, each with its health timers and module worker.
 */
export class VNodeRegistry implements OwnerHooks, HeartbeatSink {
  private nodes = new Map<string, Tracked>();
  /** Every module pod bound to a VNode: a worker starts with what is there. */
  readonly pods = new PodIndex();
  readonly ownership: ShardOwnership;
  private discovery: Discovery;

  constructor(
    private cfg: Config,
    private log: Logger,
    private deps: RegistryDeps,
  ) {
    this.ownership = new ShardOwnership(cfg, log, this);
    this.discovery = new Discovery(
      cfg,
      log,
      {
        heard: (name, base, confirmed) => this.heard(name, base, confirmed),
        createLease: (name, node) => this.ownership.createLease(name, node),
        remove: name => this.remove(name),
      },
      { gate: deps.gate, api: deps.discoveryApi },
    );
  }

  /** Joins the replica set; our own Leases from before a restart come back at once (no flap). */
  async start(): Promise<void> {
    await this.ownership.start();
  }

  /** A module pod changed; its VNode's worker (if this replica owns it) takes it from here. */
  onModulePod(pod: V1Pod, deleted: boolean): void {
    if (!this.pods.apply(pod, deleted)) return;
    this.nodes.get(pod.spec?.nodeName ?? "")?.modules.onPod(pod, deleted);
  }

  /** Graceful: hands every VNode to a peer first. Otherwise stops at once (Leases expire). */
  async stop(graceful: boolean): Promise<void> {
    this.discovery.stop();
    if (graceful) await this.ownership.stop();
    else this.ownership.halt();
    for (const t of this.nodes.values()) {
      t.health.stop();
      t.modules.stop();
    }
    this.nodes.clear();
  }

  /** Called by the tunnel for every accepted heartbeat; never waits on the API server. */
  onHeartbeat(base: BaseStatus, activated: boolean): void {
    this.discovery.onHeartbeat(base, activated);
  }

  /**
   * What a base should run: the bizzes of the live module pods bound to its VNode. Only the
   * VNode's owner answers (undefined elsewhere), so a base gets one baseline, not one per replica.
   */
  baselineOf(identity: string): BizRequest[] | undefined {
    const name = vnodeName(identity, this.cfg.env);
    if (!this.nodes.has(name)) return undefined;
    const pods = [...this.pods.on(name).values()];
    return pods.filter(p => !p.metadata?.deletionTimestamp).flatMap(bizzesOf);
  }

  /** A base spoke; a new address counts only once its Node agrees (confirmed). */
  private heard(name: string, base: BaseStatus, confirmed: boolean): void {
    const t = this.nodes.get(name);
    if (t && (confirmed || t.health.base.localIP === base.localIP)) t.health.heard(base);
  }

  // ---------- ownership hooks ----------

  take(name: string, node: V1Node): void {
    const base = baseFromVNode(node);
    if (this.nodes.has(name) || !base) return;
    const mayAct = () => this.ownership.owns(name);
    const deps = { name, cfg: this.cfg, log: this.log, commands: this.deps.commands, mayAct };
    const expire = (n: string) => this.remove(n);
    const health = new NodeHealth(
      { ...deps, expire, api: this.deps.statusApi },
      base,
      fingerprint(node.status),
    );
    const store = new RetryStore(name, {
      namespace: MODULE_NAMESPACE,
      env: this.cfg.env,
      log: this.log,
    });
    const modules = new ModuleWorker({
      ...deps,
      vnode: name,
      base: () => health.ref(),
      index: this.pods,
      store,
    });
    this.nodes.set(name, { health, modules });
    health.start();
    modules.start();
  }

  async drop(name: string, how: "release" | "lost" | "gone"): Promise<void> {
    const t = this.nodes.get(name);
    if (!t) return;
    this.nodes.delete(name);
    t.health.stop();
    const release = () => this.deps.commands.release(t.health.ref());
    if (how === "lost") t.modules.stop();
    if (how === "gone") await t.modules.forget();
    if (how === "release") {
      await t.health.settle();
      await t.modules.drain(this.cfg.drainSeconds * 1000);
    }
    release();
  }

  refresh(name: string, node: V1Node): void {
    const t = this.nodes.get(name);
    const base = baseFromVNode(node);
    if (!t || !base) return;
    const now = t.health.base;
    if (now.localIP !== base.localIP || now.port !== base.port) t.health.base = base;
  }

  /** Every VNode, as listed by a LIST that started at listedAt. */
  listed(nodes: Map<string, V1Node>, listedAt: number): void {
    this.discovery.prune(name => nodes.has(name));
    const bound = [...nodes.values()].flatMap(node => {
      const identity = baseFromVNode(node)?.baseMetadata.identity;
      return identity === undefined ? [] : [{ identity, node }];
    });
    this.deps.gate?.sync(bound, listedAt);
  }

  /** Deletes the Node and its Lease and forgets the base (any replica may: DEACTIVATED, TTL). */
  async remove(name: string): Promise<void> {
    const t = this.nodes.get(name);
    this.nodes.delete(name);
    this.discovery.forget(name);
    this.deps.gate?.forget(identityOfVNode(name, this.cfg.env));
    if (t) {
      t.health.stop();
      await t.modules.forget();
      this.deps.commands.release(t.health.ref());
    }
    await deleteIfPresent(paths.node(name));
    await deleteIfPresent(paths.lease(LEASE_NAMESPACE, name));
  }
}
