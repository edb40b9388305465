// A base that behaves like the real Arklet as implemented (contract §5), not like its docs:
// POST only, HTTP 200 with the outcome in the body envelope, lowercase biz states, REPEAT_BIZ,
// NOT_FOUND_BIZ, CMD_PROCESS_INTERNAL_ERROR for a failing start, per-biz op conflicts, and
// heartbeats with the exact BaseStatus body; and, unless turned off, the real base's habits
// (see FakeBaseOptions): a heap that changes on every /health, records without times, the jar's
// manifest deciding the installed name:version, error envelopes without baseIdentity, the
// TO_BE_IMPLEMENTED base name. For dev, tests and benchmarks.
import {
  createServer,
  IncomingMessage,
  request as httpRequest,
  Server,
  ServerResponse,
} from "node:http";
import { identityToken } from "../../capabilities/lib/tunnel/address";
import { AddressInfo } from "node:net";
import { FakeMqttLink, FakeMqttOptions } from "./mqtt";

export interface FakeBaseOptions {
  /** Address to listen on; each base may take its own 127.0.0.N. */
  host: string;
  /** Arklet port (real default 1238); 0 picks a free one. */
  port: number;
  /**
   * Controller base URL, e.g. http://localhost:7777; empty = no heartbeats. A comma list
   * stands for a Service in front of several replicas: a refused connection moves on to the next.
   */
  controller: string;
  heartbeatMs: number;
  /** Install latency, like a Spring start. */
  installMs: number;
  /** Probability (0..1) that an install fails with CMD_PROCESS_INTERNAL_ERROR. */
  failureRate: number;
  /** Biz names whose installs always fail. */
  failingBizzes: string[];

  // The real base's habits (issue 14), each on by default so that tests meet what users run:
  /** Used and free heap change on every /health, as in a live JVM. */
  breathingHeap: boolean;
  /** bizStateRecords serialise as `[{},{}]`, as sofa-ark before 3.1.9 / 2.2.16 does (no getters). */
  timelessRecords: boolean;
  /**
   * The jar's manifest decides the installed name:version, whatever bizName/bizVersion were
   * asked; a jar already installed answers REPEAT_BIZ under any asked name. A jar's manifest
   * is `manifests[url]`, else what the first install of that URL asked.
   */
  manifestWins: boolean;
  /** Jar URL → "name:version" in its manifest (used with manifestWins). */
  manifests: Record<string, string>;
  /** Error envelopes (CMD_NOT_FOUND, CMD_PROCESS_INTERNAL_ERROR) carry no baseIdentity. */
  errorsWithoutIdentity: boolean;
  identity: string;
  name: string;
  version: string;
  clusterName: string;
  hostName: string;
  /** JVM max metaspace in bytes; -1 like a JVM without -XX:MaxMetaspaceSize. */
  maxMetaspace: number;
  /**
   * The controller's KOUPLELESS_HEARTBEAT_SECRET: when set, heartbeats carry this identity's
   * credential (a real Arklet sends none). Empty = no header.
   */
  secret: string;
  /** Speak the MQTT tunnel through this broker instead of HTTP (no server, no POSTs). */
  mqtt?: FakeMqttOptions;
}

export interface BizRecord {
  bizName: string;
  bizVersion: string;
  bizUrl: string;
  bizState: string;
  changeTime: number;
}

export interface RequestLogEntry {
  /** When the request arrived, and when the answer went out (ms since the epoch). */
  receivedAt: number;
  at: number;
  command: string;
  body: unknown;
  userAgent: string;
  code: string;
}

interface Envelope {
  code: "SUCCESS" | "FAILED" | "CMD_NOT_FOUND" | "CMD_PROCESS_INTERNAL_ERROR";
  message?: string;
  data?: unknown;
  errorStackTrace?: string;
  baseIdentity?: string;
}

