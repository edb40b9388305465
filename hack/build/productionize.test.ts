import { describe, expect, it } from "@jest/globals";
import { parse } from "yaml";
import {
  addedFiles,
  chartMeta,
  chartSchema,
  chartValues,
  watcherTemplate,
  webhookTemplate,
} from "./chart";
import { BuildSettings, Doc, productionize, wildcardRules } from "./productionize";
import { CLUSTER_RULES } from "./rbac";
import { hardenWebhookConfig } from "../../capabilities/lib/webhooks";

const S: BuildSettings = {
  uuid: "koupleless-pepr",
  watcherReplicas: 3,
  tunnelPort: 7777,
  metricsPort: 9464,
  terminationGraceSeconds: 45,
};

/** A webhook configuration as `pepr build` 1.1.4 writes it (lib/assets/webhooks.ts). */
/** The rules Pepr writes for module-admission's Deployment and DaemonSet bindings. */
const WORKLOAD_RULES = ["deployments", "daemonsets"].map(r => ({
  apiGroups: ["apps"],
  apiVersions: ["v1"],
  operations: ["CREATE", "UPDATE"],
  resources: [r],
}));

function peprWebhooks(kind: string, workloads = false): Doc {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind,
    metadata: { name: "pepr-koupleless-pepr" },
    webhooks: [
      {
        name: "pepr-koupleless-pepr.pepr.dev",
        admissionReviewVersions: ["v1", "v1beta1"],
        clientConfig: {
          caBundle: "Q0E=",
          service: { name: "pepr-koupleless-pepr", namespace: "pepr-system", path: "/x/abc" },
        },
        failurePolicy: "Fail",
        matchPolicy: "Equivalent",
        timeoutSeconds: 10,
        namespaceSelector: {
          matchExpressions: [
            {
              key: "kubernetes.io/metadata.name",
              operator: "NotIn",
              values: ["kube-system", "pepr-system"],
            },
          ],
        },
        rules: [
          {
            apiGroups: [""],
            apiVersions: ["v1"],
            operations: ["CREATE", "UPDATE"],
            resources: ["pods", "pods/ephemeralcontainers"],
          },
          ...(workloads ? WORKLOAD_RULES : []),
        ],
        sideEffects: "None",
      },
    ],
  };
}

/** The shape of what `pepr build` 1.1.4 writes, reduced to what the step touches. */
function peprOutput(): Doc[] {
  const wildcard = { apiGroups: ["*"], resources: ["*"], verbs: ["get", "list"] };
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: "pepr-system" } },
    { kind: "ClusterRole", metadata: { name: "pepr-koupleless-pepr" }, rules: [wildcard] },
    {
      kind: "Role",
      metadata: { name: "pepr-koupleless-pepr-store", namespace: "pepr-system" },
      rules: [
        { apiGroups: ["pepr.dev"], resourceNames: [""], resources: ["peprstores"], verbs: ["get"] },
      ],
    },
    { kind: "RoleBinding", metadata: { name: "pepr-koupleless-pepr-store" } },
    { kind: "Secret", metadata: { name: "pepr-koupleless-pepr-module" }, data: { m: "abcd" } },
    {
      kind: "Deployment",
      metadata: { name: "pepr-koupleless-pepr-watcher", namespace: "pepr-system" },
      spec: {
        replicas: 1,
        strategy: { type: "Recreate" },
        template: {
          metadata: { labels: { app: "pepr-koupleless-pepr-watcher" } },
          spec: {
            terminationGracePeriodSeconds: 5,
            containers: [
              {
                name: "watcher",
                ports: [{ containerPort: 3000 }],
                env: [{ name: "PEPR_WATCH_MODE", value: "true" }],
              },
            ],
          },
        },
      },
    },
    { kind: "Deployment", metadata: { name: "pepr-koupleless-pepr" }, spec: { replicas: 2 } },
    peprWebhooks("MutatingWebhookConfiguration"),
    peprWebhooks("ValidatingWebhookConfiguration"),
  ];
}

