// The MQTT tunnel, wire-compatible with ModuleController V2 and the Arklet MQTT tunnel (contract
// §2.2): every replica hears every heartbeat; only the replica that commands a base subscribes
// to its answers; commands are published and their asynchronous answers matched to the call
// (by base, command and biz), with a timeout. The second implementation of the seam (seam.ts).
import { connect as tcpConnect, isIP } from "node:net";
import { connect as tlsConnect, TLSSocket } from "node:tls";
// MQTT.js's client alone (a subpath its package exports): its connect() would also bundle the
// WebSocket, SOCKS and browser transports, 36 KB gzipped more in the module Secret, whose
// size the Helm release limits (1 MiB). TCP and TLS are all a controller needs.
import MqttClient, { type IClientOptions } from "mqtt/lib/client";
import { ArkletEnvelope, ArkletUnreachable, BizRequest, HealthData } from "../arklet/client";
import { errText } from "../errors";
import type { Logger } from "../logger";
import { mqttDropped, timed } from "../metrics";
import type { HeartbeatGate } from "./gate";
import { classify, Incoming, mqttTopics, operationKey, Refusal } from "./mqtt-wire";
import type { BaseRef, HeartbeatSink, Tunnel } from "./seam";

export interface MqttTunnelOptions {
  /** mqtt://host:port or mqtts://host:port */
  url: string;
  env: string;
  clientId: string;
  username?: string;
  password?: string;
  /** PEM contents for TLS: the broker's CA, and our client certificate and key. */
  ca?: string;
  cert?: string;
  key?: string;
  gate?: HeartbeatGate;
  log: Logger;
  /** How long listen() waits for the first connection before it fails. */
  connectTimeoutMs?: number;
}

/** A command, its body, and the key its answer comes back under. */
interface Call {
  command: string;
  body: object;
  key: string;
}

interface Waiter {
  resolve: (env: ArkletEnvelope) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** A refusal is logged at most this often per reason: a flood must not flood the log. */
const WARN_EVERY_MS = 10_000;

export class MqttTunnel implements Tunnel {
  readonly kind = "mqtt";
  private client?: MqttClient;
  private sink?: HeartbeatSink;
  /** Bases whose answers we subscribe to, and the subscription in progress. */
  private watched = new Map<string, Promise<void>>();
  private waiters = new Map<string, Waiter[]>();
  private connectedSince?: number;
  private warnedAt = new Map<Refusal, number>();

  constructor(private opts: MqttTunnelOptions) {}

  async listen(sink: HeartbeatSink): Promise<void> {
    this.sink = sink;
    const o = this.opts;
    const client = mqttClient(o.url, this.clientOptions(), o);
    this.client = client;
    client.on("message", (topic, payload) => this.onMessage(topic, payload.toString("utf8")));
    client.on("connect", () => this.onConnect());
    client.on("close", () => this.onClose());
    client.on("error", err => o.log.warn({ err: errText(err) }, "MQTT broker connection failed"));
    await this.firstConnect(client);
    const topics = [mqttTopics.heartbeats(o.env), mqttTopics.baselineQueries(o.env)];
    await client.subscribeAsync(topics, { qos: 1 });
  }

  private clientOptions(): IClientOptions {
    const o = this.opts;
    return {
      clientId: o.clientId,
      username: o.username || undefined,
      password: o.password || undefined,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      // a command published while the broker is away would arrive late or never: fail it now
      queueQoSZero: false,
      resubscribe: true,
      ...(o.ca ? { ca: o.ca } : {}),
      ...(o.cert && o.key ? { cert: o.cert, key: o.key } : {}),
    };
  }

  private firstConnect(client: MqttClient): Promise<void> {
    if (client.connected) return Promise.resolve();
    const ms = this.opts.connectTimeoutMs ?? 10_000;
    return new Promise((res, rej) => {
      const timer = setTimeout(() => {
        client.removeListener("connect", ok);
        rej(new Error(`no connection to the MQTT broker ${this.opts.url} within ${ms} ms`));
      }, ms);
      const ok = () => {
        clearTimeout(timer);
        res();
      };
      client.once("connect", ok);
    });
  }