const MASTER_BIZ = "base";
const COMMANDS = [
  "help",
  "installBiz",
  "batchInstallBiz",
  "uninstallBiz",
  "switchBiz",
  "queryAllBiz",
  "health",
];
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/**
 * POSTs a heartbeat body to `<url>/heartbeat` from the local address `from`; resolves with the
 * HTTP status and body (status 0: no answer within the timeout, 10 s by default, or no
 * connection). Never throws.
 */
export function postHeartbeat(
  url: string,
  body: unknown,
  opts: { from?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ status: number; text: string }> {
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  return new Promise(resolve => {
    const req = httpRequest(
      `${url}/heartbeat`,
      {
        method: "POST",
        localAddress: opts.from,
        headers: { "content-type": "application/json", ...opts.headers },
        timeout: opts.timeoutMs ?? 10_000,
      },
      res => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
        );
        res.on("error", () => resolve({ status: 0, text: "" }));
      },
    );
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve({ status: 0, text: "" }));
    req.end(payload);
  });
}

export function defaultOptions(partial: Partial<FakeBaseOptions> = {}): FakeBaseOptions {
  const host = partial.host ?? "127.0.0.1";
  return {
    host,
    port: 1238,
    controller: "",
    heartbeatMs: 12_000,
    installMs: 0,
    failureRate: 0,
    failingBizzes: [],
    breathingHeap: true,
    timelessRecords: true,
    manifestWins: true,
    manifests: {},
    errorsWithoutIdentity: true,
    identity: partial.identity ?? host,
    name: "TO_BE_IMPLEMENTED", // what Arklet reports unless the base implements BaseMetadataHook
    version: "1.0.0",
    clusterName: "default",
    hostName: `fake-base-${(partial.identity ?? host).replace(/[^a-z0-9-]/gi, "-")}`,
    maxMetaspace: -1, // the JVM default: no -XX:MaxMetaspaceSize
    secret: "",
    ...partial,
  };
}

/** The habits `--without` can turn off, by name. */
export const HABITS = [
  "breathing-heap",
  "timeless-records",
  "manifest-wins",
  "errors-without-identity",
];
const HABIT_OPTION: Record<string, keyof FakeBaseOptions> = {
  "breathing-heap": "breathingHeap",
  "timeless-records": "timelessRecords",
  "manifest-wins": "manifestWins",
  "errors-without-identity": "errorsWithoutIdentity",
};

/** The CLI's `--without a,b` and `--manifest URL=name:version` as options; throws on a typo. */
export function habitOptions(without: string, manifests: string[]): Partial<FakeBaseOptions> {
  const off =
    without === "all"
      ? HABITS
      : without
          .split(",")
          .map(s => s.trim())
          .filter(Boolean);
  const out: Record<string, unknown> = {};
  for (const h of off) {
    if (!HABIT_OPTION[h])
      throw new Error(
        `--without: unknown habit ${JSON.stringify(h)} (known: ${HABITS.join(", ")}, all)`,
      );
    out[HABIT_OPTION[h]] = false;
  }
  const map: Record<string, string> = {};
  for (const m of manifests) {
    const [, url, biz] = /^(.+)=([^=:]+:[^=:]+)$/.exec(m) ?? [];
    if (!url) throw new Error(`--manifest ${JSON.stringify(m)}: expected URL=name:version`);
    map[url] = biz;
  }
  return { ...(out as Partial<FakeBaseOptions>), ...(manifests.length ? { manifests: map } : {}) };
}

class CommandError extends Error {}

export class FakeBase {
  readonly opts: FakeBaseOptions;
  readonly log: RequestLogEntry[] = [];
  readonly heartbeatsSent: Array<{ at: number; status: number }> = [];
  private bizzes = new Map<string, BizRecord>();
  private busy = new Set<string>();
  /** What each jar URL's manifest says ("name:version"), learnt from its first install. */
  private jars = new Map<string, string>();
  private healthCalls = 0;
  private server?: Server;
  private link?: FakeMqttLink;
  private timer?: NodeJS.Timeout;
  private reachable = true;
  /** Which of the controller URLs heartbeats go to now (a fleet spreads its bases over them). */
  target = 0;

