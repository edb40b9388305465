// The MQTT tunnel's wire format, as ModuleController V2 and the Arklet MQTT tunnel speak it
// (contract §2.2). Pure: topics in and out, and every message a base publishes classified or
// refused with a reason (bad JSON, wrong types, too old, a topic we do not speak).
import type { ArkletEnvelope } from "../arklet/client";
import { ARKLET_DEFAULT_PORT } from "../contract";
import { BaseStatus, parseHeartbeat } from "./heartbeat";

/** Heartbeat, health, biz-list and baseline queries older than this are dropped (MC: 10 s). */
export const STALE_MS = 10_000;
/** The name of this tunnel on BaseStatus, BaseRef and the VNode. */
export const MQTT = "mqtt";

const prefix = (env: string) => `koupleless_${env}`;

/** What we subscribe to and publish. */
export const mqttTopics = {
  /** Every base's heartbeat: every replica hears every base. */
  heartbeats: (env: string) => `${prefix(env)}/+/base/heart`,
  /** A base that (re)connects asks what it should run. */
  baselineQueries: (env: string) => `${prefix(env)}/+/base/queryBaseline`,
  /** The answers of one base: subscribed only by the replica that commands it. */
  replies: (env: string, id: string) =>
    ["health", "simpleBiz", "biz", "bizOperation", "batchInstallBizResponse"].map(
      t => `${prefix(env)}/${id}/base/${t}`,
    ),
  command: (env: string, id: string, command: string) => `${prefix(env)}/${id}/${command}`,
  baseline: (env: string, id: string) => `${prefix(env)}/${id}/base/baseline`,
};

export type Incoming =
  | { kind: "heart"; identity: string; status: BaseStatus; activated: boolean }
  | { kind: "queryBaseline"; identity: string }
  | { kind: "health"; identity: string; envelope: ArkletEnvelope }
  | { kind: "bizList"; identity: string; envelope: ArkletEnvelope }
  | { kind: "bizOperation"; identity: string; key: string; envelope: ArkletEnvelope }
  | { kind: "batchInstall"; identity: string };

export type Refusal = "topic" | "malformed" | "stale" | "identity" | "heartbeat";

export type Classified =
  | { ok: true; msg: Incoming }
  | { ok: false; reason: Refusal; detail: string };

const refuse = (reason: Refusal, detail: string): Classified => ({ ok: false, reason, detail });

/** The key that matches an operation's asynchronous answer to the call that asked for it. */
export const operationKey = (
  identity: string,
  command: string,
  biz: { bizName: string; bizVersion: string },
) => `${identity}|${command}|${biz.bizName}:${biz.bizVersion}`;

const AGE_CHECKED = new Set(["heart", "health", "simpleBiz", "biz", "queryBaseline"]);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Classifies one message from a base, or says why it changes nothing. */
export function classify(topic: string, payload: string, env: string, now: number): Classified {
  const parts = topic.split("/");
  if (parts.length !== 4 || parts[0] !== prefix(env) || parts[2] !== "base")
    return refuse("topic", `topic ${topic} is not koupleless_${env}/<identity>/base/<kind>`);
  const [, identity, , kind] = parts;
  let body: unknown;
  try {
    body = JSON.parse(payload);
  } catch {
    return refuse("malformed", `${topic}: payload is not JSON`);
  }
  if (!isObject(body) || typeof body.publishTimestamp !== "number" || !("data" in body))
    return refuse("malformed", `${topic}: payload is not {"publishTimestamp": <ms>, "data": ...}`);
  if (AGE_CHECKED.has(kind) && now - body.publishTimestamp > STALE_MS)
    return refuse("stale", `${topic}: published ${now - body.publishTimestamp} ms ago`);
  return byKind(kind, identity, body.data, env);
}

function byKind(kind: string, identity: string, data: unknown, env: string): Classified {
  switch (kind) {
    case "heart":
      return heart(identity, data, env);
    case "queryBaseline":
      return { ok: true, msg: { kind: "queryBaseline", identity } };
    case "health":
    case "biz":
      return envelopeOf(data, kind, identity);
    case "simpleBiz":
      return simpleBizList(identity, data);
    case "bizOperation":
      return bizOperation(identity, data);
    case "batchInstallBizResponse":
      return { ok: true, msg: { kind: "batchInstall", identity } };
    default:
      return refuse("topic", `base/${kind} is not a message bases send`);
  }
}

function heart(identity: string, data: unknown, env: string): Classified {
  if (!isObject(data)) return refuse("malformed", "heartbeat data must be a BaseStatus object");
  // MQTT heartbeats carry no port: commands travel over the broker, not to an address
  const parsed = parseHeartbeat(JSON.stringify({ port: ARKLET_DEFAULT_PORT, ...data }), env);
  if (!parsed.ok) return refuse("heartbeat", parsed.reason);
  if (parsed.status.baseMetadata.identity !== identity) {
    const claimed = parsed.status.baseMetadata.identity;
    return refuse("identity", `heartbeat on the topic of ${identity} claims identity ${claimed}`);
  }
  const status = { ...parsed.status, tunnel: MQTT };
  return { ok: true, msg: { kind: "heart", identity, status, activated: parsed.activated } };
}

function isEnvelope(v: unknown): v is ArkletEnvelope {
  return isObject(v) && typeof v.code === "string";
}

function envelopeOf(data: unknown, kind: "health" | "biz", identity: string): Classified {
  if (!isEnvelope(data)) return refuse("malformed", `base/${kind} data must be {"code": ...}`);
  const msgKind = kind === "health" ? "health" : "bizList";
  return { ok: true, msg: { kind: msgKind, identity, envelope: data } };
}

/** base/simpleBiz: [{name, version, state, latestStateRecord}], as queryAllBiz would list it. */
function simpleBizList(identity: string, data: unknown): Classified {
  if (!Array.isArray(data) || !data.every(isObject))
    return refuse("malformed", "base/simpleBiz data must be a list of {name, version, state}");
  const bizInfos = data.map(b => ({
    bizName: b.name,
    bizVersion: b.version,
    bizState: b.state,
    bizStateRecords: isObject(b.latestStateRecord) ? [b.latestStateRecord] : [],
  }));
  if (!bizInfos.every(b => typeof b.bizName === "string" && typeof b.bizVersion === "string"))
    return refuse("malformed", "base/simpleBiz entries need a string name and version");
  const envelope: ArkletEnvelope = { code: "SUCCESS", data: bizInfos, baseIdentity: identity };
  return { ok: true, msg: { kind: "bizList", identity, envelope } };
}

function bizOperation(identity: string, data: unknown): Classified {
  if (!isObject(data) || !isEnvelope(data.response))
    return refuse(
      "malformed",
      "base/bizOperation data must be {command, bizName, bizVersion, response}",
    );
  const { command, bizName, bizVersion } = data;
  if (typeof command !== "string" || typeof bizName !== "string" || typeof bizVersion !== "string")
    return refuse("malformed", "base/bizOperation needs string command, bizName and bizVersion");
  const key = operationKey(identity, command, { bizName, bizVersion });
  return { ok: true, msg: { kind: "bizOperation", identity, key, envelope: data.response } };
}

/** What a base publishes: every payload wrapped with its publish time (Arklet MqttResponse). */
export function wrap(data: unknown, now: number): string {
  return JSON.stringify({ publishTimestamp: now, data });
}
