import { describe, expect, it } from "@jest/globals";
import type { Logger } from "../logger";
import {
  hardenWebhookConfig,
  MUTATING_KIND,
  VALIDATING_KIND,
  WebhookConfiguration,
} from "../webhooks";
import { HardenDeps, hardenLiveWebhooks, webhookPaths } from "./webhooks";

const NAME = "pepr-koupleless-pepr";
const [MUTATING, VALIDATING] = webhookPaths(NAME);

const pepr = (kind: string): WebhookConfiguration => ({
  kind,
  metadata: { name: NAME, resourceVersion: "1" },
  webhooks: [{ name: `${NAME}.pepr.dev`, failurePolicy: "Fail", rules: [{ resources: ["pods"] }] }],
});

type Answer = WebhookConfiguration | { status: number };

/** An apiserver that answers GETs from a script (one answer per call, the last one repeats). */
function fakeApi(script: Record<string, Answer[]>) {
  const puts: Array<[string, WebhookConfiguration]> = [];
  const sleeps: number[] = [];
  const lines: Array<[string, string]> = [];
  const log: Logger = {
    info: (_o, m) => lines.push(["info", m]),
    warn: (_o, m) => lines.push(["warn", m]),
    error: (_o, m) => lines.push(["error", m]),
  };
  const deps: HardenDeps = {
    get: async path => {
      const answers = script[path];
      const a = answers.length > 1 ? answers.shift()! : answers[0];
      if ("status" in a) throw a;
      return a;
    },
    put: async (path, body) => {
      puts.push([path, body]);
      return body;
    },
    sleep: async ms => {
      sleeps.push(ms);
    },
    log,
  };
  return { deps, puts, sleeps, lines };
}

describe("hardenLiveWebhooks", () => {
  it("PUTs the safe form of Pepr's configurations, once, and says so", async () => {
    const api = fakeApi({
      [MUTATING]: [pepr(MUTATING_KIND)],
      [VALIDATING]: [pepr(VALIDATING_KIND)],
    });
    const out = await hardenLiveWebhooks(NAME, api.deps, [10, 20]);
    expect(out).toEqual({
      mutatingwebhookconfigurations: "hardened",
      validatingwebhookconfigurations: "hardened",
    });
    expect(api.puts).toEqual([
      [MUTATING, hardenWebhookConfig(pepr(MUTATING_KIND))],
      [VALIDATING, hardenWebhookConfig(pepr(VALIDATING_KIND))],
    ]);
    expect(api.puts[1][1].metadata?.resourceVersion).toBe("1"); // a concurrent write makes it a 409
    expect(api.sleeps).toEqual([]);
    expect(api.lines).toEqual([
      ["info", `webhooks ${NAME}: only module pods depend on this controller`],
    ]);
  });

  it("only reads configurations that are safe already (dist/, Helm)", async () => {
    const api = fakeApi({
      [MUTATING]: [hardenWebhookConfig(pepr(MUTATING_KIND))],
      [VALIDATING]: [hardenWebhookConfig(pepr(VALIDATING_KIND))],
    });
    const out = await hardenLiveWebhooks(NAME, api.deps, [10]);
    expect(Object.values(out)).toEqual(["already safe", "already safe"]);
    expect(api.puts).toEqual([]);
  });

  it("retries while they are absent or an error comes back, with growing waits", async () => {
    const api = fakeApi({
      [MUTATING]: [{ status: 404 }, { status: 500 }, pepr(MUTATING_KIND)],
      [VALIDATING]: [{ status: 404 }, { status: 404 }, pepr(VALIDATING_KIND)],
    });
    const out = await hardenLiveWebhooks(NAME, api.deps, [10, 20, 40]);
    expect(Object.values(out)).toEqual(["hardened", "hardened"]);
    expect(api.sleeps).toEqual([10, 20]);
  });

  it("gives up quietly when there is nothing to make safe (no pepr dev, no deploy)", async () => {
    const api = fakeApi({ [MUTATING]: [{ status: 404 }], [VALIDATING]: [{ status: 404 }] });
    const out = await hardenLiveWebhooks(NAME, api.deps, [10, 20]);
    expect(Object.values(out)).toEqual(["absent", "absent"]);
    expect(api.sleeps).toEqual([10, 20]);
    expect(api.lines.map(l => l[0])).toEqual(["info"]);
  });

  it("warns after the last try when an error remains, and never throws", async () => {
    const api = fakeApi({ [MUTATING]: [{ status: 500 }], [VALIDATING]: [pepr(VALIDATING_KIND)] });
    const out = await hardenLiveWebhooks(NAME, api.deps, [10]);
    expect(out.mutatingwebhookconfigurations).toMatch(/^error: HTTP 500/);
    expect(api.lines.at(-1)?.[0]).toBe("warn");
  });

  it("stops at once when RBAC does not allow it", async () => {
    const api = fakeApi({ [MUTATING]: [{ status: 403 }], [VALIDATING]: [pepr(VALIDATING_KIND)] });
    await hardenLiveWebhooks(NAME, api.deps, [10, 20]);
    expect(api.sleeps).toEqual([]);
    expect(api.puts).toEqual([]);
    expect(api.lines).toEqual([["warn", `cannot make webhooks ${NAME} safe: not allowed`]]);
  });
});