  constructor(opts: Partial<FakeBaseOptions> = {}) {
    this.opts = defaultOptions(opts);
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.opts.port;
  }

  /** The heartbeat body, exactly as Arklet sends it. */
  baseStatus(state: "activated" | "deactivated" = "activated"): object {
    const o = this.opts;
    return {
      baseMetadata: {
        identity: o.identity,
        name: o.name,
        version: o.version,
        clusterName: o.clusterName,
      },
      localIP: o.host,
      localHostName: o.hostName,
      port: this.port,
      state,
    };
  }

  async start(): Promise<void> {
    if (this.opts.mqtt) return this.startMqtt(this.opts.mqtt);
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((res, rej) => {
      server.once("error", rej);
      server.listen(this.opts.port, this.opts.host, () => res());
    });
    this.server = server;
    this.startHeartbeats();
  }

  private startHeartbeats(): void {
    if (!this.opts.controller || this.opts.mqtt) return; // MQTT heartbeats are the link's

    void this.heartbeat();
    this.timer = setInterval(() => void this.heartbeat(), this.opts.heartbeatMs);
  }

  private async startMqtt(mqtt: FakeMqttOptions): Promise<void> {
    const base = {
      identity: this.opts.identity,
      heartbeatMs: this.opts.heartbeatMs,
      status: (state: "activated" | "deactivated") =>
        this.baseStatus(state) as Record<string, unknown>,
      answer: (command: string, body: unknown) => this.answer(command, body, "mqtt"),
    };
    this.link = new FakeMqttLink(base, mqtt);
    await this.link.start();
  }

  /** The MQTT side, when the base speaks MQTT (what it published, for tests). */
  get mqtt(): FakeMqttLink | undefined {
    return this.link;
  }

  /** Runs a command that came over MQTT, logged like an HTTP request. */
  private async answer(command: string, body: unknown, userAgent: string): Promise<Envelope> {
    const receivedAt = Date.now();
    const env = await this.dispatch(command, JSON.stringify(body ?? {}));
    this.log.push({ receivedAt, at: Date.now(), command, body, userAgent, code: env.code });
    return env;
  }

  /** POSTs one heartbeat (or publishes it over MQTT); never throws (a real Arklet just logs failures). */
  async heartbeat(state: "activated" | "deactivated" = "activated"): Promise<number> {
    if (this.link) {
      const sent = await this.link.heartbeat(state);
      this.heartbeatsSent.push({ at: Date.now(), status: sent ? 200 : 0 });
      return sent ? 200 : 0;
    }
    const urls = this.opts.controller.split(",").filter(Boolean);
    for (let tried = 0; tried < urls.length; tried++) {
      const url = urls[this.target % urls.length];
      const status = await this.post(url, state);
      if (status !== 0) return status;
      this.target++; // that replica is gone: the "Service" sends us to the next one
    }
    return 0;
  }

  private async post(url: string, state: "activated" | "deactivated"): Promise<number> {
    const o = this.opts;
    const auth: Record<string, string> = o.secret
      ? { authorization: `Bearer ${identityToken(o.secret, o.identity)}` }
      : {};
    // sent from the base's own address, as a JVM on that host would: the controller calls back there
    const { status } = await postHeartbeat(url, this.baseStatus(state), {
      from: o.host,
      headers: auth,
    });
    this.heartbeatsSent.push({ at: Date.now(), status });
    return status;
  }

  /** Unreachable: connections are destroyed and heartbeats stop, like a hung or partitioned JVM. */
  setReachable(reachable: boolean): void {
    this.reachable = reachable;
    this.link?.pause(!reachable);
    clearInterval(this.timer);
    this.timer = undefined;
    if (reachable) this.startHeartbeats();
  }

  /** A JVM restart: same address, every biz gone. */
  async restartEmpty(): Promise<void> {
    await this.stop();
    this.bizzes.clear();
    this.busy.clear();
    this.reachable = true;
    await this.start();
  }

