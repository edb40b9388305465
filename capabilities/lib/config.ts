// The one config module: every knob, typed, with its default, read once and validated at
// start-up. A bad value stops the controller with a message that names the variable.
// Defaults follow the Koupleless contract (shared/reference/koupleless-contract.md).
import { isIP } from "node:net";

export interface Config {
  /** Koupleless env: VNode name suffix, env label and env taint value (upstream ENV). */
  env: string;
  /** This replica's stable identity: Lease holder and Arklet User-Agent. */
  replicaId: string;

  // --- tunnel (heartbeats from bases) ---
  /** Port of the HTTP heartbeat server (upstream HTTP_TUNNEL_LISTEN_PORT). */
  tunnelPort: number;
  /** Port of our Prometheus metrics (GET /metrics), apart from the port bases reach; 0 = off. */
  metricsPort: number;
  /** Which address the controller calls: the heartbeat's TCP source ("source") or its localIP. */
  baseAddress: "source" | "heartbeat";
  /** CIDRs the controller may call; empty = any address except the always-refused ones. */
  baseCidrs: string[];
  /** Cluster secret for per-identity credentials (Bearer HMAC-SHA256(secret, identity)); empty = off. */
  heartbeatSecret: string;
  /** Heartbeats from one identity closer together than this are answered 429. */
  heartbeatMinIntervalMs: number;
  /** At most this many VNodes: heartbeats of further new identities are answered 429. */
  maxVNodes: number;
  /** New identities accepted per minute (a burst of this size, refilled evenly). */
  newBasesPerMinute: number;
  /** The HTTP tunnel: heartbeats on tunnelPort, commands to the Arklet HTTP API (ENABLE_HTTP_TUNNEL). */
  httpTunnel: boolean;
  /** The MQTT tunnel, when ENABLE_MQTT_TUNNEL=true (MC V2's variables, see MqttConfig). */
  mqtt?: MqttConfig;

  // --- VNodes ---
  /** Node Lease duration (contract: 40). */
  leaseDurationSeconds: number;
  /** How often the owner renews a VNode's Lease (contract: 10). */
  leaseRenewSeconds: number;
  /** How often the owner polls a base's /health (contract: 10). */
  healthPollSeconds: number;
  /** A base silent for longer than this is marked Ready=False. */
  unreachableSeconds: number;
  /** A base silent for longer than this loses its Node and Lease. */
  vnodeTtlSeconds: number;
  /** Timeout of quick Arklet calls (/health, /queryAllBiz). */
  arkletTimeoutMs: number;

  // --- replicas (sharding) ---
  /** How often a replica compares its share with ceil(VNodes / live replicas) and acts. */
  balanceSeconds: number;
  /** On a graceful stop or a release, how long in-flight biz operations may take to finish. */
  drainSeconds: number;
  /** Port of Pepr's own HTTPS server (/healthz, Pepr's /metrics); 3000 in a cluster. */
  peprPort: number;

  // --- module admission ---
  /** tolerationSeconds for node.kubernetes.io/not-ready|unreachable on module pods. */
  failoverSeconds: number;
  /** URL schemes a biz jar may be fetched from. */
  allowedJarSchemes: string[];
  /** Allowed jar URL prefixes or hosts; empty allows every location. */
  allowedJarLocations: string[];
  /** Weight of the preferred anti-affinity that spreads one biz over bases; 0 turns it off. */
  antiAffinityWeight: number;
  /** Reject non-module pods that tolerate the VNode taint by key (nothing would run them). */
  rejectForeignVNodeTolerations: boolean;

  // --- module lifecycle ---
  /** How often the owner reads a base's biz list (/queryAllBiz) to fix drift (contract: 15). */
  bizPollSeconds: number;
  /** Bound on concurrent biz operations per base. */
  maxParallelOps: number;
  /** Timeout of /installBiz and /uninstallBiz: long enough for a Spring start. */
  installTimeoutMs: number;
  /** Uninstall a biz that no pod wants after this grace; 0 never uninstalls such bizzes. */
  orphanGraceSeconds: number;
}

/** The MQTT tunnel's settings, under ModuleController V2's variable names. */
export interface MqttConfig {
  /** mqtt://host:port, or mqtts:// when a CA is given (MQTT_BROKER, MQTT_PORT). */
  url: string;
  /** MQTT_USERNAME (MC's default: test-username) and MQTT_PASSWORD. */
  username: string;
  password: string;
  /** Client id = <MQTT_CLIENT_PREFIX>@@@<replica id>, as MC builds it. */
  clientId: string;
  /** MQTT_CA_PATH, MQTT_CLIENT_CRT_PATH, MQTT_CLIENT_KEY_PATH: PEM files; empty = none. */
  caPath: string;
  certPath: string;
  keyPath: string;
}

export class ConfigError extends Error {}

