// The same production shape for the Helm chart `pepr build` writes: values (RBAC, replicas,
// grace, affinity, metrics annotations), the watcher template, and added templates. Template
// edits are exact text replacements that fail loudly when Pepr's output changes.
import { stringify } from "yaml";
import { PEPR_STORE_CRD } from "../replica/crd";
import {
  FOREIGN_SELECTOR,
  FOREIGN_TIMEOUT_SECONDS,
  LabelSelector,
  MODULE_SELECTOR,
} from "../../capabilities/lib/webhooks";
import { CLUSTER_RULES } from "./rbac";
import {
  BuildSettings,
  Doc,
  METRICS_ANNOTATIONS,
  namespacedRbac,
  tunnelService,
  watcherAntiAffinity,
  watcherPdb,
} from "./productionize";

export function chartValues(values: Doc, s: BuildSettings): Doc {
  const w = values.watcher ?? {};
  return {
    ...values,
    rbac: CLUSTER_RULES,
    watcher: {
      ...w,
      replicas: s.watcherReplicas,
      terminationGracePeriodSeconds: s.terminationGraceSeconds,
      affinity: watcherAntiAffinity(s.uuid),
      podAnnotations: { ...w.podAnnotations, ...METRICS_ANNOTATIONS(s.metricsPort) },
    },
  };
}

function replaceExact(text: string, from: string, to: string, file: string): string {
  if (!text.includes(from)) {
    throw new Error(`${file}: expected text not found (is pepr still 1.1.4?):\n${from}`);
  }
  return text.replace(from, to);
}

export function watcherTemplate(text: string, s: BuildSettings): string {
  const file = "templates/watcher-deployment.yaml";
  let t = replaceExact(
    text,
    "  replicas: 1\n  strategy:\n    type: Recreate\n",
    "  replicas: {{ .Values.watcher.replicas }}\n  strategy:\n    type: RollingUpdate\n" +
      "    rollingUpdate:\n      maxSurge: 1\n      maxUnavailable: 0\n",
    file,
  );
  t = replaceExact(
    t,
    "          ports:\n            - containerPort: 3000\n",
    "          ports:\n            - name: https\n              containerPort: 3000\n" +
      `            - name: tunnel\n              containerPort: ${s.tunnelPort}\n` +
      `            - name: metrics\n              containerPort: ${s.metricsPort}\n`,
    file,
  );
  return replaceExact(
    t,
    '            - name: PEPR_WATCH_MODE\n              value: "true"\n',
    '            - name: PEPR_WATCH_MODE\n              value: "true"\n' +
      "            - name: KOUPLELESS_REPLICA_ID\n              valueFrom:\n" +
      "                fieldRef:\n                  fieldPath: metadata.name\n",
    file,
  );
}

const WEBHOOKS = "webhooks:\n";
const POLICY = "    failurePolicy: {{ .Values.admission.failurePolicy }}\n";

function withSelector(entry: string, selector: LabelSelector, file: string): string {
  const block = stringify({ objectSelector: selector }).replace(/^(?=.)/gm, "    ");
  return replaceExact(entry, "    rules:\n", `${block}    rules:\n`, file);
}

/**
 * Pepr's webhook template (one entry) made safe as hardenWebhookConfig makes the manifests:
 * the module entry selects module pods and is always Fail (what the watcher would set anyway);
 * a validation template gets the foreign entry, a copy that fails open within a few seconds.
 */
export function webhookTemplate(text: string, validating: boolean): string {
  const file = `templates/${validating ? "validation" : "mutation"}-webhook.yaml`;
  if (text.includes("objectSelector:")) return text; // already done
  const at = text.indexOf(WEBHOOKS);
  if (at < 0) throw new Error(`${file}: no webhooks list (is pepr still 1.1.4?)`);
  const head = text.slice(0, at + WEBHOOKS.length);
  const entry = text.slice(head.length);
  const module = replaceExact(entry, POLICY, "    failurePolicy: Fail\n", file);
  if (!validating) return head + withSelector(module, MODULE_SELECTOR, file);
  let foreign = replaceExact(entry, POLICY, "    failurePolicy: Ignore\n", file);
  foreign = replaceExact(
    foreign,
    "    name: {{ .Values.uuid }}.pepr.dev\n",
    "    name: foreign-pods.{{ .Values.uuid }}.pepr.dev\n",
    file,
  );
  foreign = replaceExact(
    foreign,
    "    timeoutSeconds: {{ .Values.admission.webhookTimeout }}\n",
    `    timeoutSeconds: ${FOREIGN_TIMEOUT_SECONDS}\n`,
    file,
  );
  return (
    head +
    withSelector(module, MODULE_SELECTOR, file) +
    withSelector(foreign, FOREIGN_SELECTOR, file)
  );
}

/** Files to write (path relative to the chart root) beside the edited ones. */
export function addedFiles(s: BuildSettings): Record<string, string> {
  const [storeRole, storeBinding, leaseRole, leaseBinding] = namespacedRbac(s.uuid).map(d =>
    stringify(d),
  );
  return {
    "templates/store-role.yaml": storeRole,
    "templates/store-role-binding.yaml": storeBinding,
    "templates/node-lease-role.yaml": leaseRole,
    "templates/node-lease-role-binding.yaml": leaseBinding,
    "templates/tunnel-service.yaml":
      "{{- if .Values.watcher.enabled }}\n" + stringify(tunnelService(s)) + "{{- end }}\n",
    "templates/watcher-pdb.yaml":
      "{{- if .Values.watcher.enabled }}\n" + stringify(watcherPdb(s.uuid)) + "{{- end }}\n",
    "crds/peprstores.pepr.dev.yaml": stringify(PEPR_STORE_CRD),
  };
}