const find = (docs: Doc[], kind: string, name: string) =>
  docs.find(d => d.kind === kind && d.metadata?.name === name);

describe("productionize", () => {
  const out = productionize(peprOutput(), S);
  const watcher = find(out, "Deployment", "pepr-koupleless-pepr-watcher");
  const container = watcher?.spec.template.spec.containers[0];

  it("runs the configured number of watcher replicas, rolling one at a time with a surge", () => {
    expect(watcher?.spec.replicas).toBe(3);
    expect(watcher?.spec.strategy).toEqual({
      type: "RollingUpdate",
      rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
    });
  });

  it("gives each watcher its pod name as replica id, and time to hand over", () => {
    expect(container.env).toContainEqual({
      name: "KOUPLELESS_REPLICA_ID",
      valueFrom: { fieldRef: { fieldPath: "metadata.name" } },
    });
    expect(container.env).toContainEqual({ name: "PEPR_WATCH_MODE", value: "true" });
    expect(watcher?.spec.template.spec.terminationGracePeriodSeconds).toBe(45);
  });

  it("exposes the heartbeat port through a Service selecting the watchers, metrics apart", () => {
    expect(container.ports).toContainEqual({ name: "tunnel", containerPort: 7777 });
    expect(container.ports).toContainEqual({ name: "metrics", containerPort: 9464 });
    const svc = find(out, "Service", "pepr-koupleless-pepr-tunnel");
    expect(svc?.spec.selector).toEqual({
      app: "pepr-koupleless-pepr-watcher",
      "pepr.dev/controller": "watcher",
    });
    expect(svc?.spec.ports).toEqual([
      { name: "tunnel", port: 7777, targetPort: 7777, protocol: "TCP" },
    ]);
    // the Service bases reach carries only heartbeats; Prometheus scrapes the pods' own port
    expect(watcher?.spec.template.metadata.annotations["prometheus.io/port"]).toBe("9464");
  });

  it("replaces every wildcard rule with the scoped ones, and binds the real ServiceAccount", () => {
    expect(wildcardRules(peprOutput())).toHaveLength(1); // the check can fail
    expect(wildcardRules(out)).toEqual([]);
    expect(find(out, "ClusterRole", "pepr-koupleless-pepr")?.rules).toEqual(CLUSTER_RULES);
    const store = find(out, "RoleBinding", "pepr-koupleless-pepr-store");
    expect(store?.subjects).toEqual([
      { kind: "ServiceAccount", name: "pepr-koupleless-pepr", namespace: "pepr-system" },
    ]);
    expect(find(out, "Role", "pepr-koupleless-pepr-store")?.rules[0].resourceNames).toBeUndefined();
    expect(find(out, "Role", "pepr-koupleless-pepr-node-leases")?.metadata.namespace).toBe(
      "kube-node-lease",
    );
  });

  it("adds the PeprStore CRD first and a disruption budget, leaves the admission side alone", () => {
    expect(out[0].kind).toBe("CustomResourceDefinition");
    expect(
      find(out, "PodDisruptionBudget", "pepr-koupleless-pepr-watcher")?.spec.maxUnavailable,
    ).toBe(1);
    expect(find(out, "Deployment", "pepr-koupleless-pepr")).toEqual(peprOutput()[6]);
  });

  it("makes the webhooks safe: only module pods depend on the controller being up", () => {
    for (const k of ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]) {
      const hooks = find(out, k, "pepr-koupleless-pepr");
      expect(hooks).toEqual(hardenWebhookConfig(peprWebhooks(k)));
      expect(hooks?.webhooks[0].objectSelector.matchExpressions[0].operator).toBe("In");
    }
    const validating = find(out, "ValidatingWebhookConfiguration", "pepr-koupleless-pepr");
    expect(validating?.webhooks.map((w: Doc) => [w.name, w.failurePolicy])).toEqual([
      ["pepr-koupleless-pepr.pepr.dev", "Fail"],
      ["foreign-pods.pepr-koupleless-pepr.pepr.dev", "Ignore"],
    ]);
  });

  it("refuses output that does not look like pepr build's", () => {
    expect(() => productionize(peprOutput().slice(0, 3), S)).toThrow(
      /no Deployment pepr-koupleless-pepr-watcher/,
    );
  });
});