/** address/prefix with a valid IPv4 or IPv6 address and prefix length. */
export function validCidr(cidr: string): boolean {
  const [ip, bits, extra] = cidr.split("/");
  const family = isIP(ip ?? "");
  const n = Number(bits);
  return (
    extra === undefined &&
    family !== 0 &&
    /^\d+$/.test(bits ?? "") &&
    n <= (family === 4 ? 32 : 128)
  );
}

type Source = Record<string, string | undefined>;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function int(src: Source, name: string, def: number, [min, max]: [number, number]): number {
  const raw = src[name];
  if (raw === undefined || raw === "") return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(
      `${name}=${JSON.stringify(raw)} is invalid: expected a whole number from ${min} to ${max}.`,
    );
  }
  return n;
}

function bool(src: Source, name: string, def: boolean): boolean {
  const raw = src[name];
  if (raw === undefined || raw === "") return def;
  if (raw === "true" || raw === "false") return raw === "true";
  throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: expected true or false.`);
}

function list(src: Source, name: string, def: string[]): string[] {
  const raw = src[name];
  if (raw === undefined) return def;
  return raw
    .split(",")
    .map(s => s.trim())
    .filter(Boolean);
}

/** The first value is the default. */
function oneOf<T extends string>(src: Source, varName: string, values: readonly T[]): T {
  const raw = src[varName];
  if (raw === undefined || raw === "") return values[0];
  if ((values as readonly string[]).includes(raw)) return raw as T;
  throw new ConfigError(
    `${varName}=${JSON.stringify(raw)} is invalid: expected one of ${values.join(", ")}.`,
  );
}

function cidrs(src: Source, varName: string): string[] {
  const out = list(src, varName, []);
  const bad = out.find(c => !validCidr(c));
  if (bad !== undefined) {
    throw new ConfigError(
      `${varName} has ${JSON.stringify(bad)}, which is no CIDR: write address/prefix, e.g. 10.0.0.0/8 or fd00::/8.`,
    );
  }
  return out;
}

function secret(src: Source, varName: string): string {
  const v = src[varName] ?? "";
  if (v !== "" && v.length < 16) {
    throw new ConfigError(
      `${varName} is ${v.length} characters long: use at least 16 random characters (e.g. openssl rand -hex 32), or leave it empty to turn per-base credentials off.`,
    );
  }
  return v;
}

function name(src: Source, varName: string, def: string, max: number): string {
  const v = src[varName] ?? def;
  if (!DNS_LABEL.test(v) || v.length > max) {
    throw new ConfigError(
      `${varName}=${JSON.stringify(v)} is invalid: it becomes part of object names and label values, so use lowercase letters, digits and '-' (max ${max}).`,
    );
  }
  return v;
}

function checkTimers(c: Config): void {
  if (c.leaseRenewSeconds * 2 > c.leaseDurationSeconds) {
    throw new ConfigError(
      `KOUPLELESS_LEASE_RENEW_SECONDS (${c.leaseRenewSeconds}) must be at most half of KOUPLELESS_LEASE_DURATION_SECONDS (${c.leaseDurationSeconds}), or one late renewal loses the Lease.`,
    );
  }
  if (c.vnodeTtlSeconds <= c.unreachableSeconds) {
    throw new ConfigError(
      `KOUPLELESS_VNODE_TTL_SECONDS (${c.vnodeTtlSeconds}) must be longer than KOUPLELESS_UNREACHABLE_SECONDS (${c.unreachableSeconds}).`,
    );
  }
}

const SCHEMES: Record<string, string> = { mqtt: "mqtt", tcp: "mqtt", mqtts: "mqtts", ssl: "mqtts" };

/** MQTT_BROKER as MC takes it (a host), or a URL with its own scheme and port. */
function brokerUrl(src: Source, tls: boolean): string {
  const broker = src.MQTT_BROKER ?? "";
  if (broker === "")
    throw new ConfigError(
      "ENABLE_MQTT_TUNNEL=true needs MQTT_BROKER: the broker's host name or address (and MQTT_PORT, default 1883).",
    );
  const port = int(src, "MQTT_PORT", 1883, [1, 65535]);
  const m = /^([a-z]+):\/\/(.+)$/.exec(broker);
  if (!m) return `${tls ? "mqtts" : "mqtt"}://${broker}:${port}`;
  const scheme = SCHEMES[m[1]];
  if (!scheme)
    throw new ConfigError(
      `MQTT_BROKER=${JSON.stringify(broker)} has scheme ${m[1]}: use mqtt, mqtts, tcp or ssl, or give just the host.`,
    );
  return `${scheme}://${m[2].includes(":") ? m[2] : `${m[2]}:${port}`}`;
}

