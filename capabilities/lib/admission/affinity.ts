// Scheduling constraints added to module pods: which VNodes they may land on, and a preference
// to spread replicas of one biz over different bases.
import type {
  V1Affinity,
  V1NodeSelectorRequirement,
  V1NodeSelectorTerm,
  V1ObjectMeta,
  V1WeightedPodAffinityTerm,
} from "@kubernetes/client-node";
import { equals } from "ramda";
import {
  COMPONENT_VNODE,
  LABEL_BASE_CLUSTER_NAME,
  LABEL_BASE_NAME,
  LABEL_BASE_VERSION,
  LABEL_COMPONENT,
  LABEL_ENV,
  LABEL_HOSTNAME,
  LABEL_MODULE_NAME,
} from "../contract";

/** Pod labels (or annotations) that restrict a module to some bases; VNodes carry the same keys. */
export const BASE_SELECTOR_KEYS = [LABEL_BASE_NAME, LABEL_BASE_VERSION, LABEL_BASE_CLUSTER_NAME];

/** "a, b" → ["a", "b"]: a comma-separated value means any of them. */
export function anyOf(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map(s => s.trim())
    .filter(Boolean);
}

function inValues(key: string, values: string[]): V1NodeSelectorRequirement {
  return { key, operator: "In", values };
}

/**
 * What a VNode must match for this pod: a VNode of this env, plus the base name, version and
 * cluster name the pod asks for. They are read from labels and from annotations of the same
 * key, because a label value cannot hold a comma and "any of" needs one; both apply when set.
 */
export function vnodeRequirements(meta: V1ObjectMeta | undefined, envs: string[]) {
  const reqs: V1NodeSelectorRequirement[] = [
    inValues(LABEL_COMPONENT, [COMPONENT_VNODE]),
    inValues(LABEL_ENV, envs),
  ];
  for (const key of BASE_SELECTOR_KEYS) {
    for (const source of [meta?.labels, meta?.annotations]) {
      const values = anyOf(source?.[key]);
      const req = inValues(key, values);
      if (values.length && !reqs.some(r => sameRequirement(r, req))) reqs.push(req);
    }
  }
  return reqs;
}

/** Same key, operator and set of values (order does not matter to the scheduler). */
export function sameRequirement(a: V1NodeSelectorRequirement, b: V1NodeSelectorRequirement) {
  const sorted = (v?: string[]) => [...(v ?? [])].sort();
  return a.key === b.key && a.operator === b.operator && equals(sorted(a.values), sorted(b.values));
}

function andInto(term: V1NodeSelectorTerm, reqs: V1NodeSelectorRequirement[]): V1NodeSelectorTerm {
  const have = term.matchExpressions ?? [];
  const missing = reqs.filter(r => !have.some(h => sameRequirement(h, r)));
  if (!missing.length) return term;
  return { ...term, matchExpressions: [...have, ...missing] };
}

/**
 * Returns the affinity with `reqs` ANDed into every required nodeSelectorTerm (terms are ORed,
 * so each must carry them), or into a new term when there is none. Keeps everything else.
 */
export function withRequiredNodeAffinity(
  affinity: V1Affinity | undefined,
  reqs: V1NodeSelectorRequirement[],
): V1Affinity {
  const nodeAffinity = affinity?.nodeAffinity;
  const required = nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  const terms = required?.nodeSelectorTerms ?? [];
  return {
    ...affinity,
    nodeAffinity: {
      ...nodeAffinity,
      requiredDuringSchedulingIgnoredDuringExecution: {
        ...required,
        nodeSelectorTerms: (terms.length ? terms : [{}]).map(t => andInto(t, reqs)),
      },
    },
  };
}

/** Prefer bases (kubernetes.io/hostname) that run no other pod of the same biz. */
export function spreadTerm(bizName: string, weight: number): V1WeightedPodAffinityTerm {
  return {
    weight,
    podAffinityTerm: {
      labelSelector: { matchLabels: { [LABEL_MODULE_NAME]: bizName } },
      topologyKey: LABEL_HOSTNAME,
    },
  };
}

/** Appends the spread term unless the same term is already there (at any weight the user chose). */
export function withSpreadAntiAffinity(
  affinity: V1Affinity | undefined,
  bizName: string,
  weight: number,
): V1Affinity | undefined {
  const anti = affinity?.podAntiAffinity;
  const preferred = anti?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
  const want = spreadTerm(bizName, weight);
  if (preferred.some(t => equals(t.podAffinityTerm, want.podAffinityTerm))) return affinity;
  return {
    ...affinity,
    podAntiAffinity: {
      ...anti,
      preferredDuringSchedulingIgnoredDuringExecution: [...preferred, want],
    },
  };
}
