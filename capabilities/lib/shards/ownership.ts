// VNode ownership through the node Leases in kube-node-lease (holderIdentity = replica id), and
// replica membership through one Lease per replica in the module's namespace. Every change of
// holder is a resourceVersion- or holder-guarded JSON patch, so two replicas never both win; a
// replica acts on a VNode only while its last successful renewal is recent enough that no peer
// can yet see the Lease as expired.
import type { V1Node } from "@kubernetes/client-node";
import { Config } from "../config";
import {
  COMPONENT_REPLICA,
  COMPONENT_VNODE,
  LABEL_COMPONENT,
  LABEL_ENV,
  MODULE_NAMESPACE,
  NODE_LEASE_NAMESPACE,
  leaseLabels,
  REPLICA_LEASE_PREFIX,
} from "../contract";
import { errText, httpStatus, isConflict, isNotFound } from "../errors";
import {
  API_CONNECTIONS,
  apiRequest,
  applyObject,
  deleteIfPresent,
  JSON_PATCH,
  paths,
} from "../kube/api";
import { Semaphore } from "../async/primitives";
import { Lease, microTime } from "../kinds";
import type { Logger } from "../logger";
import { acquirePatch, expired, fairShare, leaseView, planBalance } from "./plan";
import { ownedVNodes, releases, renewFailures, takeovers } from "../metrics";

/** What the registry does when ownership changes. */
export interface OwnerHooks {
  /** Start driving the VNode (Lease just acquired). */
  take(name: string, node: V1Node): void;
  /** Stop driving it: "release" finishes in-flight work first, "lost" stops at once, "gone" also forgets its shard. */
  drop(name: string, how: "release" | "lost" | "gone"): Promise<void>;
  /** The Node as last listed, for an owned VNode (its base address may have changed). */
  refresh(name: string, node: V1Node): void;
  /** Every VNode that exists now, as listed by a LIST that started at listedAt. */
  listed(nodes: Map<string, V1Node>, listedAt: number): void;
}

const LEASES = "/apis/coordination.k8s.io/v1";

/** A LIST by our component and env labels. */
function list<T>(path: string, component: string, env: string): Promise<{ items: T[] }> {
  const selector = encodeURIComponent(`${LABEL_COMPONENT}=${component},${LABEL_ENV}=${env}`);
  return apiRequest<{ items: T[] }>("GET", `${path}?labelSelector=${selector}`);
}

/** A guarded JSON patch of a VNode's Lease. */
function leasePatch(name: string, ops: unknown[]): Promise<unknown> {
  return apiRequest("PATCH", paths.lease(NODE_LEASE_NAMESPACE, name), ops, JSON_PATCH);
}

/** 409 and 422 are how the apiserver says a guarded write lost a race. */
const lostRace = (err: unknown) => isConflict(err) || httpStatus(err) === 422;

export class ShardOwnership {
  /** Owned VNodes and the time until which we may act on each. */
  private held = new Map<string, number>();
  /** When each held VNode was taken: a LIST sent before that cannot show it yet. */
  private takenAt = new Map<string, number>();
  private releasing = new Set<string>();
  /** Renewals of 1000 Leases must not take every API connection from pod status writes. */
  private renewals = new Semaphore(API_CONNECTIONS / 2);
  private renewing = false;
  /** From the last balance pass: VNodes that exist and replicas that are live. */
  private vnodeCount = 0;
  private memberCount = 1;
  private timers: NodeJS.Timeout[] = [];
  private ticking = false;
  private stopped = false;
  private readonly me: string;

  constructor(
    private cfg: Config,
    private log: Logger,
    private hooks: OwnerHooks,
  ) {
    this.me = cfg.replicaId;
  }

  /** True while we hold the VNode's Lease and no peer can yet see it as expired. */
  owns(name: string): boolean {
    const until = this.held.get(name);
    return until !== undefined && Date.now() < until;
  }

  async start(): Promise<void> {
    await this.announce();
    await this.tick();
    const every = (s: number, fn: () => Promise<void>) =>
      this.timers.push(
        setInterval(
          () =>
            void fn().catch(err =>
              this.log.error({ err: errText(err) }, "VNode ownership step failed"),
            ),
          s * 1000,
        ),
      );
    every(this.cfg.balanceSeconds, () => this.tick());
    every(this.cfg.leaseRenewSeconds, () => this.renewAll());
  }

