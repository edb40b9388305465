// The latency our webhooks add to a module pod create: the same server-side dry-run creates
// (admission runs, nothing is stored) in a namespace in the webhooks' path and in one Pepr
// excludes from them (pepr-system), at several concurrencies.
import { fetch as kfcFetch } from "kubernetes-fluent-client";
import { k8sCfg } from "kubernetes-fluent-client/dist/fluent/utils.js";
import type { FetchMethods } from "kubernetes-fluent-client/dist/fluent/shared-types.js";
import { MODULE_NAMESPACE } from "../../capabilities/lib/contract";
import { NAMESPACE } from "./harness";
import { summarize, Summary } from "./stats";

export interface AdmissionLevel {
  concurrency: number;
  withWebhookMs: Summary;
  withoutWebhookMs: Summary;
  /** p50 and p99 of with minus without. */
  addedP50Ms: number;
  addedP99Ms: number;
}

function modulePod(i: number): object {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: `admission-${i}`,
      labels: { "virtual-kubelet.koupleless.io/component": "module" },
    },
    spec: {
      containers: [
        {
          name: "adm",
          image: "file:///opt/biz/adm-1.0.0-ark-biz.jar",
          env: [{ name: "BIZ_VERSION", value: "1.0.0" }],
        },
      ],
    },
  };
}

async function timedCreates(ns: string, requests: number, concurrency: number): Promise<number[]> {
  const { opts, serverUrl } = await k8sCfg("POST" as FetchMethods);
  const url = `${serverUrl}/api/v1/namespaces/${ns}/pods?dryRun=All`;
  const times: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < requests; i = next++) {
        const t0 = performance.now();
        const res = await kfcFetch(url, {
          ...opts,
          method: "POST",
          body: JSON.stringify(modulePod(i)),
        });
        if (!res.ok)
          throw new Error(
            `dry-run create in ${ns}: HTTP ${res.status} ${JSON.stringify(res.data)}`,
          );
        times.push(performance.now() - t0);
      }
    }),
  );
  return times;
}

export async function admissionLatency(
  levels: number[],
  requests: number,
): Promise<AdmissionLevel[]> {
  const out: AdmissionLevel[] = [];
  await timedCreates(NAMESPACE, 20, 4); // warm up connections and the webhook
  for (const c of levels) {
    const withHook = summarize(await timedCreates(NAMESPACE, requests, c));
    const without = summarize(await timedCreates(MODULE_NAMESPACE, requests, c));
    out.push({
      concurrency: c,
      withWebhookMs: withHook,
      withoutWebhookMs: without,
      addedP50Ms: Math.round((withHook.p50 - without.p50) * 10) / 10,
      addedP99Ms: Math.round((withHook.p99 - without.p99) * 10) / 10,
    });
  }
  return out;
}
