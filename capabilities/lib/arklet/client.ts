// Typed client for the Arklet HTTP API as implemented (contract §5): POST only, HTTP 200 for
// every processed command with the outcome in the envelope. Transport failures and HTTP
// errors are thrown as ArkletUnreachable (transient); envelope outcomes are returned as data.
import { Agent, request } from "undici";
import { timed } from "../metrics";

export interface BaseAddress {
  ip: string;
  port: number;
}

/** The body of installBiz and uninstallBiz (contract §5). */
export interface BizRequest {
  bizName: string;
  bizVersion: string;
  bizUrl?: string;
}

export type ArkletCode = "SUCCESS" | "FAILED" | "CMD_NOT_FOUND" | "CMD_PROCESS_INTERNAL_ERROR";

export interface ArkletEnvelope<T = unknown> {
  code: ArkletCode;
  message?: string;
  data?: T;
  errorStackTrace?: string;
  baseIdentity?: string;
}

export interface HealthData {
  healthData?: {
    jvm?: Record<string, number | string>;
    cpu?: Record<string, number | string>;
    masterBizInfo?: { bizName?: string; bizVersion?: string; bizState?: string };
  };
}

/** The base did not answer, or answered something that is not an Arklet envelope. */
export class ArkletUnreachable extends Error {}

export class ArkletClient {
  private agent = new Agent({ keepAliveTimeout: 30_000, connections: 16 });

  constructor(private userAgent: string) {}

  /** POST /<command>, timed in koupleless_arklet_call_seconds. */
  call<T>(
    base: BaseAddress,
    command: string,
    body: object,
    timeoutMs: number,
  ): Promise<ArkletEnvelope<T>> {
    return timed(command, () => this.send<T>(base, command, body, timeoutMs));
  }

  private async send<T>(
    base: BaseAddress,
    command: string,
    body: object,
    timeoutMs: number,
  ): Promise<ArkletEnvelope<T>> {
    // an IPv6 source address (bases heartbeat from it) needs brackets in a URL
    const host = base.ip.includes(":") ? `[${base.ip}]` : base.ip;
    const url = `http://${host}:${base.port}/${command}`;
    let text: string;
    try {
      const res = await request(url, {
        method: "POST",
        dispatcher: this.agent,
        headers: { "content-type": "application/json", "user-agent": this.userAgent },
        body: JSON.stringify(body),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      text = await res.body.text();
      if (res.statusCode !== 200)
        throw new ArkletUnreachable(`POST ${url}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
    } catch (err) {
      if (err instanceof ArkletUnreachable) throw err;
      throw new ArkletUnreachable(`POST ${url}: ${(err as Error).message}`);
    }
    return parseEnvelope<T>(text, url);
  }

  health(base: BaseAddress, timeoutMs: number): Promise<ArkletEnvelope<HealthData>> {
    return this.call<HealthData>(base, "health", {}, timeoutMs);
  }

  queryAllBiz(base: BaseAddress, timeoutMs: number): Promise<ArkletEnvelope<unknown>> {
    return this.call(base, "queryAllBiz", {}, timeoutMs);
  }

  installBiz(
    base: BaseAddress,
    biz: BizRequest,
    timeoutMs: number,
  ): Promise<ArkletEnvelope<unknown>> {
    return this.call(base, "installBiz", biz, timeoutMs);
  }

  uninstallBiz(
    base: BaseAddress,
    biz: BizRequest,
    timeoutMs: number,
  ): Promise<ArkletEnvelope<unknown>> {
    return this.call(base, "uninstallBiz", biz, timeoutMs);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

export function parseEnvelope<T>(text: string, url: string): ArkletEnvelope<T> {
  let env: unknown;
  try {
    env = JSON.parse(text);
  } catch {
    throw new ArkletUnreachable(`POST ${url}: answer is not JSON: ${text.slice(0, 200)}`);
  }
  if (
    typeof env !== "object" ||
    env === null ||
    typeof (env as { code?: unknown }).code !== "string"
  ) {
    throw new ArkletUnreachable(`POST ${url}: answer has no envelope code: ${text.slice(0, 200)}`);
  }
  return env as ArkletEnvelope<T>;
}
