import type { V1Toleration } from "@kubernetes/client-node";
import {
  TAINT_EFFECT,
  TAINT_NODE_ENV,
  TAINT_NOT_READY,
  TAINT_UNREACHABLE,
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
 * The node environments a pod chose by tolerating `schedule.koupleless.io/node-env` with a value
 * other than ours (upstream samples tolerate `test`). Empty when it chose none, or ours, or any
 * (`Exists`): then it is ours to place.
 */
export function otherEnvsChosen(tolerations: V1Toleration[] | undefined, env: string): string[] {
  const envTolerations = (tolerations ?? []).filter(t => t.key === TAINT_NODE_ENV);
  const explicit = envTolerations.filter(t => t.operator !== "Exists" && t.value);
  if (explicit.length === 0 || envTolerations.length !== explicit.length) return [];
  const values = [...new Set(explicit.map(t => t.value as string))];
  return values.includes(env) ? [] : values;
}

/**
 * Returns the pod's tolerations with the VNode tolerations appended where missing. A pod that
 * chose another node environment keeps that choice: ours is not added on top. Never drops or
 * rewrites what the user wrote; a second call is a no-op.
 */
export function withVNodeTolerations(
  existing: V1Toleration[] | undefined,
  env: string,
): V1Toleration[] {
  const current = existing ?? [];
  const own = otherEnvsChosen(current, env).length === 0;
  const missing = vnodeTolerations(env)
    .filter(want => own || want.key !== TAINT_NODE_ENV)
    .filter(want => !current.some(have => tolerates(have, want)));
  return [...current, ...missing];
}

/** The taints the node-lifecycle controller puts on a Node whose base stopped answering. */
export const FAILOVER_TAINTS = [TAINT_NOT_READY, TAINT_UNREACHABLE];

/**
 * What kube-apiserver's DefaultTolerationSeconds plugin gives every pod that has no toleration
 * of its own for the failover taints (its --default-*-toleration-seconds flags default to 300).
 * The plugin runs before any webhook, so this is what we see on a pod that set nothing.
 */
export const DEFAULT_TOLERATION_SECONDS = 300;

/** The failover toleration a module pod should have: leave a dead base after `seconds`. */
export function failoverToleration(key: string, seconds: number): V1Toleration {
  return { key, operator: "Exists", effect: TAINT_EFFECT, tolerationSeconds: seconds };
}

/** True for the toleration DefaultTolerationSeconds adds, as opposed to one the user chose. */
export function isDefaultFailoverToleration(t: V1Toleration): boolean {
  return (
    FAILOVER_TAINTS.includes(t.key ?? "") &&
    t.operator === "Exists" &&
    t.effect === TAINT_EFFECT &&
    !t.value &&
    t.tolerationSeconds === DEFAULT_TOLERATION_SECONDS
  );
}

function withFailover(current: V1Toleration[], key: string, seconds: number): V1Toleration[] {
  const want = failoverToleration(key, seconds);
  // The pod's own choice wins, including an empty key with Exists ("never evict me").
  const own = current.some(t => tolerates(t, want) && !isDefaultFailoverToleration(t));
  if (own) return current;
  const i = current.findIndex(t => t.key === key && isDefaultFailoverToleration(t));
  if (i < 0) return [...current, want];
  return current.map((t, j) => (j === i ? { ...t, tolerationSeconds: seconds } : t));
}

/**
 * Returns the tolerations with `node.kubernetes.io/not-ready|unreachable` NoExecute tolerated
 * for `seconds`, so that a module leaves a dead base quickly instead of after 5 minutes. A
 * toleration the pod wrote itself is kept as it is; the apiserver's 300 s default is shortened.
 */
export function withFailoverTolerations(
  existing: V1Toleration[] | undefined,
  seconds: number,
): V1Toleration[] {
  return FAILOVER_TAINTS.reduce((acc, key) => withFailover(acc, key, seconds), existing ?? []);
}