  private onConnect(): void {
    this.connectedSince = Date.now();
    this.opts.log.info({ broker: this.opts.url }, "connected to the MQTT broker");
  }

  async stopListening(): Promise<void> {
    const o = this.opts;
    await this.client
      ?.unsubscribeAsync([mqttTopics.heartbeats(o.env), mqttTopics.baselineQueries(o.env)])
      .catch(() => undefined);
  }

  /**
   * The connection is gone, and with it (clean session) every answer on its way: calls waiting
   * for one fail now, as unreachable, instead of holding their biz until their timeout (an
   * install's is minutes). The worker retries them with backoff; a repeat is answered REPEAT_BIZ.
   */
  private onClose(): void {
    this.connectedSince = undefined;
    this.failWaiting("the connection to the MQTT broker was lost");
  }

  private failWaiting(why: string): void {
    for (const [key, list] of this.waiters) {
      for (const w of list) {
        clearTimeout(w.timer);
        w.reject(new ArkletUnreachable(`${key}: ${why}`));
      }
    }
    this.waiters.clear();
  }

  async close(): Promise<void> {
    this.failWaiting("the MQTT tunnel closed");
    await this.client?.endAsync();
    this.client = undefined;
  }

  sightSince(): number | undefined {
    return this.connectedSince;
  }

  release(base: BaseRef): void {
    if (!this.watched.delete(base.identity)) return;
    void this.client
      ?.unsubscribeAsync(mqttTopics.replies(this.opts.env, base.identity))
      .catch(() => undefined);
  }

  // ---------- commands ----------

  health(base: BaseRef, timeoutMs: number): Promise<ArkletEnvelope<HealthData>> {
    const call = { command: "health", body: {}, key: `${base.identity}|health` };
    return this.ask(base, call, timeoutMs) as Promise<ArkletEnvelope<HealthData>>;
  }

  queryAllBiz(base: BaseRef, timeoutMs: number): Promise<ArkletEnvelope<unknown>> {
    const call = { command: "queryAllBiz", body: {}, key: `${base.identity}|bizList` };
    return this.ask(base, call, timeoutMs);
  }

  installBiz(base: BaseRef, biz: BizRequest, timeoutMs: number): Promise<ArkletEnvelope<unknown>> {
    const key = operationKey(base.identity, "installBiz", biz);
    return this.ask(base, { command: "installBiz", body: bizBody(biz), key }, timeoutMs);
  }

  uninstallBiz(
    base: BaseRef,
    biz: BizRequest,
    timeoutMs: number,
  ): Promise<ArkletEnvelope<unknown>> {
    const key = operationKey(base.identity, "uninstallBiz", biz);
    return this.ask(base, { command: "uninstallBiz", body: bizBody(biz), key }, timeoutMs);
  }

  /** Publishes a command and waits for its answer (matched by key); timed like an HTTP call. */
  private ask(base: BaseRef, call: Call, timeoutMs: number): Promise<ArkletEnvelope> {
    const { command, body, key } = call;
    return timed(command, async () => {
      const client = this.client;
      if (!client?.connected)
        throw new ArkletUnreachable(
          `${command} to ${base.identity}: the MQTT broker is not connected`,
        );
      await this.watch(client, base.identity);
      const answer = this.answerOf(key, timeoutMs, `${command} to ${base.identity}`);
      const topic = mqttTopics.command(this.opts.env, base.identity, command);
      await client.publishAsync(topic, JSON.stringify(body), { qos: 0 });
      return answer;
    });
  }

  /** Subscribes to a base's answers once, before the first command to it. */
  private watch(client: MqttClient, identity: string): Promise<void> {
    let sub = this.watched.get(identity);
    if (!sub) {
      const topics = mqttTopics.replies(this.opts.env, identity);
      sub = client.subscribeAsync(topics, { qos: 1 }).then(() => undefined);
      sub.catch(() => this.watched.delete(identity));
      this.watched.set(identity, sub);
    }
    return sub;
  }

