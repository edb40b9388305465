// Rejects pods that could never run, with messages that name the field and say how to fix it.
// Pure, and runs after mutation (validating webhooks see the mutated pod).
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import type { Config } from "../lib/config";
import {
  COMPONENT_MODULE,
  ENV_BIZ_VERSION,
  LABEL_COMPONENT,
  TAINT_NODE_ENV,
  TAINT_VIRTUAL_NODE,
  VNODE_PREFIX,
} from "../lib/contract";
import { bizKey, bizVersionEnv, isModulePod } from "../lib/modules/biz";
import { jarUrlProblem } from "./jar-url";
import { otherEnvsChosen } from "./tolerations";

/** Longest BIZ_VERSION accepted; longer ones are almost surely pasted by mistake. */
export const MAX_BIZ_VERSION_LENGTH = 128;

// What Kubernetes allows as a container name (DNS-1123 label); a biz name must also be a label
// value (module.koupleless.io/name) and must not contain ':' (Arklet's name:version key).
const BIZ_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function nameProblem(c: V1Container, field: string): string | undefined {
  if (BIZ_NAME.test(c.name ?? "") && c.name.length <= 63) return undefined;
  return `${field}.name "${c.name ?? ""}" cannot be a biz name: use the jar's Ark-Biz-Name (the module's artifactId), in lowercase letters, digits and '-', at most 63 characters`;
}

function versionProblem(c: V1Container, field: string): string | undefined {
  const found = bizVersionEnv(c);
  const fix = `set value to the jar's Ark-Biz-Version, e.g. {name: ${ENV_BIZ_VERSION}, value: "0.0.1"}`;
  if (!found) {
    return `${field}.env has no ${ENV_BIZ_VERSION}: add {name: ${ENV_BIZ_VERSION}, value: <the jar's Ark-Biz-Version>}`;
  }
  const at = `${field}.env[${found.index}]`;
  const v = found.env.value;
  if (found.env.valueFrom) {
    return `${at} (${ENV_BIZ_VERSION}) uses valueFrom, which Arklet never sees: ${fix}`;
  }
  if (!v) return `${at}.value (${ENV_BIZ_VERSION}) is empty: ${fix}`;
  if (/\s/.test(v)) {
    return `${at}.value (${ENV_BIZ_VERSION}) "${v}" contains whitespace: remove it, so that it equals the jar's Ark-Biz-Version`;
  }
  if (v.length > MAX_BIZ_VERSION_LENGTH) {
    return `${at}.value (${ENV_BIZ_VERSION}) is ${v.length} characters long, more than ${MAX_BIZ_VERSION_LENGTH}: ${fix}`;
  }
  return undefined;
}

function containerProblems(c: V1Container, i: number, cfg: Config): string[] {
  const field = `spec.containers[${i}]`;
  return [
    nameProblem(c, field),
    jarUrlProblem(`${field}.image`, c.image, cfg),
    versionProblem(c, field),
  ].filter((p): p is string => p !== undefined);
}

/** Arklet keys bizzes by name:version, so two containers with the same key would be one biz. */
function duplicateProblems(containers: V1Container[]): string[] {
  return containers.flatMap((c, i) => {
    const first = containers.findIndex(o => bizKey(o) === bizKey(c));
    if (first === i) return [];
    return [
      `spec.containers[${i}] is biz ${bizKey(c)} again (same as spec.containers[${first}]): a base runs one biz per name and version, so remove one of them or give it another name or ${ENV_BIZ_VERSION}`,
    ];
  });
}

/** A VNode name is vnode.<identity>.<env>, with a non-empty identity. */
export function isVNodeName(name: string, env: string): boolean {
  const suffix = `.${env}`;
  return (
    name.startsWith(VNODE_PREFIX) &&
    name.endsWith(suffix) &&
    name.length > VNODE_PREFIX.length + suffix.length
  );
}

function nodeNameProblems(nodeName: string | undefined, env: string): string[] {
  if (!nodeName || isVNodeName(nodeName, env)) return [];
  return [
    `spec.nodeName "${nodeName}" is not a VNode of env "${env}" (those are named ${VNODE_PREFIX}<identity>.${env}), and nothing else can run a module: remove spec.nodeName to let the scheduler pick a base, or name a VNode`,
  ];
}

/** Everything wrong with a module pod, one message per problem; empty when it can run. */
export function validateModulePod(pod: V1Pod, cfg: Config): string[] {
  const containers = pod.spec?.containers ?? [];
  return [
    ...containers.flatMap((c, i) => containerProblems(c, i, cfg)),
    ...duplicateProblems(containers),
    ...nodeNameProblems(pod.spec?.nodeName, cfg.env),
  ];
}

