// A kept-alive API client for the hot paths (pod status, Events, Lease renewals, Node status).
// kubernetes-fluent-client builds a new KubeConfig and a new undici Agent for every call, so
// every request pays a kubeconfig parse and a fresh TLS handshake; here one Agent is reused
// and only the headers are re-read now and then (a rotated ServiceAccount token).
import { fetch as kfcFetch } from "kubernetes-fluent-client";
import { k8sCfg } from "kubernetes-fluent-client/dist/fluent/utils.js";
import type { FetchMethods } from "kubernetes-fluent-client/dist/fluent/shared-types.js";

const HEADERS_REFRESH_MS = 60_000;

type Cfg = Awaited<ReturnType<typeof k8sCfg>>;

let base: Promise<Cfg> | undefined;
let headers: { at: number; value: Promise<Cfg["opts"]["headers"]> } | undefined;

function current(): { cfg: Promise<Cfg>; headers: Promise<Cfg["opts"]["headers"]> } {
  base ??= k8sCfg("GET" as FetchMethods);
  if (!headers || Date.now() - headers.at > HEADERS_REFRESH_MS) {
    const fresh = headers ? k8sCfg("GET" as FetchMethods) : base;
    headers = { at: Date.now(), value: fresh.then(c => c.opts.headers) };
  }
  return { cfg: base, headers: headers.value };
}

export const MERGE_PATCH = "application/merge-patch+json";
export const JSON_PATCH = "application/json-patch+json";

/**
 * One API request on the shared connection. Errors are thrown like kubernetes-fluent-client
 * throws them ({ status, statusText, data }), so errors.httpStatus and errText read both.
 */
export async function apiRequest<T = unknown>(
  method: "GET" | "POST" | "PATCH" | "DELETE",
  path: string,
  body?: unknown,
  contentType?: string,
): Promise<T> {
  const now = current();
  const { opts, serverUrl } = await now.cfg;
  const h = { ...(await now.headers), ...(contentType ? { "Content-Type": contentType } : {}) };
  const res = await kfcFetch<T>(`${serverUrl}${path}`, {
    ...opts,
    method: method as FetchMethods,
    headers: h,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw { status: res.status, statusText: res.statusText, data: res.data };
  return res.data;
}
