// The fake base's MQTT side, as the Arklet MQTT tunnel behaves (contract §2.2): commands on
// koupleless_<env>/<id>/<command>, every answer wrapped {"publishTimestamp", "data"} on
// .../base/<kind>, a heartbeat every period on .../base/heart (a BaseStatus without port),
// queryBaseline on every connect, and the baseline it is sent batch-installed.
import { connect, MqttClient } from "mqtt";
import { mqttTopics, wrap } from "../../capabilities/lib/tunnel/mqtt-wire";

export interface FakeMqttOptions {
  /** mqtt://host:port or mqtts://host:port */
  url: string;
  /** The controller's KOUPLELESS_ENV: topics are koupleless_<env>/... (Arklet: getRuntimeEnv). */
  env: string;
  username?: string;
  password?: string;
  /** PEM of the broker's CA, for mqtts. */
  ca?: string;
}

/** What the link needs from its base. */
export interface MqttBase {
  identity: string;
  heartbeatMs: number;
  /** The heartbeat body, with the port (the link leaves it out). */
  status(state: "activated" | "deactivated"): Record<string, unknown>;
  /** Runs an Arklet command and returns its envelope, as the HTTP API would. */
  answer(command: string, body: unknown): Promise<{ code: string; data?: unknown }>;
}

const COMMANDS = new Set(["health", "queryAllBiz", "installBiz", "uninstallBiz"]);

export class FakeMqttLink {
  private client?: MqttClient;
  private timer?: NodeJS.Timeout;
  private paused = false;
  readonly published: Array<{ topic: string; at: number }> = [];

  constructor(
    private base: MqttBase,
    private opts: FakeMqttOptions,
  ) {}

  private topic(kind: string): string {
    return `koupleless_${this.opts.env}/${this.base.identity}/base/${kind}`;
  }

  async start(): Promise<void> {
    const o = this.opts;
    const client = connect(o.url, {
      clientId: `fake-base@@@${this.base.identity}`,
      username: o.username,
      password: o.password,
      clean: true,
      reconnectPeriod: 500,
      ...(o.ca ? { ca: o.ca } : {}),
    });
    this.client = client;
    client.on("message", (topic, payload) => void this.onMessage(topic, payload.toString("utf8")));
    client.on("connect", () => void this.onConnect());
    client.on("error", () => undefined); // reconnects on its own, like Paho
    await new Promise<void>((res, rej) => {
      client.once("connect", () => res());
      client.once("error", rej);
    });
    this.timer = setInterval(() => void this.heartbeat("activated"), this.base.heartbeatMs);
  }

  private async onConnect(): Promise<void> {
    const c = this.client;
    if (!c) return;
    const prefix = `koupleless_${this.opts.env}/${this.base.identity}`;
    await c.subscribeAsync(
      [`${prefix}/+`, mqttTopics.baseline(this.opts.env, this.base.identity)],
      {
        qos: 1,
      },
    );
    // a base that (re)connects asks what it should run, then says it is there
    await this.publish("queryBaseline", this.base.status("activated").baseMetadata);
    await this.heartbeat("activated");
  }

  /** Publishes one heartbeat; false when it could not (not connected, paused). */
  async heartbeat(state: "activated" | "deactivated"): Promise<boolean> {
    if (this.paused || !this.client?.connected) return false;
    const { port: _port, ...status } = this.base.status(state);
    await this.publish("heart", status);
    return true;
  }

  /** A hung JVM: no heartbeats, no answers. */
  pause(paused: boolean): void {
    this.paused = paused;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.client?.endAsync(true);
    this.client = undefined;
  }

  private async publish(kind: string, data: unknown): Promise<void> {
    const topic = this.topic(kind);
    this.published.push({ topic, at: Date.now() });
    await this.client
      ?.publishAsync(topic, wrap(data, Date.now()), { qos: 1 })
      .catch(() => undefined);
  }

  private async onMessage(topic: string, payload: string): Promise<void> {
    if (this.paused) return;
    const command = topic.split("/").slice(2).join("/");
    let body: unknown;
    try {
      body = JSON.parse(payload);
    } catch {
      return; // Arklet logs and drops what it cannot read
    }
    if (command === "base/baseline") return this.baseline(body);
    if (!COMMANDS.has(command)) return;
    const env = await this.base.answer(command, body);
    await this.reply(command, body, env);
  }

  private async reply(command: string, body: unknown, env: { code: string; data?: unknown }) {
    if (command === "health") return this.publish("health", env);
    if (command === "queryAllBiz") return this.publish("simpleBiz", simpleBizzes(env.data));
    const b = body as { bizName?: string; bizVersion?: string };
    const op = { command, bizName: b.bizName, bizVersion: b.bizVersion, response: env };
    return this.publish("bizOperation", op);
  }

  /** The baseline: batch-installed, answered on base/batchInstallBizResponse. */
  private async baseline(body: unknown): Promise<void> {
    const bizList = Array.isArray(body) ? body : [];
    const env = await this.base.answer("batchInstallBiz", { bizList });
    await this.publish("batchInstallBizResponse", { command: "batchInstallBiz", response: env });
  }
}

/** queryAllBiz's list as Arklet's MQTT tunnel shortens it for base/simpleBiz. */
function simpleBizzes(data: unknown): object[] {
  const list = Array.isArray(data) ? (data as Array<Record<string, unknown>>) : [];
  return list.map(b => {
    const records = Array.isArray(b.bizStateRecords) ? b.bizStateRecords : [];
    return {
      name: b.bizName,
      version: b.bizVersion,
      state: b.bizState,
      latestStateRecord: records.at(-1) ?? {},
    };
  });
}