/**
 * A pod that is not a module but tolerates the VNode taint by name could be scheduled on a
 * VNode, where nothing would ever run it. Tolerating every taint (empty key with Exists, as
 * kube-proxy-like DaemonSets do) is a different intent and is allowed.
 */
export function validateForeignPod(pod: V1Pod, cfg: Config): string[] {
  if (!cfg.rejectForeignVNodeTolerations || isModulePod(pod)) return [];
  return (pod.spec?.tolerations ?? []).flatMap((t, i) =>
    t.key === TAINT_VIRTUAL_NODE
      ? [
          `spec.tolerations[${i}] tolerates ${TAINT_VIRTUAL_NODE}, but the pod has no label ${LABEL_COMPONENT}=${COMPONENT_MODULE}, so it could land on a VNode where nothing runs it: remove the toleration, or add the label if this is a Koupleless module`,
        ]
      : [],
  );
}

const MODULE_LABEL = `${LABEL_COMPONENT}=${COMPONENT_MODULE}`;

/**
 * A pod becomes a module, or stops being one, only by being created: mutation and validation
 * run on create, and the controller installs only what they saw (a label added later would
 * install a pod nothing checked; one removed later would leave its biz to the orphan rule).
 */
export function moduleLabelProblems(pod: V1Pod, oldPod: V1Pod | undefined): string[] {
  if (!oldPod || isModulePod(oldPod) === isModulePod(pod)) return [];
  if (isModulePod(pod)) {
    return [
      `metadata.labels: ${MODULE_LABEL} can only be set when the pod is created, so that admission fills in and checks what a module needs: delete the pod and create it with the label (in a Deployment, put the label in the pod template)`,
    ];
  }
  return [
    `metadata.labels: ${MODULE_LABEL} cannot be removed from a module pod: delete the pod instead (its biz is uninstalled as it goes)`,
  ];
}

/**
 * Node label keys of upstream docs and samples that no VNode carries: Koupleless's
 * virtual-kubelet 0.3.5 renamed `vnode.koupleless.io/*` to `base.koupleless.io/*` and dropped
 * the tunnel label; `base.koupleless.io/stack` exists only in the docs. Value: what to use.
 */
export const STALE_NODE_LABELS: Record<string, string | undefined> = {
  "vnode.koupleless.io/name": "base.koupleless.io/name",
  "vnode.koupleless.io/version": "base.koupleless.io/version",
  "vnode.koupleless.io/cluster-name": "base.koupleless.io/cluster-name",
  "vnode.koupleless.io/tunnel": undefined,
  "base.koupleless.io/stack": undefined,
};

const REQUIRED_TERMS =
  "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms";

/** Where a pod requires node labels: its nodeSelector keys and its required affinity's keys. */
function requiredNodeKeys(pod: V1Pod): { field: string; key: string }[] {
  const selector = Object.keys(pod.spec?.nodeSelector ?? {}).map(key => ({
    field: `spec.nodeSelector["${key}"]`,
    key,
  }));
  const terms =
    pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
      ?.nodeSelectorTerms ?? [];
  const affinity = terms.flatMap((t, i) =>
    (t.matchExpressions ?? []).map((e, j) => ({
      field: `${REQUIRED_TERMS}[${i}].matchExpressions[${j}]`,
      key: e.key,
    })),
  );
  return [...selector, ...affinity];
}

function staleKeyWarning(field: string, key: string): string {
  const use = STALE_NODE_LABELS[key];
  const fix = use ? `use ${use}` : "remove it";
  return `${field} requires node label ${key}, which no VNode carries (upstream renamed or dropped it): the pod stays Pending; ${fix}`;
}

/**
 * What will not work but is not refused, for kubectl to print (admission warnings): a chosen
 * node environment this controller does not serve, and node labels no VNode carries.
 */
export function moduleWarnings(pod: V1Pod, cfg: Config): string[] {
  const stale = requiredNodeKeys(pod)
    .filter(r => r.key in STALE_NODE_LABELS)
    .map(r => staleKeyWarning(r.field, r.key));
  const others = otherEnvsChosen(pod.spec?.tolerations, cfg.env);
  const env = others.length
    ? [
        `spec.tolerations choose ${TAINT_NODE_ENV}=${others.join("|")}: this controller serves env "${cfg.env}" only, so the pod waits for a controller with KOUPLELESS_ENV=${others[0]}; to run it here, tolerate ${TAINT_NODE_ENV}=${cfg.env} or leave that toleration out`,
      ]
    : [];
  return [...env, ...stale];
}
