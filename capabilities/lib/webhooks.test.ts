import { describe, expect, it } from "@jest/globals";
import {
  FOREIGN_SELECTOR,
  FOREIGN_TIMEOUT_SECONDS,
  hardenWebhookConfig,
  MODULE_SELECTOR,
  MUTATING_KIND,
  needsHardening,
  VALIDATING_KIND,
  WebhookConfiguration,
  WebhookEntry,
} from "./webhooks";

const NAME = "pepr-koupleless-pepr";
const POD_RULES = [
  {
    apiGroups: [""],
    apiVersions: ["v1"],
    operations: ["CREATE", "UPDATE"],
    resources: ["pods", "pods/ephemeralcontainers"],
  },
];

/** An entry as `pepr build` 1.1.4 writes it (webhooks.ts webhookConfigGenerator). */
function peprEntry(over: Partial<WebhookEntry> = {}): WebhookEntry {
  return {
    name: `${NAME}.pepr.dev`,
    admissionReviewVersions: ["v1", "v1beta1"],
    clientConfig: { caBundle: "Q0E=", service: { name: NAME, namespace: "pepr-system" } },
    failurePolicy: "Fail",
    matchPolicy: "Equivalent",
    timeoutSeconds: 10,
    namespaceSelector: {
      matchExpressions: [
        { key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["kube-system"] },
      ],
    },
    rules: POD_RULES,
    sideEffects: "None",
    ...over,
  };
}

function config(kind: string, webhooks: WebhookEntry[]): WebhookConfiguration {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind,
    metadata: { name: NAME, resourceVersion: "7" },
    webhooks,
  };
}

const byName = (c: WebhookConfiguration) =>
  Object.fromEntries((c.webhooks ?? []).map(w => [w.name, w]));

const FOREIGN = `foreign-pods.${NAME}.pepr.dev`;
const WORKLOADS = `workloads.${NAME}.pepr.dev`;
const WORKLOAD_RULES = [
  {
    apiGroups: ["apps"],
    apiVersions: ["v1"],
    operations: ["CREATE", "UPDATE"],
    resources: ["deployments"],
  },
  {
    apiGroups: ["apps"],
    apiVersions: ["v1"],
    operations: ["CREATE", "UPDATE"],
    resources: ["daemonsets"],
  },
];
const MODULE = `${NAME}.pepr.dev`;

interface Case {
  name: string;
  given: WebhookConfiguration;
  /** Entry name -> the fields it must have. */
  want: Record<string, Partial<WebhookEntry>>;
}

const cases: Case[] = [
  {
    name: "mutating: the module entry selects module pods and fails closed",
    given: config(MUTATING_KIND, [peprEntry()]),
    want: { [MODULE]: { failurePolicy: "Fail", objectSelector: MODULE_SELECTOR } },
  },
  {
    name: "mutating: an Ignore policy (onError audit) becomes Fail, since install rests on admission",
    given: config(MUTATING_KIND, [peprEntry({ failurePolicy: "Ignore" })]),
    want: { [MODULE]: { failurePolicy: "Fail", timeoutSeconds: 10 } },
  },
  {
    name: "validating: module entry plus a foreign entry that fails open, quickly",
    given: config(VALIDATING_KIND, [peprEntry()]),
    want: {
      [MODULE]: { failurePolicy: "Fail", objectSelector: MODULE_SELECTOR, timeoutSeconds: 10 },
      [FOREIGN]: {
        failurePolicy: "Ignore",
        objectSelector: FOREIGN_SELECTOR,
        timeoutSeconds: FOREIGN_TIMEOUT_SECONDS,
        rules: POD_RULES,
        clientConfig: peprEntry().clientConfig,
        namespaceSelector: peprEntry().namespaceSelector,
      },
    },
  },
  {
    name: "validating: a stale foreign entry is rebuilt from the module entry",
    given: config(VALIDATING_KIND, [
      { ...peprEntry(), name: FOREIGN, failurePolicy: "Fail", clientConfig: { url: "old" } },
      peprEntry({ clientConfig: { url: "https://localhost:3000/validate/x" } }),
    ]),
    want: {
      [FOREIGN]: {
        failurePolicy: "Ignore",
        clientConfig: { url: "https://localhost:3000/validate/x" },
      },
    },
  },
  {
    name: "validating: workload rules move to their own entry, which fails open and selects nothing",
    given: config(VALIDATING_KIND, [peprEntry({ rules: [...POD_RULES, ...WORKLOAD_RULES] })]),
    want: {
      [MODULE]: { failurePolicy: "Fail", objectSelector: MODULE_SELECTOR, rules: POD_RULES },
      [FOREIGN]: { failurePolicy: "Ignore", rules: POD_RULES },
      [WORKLOADS]: {
        failurePolicy: "Ignore",
        timeoutSeconds: FOREIGN_TIMEOUT_SECONDS,
        rules: WORKLOAD_RULES,
        clientConfig: peprEntry().clientConfig,
        namespaceSelector: peprEntry().namespaceSelector,
      },
    },
  },
  {
    name: "entries that are not Pepr's main one are kept as they are",
    given: config(VALIDATING_KIND, [peprEntry(), peprEntry({ name: "extra.example.com" })]),
    want: { "extra.example.com": peprEntry({ name: "extra.example.com" }) },
  },
];

