// Pod ↔ biz as Koupleless sees it (contract §3.1): one container is one biz, named by the
// container, versioned by its BIZ_VERSION env var, fetched from the URL in its image.
import type { V1Container, V1EnvVar, V1Pod } from "@kubernetes/client-node";
import { COMPONENT_MODULE, ENV_BIZ_VERSION, LABEL_COMPONENT } from "../contract";

/** True when the pod carries the module label, i.e. it is a Koupleless module. */
export function isModulePod(pod: V1Pod): boolean {
  return pod.metadata?.labels?.[LABEL_COMPONENT] === COMPONENT_MODULE;
}

/** The container's BIZ_VERSION entry with its index in `env`, if it has one. */
export function bizVersionEnv(c: V1Container): { index: number; env: V1EnvVar } | undefined {
  const index = (c.env ?? []).findIndex(e => e.name === ENV_BIZ_VERSION);
  return index < 0 ? undefined : { index, env: c.env![index] };
}

/** The biz version Arklet will be told: the literal value only (valueFrom is never read). */
export function bizVersion(c: V1Container): string | undefined {
  return bizVersionEnv(c)?.env.value;
}

/** Arklet's key for a biz: name:version. */
export function bizKey(c: V1Container): string {
  return `${c.name}:${bizVersion(c) ?? ""}`;
}

/** What Arklet needs to install one biz. */
export interface BizSpec {
  bizName: string;
  bizVersion: string;
  bizUrl: string;
}

export const specKey = (b: { bizName: string; bizVersion: string }) =>
  `${b.bizName}:${b.bizVersion}`;

/** The bizzes a module pod asks for: containers whose image is a jar (as upstream counts them). */
export function bizzesOf(pod: V1Pod): BizSpec[] {
  return (pod.spec?.containers ?? [])
    .filter(c => (c.image ?? "").includes(".jar"))
    .map(c => ({ bizName: c.name, bizVersion: bizVersion(c) ?? "", bizUrl: c.image ?? "" }));
}

export const podKey = (pod: V1Pod) => `${pod.metadata?.namespace}/${pod.metadata?.name}`;