  /** Stops the server; with deactivate, first tells the controller, as an orderly exit does. */
  async stop(deactivate = false): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    if (deactivate) await this.heartbeat("deactivated");
    await this.link?.stop();
    this.link = undefined;
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>(res => server.close(() => res()));
  }

  /** What is installed, for tests: name:version → record. */
  installed(): BizRecord[] {
    return [...this.bizzes.values()];
  }

  /** Installs a biz behind the controller's back. */
  plant(bizName: string, bizVersion: string, bizState = "activated"): void {
    this.bizzes.set(`${bizName}:${bizVersion}`, {
      bizName,
      bizVersion,
      bizUrl: "",
      bizState,
      changeTime: Date.now(),
    });
  }

  /** Changes a biz's state, as a JVM event would (e.g. "deactivated"). */
  setBizState(bizName: string, bizVersion: string, bizState: string): void {
    const biz = this.bizzes.get(`${bizName}:${bizVersion}`);
    if (!biz) throw new Error(`no biz ${bizName}:${bizVersion} on ${this.opts.identity}`);
    biz.bizState = bizState;
    biz.changeTime = Date.now();
  }

  count(command: string): number {
    return this.log.filter(e => e.command === command).length;
  }

  // ---------- HTTP ----------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.reachable) {
      req.socket.destroy();
      return;
    }
    const receivedAt = Date.now();
    const command = (req.url ?? "/").replace(/^\//, "").split("?")[0];
    if (req.method !== "POST") {
      res
        .writeHead(500, { "content-type": "text/plain" })
        .end("POST http request only supported by arklet");
      return;
    }
    const raw = await readBody(req);
    const env = await this.dispatch(command, raw);
    this.log.push({
      receivedAt,
      at: Date.now(),
      command,
      body: safeJson(raw),
      userAgent: req.headers["user-agent"] ?? "",
      code: env.code,
    });
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(env));
  }

  private async dispatch(command: string, raw: string): Promise<Envelope> {
    const baseIdentity = this.opts.identity;
    const onError = this.opts.errorsWithoutIdentity ? {} : { baseIdentity };
    if (!COMMANDS.includes(command))
      return { code: "CMD_NOT_FOUND", message: "please follow the doc", ...onError };
    try {
      const input = raw.trim() === "" ? {} : (JSON.parse(raw) as Record<string, unknown>);
      return { ...(await this.run(command, input)), baseIdentity };
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      return {
        code: "CMD_PROCESS_INTERNAL_ERROR",
        message: `Internal Error: ${msg}`,
        errorStackTrace: `com.alipay.sofa.koupleless.arklet.core.common.exception.ArkletRuntimeException: ${msg}\n\tat FakeBase`,
        ...onError,
      };
    }
  }

  private run(
    command: string,
    input: Record<string, unknown>,
  ): Promise<Omit<Envelope, "baseIdentity">> {
    switch (command) {
      case "installBiz":
        return this.install(input);
      case "batchInstallBiz":
        return this.batchInstall(input);
      case "uninstallBiz":
        return this.withBizLock(input, () => this.uninstall(input));
      case "switchBiz":
        return this.withBizLock(input, async () => this.switch(input));
      case "queryAllBiz":
        return Promise.resolve({ code: "SUCCESS", data: this.queryAll() });
      case "health":
        return Promise.resolve({ code: "SUCCESS", data: { healthData: this.health() } });
      default:
        return Promise.resolve({
          code: "SUCCESS",
          data: COMMANDS.map(id => ({ id, desc: `${id} command` })),
        });
    }
  }

  // ---------- commands ----------

  private async withBizLock<T>(input: Record<string, unknown>, op: () => Promise<T>): Promise<T> {
    const { bizName, bizVersion } = requireNameVersion(input);
    const key = `${bizName}:${bizVersion}`;
    // Arklet rejects an operation on a biz that another operation is still working on
    if (this.busy.has(key))
      throw new CommandError(`biz ${key} is in operation, please retry later`);
    this.busy.add(key);
    try {
      return await op();
    } finally {
      this.busy.delete(key);
    }
  }

  private install(input: Record<string, unknown>): Promise<Omit<Envelope, "baseIdentity">> {
    if (typeof input.bizUrl !== "string" || input.bizUrl === "") {
      throw new CommandError("bizUrl should not be blank");
    }
    return this.withBizLock(input, async () => {
      const { bizName, bizVersion } = this.manifestOf(input.bizUrl as string, input);
      const key = `${bizName}:${bizVersion}`;
      if (this.bizzes.has(key)) {
        return {
          code: "FAILED",
          message: "install biz not success!",
          data: { code: "REPEAT_BIZ", message: `Biz: ${key} has been installed or registered.` },
        };
      }
      const started = Date.now();
      if (this.opts.installMs > 0) await sleep(this.opts.installMs);
      if (this.opts.failingBizzes.includes(bizName) || Math.random() < this.opts.failureRate) {
        throw new CommandError(`Biz ${key} start failed: simulated failure in main class`);
      }
      this.bizzes.set(key, {
        bizName,
        bizVersion,
        bizUrl: input.bizUrl as string,
        bizState: "activated",
        changeTime: Date.now(),
      });
      return {
        code: "SUCCESS",
        data: {
          code: "SUCCESS",
          message: `Install Biz: ${key} success, cost: ${Date.now() - started} ms, started at: ${new Date(started).toISOString()}`,
          bizInfos: [this.bizInfo(this.bizzes.get(key) as BizRecord)],
          elapsedSpace: 1024,
        },
      };
    });
  }

  /** The name:version an install of this jar gets: its manifest's with manifestWins, else the asked one. */
  private manifestOf(url: string, input: Record<string, unknown>) {
    const asked = requireNameVersion(input);
    if (!this.opts.manifestWins) return asked;
    const manifest =
      this.opts.manifests[url] ?? this.jars.get(url) ?? `${asked.bizName}:${asked.bizVersion}`;
    this.jars.set(url, manifest);
    const at = manifest.lastIndexOf(":");
    return { bizName: manifest.slice(0, at), bizVersion: manifest.slice(at + 1) };
  }

  private async batchInstall(
    input: Record<string, unknown>,
  ): Promise<Omit<Envelope, "baseIdentity">> {
    const list = Array.isArray(input.bizList) ? (input.bizList as Record<string, unknown>[]) : [];
    const results = await Promise.all(
      list.map(async item => {
        const env = await this.dispatch("installBiz", JSON.stringify(item));
        const data = (env.data ?? {}) as Record<string, unknown>;
        return [
          String(item.bizUrl),
          { code: data.code ?? env.code, message: data.message ?? env.message },
        ] as const;
      }),
    );
    const ok = results.every(([, r]) => r.code === "SUCCESS");
    return {
      code: ok ? "SUCCESS" : "FAILED",
      data: {
        code: ok ? "SUCCESS" : "FAILED",
        message: ok ? "batch install success" : "batch install failed",
        bizUrlToResponse: Object.fromEntries(results),
      },
    };
  }

  private async uninstall(input: Record<string, unknown>): Promise<Omit<Envelope, "baseIdentity">> {
    const { bizName, bizVersion } = requireNameVersion(input);
    const key = `${bizName}:${bizVersion}`;
    if (bizName === MASTER_BIZ)
      return { code: "FAILED", message: "Master biz must not be uninstalled." };
    if (!this.bizzes.delete(key)) {
      return {
        code: "FAILED",
        message: "uninstall biz not success!",
        data: { code: "NOT_FOUND_BIZ", message: `Uninstall biz: ${key} not found.` },
      };
    }
    return {
      code: "SUCCESS",
      data: { code: "SUCCESS", message: `Uninstall biz: ${key} success.` },
    };
  }

  private switch(input: Record<string, unknown>): Omit<Envelope, "baseIdentity"> {
    const { bizName, bizVersion } = requireNameVersion(input);
    const key = `${bizName}:${bizVersion}`;
    const biz = this.bizzes.get(key);
    if (!biz)
      return {
        code: "FAILED",
        data: { code: "NOT_FOUND_BIZ", message: `Switch biz: ${key} not found.` },
      };
    for (const other of this.bizzes.values()) {
      if (other.bizName === bizName && other !== biz && other.bizState === "activated")
        other.bizState = "deactivated";
    }
    biz.bizState = "activated";
    biz.changeTime = Date.now();
    return {
      code: "SUCCESS",
      data: { code: "SUCCESS", message: `Switch biz: ${key} is activated.` },
    };
  }

  private bizInfo(b: BizRecord): object {
    return {
      bizName: b.bizName,
      bizVersion: b.bizVersion,
      bizState: b.bizState,
      mainClass: `com.example.${b.bizName}.Application`,
      webContextPath: b.bizName,
      classLoader: `BizClassLoader(bizIdentity=${b.bizName}:${b.bizVersion})`,
      bizStateRecords: this.opts.timelessRecords
        ? [{}, {}]
        : [{ changeTime: b.changeTime, state: b.bizState, reason: "Started", message: "" }],
    };
  }

  private queryAll(): object[] {
    // the real Arklet leaves the base (master) biz out, whatever its help text says
    return [...this.bizzes.values()].map(b => this.bizInfo(b));
  }

  private health(): object {
    const committed = 64 * 1024 * 1024;
    // a live JVM: the heap fills and is collected between any two calls; CPU % summed over cores
    const used = this.opts.breathingHeap ? 150 + ((++this.healthCalls * 37) % 300) : 256;
    return {
      jvm: {
        "java version": "17.0.15",
        "java home": "/usr/lib/jvm/java-17",
        "total memory(M)": 512,
        "max memory(M)": 2048,
        "free memory(M)": 512 - used,
        "run time(s)": Math.round(process.uptime()),
        "init heap memory(M)": 256,
        "used heap memory(M)": used,
        "committed heap memory(M)": 512,
        "max heap memory(M)": 2048,
        "init non heap memory(M)": 8,
        "used non heap memory(M)": 80,
        "committed non heap memory(M)": 96,
        "max non heap memory(M)": -1,
        "loaded class count": 12000,
        "unload class count": 0,
        "total class count": 12000,
        "java used metaspace": committed - 4 * 1024 * 1024,
        "java committed metaspace": committed,
        "java max metaspace": this.opts.maxMetaspace,
      },
      cpu: {
        count: 2,
        type: "x86_64",
        "total used (%)": this.opts.breathingHeap ? 6140.0 : 10,
        "user used (%)": 8,
        "system used (%)": 2,
        "free (%)": 90,
      },
      masterBizInfo: {
        bizName: MASTER_BIZ,
        bizVersion: this.opts.version,
        bizState: "ACTIVATED",
        webContextPath: "/",
      },
      bizListInfo: this.queryAll(),
      pluginListInfo: [],
    };
  }
}

