// Turns the manifests `pepr build` writes into what a platform team would run: N watcher
// replicas with stable identities, a Service for the heartbeat port, scoped RBAC, the
// PeprStore CRD, a disruption budget, webhooks only module pods depend on. Pure: objects in,
// objects out.
import { tunnelService as sharedTunnelService } from "../../capabilities/lib/tunnel/service";
import { PEPR_STORE_CRD } from "../replica/crd";
import { hardenWebhookConfig, isWebhookConfiguration } from "../../capabilities/lib/webhooks";
import { CLUSTER_RULES, MODULE_NAMESPACE_RULES, NODE_LEASE_RULES, RULE_NAMESPACES } from "./rbac";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Doc = Record<string, any>;

export interface BuildSettings {
  /** The Pepr module uuid (package.json pepr.uuid). */
  uuid: string;
  watcherReplicas: number;
  /** Heartbeat port (KOUPLELESS_TUNNEL_PORT's default). */
  tunnelPort: number;
  /** Prometheus metrics port (KOUPLELESS_METRICS_PORT's default): not on the Service bases reach. */
  metricsPort: number;
  /** Must cover KOUPLELESS_DRAIN_SECONDS plus the handover itself. */
  terminationGraceSeconds: number;
}

export const names = (uuid: string) => ({
  sa: `pepr-${uuid}`,
  clusterRole: `pepr-${uuid}`,
  watcher: `pepr-${uuid}-watcher`,
  storeRole: `pepr-${uuid}-store`,
  nodeLeaseRole: `pepr-${uuid}-node-leases`,
  tunnel: `pepr-${uuid}-tunnel`,
  pdb: `pepr-${uuid}-watcher`,
  moduleSecret: `pepr-${uuid}-module`,
  webhook: `pepr-${uuid}`,
});

const is = (d: Doc, kind: string, name?: string) =>
  d?.kind === kind && (name === undefined || d.metadata?.name === name);

export function watcherSelector(uuid: string): Record<string, string> {
  return { app: names(uuid).watcher, "pepr.dev/controller": "watcher" };
}

function role(name: string, namespace: string, rules: object[]): Doc {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name, namespace },
    rules,
  };
}

function roleBinding(name: string, namespace: string, sa: string): Doc {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name, namespace },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
    subjects: [{ kind: "ServiceAccount", name: sa, namespace: RULE_NAMESPACES.module }],
  };
}

/** The namespaced RBAC: Pepr's store Role matches nothing (`resourceNames: [""]`) and binds a ServiceAccount that does not exist, so both are replaced. */
export function namespacedRbac(uuid: string): Doc[] {
  const n = names(uuid);
  return [
    role(n.storeRole, RULE_NAMESPACES.module, MODULE_NAMESPACE_RULES),
    roleBinding(n.storeRole, RULE_NAMESPACES.module, n.sa),
    role(n.nodeLeaseRole, RULE_NAMESPACES.nodeLease, NODE_LEASE_RULES),
    roleBinding(n.nodeLeaseRole, RULE_NAMESPACES.nodeLease, n.sa),
  ];
}

/** The heartbeat Service, the same object the watcher makes where an install has none. */
export const tunnelService = (s: BuildSettings): Doc => sharedTunnelService(s.tunnelPort);

export function watcherPdb(uuid: string): Doc {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name: names(uuid).pdb, namespace: RULE_NAMESPACES.module },
    spec: { maxUnavailable: 1, selector: { matchLabels: watcherSelector(uuid) } },
  };
}

/** Spread watcher replicas over nodes when there are several. */
export function watcherAntiAffinity(uuid: string): Doc {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: {
            topologyKey: "kubernetes.io/hostname",
            labelSelector: { matchLabels: watcherSelector(uuid) },
          },
        },
      ],
    },
  };
}

/** The replica identity: the pod name, stable for the pod's life and unique. */
export const REPLICA_ID_ENV = {
  name: "KOUPLELESS_REPLICA_ID",
  valueFrom: { fieldRef: { fieldPath: "metadata.name" } },
};

export function containerPorts(tunnelPort: number, metricsPort: number): Doc[] {
  return [
    { name: "https", containerPort: 3000 },
    { name: "tunnel", containerPort: tunnelPort },
    { name: "metrics", containerPort: metricsPort },
  ];
}

export const METRICS_ANNOTATIONS = (metricsPort: number) => ({
  "prometheus.io/scrape": "true",
  "prometheus.io/port": String(metricsPort),
  "prometheus.io/path": "/metrics",
});

function shapeWatcher(d: Doc, s: BuildSettings): Doc {
  const spec = d.spec.template.spec;
  const c = spec.containers[0];
  return {
    ...d,
    spec: {
      ...d.spec,
      replicas: s.watcherReplicas,
      // a new replica joins (and takes its share) before an old one hands over and leaves
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        ...d.spec.template,
        metadata: {
          ...d.spec.template.metadata,
          annotations: {
            ...d.spec.template.metadata?.annotations,
            ...METRICS_ANNOTATIONS(s.metricsPort),
          },
        },
        spec: {
          ...spec,
          terminationGracePeriodSeconds: s.terminationGraceSeconds,
          affinity: watcherAntiAffinity(s.uuid),
          containers: [
            {
              ...c,
              ports: containerPorts(s.tunnelPort, s.metricsPort),
              env: [
                ...(c.env ?? []).filter((e: Doc) => e.name !== REPLICA_ID_ENV.name),
                REPLICA_ID_ENV,
              ],
            },
            ...spec.containers.slice(1),
          ],
        },
      },
    },
  };
}

function replaceDoc(d: Doc, s: BuildSettings): Doc[] {
  const n = names(s.uuid);
  if (is(d, "ClusterRole", n.clusterRole)) return [{ ...d, rules: CLUSTER_RULES }];
  if (is(d, "Deployment", n.watcher)) return [shapeWatcher(d, s)];
  if (isWebhookConfiguration(d)) return [hardenWebhookConfig(d)];
  // replaced by namespacedRbac()
  if (is(d, "Role", n.storeRole) || is(d, "RoleBinding", n.storeRole)) return [];
  return [d];
}

/** Applies every change; throws if the input does not look like Pepr's output. */
export function productionize(docs: Doc[], s: BuildSettings): Doc[] {
  const n = names(s.uuid);
  for (const [kind, name] of [
    ["ClusterRole", n.clusterRole],
    ["Deployment", n.watcher],
    ["Secret", n.moduleSecret],
    ["MutatingWebhookConfiguration", n.webhook],
    ["ValidatingWebhookConfiguration", n.webhook],
  ]) {
    if (!docs.some(d => is(d, kind, name)))
      throw new Error(`pepr build output has no ${kind} ${name}: is pepr still 1.1.4?`);
  }
  const out = docs.filter(Boolean).flatMap(d => replaceDoc(d, s));
  const at = out.findIndex(d => is(d, "Deployment"));
  return [
    PEPR_STORE_CRD,
    ...out.slice(0, at),
    ...namespacedRbac(s.uuid),
    ...out.slice(at),
    tunnelService(s),
    watcherPdb(s.uuid),
  ];
}

/** Every rule of every Role and ClusterRole, for the no-wildcard check. */
export function wildcardRules(docs: Doc[]): Doc[] {
  return docs
    .filter(d => is(d, "Role") || is(d, "ClusterRole"))
    .flatMap(d => d.rules ?? [])
    .filter((r: Doc) => ["apiGroups", "resources", "verbs"].some(k => (r[k] ?? []).includes("*")));
}