describe("the Helm chart", () => {
  const template = [
    "spec:",
    "  replicas: 1",
    "  strategy:",
    "    type: Recreate",
    "          ports:",
    "            - containerPort: 3000",
    "            - name: PEPR_WATCH_MODE",
    '              value: "true"',
    "",
  ].join("\n");

  it("templates the replica count and adds the identity and tunnel port", () => {
    const t = watcherTemplate(template, S);
    expect(t).toContain("replicas: {{ .Values.watcher.replicas }}");
    expect(t).toContain("type: RollingUpdate");
    expect(t).toContain("name: KOUPLELESS_REPLICA_ID");
    expect(t).toContain("containerPort: 7777");
    expect(t).toContain("containerPort: 9464");
  });

  it("fails loudly when Pepr's template changed", () => {
    expect(() => watcherTemplate("spec: {}", S)).toThrow(/expected text not found/);
    expect(() => webhookTemplate("webhooks:\n  - name: x\n", true)).toThrow(
      /expected text not found/,
    );
  });

  // Pepr's template (lib/assets/index.ts createWebhookYaml) for the entry above, and what the
  // chart renders with its default values: the same objects as the hardened manifests.
  /** One rule of Pepr's webhook template, as it writes it. */
  const ruleText = (group: string, resources: string[]) => [
    "      - apiGroups:",
    `          - ${group}`,
    "        apiVersions:",
    "          - v1",
    "        operations:",
    "          - CREATE",
    "          - UPDATE",
    "        resources:",
    ...resources.map(r => `          - ${r}`),
  ];
  const workloadRuleText = ["deployments", "daemonsets"].flatMap(r => ruleText("apps", [r]));
  const webhookText = (kind: string, workloads = false) =>
    [
      "apiVersion: admissionregistration.k8s.io/v1",
      `kind: ${kind}`,
      "metadata:",
      "  name: {{ .Values.uuid }}",
      "webhooks:",
      "  - admissionReviewVersions:",
      "      - v1",
      "      - v1beta1",
      "    clientConfig:",
      "      caBundle: Q0E=",
      "      service:",
      "        name: {{ .Values.uuid }}",
      "        namespace: pepr-system",
      "        path: /x/abc",
      "    failurePolicy: {{ .Values.admission.failurePolicy }}",
      "    matchPolicy: Equivalent",
      "    name: {{ .Values.uuid }}.pepr.dev",
      "    namespaceSelector:",
      "      matchExpressions:",
      "        - key: kubernetes.io/metadata.name",
      "          operator: NotIn",
      "          values:",
      "            - kube-system",
      "            - pepr-system",
      "            {{- range .Values.additionalIgnoredNamespaces }}",
      "            - {{ . }}",
      "            {{- end }}",
      "    rules:",
      ...ruleText("''", ["pods", "pods/ephemeralcontainers"]),
      ...(workloads ? workloadRuleText : []),
      "    sideEffects: None",
      "    timeoutSeconds: {{ .Values.admission.webhookTimeout }}",
      "",
    ].join("\n");
  const render = (t: string) =>
    parse(
      t
        .replaceAll("{{ .Values.uuid }}", "pepr-koupleless-pepr")
        .replaceAll("{{ .Values.admission.failurePolicy }}", "Ignore") // onError: audit
        .replaceAll("{{ .Values.admission.webhookTimeout }}", "10")
        .split("\n")
        .filter(l => !l.includes("{{"))
        .join("\n"),
    );

  it.each([
    ["MutatingWebhookConfiguration", false],
    ["ValidatingWebhookConfiguration", true],
  ])("renders %s as the hardened manifest, and hardening twice changes nothing", (k, v) => {
    const t = webhookTemplate(webhookText(k), v);
    expect(render(t)).toEqual(hardenWebhookConfig(peprWebhooks(k)));
    expect(webhookTemplate(t, v)).toBe(t);
    expect(t).toContain("{{- range .Values.additionalIgnoredNamespaces }}");
  });

  it("renders the workload rules into their own fail-open entry, as the hardened manifest has them", () => {
    const k = "ValidatingWebhookConfiguration";
    const t = webhookTemplate(webhookText(k, true), true);
    const rendered = render(t);
    expect(rendered).toEqual(hardenWebhookConfig(peprWebhooks(k, true)));
    expect(rendered.webhooks.map((w: { name: string }) => w.name)).toEqual([
      "pepr-koupleless-pepr.pepr.dev",
      "foreign-pods.pepr-koupleless-pepr.pepr.dev",
      "workloads.pepr-koupleless-pepr.pepr.dev",
    ]);
    expect(webhookTemplate(t, true)).toBe(t);
    expect(() => webhookTemplate(webhookText("MutatingWebhookConfiguration", true), false)).toThrow(
      /cannot fail open/,
    );
  });

  it("sets values: scoped RBAC, replicas, grace, metrics annotations", () => {
    const v = chartValues({ rbac: [{ apiGroups: ["*"] }], watcher: { env: [] } }, S);
    expect(v.rbac).toEqual(CLUSTER_RULES);
    expect(v.watcher).toMatchObject({ replicas: 3, terminationGracePeriodSeconds: 45, env: [] });
  });

  it("adds the Service, the PDB, the namespaced RBAC and the CRD as valid YAML", () => {
    const files = addedFiles(S);
    expect(Object.keys(files).sort()).toEqual([
      "crds/peprstores.pepr.dev.yaml",
      "templates/node-lease-role-binding.yaml",
      "templates/node-lease-role.yaml",
      "templates/store-role-binding.yaml",
      "templates/store-role.yaml",
      "templates/tunnel-service.yaml",
      "templates/watcher-pdb.yaml",
    ]);
    // rendered with the default values as Helm would (helm itself runs in test/e2e/helm)
    const svc = files["templates/tunnel-service.yaml"]
      .replace("{{ .Values.tunnel.service.type }}", "ClusterIP")
      .split("\n")
      .filter(l => !l.includes("{{"))
      .join("\n");
    expect(parse(svc)).toMatchObject({
      kind: "Service",
      spec: { type: "ClusterIP", ports: [{ port: 7777, targetPort: 7777 }] },
    });
  });

  it("quotes Pepr's description in Chart.yaml and versions the chart like the package", () => {
    const text = 'apiVersion: v2\ndescription: A: b\nversion: 0.1.0\nappVersion: "1.16.0"\n';
    expect(parse(chartMeta(text, "0.2.0"))).toEqual({
      apiVersion: "v2",
      description: "A: b",
      version: "0.2.0",
      appVersion: "0.2.0",
    });
  });

  it("lets the values schema carry watcher.replicas and tunnel, and fails loudly on a new shape", () => {
    const schema = {
      definitions: {
        Values: { properties: { watcher: { $ref: "#/definitions/Admission" } } },
        Admission: { additionalProperties: false, properties: {} },
      },
    };
    const out = chartSchema(schema);
    expect(out.definitions.Admission.properties.replicas).toEqual({ type: "integer", minimum: 1 });
    expect(
      out.definitions.Values.properties.tunnel.properties.service.properties.type.enum,
    ).toEqual(["ClusterIP", "NodePort", "LoadBalancer"]);
    expect(() => chartSchema({ definitions: {} })).toThrow(/unexpected shape/);
  });
});
