// The Koupleless wire contract in one place (see shared/reference/koupleless-contract.md §1).
// Every value here must match upstream ModuleController V2 exactly, or real Arklet bases and
// existing module YAML stop working with us.

/** Label on VNodes, their Leases and module pods; the value says which of the three. */
export const LABEL_COMPONENT = "virtual-kubelet.koupleless.io/component";
export const COMPONENT_VNODE = "vnode";
export const COMPONENT_VNODE_LEASE = "vnode-lease";
export const COMPONENT_MODULE = "module";

/** Env label on VNodes and Leases; lets several controllers share one cluster. */
export const LABEL_ENV = "virtual-kubelet.koupleless.io/env";

/** Base identity labels copied from the heartbeat onto the VNode. */
export const LABEL_BASE_NAME = "base.koupleless.io/name";
export const LABEL_BASE_VERSION = "base.koupleless.io/version";
export const LABEL_BASE_CLUSTER_NAME = "base.koupleless.io/cluster-name";

/** Every VNode carries this taint so that only module pods land on it. */
export const TAINT_VIRTUAL_NODE = "schedule.koupleless.io/virtual-node";
export const TAINT_VIRTUAL_NODE_VALUE = "True";
/** And this one, valued with the env, so modules of one env never land on another's bases. */
export const TAINT_NODE_ENV = "schedule.koupleless.io/node-env";
export const TAINT_EFFECT = "NoExecute";

/** The only env var Arklet reads from a module container: the biz version. */
export const ENV_BIZ_VERSION = "BIZ_VERSION";

/** Node leases live here, named like the Node (what kube-controller-manager reads). */
export const NODE_LEASE_NAMESPACE = "kube-node-lease";

/** More VNode labels (contract §2.3). */
export const LABEL_BASE_HOST_NAME = "base.koupleless.io/host-name";
export const LABEL_BASE_TUNNEL_PORT = "base.koupleless.io/tunnel-port";
export const LABEL_HOSTNAME = "kubernetes.io/hostname";
export const LABEL_TYPE = "type";
export const TYPE_VIRTUAL_KUBELET = "virtual-kubelet";
export const LABEL_ROLE = "kubernetes.io/role";
export const ROLE_AGENT = "agent";

/** Labels for module pods with one biz; used for anti-affinity and selectors. */
export const LABEL_MODULE_NAME = "module.koupleless.io/name";
export const LABEL_MODULE_VERSION = "module.koupleless.io/version";

/** Taints the node-lifecycle controller puts on failing Nodes. */
export const TAINT_NOT_READY = "node.kubernetes.io/not-ready";
export const TAINT_UNREACHABLE = "node.kubernetes.io/unreachable";

/** VNode name: vnode.<identity>.<env> (contract §1.2). */
export const VNODE_PREFIX = "vnode.";
export function vnodeName(identity: string, env: string): string {
  return `${VNODE_PREFIX}${identity}.${env}`;
}

/** The identity in a VNode name of this env (the inverse of vnodeName). */
export function identityOfVNode(name: string, env: string): string {
  return name.slice(VNODE_PREFIX.length, name.length - env.length - 1);
}

/** Node lease timing (contract §2.4). */
export const NODE_LEASE_DURATION_SECONDS = 40;
export const NODE_LEASE_RENEW_SECONDS = 10;

/** Capacity advertised for pods on a VNode (contract §2.3). */
export const VNODE_PODS_CAPACITY = "65535";

/** Default Arklet port, and the heartbeat interval of a real Arklet (contract §2.1, §5.1). */
export const ARKLET_DEFAULT_PORT = 1238;
export const ARKLET_HEARTBEAT_MS = 12_000;

/** Heartbeat `state` values; compared case-insensitively, Arklet sends lowercase. */
export const STATE_ACTIVATED = "ACTIVATED";
export const STATE_DEACTIVATED = "DEACTIVATED";

/** Our own annotation listing what admission changed on a module pod. */
export const ANNOTATION_MUTATED = "koupleless-pepr.io/mutated";

/** Our queue-shard objects (PeprStore kind) carry this component label value. */
export const COMPONENT_VNODE_SHARD = "vnode-shard";

/** The module's namespace, where Pepr deploys it and where our shard objects live. */
export const MODULE_NAMESPACE = "pepr-system";

/** Membership Leases: one per controller replica, in the module's namespace (ours, not upstream's). */
export const COMPONENT_REPLICA = "controller-replica";
export const REPLICA_LEASE_PREFIX = "koupleless-replica.";

/** Node annotation carrying the base's address, so an owner that got no heartbeat still knows it. */
export const ANNOTATION_BASE_ADDRESS = "koupleless-pepr.io/base-address";

/** Node annotation naming the tunnel a base speaks when it is not HTTP ("mqtt"). */
export const ANNOTATION_TUNNEL = "koupleless-pepr.io/tunnel";

/**
 * Namespace annotation of the placement policy (ours, not upstream's): the comma-separated
 * base.koupleless.io/cluster-name values its module pods may be placed on.
 */
export const ANNOTATION_ALLOWED_BASE_CLUSTERS = "koupleless-pepr.io/allowed-base-clusters";

/** The labels of a VNode's Lease (contract §1.2). */
export function leaseLabels(env: string): Record<string, string> {
  return { [LABEL_ENV]: env, [LABEL_COMPONENT]: COMPONENT_VNODE_LEASE };
}