describe("hardenWebhookConfig", () => {
  it.each(cases)("$name", ({ given, want }) => {
    const snapshot = JSON.stringify(given);
    const out = hardenWebhookConfig(given);
    const entries = byName(out);
    for (const [name, fields] of Object.entries(want)) expect(entries[name]).toMatchObject(fields);
    expect(out.metadata).toEqual(given.metadata);
    expect(JSON.stringify(given)).toBe(snapshot); // the input is never modified
    // as stored and read back, then hardened again: nothing to do
    const stored = JSON.parse(JSON.stringify(out)) as WebhookConfiguration;
    expect(hardenWebhookConfig(stored)).toEqual(stored);
    expect(needsHardening(stored)).toBe(false);
    expect(needsHardening(given)).toBe(true);
  });

  it("the workload entry selects every object: a Deployment's own labels say nothing of its pods", () => {
    const out = hardenWebhookConfig(
      config(VALIDATING_KIND, [peprEntry({ rules: [...POD_RULES, ...WORKLOAD_RULES] })]),
    );
    expect(out.webhooks?.map(w => w.name)).toEqual([MODULE, FOREIGN, WORKLOADS]);
    expect(byName(out)[WORKLOADS].objectSelector).toEqual({});
  });

  it("adds no selector to an entry that is not Pepr's main one", () => {
    const extra = peprEntry({ name: "extra.example.com" });
    const out = hardenWebhookConfig(config(VALIDATING_KIND, [peprEntry(), extra]));
    expect(byName(out)["extra.example.com"]).toEqual(extra);
  });

  it("gives a validating configuration exactly two entries for Pepr's one", () => {
    const out = hardenWebhookConfig(config(VALIDATING_KIND, [peprEntry()]));
    expect(out.webhooks?.map(w => w.name)).toEqual([MODULE, FOREIGN]);
    expect(hardenWebhookConfig(config(MUTATING_KIND, [peprEntry()])).webhooks).toHaveLength(1);
  });

  it.each([
    {
      name: "no entry named after the configuration",
      given: config(MUTATING_KIND, [peprEntry({ name: "other.pepr.dev" })]),
      error: /has no webhook pepr-koupleless-pepr.pepr.dev/,
    },
    {
      name: "workload rules in a mutating configuration (nothing there may fail open)",
      given: config(MUTATING_KIND, [peprEntry({ rules: [...POD_RULES, ...WORKLOAD_RULES] })]),
      error: /also handles deployments, daemonsets/,
    },
    {
      name: "rules for something else than pods (a label selector would hide it)",
      given: config(VALIDATING_KIND, [
        peprEntry({ rules: [...POD_RULES, { resources: ["namespaces"] }] }),
      ]),
      error: /also handles namespaces/,
    },
  ])("refuses $name", ({ given, error }) => {
    expect(() => hardenWebhookConfig(given)).toThrow(error);
  });
});
