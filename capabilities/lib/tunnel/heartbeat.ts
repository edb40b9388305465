// Parsing and strict validation of Arklet heartbeats (contract §2.1). Pure: the server
// turns a rejection into an HTTP status, nothing here touches the network or the cluster.
import { STATE_ACTIVATED, STATE_DEACTIVATED, vnodeName } from "../contract";

export interface BaseMetadata {
  identity: string;
  name: string;
  version: string;
  clusterName: string;
}

/** The BaseStatus body an Arklet POSTs to /heartbeat. */
export interface BaseStatus {
  baseMetadata: BaseMetadata;
  localIP: string;
  localHostName: string;
  port: number;
  state: string;
  /** The tunnel the base speaks when it is not HTTP ("mqtt"); ours, never on the wire. */
  tunnel?: string;
}

export const MAX_HEARTBEAT_BYTES = 64 * 1024;

export type Parsed =
  | { ok: true; status: BaseStatus; activated: boolean }
  | { ok: false; reason: string };

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
const ADDRESS = /^[A-Za-z0-9.:-]{1,253}$/;

const fail = (reason: string): Parsed => ({ ok: false, reason });

function labelValue(v: unknown, field: string, def: string): string | Error {
  if (v === undefined || v === null) return def;
  if (typeof v !== "string") return new Error(`${field} must be a string`);
  if (v.length > 63 || !LABEL_VALUE.test(v)) {
    return new Error(
      `${field} ${JSON.stringify(v)} is not a valid Kubernetes label value (max 63 of [A-Za-z0-9-_.])`,
    );
  }
  return v;
}

function checkIdentity(identity: unknown, env: string): string | Error {
  if (typeof identity !== "string" || identity === "") {
    return new Error("baseMetadata.identity is required and must be a non-empty string");
  }
  const node = vnodeName(identity, env);
  if (node.length > 253 || !DNS_SUBDOMAIN.test(node)) {
    return new Error(
      `baseMetadata.identity ${JSON.stringify(identity)} cannot be part of the Node name ${JSON.stringify(node)}: use lowercase letters, digits, '-' and '.'`,
    );
  }
  return identity;
}

function checkState(state: unknown): boolean | Error {
  if (typeof state !== "string") return new Error("state is required and must be a string");
  const upper = state.toUpperCase();
  if (upper === STATE_ACTIVATED) return true;
  if (upper === STATE_DEACTIVATED) return false;
  return new Error(`state ${JSON.stringify(state)} must be "activated" or "deactivated"`);
}

function checkPort(port: unknown): number | Error {
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    return new Error(
      "port is required and must be the Arklet HTTP port, a whole number from 1 to 65535",
    );
  }
  return port;
}

function checkAddress(ip: unknown): string | Error {
  if (typeof ip !== "string" || !ADDRESS.test(ip))
    return new Error("localIP is required and must be an IP address or host name");
  return ip;
}

function firstError(values: unknown[]): Error | undefined {
  return values.find((v): v is Error => v instanceof Error);
}

/** Validates a heartbeat body; env is needed because the identity must fit a Node name. */
export function parseHeartbeat(raw: string, env: string): Parsed {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch (err) {
    return fail(`body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return fail("body must be a JSON object");
  const b = body as Record<string, unknown>;
  const meta = b.baseMetadata;
  if (typeof meta !== "object" || meta === null || Array.isArray(meta))
    return fail("baseMetadata is required and must be an object");
  const m = meta as Record<string, unknown>;
  const fields = [
    checkIdentity(m.identity, env),
    labelValue(m.name, "baseMetadata.name", ""),
    labelValue(m.version, "baseMetadata.version", ""),
    labelValue(m.clusterName, "baseMetadata.clusterName", ""),
    checkAddress(b.localIP),
    labelValue(b.localHostName, "localHostName", ""),
    checkPort(b.port),
    checkState(b.state),
  ] as const;
  const err = firstError([...fields]);
  if (err) return fail(err.message);
  const [identity, name, version, clusterName, localIP, localHostName, port, activated] =
    fields as unknown as [string, string, string, string, string, string, number, boolean];
  return {
    ok: true,
    activated,
    status: {
      baseMetadata: { identity, name, version, clusterName },
      localIP,
      localHostName,
      port,
      state: String(b.state),
    },
  };
}