  /** Graceful stop: hand every VNode over (in-flight work finished, shard saved), then leave. */
  async stop(): Promise<void> {
    this.timers.forEach(clearInterval);
    this.stopped = true;
    await Promise.all([...this.held.keys()].map(name => this.release(name)));
    await deleteIfPresent(paths.lease(MODULE_NAMESPACE, this.memberName()));
    this.log.info({ replica: this.me }, "left the replica set; all VNodes handed over");
  }

  /** Stops acting at once (tests, crash-like shutdown): Leases simply expire. */
  halt(): void {
    this.timers.forEach(clearInterval);
    this.stopped = true;
  }

  /** A heartbeat found no Lease: create it, held by us while we are under our share. */
  async createLease(name: string, node: V1Node): Promise<void> {
    // counting the new VNode, so that the first replica to hear of it can take it at once
    const mine = this.held.size < fairShare(++this.vnodeCount, this.memberCount) && !this.stopped;
    const now = microTime();
    try {
      await apiRequest("POST", paths.leases(NODE_LEASE_NAMESPACE), {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name, namespace: NODE_LEASE_NAMESPACE, labels: leaseLabels(this.cfg.env) },
        spec: {
          ...(mine ? { holderIdentity: this.me, acquireTime: now } : {}),
          leaseDurationSeconds: this.cfg.leaseDurationSeconds,
          renewTime: now,
        },
      });
    } catch (err) {
      if (isConflict(err)) return; // another replica made it first
      throw err;
    }
    if (mine) this.took(name, node, Date.now());
  }

  // ---------- the balance loop ----------

  private async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      await this.balance();
    } finally {
      this.ticking = false;
    }
  }

  private async balance(): Promise<void> {
    const now = Date.now();
    // three LISTs every balance period: on the kept-alive connection
    const [nodes, leases, members] = await Promise.all([
      list<V1Node>("/api/v1/nodes", COMPONENT_VNODE, this.cfg.env),
      list<Lease>(
        `${LEASES}/namespaces/${NODE_LEASE_NAMESPACE}/leases`,
        leaseLabels(this.cfg.env)[LABEL_COMPONENT],
        this.cfg.env,
      ),
      this.liveMembers(now),
    ]);
    const byName = new Map(nodes.items.map(n => [n.metadata?.name ?? "", n]));
    const leaseByName = new Map(leases.items.map(l => [l.metadata?.name ?? "", l]));
    this.hooks.listed(byName, now);
    await this.forgetGone(byName, now);
    for (const name of this.held.keys()) {
      const node = byName.get(name);
      if (node) this.hooks.refresh(name, node);
    }
    const plan = planBalance({
      me: this.me,
      now,
      vnodes: [...byName.keys()],
      leases: new Map([...leaseByName].map(([k, l]) => [k, leaseView(l)])),
      members,
      mine: new Set(this.held.keys()),
    });
    this.vnodeCount = byName.size;
    this.memberCount = new Set([...members, this.me]).size;
    for (const name of plan.acquire) {
      await this.acquire(name, leaseByName.get(name), byName.get(name) as V1Node);
    }
    await Promise.all(plan.release.map(name => this.release(name)));
    ownedVNodes.set(this.held.size);
  }

  /** VNodes deleted by anyone (a DEACTIVATED heartbeat may reach another replica). */
  private async forgetGone(nodes: Map<string, V1Node>, listedAt: number): Promise<void> {
    const gone = (n: string) => !nodes.has(n) && (this.takenAt.get(n) ?? 0) < listedAt;
    for (const name of [...this.held.keys()].filter(gone)) {
      this.log.info({ vnode: name }, "VNode deleted: forgetting it");
      this.unhold(name);
      await this.hooks.drop(name, "gone");
    }
  }

  private async acquire(name: string, lease: Lease | undefined, node: V1Node): Promise<void> {
    if (this.stopped) return;
    const sent = Date.now();
    if (!lease) return this.createLease(name, node);
    const prev = lease.spec?.holderIdentity ?? "";
    const now = microTime(new Date(sent));
    const patch = acquirePatch(lease, this.me, this.cfg.leaseDurationSeconds, now);
    try {
      await leasePatch(name, patch);
    } catch (err) {
      if (lostRace(err) || isNotFound(err)) return; // someone else was faster
      throw err;
    }
    if (prev !== this.me) {
      takeovers.inc();
      this.log.info({ vnode: name, from: prev || "(free)" }, "took over VNode");
    }
    this.took(name, node, sent);
  }

  private took(name: string, node: V1Node, sent: number): void {
    this.held.set(name, sent + this.validityMs());
    this.takenAt.set(name, Date.now());
    ownedVNodes.set(this.held.size);
    this.hooks.take(name, node);
  }

  private unhold(name: string): void {
    this.held.delete(name);
    this.takenAt.delete(name);
  }

  /** How long after a renewal we may act: one renew period short of what peers wait. */
  private validityMs(): number {
    return (this.cfg.leaseDurationSeconds - this.cfg.leaseRenewSeconds) * 1000;
  }

  /** Finish in-flight work and save the shard, then clear the holder so a peer can take it. */
  private async release(name: string): Promise<void> {
    if (this.releasing.has(name)) return;
    this.releasing.add(name);
    try {
      await this.hooks.drop(name, "release");
      this.unhold(name);
      await leasePatch(name, [
        { op: "test", path: "/spec/holderIdentity", value: this.me },
        { op: "remove", path: "/spec/holderIdentity" },
      ]);
      releases.inc();
      this.log.info({ vnode: name }, "released VNode to a peer");
    } catch (err) {
      if (!lostRace(err) && !isNotFound(err)) throw err;
    } finally {
      this.releasing.delete(name);
      ownedVNodes.set(this.held.size);
    }
  }

  // ---------- renewal ----------

  private async renewAll(): Promise<void> {
    if (this.renewing) return; // the last round is still on the wire: it renews them all
    this.renewing = true;
    try {
      await this.announce();
      // Leases being released are renewed too: we hold them until the holder is cleared
      const names = [...this.held.keys()];
      await Promise.all(names.map(name => this.renewals.run(() => this.renew(name))));
    } finally {
      this.renewing = false;
    }
  }

  private async renew(name: string): Promise<void> {
    const sent = Date.now();
    try {
      await leasePatch(name, [
        { op: "test", path: "/spec/holderIdentity", value: this.me },
        { op: "add", path: "/spec/renewTime", value: microTime(new Date(sent)) },
      ]);
      if (this.held.has(name)) this.held.set(name, sent + this.validityMs());
    } catch (err) {
      renewFailures.inc();
      await this.renewFailed(name, err);
    }
  }

  private async renewFailed(name: string, err: unknown): Promise<void> {
    const outOfTime = (this.held.get(name) ?? 0) <= Date.now();
    if (lostRace(err) || isNotFound(err) || outOfTime) {
      this.log.warn(
        { vnode: name, err: errText(err) },
        "lost the VNode's Lease: stopping its work",
      );
      this.unhold(name);
      await this.hooks.drop(name, "lost");
      return;
    }
    this.log.warn({ vnode: name, err: errText(err) }, "could not renew the VNode's Lease");
  }

  // ---------- membership ----------

  private memberName(): string {
    return `${REPLICA_LEASE_PREFIX}${this.me}`;
  }

  /** Our membership Lease: peers count us in the fair share while it is fresh. */
  private async announce(): Promise<void> {
    if (this.stopped) return;
    await applyObject(paths.lease(MODULE_NAMESPACE, this.memberName()), {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name: this.memberName(),
        namespace: MODULE_NAMESPACE,
        labels: { [LABEL_COMPONENT]: COMPONENT_REPLICA, [LABEL_ENV]: this.cfg.env },
      },
      spec: {
        holderIdentity: this.me,
        leaseDurationSeconds: this.cfg.leaseDurationSeconds,
        renewTime: microTime(),
      },
    });
  }

  private async liveMembers(now: number): Promise<string[]> {
    const members = await list<Lease>(
      `${LEASES}/namespaces/${MODULE_NAMESPACE}/leases`,
      COMPONENT_REPLICA,
      this.cfg.env,
    );
    return members.items
      .map(leaseView)
      .filter(l => l.holder !== "" && !expired(l, now))
      .map(l => l.holder);
  }
}
