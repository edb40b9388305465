// Shared by every admission capability: how problems become one answer to `kubectl apply`.
import type { V1Pod } from "@kubernetes/client-node";

/**
 * The problems a request would introduce. On UPDATE, problems the old pod already had do not
 * count: a pod admitted under older rules (or before this webhook existed) must still be
 * labelled, annotated and finalized, or it could never be deleted cleanly.
 */
export function newProblems(check: (pod: V1Pod) => string[], pod: V1Pod, oldPod?: V1Pod): string[] {
  const before = new Set(oldPod ? check(oldPod) : []);
  return check(pod).filter(p => !before.has(p));
}

/** One message for the whole request, listing every problem so that one fix round suffices. */
export function denyMessage(problems: string[]): string {
  if (problems.length === 1) return problems[0];
  return `${problems.length} problems: ${problems.map((p, i) => `(${i + 1}) ${p}`).join("; ")}`;
}
