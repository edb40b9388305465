// Discovery: heartbeats become Nodes and Leases. Any replica does it, idempotently, off the
// request path (see intake.ts). A known base whose labels and address are unchanged costs
// nothing; a goodbye deletes the VNode only when it comes from the address the Node is bound to.
import type { V1Node } from "@kubernetes/client-node";
import { Config } from "../config";
import { ANNOTATION_BASE_ADDRESS, vnodeName } from "../contract";
import { errText } from "../errors";
import { apiRequest, applyObject, getIfPresent, JSON_PATCH, paths } from "../kube/api";
import type { Logger } from "../logger";
import { intakeBacklog } from "../metrics";
import type { BaseStatus } from "../tunnel/heartbeat";
import { bindingOf, HeartbeatGate, takeoverAllowed } from "../tunnel/gate";
import { Intake } from "./intake";
import { buildVNode, LEASE_NAMESPACE, MetadataOp, metadataPatch, vnodeLabels } from "./node";

/** Node and Lease writes for heartbeats in flight at once (the API client has 32 connections). */
const INTAKE_PARALLEL = 8;
/** A base that keeps heartbeating here is re-checked against its Node this often. */
const RECHECK_MS = 5 * 60_000;

/** The Node and Lease reads and writes discovery needs (real ones by default, fakes in tests). */
export interface DiscoveryApi {
  getNode(name: string): Promise<V1Node | undefined>;
  createNode(node: V1Node): Promise<void>;
  patchNode(name: string, ops: MetadataOp[]): Promise<void>;
  leaseExists(name: string): Promise<boolean>;
}

export const kubeDiscovery: DiscoveryApi = {
  getNode: name => getIfPresent<V1Node>(paths.node(name)),
  createNode: async node => {
    await applyObject(paths.node(node.metadata?.name ?? ""), node);
  },
  patchNode: async (name, ops) => {
    await apiRequest("PATCH", paths.node(name), ops, JSON_PATCH);
  },
  leaseExists: async name => (await getIfPresent(paths.lease(LEASE_NAMESPACE, name))) !== undefined,
};

/** What discovery asks of the rest of the registry. */
export interface DiscoveryHooks {
  /** A base spoke: `confirmed` when its Node agrees with the address it spoke from. */
  heard(name: string, base: BaseStatus, confirmed: boolean): void;
  /** Creates the missing Lease of a VNode (held by this replica if under its share). */
  createLease(name: string, node: V1Node): Promise<void>;
  /** Deletes the VNode and its Lease. */
  remove(name: string): Promise<void>;
}

/** What this replica last made sure of for a base: its labels and address. */
const seenKey = (base: BaseStatus, env: string) =>
  JSON.stringify([vnodeLabels(base, env), base.localIP]);

export class Discovery {
  private seen = new Map<string, { key: string; at: number }>();
  private intake: Intake<{ base: BaseStatus; activated: boolean }>;
  private api: DiscoveryApi;
  private gate?: HeartbeatGate;

  constructor(
    private cfg: Config,
    private log: Logger,
    private hooks: DiscoveryHooks,
    opts: { gate?: HeartbeatGate; api?: DiscoveryApi } = {},
  ) {
    this.gate = opts.gate;
    this.api = opts.api ?? kubeDiscovery;
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

  stop(): void {
    this.intake.stop();
  }

  /** Never waits on the API server: anything that needs it is queued. */
  onHeartbeat(base: BaseStatus, activated: boolean): void {
    const name = vnodeName(base.baseMetadata.identity, this.cfg.env);
    if (activated) {
      // a new address takes effect only once the Node agrees (record, below)
      this.hooks.heard(name, base, false);
      const last = this.seen.get(name);
      if (last && last.key === seenKey(base, this.cfg.env) && Date.now() - last.at <= RECHECK_MS)
        return;
    }
    this.intake.push(name, { base, activated });
  }

  /** Forgets what was made sure of for a VNode (it is gone). */
  forget(name: string): void {
    this.seen.delete(name);
  }

  /** Keeps only what is known of the VNodes that exist. */
  prune(exists: (name: string) => boolean): void {
    for (const name of this.seen.keys()) if (!exists(name)) this.seen.delete(name);
  }

  /** The API side of a heartbeat (from the intake queue): Node and Lease, or their deletion. */
  private async record(base: BaseStatus, activated: boolean): Promise<void> {
    const name = vnodeName(base.baseMetadata.identity, this.cfg.env);
    if (!activated) return this.goodbye(name, base.localIP);
    // Node and Lease first: the owner's worker writes to both
    if (!(await this.ensureNode(base))) return;
    this.hooks.heard(name, base, true);
    if (!(await this.api.leaseExists(name)))
      await this.hooks.createLease(name, buildVNode(base, this.cfg.env));
    this.seen.set(name, { key: seenKey(base, this.cfg.env), at: Date.now() });
  }

  /** Deletes the VNode, but only if it is still bound to the address the goodbye came from. */
  private async goodbye(name: string, ip: string): Promise<void> {
    const node = await this.api.getNode(name);
    const bound = node?.metadata?.annotations?.[ANNOTATION_BASE_ADDRESS];
    if (node && bound !== ip) {
      this.log.warn({ vnode: name, from: ip, bound }, "goodbye from another address: ignored");
      return;
    }
    this.log.info({ vnode: name }, "base sent a DEACTIVATED heartbeat: deleting its VNode");
    await this.hooks.remove(name);
  }

  /** Creates the Node, or patches only our labels and annotation: never re-sends taints the node-lifecycle controller may have added. */
  private async ensureNode(base: BaseStatus): Promise<boolean> {
    const want = buildVNode(base, this.cfg.env);
    const name = want.metadata?.name ?? "";
    const node = await this.api.getNode(name);
    if (!node) {
      await this.api.createNode(want);
      this.log.info({ vnode: name }, "created VNode");
      return true;
    }
    if (!this.mayRebind(node, base)) return false;
    const patch = metadataPatch(node, want);
    if (patch.length > 0) await this.api.patchNode(name, patch);
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
}
