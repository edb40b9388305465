// Makes the live webhook configurations safe (see ../webhooks.ts) from the watcher: `pepr dev`
// and `npx pepr deploy` apply Pepr's own, which would make every pod create in the cluster
// depend on this controller. dist/ and the Helm chart are safe already; then this only reads.
import cfg from "../../../package.json";
import { errText, isForbidden, isNotFound } from "../errors";
import type { Logger } from "../logger";
import { hardenWebhookConfig, needsHardening, WebhookConfiguration } from "../webhooks";
import { apiRequest } from "./api";

/** Pepr names both configurations after the module (`pepr-<uuid>`). */
export const PEPR_WEBHOOK_CONFIG = `pepr-${cfg.pepr.uuid}`;

const BASE = "/apis/admissionregistration.k8s.io/v1";
export const webhookPaths = (name: string): string[] => [
  `${BASE}/mutatingwebhookconfigurations/${name}`,
  `${BASE}/validatingwebhookconfigurations/${name}`,
];

/**
 * `pepr dev` applies the configurations just before it forks us, and deletes and re-applies
 * them around a reload: look again a few times before concluding there is nothing to do.
 */
export const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000];

export type Outcome = "hardened" | "already safe" | "absent";

export interface HardenDeps {
  get(path: string): Promise<WebhookConfiguration>;
  put(path: string, body: WebhookConfiguration): Promise<unknown>;
  sleep(ms: number): Promise<void>;
  log: Logger;
}

/** GET, then PUT the safe form if it differs; the GET's resourceVersion makes a race a 409. */
export async function hardenOne(path: string, deps: HardenDeps): Promise<Outcome> {
  let live: WebhookConfiguration;
  try {
    live = await deps.get(path);
  } catch (err) {
    if (isNotFound(err)) return "absent";
    throw err;
  }
  if (!needsHardening(live)) return "already safe";
  await deps.put(path, hardenWebhookConfig(live));
  return "hardened";
}

type Pass = Record<string, Outcome | string>;

async function pass(paths: string[], deps: HardenDeps): Promise<Pass> {
  const out: Pass = {};
  for (const path of paths) {
    const kind = path.split("/").slice(-2)[0];
    out[kind] = await hardenOne(path, deps).catch(err => {
      // RBAC will not change while we retry: say so once, without retrying
      if (isForbidden(err)) throw err;
      return `error: ${errText(err)}`;
    });
  }
  return out;
}

const isSafe = (o: string) => o === "hardened" || o === "already safe";

/**
 * Tries now and after each delay until both configurations are safe. Never throws: a start
 * must not fail because of this (the webhooks then stay as they were, which the log says).
 */
export async function hardenLiveWebhooks(
  name: string,
  deps: HardenDeps,
  delays: number[] = RETRY_DELAYS_MS,
): Promise<Pass> {
  let last: Pass = {};
  for (const wait of [0, ...delays]) {
    if (wait > 0) await deps.sleep(wait);
    try {
      last = await pass(webhookPaths(name), deps);
    } catch (err) {
      deps.log.warn({ err: errText(err) }, `cannot make webhooks ${name} safe: not allowed`);
      return { error: errText(err) };
    }
    if (Object.values(last).every(isSafe)) {
      deps.log.info(last, `webhooks ${name}: only module pods depend on this controller`);
      return last;
    }
  }
  if (Object.values(last).some(o => o.startsWith("error"))) {
    deps.log.warn(last, `webhooks ${name} may still make every pod depend on this controller`);
  } else {
    deps.log.info(last, `webhooks ${name}: nothing (more) to make safe`);
  }
  return last;
}

/** The watcher's call: in the background, on the kept-alive API connections. */
export function hardenWebhooksInBackground(log: Logger): void {
  void hardenLiveWebhooks(PEPR_WEBHOOK_CONFIG, {
    get: path => apiRequest<WebhookConfiguration>("GET", path),
    put: (path, body) => apiRequest("PUT", path, body),
    sleep: ms => new Promise(res => setTimeout(res, ms).unref()),
    log,
  });
}
