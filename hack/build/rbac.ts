// Exactly the API access the module uses, instead of Pepr's default `*/*`. Each rule names the
// code that needs it; a new API call in capabilities/ needs a line here, and the scoped-RBAC
// e2e test (a replica running as the ServiceAccount) fails until it has one.
import pkg from "../../package.json";
import { MODULE_NAMESPACE, NODE_LEASE_NAMESPACE } from "../../capabilities/lib/contract";

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** Cluster-wide: module pods live in any namespace, VNodes are cluster-scoped. */
export const CLUSTER_RULES: PolicyRule[] = [
  // Pepr's watch of module pods (LIST then WATCH); podsOnNode's field-selector LIST;
  // finalDelete's grace-0 DELETE with a UID precondition
  { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch", "delete"] },
  // writePodStatus, and the foreign-pod condition
  { apiGroups: [""], resources: ["pods/status"], verbs: ["patch"] },
  // podEvent: Installing, Installed, InstallFailed, Uninstalling, Uninstalled, NotAModulePod
  { apiGroups: [""], resources: ["events"], verbs: ["create"] },
  // VNodes: server-side apply on the first heartbeat (create + patch), label patches, the
  // balance loop's LIST, deletion on DEACTIVATED or TTL
  {
    apiGroups: [""],
    resources: ["nodes"],
    verbs: ["get", "list", "create", "patch", "delete"],
  },
  { apiGroups: [""], resources: ["nodes/status"], verbs: ["patch"] },
  // the placement policy reads the namespace's allowed base clusters at admission
  { apiGroups: [""], resources: ["namespaces"], verbs: ["get"] },
  // the watcher makes Pepr's own webhooks safe at start (lib/kube/webhooks.ts), only those
  {
    apiGroups: ["admissionregistration.k8s.io"],
    resources: ["mutatingwebhookconfigurations", "validatingwebhookconfigurations"],
    verbs: ["get", "update"],
    resourceNames: [`pepr-${pkg.pepr.uuid}`],
  },
];

/** VNode Leases, only in kube-node-lease: ownership, renewal, release, deletion. */
export const NODE_LEASE_RULES: PolicyRule[] = [
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    verbs: ["get", "list", "create", "patch", "delete"],
  },
];

/** In the module's namespace: Pepr's store and our queue shards, and the membership Leases. */
export const MODULE_NAMESPACE_RULES: PolicyRule[] = [
  {
    apiGroups: ["pepr.dev"],
    resources: ["peprstores"],
    verbs: ["get", "list", "watch", "create", "patch", "delete"],
  },
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    verbs: ["get", "list", "create", "patch", "delete"],
  },
];

export const RULE_NAMESPACES = { nodeLease: NODE_LEASE_NAMESPACE, module: MODULE_NAMESPACE };
