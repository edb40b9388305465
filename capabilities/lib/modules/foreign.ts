// Pods without the module label that still land on a VNode (DaemonSets that tolerate every
// taint do this). Nothing can run them on a base: say so once, with the fix. Pure.
import type { V1Pod, V1PodCondition } from "@kubernetes/client-node";
import { LABEL_TYPE, TYPE_VIRTUAL_KUBELET } from "../contract";
import { isModulePod } from "./biz";

export const FOREIGN_CONDITION = "KouplelessModule";
export const FOREIGN_REASON = "NotAModulePod";

export function foreignMessage(node: string): string {
  return (
    `${node} is a Koupleless base (a VNode): it runs only pods labelled virtual-kubelet.koupleless.io/component=module, ` +
    `so this pod will never start here. Keep it off VNodes with a required node affinity ` +
    `"${LABEL_TYPE} NotIn [${TYPE_VIRTUAL_KUBELET}]", or drop the toleration that lets it on.`
  );
}

/** True for a non-module pod on a VNode that we have not flagged yet. */
export function needsForeignFlag(pod: V1Pod): boolean {
  if (isModulePod(pod) || pod.metadata?.deletionTimestamp) return false;
  return !(pod.status?.conditions ?? []).some(c => c.type === FOREIGN_CONDITION);
}

/** The pod's conditions plus ours (a merge patch replaces the whole list). */
export function withForeignCondition(pod: V1Pod, node: string, now: Date): V1PodCondition[] {
  const ours: V1PodCondition = {
    type: FOREIGN_CONDITION,
    status: "False",
    reason: FOREIGN_REASON,
    message: foreignMessage(node),
    lastTransitionTime: now,
  };
  return [...(pod.status?.conditions ?? []).filter(c => c.type !== FOREIGN_CONDITION), ours];
}
