// The placement policy, pure: a namespace that carries the allowed-base-clusters annotation may
// place module pods only on bases of those clusters. A pod that asks for no cluster is given all
// of them; a pod that asks for another one is refused with a message that says what to change.
import type {
  V1NodeSelectorRequirement,
  V1NodeSelectorTerm,
  V1ObjectMeta,
  V1Pod,
} from "@kubernetes/client-node";
import { ANNOTATION_ALLOWED_BASE_CLUSTERS, LABEL_BASE_CLUSTER_NAME } from "../lib/contract";
import { isLabelValue } from "../lib/labels";
import { anyOf, sameRequirement, withRequiredNodeAffinity } from "../lib/admission/affinity";
import { newProblems } from "../lib/admission/messages";

/** What a namespace's annotation means for the module pods created in it. */
export type Policy =
  /** No annotation: the namespace is not restricted. */
  | { kind: "none" }
  | { kind: "allowed"; namespace: string; clusters: string[] }
  /** The policy cannot be applied (bad annotation, unreadable namespace): refuse every module pod. */
  | { kind: "refuse"; problem: string };

const TERMS = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution";

const quoted = (v: string) => JSON.stringify(v);

/** Reads the namespace's annotation; a value that names no valid cluster refuses everything. */
export function policyOf(namespace: string, annotation: string | undefined): Policy {
  if (annotation === undefined) return { kind: "none" };
  const entries = anyOf(annotation);
  const bad = entries.filter(e => !isLabelValue(e));
  if (entries.length && !bad.length) {
    return { kind: "allowed", namespace, clusters: [...new Set(entries)] };
  }
  const why = bad.length
    ? `${bad.map(quoted).join(", ")} ${bad.length === 1 ? "is not a base cluster name" : "are not base cluster names"}`
    : "it lists no base cluster";
  return {
    kind: "refuse",
    problem: `namespace ${quoted(namespace)} has annotation ${ANNOTATION_ALLOWED_BASE_CLUSTERS}=${quoted(annotation)}, but ${why}, so no module pod can be placed there: set it to a comma-separated list of ${LABEL_BASE_CLUSTER_NAME} values of your bases, e.g. "cluster-a,cluster-b", or remove it to lift the placement policy`,
  };
}

/** The policy of a namespace that could not be read: refuse, rather than admit unchecked. */
export function unreadablePolicy(namespace: string, reason: string): Policy {
  return {
    kind: "refuse",
    problem: `cannot check the placement policy of namespace ${quoted(namespace)}: reading it failed (${reason}), and module pods there are refused until it can be read: try again; if it keeps failing, check that the apiserver answers and that the module may get namespaces`,
  };
}

/** Where a pod asks for base clusters (label or annotation), and which ones. */
export interface Ask {
  field: string;
  clusters: string[];
}

/** The clusters a pod asks for, read the way module-admission reads them (affinity.ts). */
export function clusterAsks(meta: V1ObjectMeta | undefined): Ask[] {
  const from = (kind: "labels" | "annotations"): Ask => ({
    field: `metadata.${kind}[${quoted(LABEL_BASE_CLUSTER_NAME)}]`,
    clusters: anyOf(meta?.[kind]?.[LABEL_BASE_CLUSTER_NAME]),
  });
  return [from("labels"), from("annotations")].filter(a => a.clusters.length);
}

const clusterIn = (clusters: string[]): V1NodeSelectorRequirement => ({
  key: LABEL_BASE_CLUSTER_NAME,
  operator: "In",
  values: clusters,
});

/**
 * A module pod that asks for no cluster gets the annotation base.koupleless.io/cluster-name
 * listing every allowed cluster, and the matching node affinity. The affinity is added here too,
 * equal to what module-admission derives from that annotation, so the result is the same
 * whichever capability mutates first. Pods that ask are left alone: validation judges them.
 */
export function placeModulePod(pod: V1Pod, policy: Policy): V1Pod {
  if (policy.kind !== "allowed" || !pod.spec || clusterAsks(pod.metadata).length) return pod;
  const annotations = {
    ...pod.metadata?.annotations,
    [LABEL_BASE_CLUSTER_NAME]: policy.clusters.join(","),
  };
  const affinity = withRequiredNodeAffinity(pod.spec.affinity, [clusterIn(policy.clusters)]);
  return { ...pod, metadata: { ...pod.metadata, annotations }, spec: { ...pod.spec, affinity } };
}

type Allowed = Extract<Policy, { kind: "allowed" }>;

