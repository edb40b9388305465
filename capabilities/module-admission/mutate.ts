// Fills in what a module pod needs to be scheduled on a VNode of this env. Pure: the input is
// never modified, nothing the user wrote is dropped, and mutating the result again changes
// nothing (so a retried admission or a re-applied manifest is harmless).
import type { V1Pod } from "@kubernetes/client-node";
import { equals } from "ramda";
import type { Config } from "../lib/config";
import { ANNOTATION_MUTATED, LABEL_MODULE_NAME, LABEL_MODULE_VERSION } from "../lib/contract";
import {
  vnodeRequirements,
  withRequiredNodeAffinity,
  withSpreadAntiAffinity,
} from "../lib/admission/affinity";
import { bizVersion } from "../lib/modules/biz";
import { otherEnvsChosen, withFailoverTolerations, withVNodeTolerations } from "./tolerations";

export interface Mutation {
  pod: V1Pod;
  /** Names of the steps that changed something, in order; empty when the pod was complete. */
  changes: string[];
}

type Step = (pod: V1Pod, cfg: Config) => V1Pod;

// A label value: at most 63 characters, alphanumerics with '-', '_' or '.' inside.
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** The node environments the pod runs in: ours, unless it chose others by toleration. */
function targetEnvs(pod: V1Pod, env: string): string[] {
  const others = otherEnvsChosen(pod.spec?.tolerations, env);
  return others.length ? others : [env];
}

const vnodeTolerationsStep: Step = (pod, cfg) => ({
  ...pod,
  spec: { ...pod.spec!, tolerations: withVNodeTolerations(pod.spec?.tolerations, cfg.env) },
});

const failoverTolerationsStep: Step = (pod, cfg) => ({
  ...pod,
  spec: {
    ...pod.spec!,
    tolerations: withFailoverTolerations(pod.spec?.tolerations, cfg.failoverSeconds),
  },
});

const nodeAffinityStep: Step = (pod, cfg) => ({
  ...pod,
  spec: {
    ...pod.spec!,
    affinity: withRequiredNodeAffinity(
      pod.spec?.affinity,
      vnodeRequirements(pod.metadata, targetEnvs(pod, cfg.env)),
    ),
  },
});

/** The module labels a single-biz pod should carry (several bizzes have no single name). */
function moduleLabels(pod: V1Pod): Record<string, string> {
  const containers = pod.spec?.containers ?? [];
  if (containers.length !== 1) return {};
  const [c] = containers;
  const version = bizVersion(c);
  const wanted: Record<string, string> = { [LABEL_MODULE_NAME]: c.name };
  // A version that is no valid label value would make the apiserver reject the whole pod.
  if (version && version.length <= 63 && LABEL_VALUE.test(version)) {
    wanted[LABEL_MODULE_VERSION] = version;
  }
  return wanted;
}

// A label the user set is never replaced, even with another value.
const moduleLabelsStep: Step = pod => {
  const labels = pod.metadata?.labels ?? {};
  const missing = Object.entries(moduleLabels(pod)).filter(([k]) => labels[k] === undefined);
  if (!missing.length) return pod;
  return {
    ...pod,
    metadata: { ...pod.metadata, labels: { ...labels, ...Object.fromEntries(missing) } },
  };
};

const antiAffinityStep: Step = (pod, cfg) => {
  const bizName = pod.metadata?.labels?.[LABEL_MODULE_NAME];
  if (!bizName || cfg.antiAffinityWeight === 0) return pod;
  const affinity = withSpreadAntiAffinity(pod.spec?.affinity, bizName, cfg.antiAffinityWeight);
  return { ...pod, spec: { ...pod.spec!, affinity } };
};

// Order matters: the anti-affinity selects on the module name label set just before it.
const STEPS: Array<[string, Step]> = [
  ["vnode-tolerations", vnodeTolerationsStep],
  ["failover-tolerations", failoverTolerationsStep],
  ["node-affinity", nodeAffinityStep],
  ["module-labels", moduleLabelsStep],
  ["pod-anti-affinity", antiAffinityStep],
];

function withMutatedAnnotation(pod: V1Pod, changes: string[]): V1Pod {
  const before = pod.metadata?.annotations?.[ANNOTATION_MUTATED];
  const all = [...new Set([...(before ? before.split(",") : []), ...changes])];
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      annotations: { ...pod.metadata?.annotations, [ANNOTATION_MUTATED]: all.join(",") },
    },
  };
}

/**
 * Adds to a module pod the VNode and failover tolerations, the required VNode affinity, the
 * module labels, the spread anti-affinity, and the annotation naming what was changed (empty
 * when nothing was).
 */
export function mutateModulePod(pod: V1Pod, cfg: Config): Mutation {
  if (!pod.spec) return { pod, changes: [] }; // nothing to schedule; the apiserver rejects it
  let out = pod;
  const changes: string[] = [];
  for (const [name, step] of STEPS) {
    const next = step(out, cfg);
    if (equals(next, out)) continue;
    out = next;
    changes.push(name);
  }
  // always stamped: the worker installs only pods that carry it (admission saw them)
  const stamp = changes.length > 0 || pod.metadata?.annotations?.[ANNOTATION_MUTATED] === undefined;
  return { pod: stamp ? withMutatedAnnotation(out, changes) : pod, changes };
}

/**
 * On UPDATE: puts back the annotation the old pod had (a server-side re-apply of the manifest
 * would drop it), since without it the worker would take the pod for one admission never saw.
 */
export function keepMutatedAnnotation(pod: V1Pod, oldPod: V1Pod | undefined): V1Pod {
  const before = oldPod?.metadata?.annotations?.[ANNOTATION_MUTATED];
  if (before === undefined || pod.metadata?.annotations?.[ANNOTATION_MUTATED] !== undefined) {
    return pod;
  }
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      annotations: { ...pod.metadata?.annotations, [ANNOTATION_MUTATED]: before },
    },
  };
}