  private answerOf(key: string, timeoutMs: number, what: string): Promise<ArkletEnvelope> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.drop(key, waiter);
        reject(new ArkletUnreachable(`${what}: no answer over MQTT within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = { resolve, reject, timer };
      this.waiters.set(key, [...(this.waiters.get(key) ?? []), waiter]);
    });
  }

  private drop(key: string, waiter: Waiter): void {
    const rest = (this.waiters.get(key) ?? []).filter(w => w !== waiter);
    if (rest.length > 0) this.waiters.set(key, rest);
    else this.waiters.delete(key);
  }

  /** Every waiter for this answer gets it (two health calls share one reply). */
  private settle(key: string, envelope: ArkletEnvelope): void {
    const list = this.waiters.get(key) ?? [];
    this.waiters.delete(key);
    for (const w of list) {
      clearTimeout(w.timer);
      w.resolve(envelope);
    }
  }

  // ---------- incoming ----------

  private onMessage(topic: string, payload: string): void {
    const c = classify(topic, payload, this.opts.env, Date.now());
    if (!c.ok) return this.refused(c.reason, c.detail);
    try {
      this.dispatch(c.msg);
    } catch (err) {
      this.opts.log.error({ topic, err: errText(err) }, "MQTT message handling failed");
    }
  }

  private dispatch(msg: Incoming): void {
    switch (msg.kind) {
      case "heart":
        return this.heartbeat(msg);
      case "queryBaseline":
        return this.baseline(msg.identity);
      case "health":
        return this.settle(`${msg.identity}|health`, msg.envelope);
      case "bizList":
        return this.settle(`${msg.identity}|bizList`, msg.envelope);
      case "bizOperation":
        return this.settle(msg.key, msg.envelope);
      case "batchInstall":
        return; // the worker's next biz list shows what the baseline installed
    }
  }

  private heartbeat(msg: Extract<Incoming, { kind: "heart" }>): void {
    const ip = msg.status.localIP;
    const now = Date.now();
    const verdict = this.opts.gate?.check({
      identity: msg.identity,
      ip,
      activated: msg.activated,
      now,
    });
    if (verdict && !verdict.ok) return this.refused("gate", verdict.reason);
    this.sink?.onHeartbeat(msg.status, msg.activated);
  }

  /** A base (re)connected and asks what it should run: only its VNode's owner answers. */
  private baseline(identity: string): void {
    const bizzes = this.sink?.baselineOf(identity);
    if (bizzes === undefined || !this.client) return;
    const topic = mqttTopics.baseline(this.opts.env, identity);
    void this.client
      .publishAsync(topic, JSON.stringify(bizzes.map(bizBody)), { qos: 1 })
      .catch(err => this.opts.log.warn({ base: identity, err: errText(err) }, "baseline not sent"));
  }

  private refused(reason: Refusal | "gate", detail: string): void {
    mqttDropped.inc({ reason });
    const now = Date.now();
    if (now - (this.warnedAt.get(reason as Refusal) ?? 0) < WARN_EVERY_MS) return;
    this.warnedAt.set(reason as Refusal, now);
    this.opts.log.warn(
      { reason, detail },
      "MQTT message dropped (counted in koupleless_mqtt_dropped_total)",
    );
  }
}

/**
 * An MQTT.js client over TCP (mqtt://) or TLS (mqtts://): the stream is opened anew on every
 * (re)connect. TLS verifies the broker against the CA given (else the system's), by name when
 * the broker is named by one.
 */
export function mqttClient(
  url: string,
  options: IClientOptions,
  tls: { ca?: string; cert?: string; key?: string } = {},
): MqttClient {
  const u = new URL(url);
  const secure = u.protocol === "mqtts:";
  const host = u.hostname;
  const port = Number(u.port) || (secure ? 8883 : 1883);
  const stream = () => {
    if (!secure) return tcpConnect({ host, port });
    const servername = isIP(host) === 0 ? host : undefined;
    const socket: TLSSocket = tlsConnect({ host, port, servername, ...tls });
    return socket;
  };
  const protocol = secure ? "mqtts" : "mqtt";
  return new MqttClient(stream, { ...options, protocol, host, port });
}

function bizBody(b: BizRequest): BizRequest {
  return { bizName: b.bizName, bizVersion: b.bizVersion, bizUrl: b.bizUrl ?? "" };
}
