// The same production shape for the Helm chart `pepr build` writes: values (RBAC, replicas,
// grace, affinity, metrics annotations), the watcher template, and added templates. Template
// edits are exact text replacements that fail loudly when Pepr's output changes.
import { stringify } from "yaml";
import { PEPR_STORE_CRD } from "../replica/crd";
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
      podAnnotations: { ...w.podAnnotations, ...METRICS_ANNOTATIONS(s.tunnelPort) },
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
      `            - name: tunnel\n              containerPort: ${s.tunnelPort}\n`,
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
