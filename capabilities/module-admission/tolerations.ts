import type { V1Toleration } from "@kubernetes/client-node";
import {
  TAINT_EFFECT,
  TAINT_NODE_ENV,
  TAINT_VIRTUAL_NODE,
  TAINT_VIRTUAL_NODE_VALUE,
} from "../lib/contract";

/** The two NoExecute tolerations every module pod needs to land on a VNode of this env. */
export function vnodeTolerations(env: string): V1Toleration[] {
  return [
    {
      key: TAINT_VIRTUAL_NODE,
      operator: "Equal",
      value: TAINT_VIRTUAL_NODE_VALUE,
      effect: TAINT_EFFECT,
    },
    { key: TAINT_NODE_ENV, operator: "Equal", value: env, effect: TAINT_EFFECT },
  ];
}

/** True when `have` already tolerates the taint that `want` is written for. */
export function tolerates(have: V1Toleration, want: V1Toleration): boolean {
  const effectOk = !have.effect || have.effect === want.effect;
  if (!effectOk) return false;
  if (!have.key) return have.operator === "Exists"; // empty key + Exists tolerates everything
  if (have.key !== want.key) return false;
  return have.operator === "Exists" || (have.value ?? "") === (want.value ?? "");
}

/**
 * Returns the pod's tolerations with the VNode tolerations appended where missing.
 * Never drops or rewrites what the user wrote; a second call is a no-op.
 */
export function withVNodeTolerations(
  existing: V1Toleration[] | undefined,
  env: string,
): V1Toleration[] {
  const current = existing ?? [];
  const missing = vnodeTolerations(env).filter(
    want => !current.some(have => tolerates(have, want)),
  );
  return [...current, ...missing];
}
