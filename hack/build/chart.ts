// The same production shape for the Helm chart `pepr build` writes: values (RBAC, replicas,
// grace, affinity, metrics annotations), the watcher template, and added templates. Template
// edits are exact text replacements that fail loudly when Pepr's output changes.
import { stringify } from "yaml";
import { PEPR_STORE_CRD } from "../replica/crd";
import {
  FOREIGN_SELECTOR,
  FOREIGN_TIMEOUT_SECONDS,
  WORKLOAD_RESOURCES,
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
    tunnel: TUNNEL_VALUES,
    watcher: {
      ...w,
      replicas: s.watcherReplicas,
      terminationGracePeriodSeconds: s.terminationGraceSeconds,
      affinity: watcherAntiAffinity(s.uuid),
      podAnnotations: { ...w.podAnnotations, ...METRICS_ANNOTATIONS(s.metricsPort) },
    },
  };
}

/**
 * The heartbeat Service with the chart's `tunnel.service` values: ClusterIP for bases in the
 * cluster, NodePort or LoadBalancer for bases outside it. Outside, `externalTrafficPolicy:
 * Local` keeps the base's own address as the source, which the controller calls back.
 */
export function tunnelServiceTemplate(s: BuildSettings): string {
  const svc = tunnelService(s);
  const lines = stringify(svc).trimEnd().split("\n");
  const spec = lines.indexOf("spec:");
  const port = lines.findIndex(l => l.includes("protocol: TCP"));
  const external = '{{- if ne .Values.tunnel.service.type "ClusterIP" }}';
  return [
    "{{- if .Values.watcher.enabled }}",
    ...lines.slice(0, spec + 1),
    "  type: {{ .Values.tunnel.service.type }}",
    external,
    "  externalTrafficPolicy: {{ .Values.tunnel.service.externalTrafficPolicy }}",
    "{{- end }}",
    ...lines.slice(spec + 1, port + 1),
    '      {{- if and .Values.tunnel.service.nodePort (ne .Values.tunnel.service.type "ClusterIP") }}',
    "      nodePort: {{ .Values.tunnel.service.nodePort }}",
    "      {{- end }}",
    ...lines.slice(port + 1),
    "{{- end }}",
    "",
  ].join("\n");
}

/** The chart's `tunnel` values: how bases reach the watchers. */
export const TUNNEL_VALUES = {
  service: { type: "ClusterIP", nodePort: 0, externalTrafficPolicy: "Local" },
};

/**
 * Pepr's values schema forbids any key it does not know: allow the ones the post-step adds
 * (`watcher.replicas`, `tunnel`), or `helm lint` and `helm install` refuse the chart.
 */
export function chartSchema(schema: Doc): Doc {
  const defs = schema.definitions ?? {};
  const values = defs.Values?.properties ?? {};
  const watcher = defs[String(values.watcher?.$ref).split("/").pop() as string];
  if (!watcher?.properties || !values.watcher) {
    throw new Error("values.schema.json: unexpected shape (is pepr still 1.1.4?)");
  }
  watcher.properties.replicas = { type: "integer", minimum: 1 };
  values.tunnel = {
    type: "object",
    properties: {
      service: {
        type: "object",
        additionalProperties: false,
        properties: {
          type: { enum: ["ClusterIP", "NodePort", "LoadBalancer"] },
          nodePort: { type: "integer", minimum: 0, maximum: 65535 },
          externalTrafficPolicy: { enum: ["Local", "Cluster"] },
        },
      },
    },
  };
  return schema;
}

/**
 * Pepr writes the package description into Chart.yaml unquoted; ours has ": " in it, which
 * makes the file invalid YAML. Quote it, and version the chart like the package.
 */