function mqttConfig(src: Source, replicaId: string): MqttConfig | undefined {
  if (!bool(src, "ENABLE_MQTT_TUNNEL", false)) return undefined;
  const caPath = src.MQTT_CA_PATH ?? "";
  return {
    url: brokerUrl(src, caPath !== ""),
    username: src.MQTT_USERNAME ?? "test-username",
    password: src.MQTT_PASSWORD ?? "",
    clientId: `${src.MQTT_CLIENT_PREFIX || "koupleless"}@@@${replicaId}`,
    caPath,
    certPath: src.MQTT_CLIENT_CRT_PATH ?? "",
    keyPath: src.MQTT_CLIENT_KEY_PATH ?? "",
  };
}

function checkTunnels(c: Config): void {
  if (!c.httpTunnel && !c.mqtt)
    throw new ConfigError(
      "ENABLE_HTTP_TUNNEL=false and ENABLE_MQTT_TUNNEL is not true: bases could not reach the controller; turn one of them on.",
    );
}

/** Builds the config from an environment map (process.env in production, literals in tests). */
export function loadConfig(src: Source): Config {
  const c: Config = {
    env: name(src, "KOUPLELESS_ENV", "dev", 63),
    replicaId: name(
      src,
      "KOUPLELESS_REPLICA_ID",
      src.HOSTNAME?.toLowerCase() || "koupleless-pepr",
      200,
    ),
    tunnelPort: int(src, "KOUPLELESS_TUNNEL_PORT", 7777, [1, 65535]),
    metricsPort: int(src, "KOUPLELESS_METRICS_PORT", 9464, [0, 65535]),
    baseAddress: oneOf(src, "KOUPLELESS_BASE_ADDRESS", ["source", "heartbeat"] as const),
    baseCidrs: cidrs(src, "KOUPLELESS_BASE_CIDRS"),
    heartbeatSecret: secret(src, "KOUPLELESS_HEARTBEAT_SECRET"),
    heartbeatMinIntervalMs: int(src, "KOUPLELESS_HEARTBEAT_MIN_INTERVAL_MS", 1000, [0, 60_000]),
    maxVNodes: int(src, "KOUPLELESS_MAX_VNODES", 2000, [1, 100_000]),
    newBasesPerMinute: int(src, "KOUPLELESS_NEW_BASES_PER_MINUTE", 1200, [1, 1_000_000]),
    httpTunnel: bool(src, "ENABLE_HTTP_TUNNEL", true),
    leaseDurationSeconds: int(src, "KOUPLELESS_LEASE_DURATION_SECONDS", 40, [2, 3600]),
    leaseRenewSeconds: int(src, "KOUPLELESS_LEASE_RENEW_SECONDS", 10, [1, 1800]),
    healthPollSeconds: int(src, "KOUPLELESS_HEALTH_POLL_SECONDS", 10, [1, 3600]),
    unreachableSeconds: int(src, "KOUPLELESS_UNREACHABLE_SECONDS", 25, [1, 3600]),
    vnodeTtlSeconds: int(src, "KOUPLELESS_VNODE_TTL_SECONDS", 600, [2, 30 * 24 * 3600]),
    arkletTimeoutMs: int(src, "KOUPLELESS_ARKLET_TIMEOUT_MS", 5000, [100, 600_000]),
    balanceSeconds: int(src, "KOUPLELESS_BALANCE_SECONDS", 3, [1, 600]),
    drainSeconds: int(src, "KOUPLELESS_DRAIN_SECONDS", 20, [0, 3600]),
    peprPort: int(src, "KOUPLELESS_PEPR_PORT", 3000, [1, 65535]),
    failoverSeconds: int(src, "KOUPLELESS_FAILOVER_SECONDS", 30, [0, 24 * 3600]),
    allowedJarSchemes: list(src, "KOUPLELESS_ALLOWED_JAR_SCHEMES", ["http", "https", "file"]),
    allowedJarLocations: list(src, "KOUPLELESS_ALLOWED_JAR_LOCATIONS", []),
    antiAffinityWeight: int(src, "KOUPLELESS_ANTI_AFFINITY_WEIGHT", 50, [0, 100]),
    rejectForeignVNodeTolerations: bool(src, "KOUPLELESS_REJECT_FOREIGN_VNODE_TOLERATIONS", true),
    bizPollSeconds: int(src, "KOUPLELESS_BIZ_POLL_SECONDS", 15, [1, 3600]),
    maxParallelOps: int(src, "KOUPLELESS_MAX_PARALLEL_OPS", 8, [1, 256]),
    installTimeoutMs: int(src, "KOUPLELESS_INSTALL_TIMEOUT_MS", 300_000, [1000, 3_600_000]),
    orphanGraceSeconds: int(src, "KOUPLELESS_ORPHAN_GRACE_SECONDS", 60, [0, 30 * 24 * 3600]),
  };
  c.mqtt = mqttConfig(src, c.replicaId);
  checkTimers(c);
  checkTunnels(c);
  return c;
}
