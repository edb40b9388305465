// Pepr generates one webhook per configuration, failurePolicy Fail and no objectSelector, so a
// controller that is down refuses every pod in the cluster. This turns that into webhooks that
// only module pods depend on: the module webhook keeps Fail but selects module pods by label;
// the foreign-pod check (any other pod) gets its own entry with Ignore and a short timeout.
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

export function isWebhookConfiguration(doc: { kind?: unknown } | undefined): boolean {
  return doc?.kind === MUTATING_KIND || doc?.kind === VALIDATING_KIND;
}

/** Resources other than pods: the module objectSelector would hide those objects from us. */
function nonPodResources(w: WebhookEntry): string[] {
  return (w.rules ?? [])
    .flatMap(r => r.resources ?? [])
    .filter(r => r !== "pods" && !r.startsWith("pods/"));
}

function moduleEntry(config: WebhookConfiguration, name: string): WebhookEntry {
  const found = (config.webhooks ?? []).find(w => w.name === moduleWebhookName(name));
  if (!found) {
    throw new Error(`${config.kind} ${name} has no webhook ${moduleWebhookName(name)}`);
  }
  const other = nonPodResources(found);
  if (other.length > 0) {
    throw new Error(
      `webhook ${found.name} also handles ${other.join(", ")}: selecting module pods by label would hide those from it`,
    );
  }
  return found;
}

/**
 * The safe form of a webhook configuration Pepr generated (or of the live one). The module
 * entry selects module pods and fails closed; a validating configuration gets the foreign
 * entry, a copy of the module entry for every other pod that fails open. Applying it to its
 * own result changes nothing. Throws when the input does not look like Pepr's.
 */
export function hardenWebhookConfig<T extends WebhookConfiguration>(config: T): T {
  const name = config.metadata?.name ?? "";
  const module: WebhookEntry = {
    ...moduleEntry(config, name),
    failurePolicy: "Fail",
    objectSelector: MODULE_SELECTOR,
  };
  const others = (config.webhooks ?? []).filter(
    w => w.name !== module.name && w.name !== foreignWebhookName(name),
  );
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
  return { ...config, webhooks: [module, ...foreign, ...others] };
}

/** True when hardening would change the configuration. */
export function needsHardening(config: WebhookConfiguration): boolean {
  return !equals(hardenWebhookConfig(config), config);
}
