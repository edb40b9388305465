// The API client for every call that is not a watch (pod status, Events, Leases, Nodes, shards).
// kubernetes-fluent-client builds a new KubeConfig and a new undici Agent for every call, so
// each request pays a kubeconfig parse and a fresh TLS handshake; at 1000 VNodes the handshakes
// alone kept the controller busy (docs/benchmarks.md). Here one Agent with a bounded number of
// kept-alive connections is reused, and only the headers are re-read now and then (a rotated
// ServiceAccount token).
import { Agent, request } from "undici";
import { ApiError, isNotFound } from "../errors";
import { KubeConfig } from "@kubernetes/client-node";
import type { RequestOptions } from "node:https";

const HEADERS_REFRESH_MS = 60_000;
/**
 * Kept-alive connections to the apiserver. Bounded, so a burst queues instead of opening
 * connections; wide enough that a status write finds a free one while Lease renewals (capped
 * at half of these, see ownership.ts) are on the wire.
 */
export const API_CONNECTIONS = 32;

/**
 * Every call is small and answered in milliseconds; one that hangs must not hold a pooled
 * connection (and whatever waits for it, like a round of Lease renewals) for undici's default
 * five minutes.
 */
const REQUEST_TIMEOUT_MS = 15_000;

type Headers = Record<string, string>;

interface Conn {
  server: string;
  agent: Agent;
}

let conn: Promise<Conn> | undefined;
let headers: { at: number; value: Promise<Headers> } | undefined;

async function connect(): Promise<Conn> {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("no current cluster in the kubeconfig");
  const opts = (await kc.applyToFetchOptions({})) as { agent?: { options?: Headers } };
  const tls = opts.agent?.options ?? {};
  const agent = new Agent({
    connections: API_CONNECTIONS,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 600_000,
    connect: { ca: tls.ca, cert: tls.cert, key: tls.key },
  });
  return { server: cluster.server.replace(/\/$/, ""), agent };
}

/**
 * Authorization from the kubeconfig, re-read now and then: the ServiceAccount token file in a
 * Pod (rotated by the kubelet), a token or an exec plugin elsewhere; none for client certificates.
 */
async function freshHeaders(): Promise<Headers> {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  // named in the apiserver's audit log and metrics
  const h: Headers = { "user-agent": "koupleless-pepr" };
  for (const [k, v] of Object.entries(opts.headers ?? {})) if (v) h[k.toLowerCase()] = String(v);
  return h;
}

function current(): { conn: Promise<Conn>; headers: Promise<Headers> } {
  conn ??= connect();
  if (!headers || Date.now() - headers.at > HEADERS_REFRESH_MS)
    headers = { at: Date.now(), value: freshHeaders() };
  return { conn, headers: headers.value };
}

export const MERGE_PATCH = "application/merge-patch+json";
export const JSON_PATCH = "application/json-patch+json";
export const APPLY_PATCH = "application/apply-patch+yaml";

/** Query for a server-side apply with the field manager kubernetes-fluent-client uses. */
export const APPLY_QUERY = "fieldManager=pepr&fieldValidation=Strict&force=true";

/**
 * One API request on the shared connections. An error status is thrown as an ApiError, which
 * has the shape kubernetes-fluent-client throws, so isNotFound/isConflict and errText read both.
 */
export async function apiRequest<T = unknown>(
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
  path: string,
  body?: unknown,
  contentType?: string,
): Promise<T> {
  const now = current();
  const { server, agent } = await now.conn;
  const h: Headers = { ...(await now.headers), accept: "application/json" };
  if (body !== undefined) h["content-type"] = contentType ?? "application/json";
  let res: Awaited<ReturnType<typeof request>>;
  let text: string;
  try {
    res = await request(`${server}${path}`, {
      method,
      headers: h,
      dispatcher: agent,
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    text = await res.body.text();
  } catch (err) {
    // no answer (connection lost, timed out): say which call, so a log line can be acted on
    throw new Error(`${method} ${path.split("?")[0]}: ${(err as Error).message}`, { cause: err });
  }
  const data = parse(text);
  if (res.statusCode >= 300) {
    const reason = (data as { reason?: string } | undefined)?.reason ?? "";
    throw new ApiError(res.statusCode, reason, data);
  }
  return data as T;
}

function parse(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

/** Server-side apply of a whole object (body with apiVersion and kind), forcing our fields. */
export function applyObject<T = unknown>(path: string, object: unknown): Promise<T> {
  return apiRequest<T>("PATCH", `${path}?${APPLY_QUERY}`, object, APPLY_PATCH);
}

/** GET that answers undefined for an object that does not exist (404). */
export async function getIfPresent<T>(path: string): Promise<T | undefined> {
  try {
    return await apiRequest<T>("GET", path);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    return undefined;
  }
}

/** DELETE that treats "already gone" as done, as kubernetes-fluent-client's Delete does. */
export async function deleteIfPresent(path: string, body?: unknown): Promise<void> {
  try {
    await apiRequest("DELETE", path, body);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** API paths of the kinds these calls touch. */
export const paths = {
  node: (name: string) => `/api/v1/nodes/${name}`,
  leases: (ns: string) => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
  lease: (ns: string, name: string) => `${paths.leases(ns)}/${name}`,
  peprStore: (ns: string, name: string) => `/apis/pepr.dev/v1/namespaces/${ns}/peprstores/${name}`,
};
