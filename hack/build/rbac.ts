// Exactly the API access the module uses, instead of Pepr's default `*/*`. Each rule names the
// code that needs it; a new API call in capabilities/ needs a line here, and the scoped-RBAC
// e2e test (a replica running as the ServiceAccount) fails until it has one.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
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
  // Pepr's controller (admission and watcher) applies the PeprStore CRD when it starts; it
  // exists by then (dist/ and Helm ship it, `npx pepr deploy` applies it first)
  {
    apiGroups: ["apiextensions.k8s.io"],
    resources: ["customresourcedefinitions"],
    verbs: ["patch"],
    resourceNames: ["peprstores.pepr.dev"],
  },
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
  // the heartbeat Service, made by the watcher where the install has none (`npx pepr deploy`),
  // owned by the watcher Deployment (capabilities/lib/kube/tunnel-service.ts). One rule without
  // resourceNames: Pepr merges rules of the same resource into one, and `create` cannot be
  // limited by name anyway
  { apiGroups: [""], resources: ["services"], verbs: ["get", "create"] },
  {
    apiGroups: ["apps"],
    resources: ["deployments"],
    verbs: ["get"],
    resourceNames: [`pepr-${pkg.pepr.uuid}-watcher`],
  },
];

/**
 * `pepr.rbac` in package.json, for `npx pepr deploy` (`rbacMode: scoped`): Pepr makes one
 * ClusterRole only, so the namespaced rules are granted cluster-wide there. A unit test keeps
 * package.json equal to this; `node --import tsx hack/build/rbac.ts --write` rewrites it.
 */
export function peprDeployRules(): PolicyRule[] {
  const leases = NODE_LEASE_RULES[0];
  const rest = MODULE_NAMESPACE_RULES.filter(r => !r.resources.includes("leases"));
  return [...CLUSTER_RULES, leases, ...rest];
}

export const RULE_NAMESPACES = { nodeLease: NODE_LEASE_NAMESPACE, module: MODULE_NAMESPACE };

if (process.argv[1]?.endsWith("rbac.ts") && process.argv.includes("--write")) {
  const file = join(__dirname, "..", "..", "package.json");
  const json = JSON.parse(readFileSync(file, "utf8"));
  json.pepr.rbacMode = "scoped";
  json.pepr.rbac = peprDeployRules();
  writeFileSync(file, JSON.stringify(json, null, 2) + "\n");
  console.log(`${file}: pepr.rbac has ${json.pepr.rbac.length} rules`);
}