export function chartMeta(text: string, version: string): string {
  return text
    .split("\n")
    .map(line => {
      if (line.startsWith("description: "))
        return `description: ${JSON.stringify(line.slice("description: ".length))}`;
      if (line.startsWith("version: ")) return `version: ${version}`;
      if (line.startsWith("appVersion: ")) return `appVersion: ${JSON.stringify(version)}`;
      return line;
    })
    .join("\n");
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

const RULES = "    rules:\n";
const RULE = "      - apiGroups:\n";

/**
 * The entry's rules split in two: those for pods, and those for the workloads whose templates
 * are judged (they go to an entry of their own, as hardenWebhookConfig does).
 */
function splitRules(entry: string, file: string): { pods: string; workloads: string } {
  const start = entry.indexOf(RULES);
  // the next field of the entry: a line indented like "rules:"
  const next = /\n {4}\S/.exec(entry.slice(start + RULES.length));
  const end = next ? start + RULES.length + next.index : -1;
  if (start < 0 || end < 0)
    throw new Error(`${file}: expected text not found (is pepr still 1.1.4?): no rules`);
  const block = entry.slice(start + RULES.length, end + 1);
  const rules = block
    .split(RULE)
    .filter(Boolean)
    .map(r => RULE + r);
  const isWorkload = (r: string) => WORKLOAD_RESOURCES.some(w => r.includes(`          - ${w}\n`));
  const keep = (list: string[]) =>
    entry.slice(0, start) + RULES + list.join("") + entry.slice(end + 1);
  return {
    pods: keep(rules.filter(r => !isWorkload(r))),
    workloads: rules.some(isWorkload) ? keep(rules.filter(isWorkload)) : "",
  };
}

/** A fail-open copy of the entry under another name, answering within a few seconds. */
function failOpen(entry: string, prefix: string, file: string): string {
  let out = replaceExact(entry, POLICY, "    failurePolicy: Ignore\n", file);
  out = replaceExact(
    out,
    "    name: {{ .Values.uuid }}.pepr.dev\n",
    `    name: ${prefix}.{{ .Values.uuid }}.pepr.dev\n`,
    file,
  );
  return replaceExact(
    out,
    "    timeoutSeconds: {{ .Values.admission.webhookTimeout }}\n",
    `    timeoutSeconds: ${FOREIGN_TIMEOUT_SECONDS}\n`,
    file,
  );
}

/**
 * Pepr's webhook template (one entry) made safe as hardenWebhookConfig makes the manifests:
 * the module entry selects module pods and is always Fail (what the watcher would set anyway);
 * a validation template gets the foreign entry, a copy that fails open within a few seconds,
 * and the workloads entry (Deployments, DaemonSets: warnings only), which fails open too.
 */
export function webhookTemplate(text: string, validating: boolean): string {
  const file = `templates/${validating ? "validation" : "mutation"}-webhook.yaml`;
  if (text.includes("objectSelector:")) return text; // already done
  const at = text.indexOf(WEBHOOKS);
  if (at < 0) throw new Error(`${file}: no webhooks list (is pepr still 1.1.4?)`);
  const head = text.slice(0, at + WEBHOOKS.length);
  const { pods, workloads } = splitRules(text.slice(head.length), file);
  const module = replaceExact(pods, POLICY, "    failurePolicy: Fail\n", file);
  if (!validating) {
    if (workloads) throw new Error(`${file}: a mutating webhook for workloads cannot fail open`);
    return head + withSelector(module, MODULE_SELECTOR, file);
  }
  const foreign = failOpen(pods, "foreign-pods", file);
  return (
    head +
    withSelector(module, MODULE_SELECTOR, file) +
    withSelector(foreign, FOREIGN_SELECTOR, file) +
    (workloads ? withSelector(failOpen(workloads, "workloads", file), {}, file) : "")
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
    "templates/tunnel-service.yaml": tunnelServiceTemplate(s),
    "templates/watcher-pdb.yaml":
      "{{- if .Values.watcher.enabled }}\n" + stringify(watcherPdb(s.uuid)) + "{{- end }}\n",
    "crds/peprstores.pepr.dev.yaml": stringify(PEPR_STORE_CRD),
  };
}
