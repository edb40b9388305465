// Pepr generates one webhook per configuration, failurePolicy Fail and no objectSelector, so a
// controller that is down refuses every pod in the cluster. This turns that into webhooks that
// only module pods depend on: the module webhook keeps Fail but selects module pods by label;
// the foreign-pod check (any other pod) gets its own entry with Ignore and a short timeout, and
// so do the workload warnings (Deployments, DaemonSets: they only ever warn).
// Pure and idempotent; used by the build (dist/, Helm) and by the watcher at run time.
import { equals } from "ramda";
import { COMPONENT_MODULE, LABEL_COMPONENT } from "./contract";

export interface LabelSelector {
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
  matchLabels?: Record<string, string>;
}

/** One webhook entry, reduced to what is changed here; every other field is kept as it is. */
export interface WebhookEntry {
  name: string;
  failurePolicy?: string;
  timeoutSeconds?: number;
  objectSelector?: LabelSelector;
  rules?: Array<{ resources?: string[] }>;
  [field: string]: unknown;
}

export interface WebhookConfiguration {
  kind?: string;
  metadata?: { name?: string; [field: string]: unknown };
  webhooks?: WebhookEntry[];
  [field: string]: unknown;
}

export const MUTATING_KIND = "MutatingWebhookConfiguration";
export const VALIDATING_KIND = "ValidatingWebhookConfiguration";

/** A hung controller must not hold every non-module pod create for the full webhook timeout. */
export const FOREIGN_TIMEOUT_SECONDS = 3;

export const MODULE_SELECTOR: LabelSelector = {
  matchExpressions: [{ key: LABEL_COMPONENT, operator: "In", values: [COMPONENT_MODULE] }],
};
export const FOREIGN_SELECTOR: LabelSelector = {
  matchExpressions: [{ key: LABEL_COMPONENT, operator: "NotIn", values: [COMPONENT_MODULE] }],
};

/** The entry Pepr generates: `<configuration name>.pepr.dev`. */
export const moduleWebhookName = (configName: string) => `${configName}.pepr.dev`;
export const foreignWebhookName = (configName: string) => `foreign-pods.${configName}.pepr.dev`;
export const workloadWebhookName = (configName: string) => `workloads.${configName}.pepr.dev`;

/** Workloads whose pod template is judged (warnings only): they may go to a fail-open entry. */
export const WORKLOAD_RESOURCES = ["deployments", "daemonsets"];

type Rule = NonNullable<WebhookEntry["rules"]>[number];

const isPodResource = (r: string) => r === "pods" || r.startsWith("pods/");
const kindOfRule = (rule: Rule): "pods" | "workloads" | "other" => {
  const resources = rule.resources ?? [];
  if (resources.every(isPodResource)) return "pods";
  return resources.every(r => WORKLOAD_RESOURCES.includes(r)) ? "workloads" : "other";
};

export function isWebhookConfiguration(doc: { kind?: unknown } | undefined): boolean {
  return doc?.kind === MUTATING_KIND || doc?.kind === VALIDATING_KIND;
}

/**
 * Pepr's main entry, and the workload rules taken out of it (a validating configuration may
 * judge workloads, in an entry of their own). Anything else than pods there would be hidden by
 * the module objectSelector: refused.
 */
function moduleEntry(
  config: WebhookConfiguration,
  name: string,
): { entry: WebhookEntry; workloadRules: Rule[] } {
  const found = (config.webhooks ?? []).find(w => w.name === moduleWebhookName(name));
  if (!found) {
    throw new Error(`${config.kind} ${name} has no webhook ${moduleWebhookName(name)}`);
  }
  const rules = found.rules ?? [];
  const allowed = config.kind === VALIDATING_KIND ? ["pods", "workloads"] : ["pods"];
  const other = rules.filter(r => !allowed.includes(kindOfRule(r)));
  if (other.length > 0) {
    const what = other.flatMap(r => r.resources ?? []).join(", ");
    throw new Error(
      `webhook ${found.name} also handles ${what}: selecting module pods by label would hide those from it`,
    );
  }
  const workloadRules = rules.filter(r => kindOfRule(r) === "workloads");
  const podRules = rules.filter(r => kindOfRule(r) === "pods");
  return { entry: { ...found, rules: podRules }, workloadRules };
}

/** The fail-open entry for workload warnings, beside the module one (none without rules). */
function workloadEntries(module: WebhookEntry, name: string, rules: Rule[]): WebhookEntry[] {
  if (rules.length === 0) return [];
  return [
    {
      ...module,
      // every object (a Deployment's own labels say nothing of its pods); written as the
      // apiserver stores it, so hardening what it stored changes nothing
      objectSelector: {},
      name: workloadWebhookName(name),
      failurePolicy: "Ignore",
      timeoutSeconds: FOREIGN_TIMEOUT_SECONDS,
      rules,
    },
  ];
}

/**
 * The safe form of a webhook configuration Pepr generated (or of the live one). The module
 * entry selects module pods and fails closed; a validating configuration gets the foreign
 * entry, a copy of the module entry for every other pod that fails open. Applying it to its
 * own result changes nothing. Throws when the input does not look like Pepr's.
 */
export function hardenWebhookConfig<T extends WebhookConfiguration>(config: T): T {
  const name = config.metadata?.name ?? "";
  const found = moduleEntry(config, name);
  // stored and read back, the workload rules live in their own entry: keep them
  const stored = (config.webhooks ?? []).find(w => w.name === workloadWebhookName(name));
  const workloadRules = found.workloadRules.length ? found.workloadRules : (stored?.rules ?? []);
  const module: WebhookEntry = {
    ...found.entry,
    failurePolicy: "Fail",
    objectSelector: MODULE_SELECTOR,
  };
  const ours = [module.name, foreignWebhookName(name), workloadWebhookName(name)];
  const others = (config.webhooks ?? []).filter(w => !ours.includes(w.name));
  const foreign: WebhookEntry[] =
    config.kind === VALIDATING_KIND
      ? [
          {
            ...module,
            name: foreignWebhookName(name),
            failurePolicy: "Ignore",
            timeoutSeconds: FOREIGN_TIMEOUT_SECONDS,
            objectSelector: FOREIGN_SELECTOR,
          },
        ]
      : [];
  const workloads = workloadEntries(module, name, workloadRules);
  return { ...config, webhooks: [module, ...foreign, ...workloads, ...others] };
}

/** True when hardening would change the configuration. */
export function needsHardening(config: WebhookConfiguration): boolean {
  return !equals(hardenWebhookConfig(config), config);
}
