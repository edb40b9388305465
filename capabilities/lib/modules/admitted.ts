// Module pods the admission webhooks never saw: created in a namespace the webhooks leave out,
// or while they were missing. Nothing checked them (jar allowlist, versions), so they are never
// installed: say so once, on the pod, with the fix. Pure, but for reading package.json once.
import type { V1Pod, V1PodCondition } from "@kubernetes/client-node";
import pkg from "../../../package.json";
import { ANNOTATION_MUTATED, MODULE_NAMESPACE } from "../contract";

export const ADMITTED_CONDITION = "KouplelessAdmitted";
export const NOT_ADMITTED_REASON = "NotAdmitted";

/** The parts of package.json's `pepr` section that leave namespaces out of the webhooks. */
export interface PeprIgnore {
  alwaysIgnore?: { namespaces?: string[] };
  admission?: { alwaysIgnore?: { namespaces?: string[] } };
}

/**
 * Every namespace the webhooks may leave out: the two Pepr always does, both package.json
 * lists, and PEPR_ADDITIONAL_IGNORED_NAMESPACES (the Helm chart's additionalIgnoredNamespaces).
 */
export function excludedNamespaces(pepr: PeprIgnore, additional?: string): Set<string> {
  return new Set(
    [
      "kube-system",
      MODULE_NAMESPACE,
      ...(pepr.alwaysIgnore?.namespaces ?? []),
      ...(pepr.admission?.alwaysIgnore?.namespaces ?? []),
      ...(additional ?? "").split(","),
    ]
      .map(ns => ns.trim())
      .filter(Boolean),
  );
}

/** This module's: read once, as the webhooks were made from the same settings. */
export const EXCLUDED_NAMESPACES = excludedNamespaces(
  pkg.pepr,
  process.env.PEPR_ADDITIONAL_IGNORED_NAMESPACES,
);

/** Why admission cannot have seen this module pod, or undefined when it did. */
export function admissionProblem(pod: V1Pod, excluded: ReadonlySet<string>): string | undefined {
  const ns = pod.metadata?.namespace ?? "";
  if (excluded.has(ns)) {
    return (
      `namespace ${ns} is left out of the koupleless-pepr admission webhooks, so nothing checked ` +
      `this module pod and it will never be installed: create module pods in another namespace`
    );
  }
  if (pod.metadata?.annotations?.[ANNOTATION_MUTATED] === undefined) {
    return (
      `admission never saw this pod as a module pod (it has no ${ANNOTATION_MUTATED} annotation: ` +
      `it was created while the koupleless-pepr webhooks were missing), so nothing checked it and ` +
      `it will never be installed: delete it and create it again while the controller runs`
    );
  }
  return undefined;
}

/** True for a pod not flagged yet (and not on its way out). */
export function needsAdmissionFlag(pod: V1Pod): boolean {
  if (pod.metadata?.deletionTimestamp) return false;
  return !(pod.status?.conditions ?? []).some(c => c.type === ADMITTED_CONDITION);
}

/** The pod's conditions plus ours (a merge patch replaces the whole list). */
export function withAdmissionCondition(pod: V1Pod, why: string, now: Date): V1PodCondition[] {
  const ours: V1PodCondition = {
    type: ADMITTED_CONDITION,
    status: "False",
    reason: NOT_ADMITTED_REASON,
    message: why,
    lastTransitionTime: now,
  };
  return [...(pod.status?.conditions ?? []).filter(c => c.type !== ADMITTED_CONDITION), ours];
}
