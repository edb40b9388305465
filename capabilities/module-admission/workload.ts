// Deployments and DaemonSets of module pods: their pods are created by controllers, which only
// log admission's answers, so a template that can never work would fail without a word to the
// person who applied it. Judged here, on the template, as warnings only (the workload itself
// is never refused; its webhook entry fails open).
import type { V1PodTemplateSpec } from "@kubernetes/client-node";
import type { Config } from "../lib/config";
import { isModulePod } from "../lib/modules/biz";
import { moduleWarnings, validateModulePod } from "./validate";

export interface Workload {
  kind?: string;
  spec?: { template?: V1PodTemplateSpec };
}

/** A field path of a pod, as the same field of the workload's template. */
const inTemplate = (message: string) => message.replace(/^spec\./, "spec.template.spec.");

/** What the workload's pods will meet at admission, said once on the workload. */
export function workloadWarnings(w: Workload, cfg: Config): string[] {
  const template = w.spec?.template;
  const pod = { metadata: template?.metadata, spec: template?.spec };
  if (!template || !isModulePod(pod)) return [];
  const refused = validateModulePod(pod, cfg).map(
    p => `its module pods will be refused at creation: ${inTemplate(p)}`,
  );
  return [...refused, ...moduleWarnings(pod, cfg).map(inTemplate)];
}
