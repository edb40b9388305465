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