function requireNameVersion(input: Record<string, unknown>): {
  bizName: string;
  bizVersion: string;
} {
  const { bizName, bizVersion } = input;
  if (
    typeof bizName !== "string" ||
    bizName === "" ||
    typeof bizVersion !== "string" ||
    bizVersion === ""
  ) {
    throw new CommandError("bizName and bizVersion should not be blank");
  }
  return { bizName, bizVersion };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise(res => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", c => (body += c));
    req.on("end", () => res(body));
    req.on("error", () => res(body));
  });
}

function safeJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** The loopback address number n maps to: 2 -> 127.0.0.2, 300 -> 127.0.1.44 (all of 127/8 is loopback). */
export function loopbackHost(n: number): string {
  return `127.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/** Starts `count` bases on 127.0.0.<first>, 127.0.0.<first+1>, ... sharing one port. */
export async function startFleet(
  count: number,
  partial: Partial<FakeBaseOptions> = {},
  first = 2,
): Promise<FakeBase[]> {
  const bases: FakeBase[] = [];
  for (let i = 0; i < count; i++) {
    const host = loopbackHost(first + i);
    const base = new FakeBase({ ...partial, host, identity: host });
    base.target = i; // with several controller URLs, bases start spread over them
    await base.start();
    bases.push(base);
  }
  return bases;
}