const listed = (clusters: string[]) => clusters.join(", ");
const outside = (clusters: string[], p: Allowed) => clusters.filter(c => !p.clusters.includes(c));

function rule(p: Allowed): string {
  return `namespace ${quoted(p.namespace)} allows module pods only on base clusters ${listed(p.clusters)} (its annotation ${ANNOTATION_ALLOWED_BASE_CLUSTERS})`;
}

function askedFor(field: string, clusters: string[], p: Allowed): string {
  const which = `base cluster${clusters.length === 1 ? "" : "s"} ${listed(clusters)}`;
  return `${field} asks for ${which}, but ${rule(p)}`;
}

function askProblems(meta: V1ObjectMeta | undefined, p: Allowed): string[] {
  return clusterAsks(meta).flatMap(ask => {
    const bad = outside(ask.clusters, p);
    if (!bad.length) return [];
    return [
      `${askedFor(ask.field, bad, p)}: ask for some of ${listed(p.clusters)}, or remove the label and annotation ${LABEL_BASE_CLUSTER_NAME} to get all of them; for another cluster, whoever manages the namespace must add it to that annotation`,
    ];
  });
}

function termProblems(
  term: V1NodeSelectorTerm,
  i: number,
  derived: V1NodeSelectorRequirement[],
  p: Allowed,
) {
  const field = `${TERMS}.nodeSelectorTerms[${i}]`;
  const exprs = term.matchExpressions ?? [];
  const onCluster = exprs
    .map((r, j) => ({ r, j }))
    .filter(({ r }) => r.key === LABEL_BASE_CLUSTER_NAME && r.operator === "In");
  if (!onCluster.length) {
    return [
      `${field} does not restrict ${LABEL_BASE_CLUSTER_NAME}, so the pod could land on a base of any cluster, but ${rule(p)}: add {key: ${LABEL_BASE_CLUSTER_NAME}, operator: In, values: [${listed(p.clusters)}]} (or some of them) to its matchExpressions`,
    ];
  }
  // Requirements made from the pod's label or annotation were already reported above.
  return onCluster
    .filter(({ r }) => !derived.some(d => sameRequirement(d, r)))
    .filter(({ r }) => outside(r.values ?? [], p).length)
    .map(
      ({ r, j }) =>
        `${askedFor(`${field}.matchExpressions[${j}]`, outside(r.values ?? [], p), p)}: keep only allowed clusters in its values, or remove it`,
    );
}

function affinityProblems(pod: V1Pod, p: Allowed): string[] {
  const terms =
    pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
      ?.nodeSelectorTerms ?? [];
  if (!terms.length) {
    return [
      `${TERMS} has no nodeSelectorTerms, so the pod could land on a base of any cluster, but ${rule(p)}: set the pod annotation ${LABEL_BASE_CLUSTER_NAME}: "${p.clusters.join(",")}" (admission turns it into node affinity)`,
    ];
  }
  const derived = clusterAsks(pod.metadata).map(a => clusterIn(a.clusters));
  return terms.flatMap((t, i) => termProblems(t, i, derived, p));
}

function nodeNameProblems(pod: V1Pod, p: Allowed): string[] {
  const nodeName = pod.spec?.nodeName;
  if (!nodeName) return [];
  return [
    `spec.nodeName ${quoted(nodeName)} skips the scheduler, and with it the node affinity that keeps the pod on the allowed bases, and ${rule(p)}: remove spec.nodeName and let the scheduler choose a base of an allowed cluster`,
  ];
}

/**
 * Everything that breaks the policy in the final (mutated) pod, one message per problem: every
 * cluster it asks for must be allowed, and every required nodeSelectorTerm must keep it on
 * allowed clusters (the terms are ORed, so one open term would let it go anywhere).
 */
export function placementProblems(pod: V1Pod, policy: Policy): string[] {
  if (policy.kind === "none") return [];
  if (policy.kind === "refuse") return [policy.problem];
  return [
    ...askProblems(pod.metadata, policy),
    ...nodeNameProblems(pod, policy),
    ...affinityProblems(pod, policy),
  ];
}

/**
 * What a CREATE (no old pod) or an UPDATE is refused for. The labels and annotations the policy
 * judges can change at any time, so an UPDATE is judged too, by the problems it adds:
 * `kubectl label pod … --overwrite` cannot ask for another cluster, while a pod admitted before
 * the namespace got (or changed) its annotation can still be labelled, annotated and deleted.
 */
export function requestProblems(pod: V1Pod, policy: Policy, oldPod?: V1Pod): string[] {
  return newProblems(p => placementProblems(p, policy), pod, oldPod);
}
