// The HTTP tunnel: POST /heartbeat, wire-compatible with Arklet's HttpTunnel (contract §2.1).
// Strict at the edge: anything malformed gets a 4xx with the reason and changes nothing.
import { timingSafeEqual } from "node:crypto";
import { createServer, IncomingMessage, Server, ServerResponse } from "node:http";
import { BaseStatus, MAX_HEARTBEAT_BYTES, parseHeartbeat } from "./heartbeat";
import { registry } from "../metrics";

export interface TunnelOptions {
  port: number;
  env: string;
  /** Shared bearer token; empty disables authentication. */
  token: string;
  minIntervalMs: number;
  onHeartbeat: (status: BaseStatus, activated: boolean) => Promise<void>;
  onError: (err: unknown) => void;
}

/** Per-identity minimum spacing of accepted heartbeats. */
export class RateLimiter {
  private last = new Map<string, number>();
  constructor(private minIntervalMs: number) {}

  allow(identity: string, now: number): boolean {
    const prev = this.last.get(identity);
    if (prev !== undefined && now - prev < this.minIntervalMs) return false;
    this.last.set(identity, now);
    return true;
  }

  forget(identity: string): void {
    this.last.delete(identity);
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function tokenOk(header: string | undefined, token: string): boolean {
  if (!token) return true;
  const want = Buffer.from(`Bearer ${token}`);
  const got = Buffer.from(header ?? "");
  return got.length === want.length && timingSafeEqual(got, want);
}

function readLimited(req: IncomingMessage): Promise<string> {
  return new Promise((res, rej) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_HEARTBEAT_BYTES) {
        rej(new HttpError(400, `body is larger than ${MAX_HEARTBEAT_BYTES} bytes`));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => res(Buffer.concat(chunks).toString("utf8")));
    req.on("error", rej);
  });
}

async function metricsAnswer(res: ServerResponse): Promise<void> {
  res.writeHead(200, { "content-type": registry.contentType }).end(await registry.metrics());
}

function checkRequest(req: IncomingMessage, opts: TunnelOptions): void {
  const path = (req.url ?? "").split("?")[0];
  if (path !== "/heartbeat")
    throw new HttpError(404, `no such endpoint ${path}; bases POST to /heartbeat`);
  if (req.method !== "POST") throw new HttpError(405, "only POST is allowed on /heartbeat");
  if (!tokenOk(req.headers.authorization, opts.token)) {
    throw new HttpError(
      401,
      "missing or wrong bearer token (the controller has KOUPLELESS_HEARTBEAT_TOKEN set)",
    );
  }
  const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/json")
    throw new HttpError(415, `content-type must be application/json, got ${JSON.stringify(type)}`);
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_HEARTBEAT_BYTES)
    throw new HttpError(400, `body is larger than ${MAX_HEARTBEAT_BYTES} bytes`);
}

async function handle(
  req: IncomingMessage,
  opts: TunnelOptions,
  limiter: RateLimiter,
): Promise<[number, string]> {
  checkRequest(req, opts);
  const parsed = parseHeartbeat(await readLimited(req), opts.env);
  if (!parsed.ok) throw new HttpError(400, parsed.reason);
  const identity = parsed.status.baseMetadata.identity;
  // a goodbye is never rate-limited: dropping it would leave a dead base's Node for the whole TTL
  if (parsed.activated && !limiter.allow(identity, Date.now())) {
    throw new HttpError(
      429,
      `heartbeats from ${identity} arrive faster than one per ${opts.minIntervalMs} ms`,
    );
  }
  await opts.onHeartbeat(parsed.status, parsed.activated);
  if (!parsed.activated) limiter.forget(identity);
  return [200, "SUCCESS"];
}

function reply(res: ServerResponse, status: number, body: string): void {
  if (res.headersSent) return;
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    connection: status >= 400 ? "close" : "keep-alive",
  });
  res.end(body);
}

/** Starts the heartbeat server; resolves once it listens. */
export async function startTunnel(opts: TunnelOptions): Promise<Server> {
  const limiter = new RateLimiter(opts.minIntervalMs);
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/metrics") return void metricsAnswer(res);
    handle(req, opts, limiter)
      .then(([status, body]) => reply(res, status, body))
      .catch((err: unknown) => {
        if (err instanceof HttpError) return reply(res, err.status, err.message);
        opts.onError(err);
        reply(
          res,
          500,
          "the controller failed to record this heartbeat; it will be retried with the next one",
        );
      });
  });
  server.requestTimeout = 15_000;
  await new Promise<void>((res, rej) => {
    server.once("error", rej);
    server.listen(opts.port, () => res());
  });
  return server;
}
