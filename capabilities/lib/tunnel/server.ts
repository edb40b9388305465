// The HTTP tunnel: POST /heartbeat, wire-compatible with Arklet's HttpTunnel (contract §2.1).
// Strict at the edge: anything malformed gets a 4xx with the reason and changes nothing.
import { createServer, IncomingMessage, Server, ServerResponse } from "node:http";
import type { BlockList } from "node:net";
import { BaseStatus, MAX_HEARTBEAT_BYTES, parseHeartbeat } from "./heartbeat";
import { addressProblem, credentialOk, plainIp } from "./address";
import type { HeartbeatGate } from "./gate";
import { heartbeatsRefused } from "../metrics";

export interface TunnelOptions {
  port: number;
  env: string;
  /** Which address the controller calls: the TCP source of the heartbeat, or its localIP. */
  baseAddress: "source" | "heartbeat";
  /** Networks the controller may call; undefined = any but the always-refused ones. */
  allowed: BlockList | undefined;
  /** Cluster secret of per-identity credentials; empty = none required. */
  secret: string;
  gate: HeartbeatGate;
  /** Takes an accepted heartbeat; must not wait on the API server (it only queues work). */
  onHeartbeat: (status: BaseStatus, activated: boolean) => void;
  onError: (err: unknown) => void;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
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

function checkRequest(req: IncomingMessage): void {
  const path = (req.url ?? "").split("?")[0];
  if (path !== "/heartbeat")
    throw new HttpError(404, `no such endpoint ${path}; bases POST to /heartbeat`);
  if (req.method !== "POST") throw new HttpError(405, "only POST is allowed on /heartbeat");
  const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/json")
    throw new HttpError(415, `content-type must be application/json, got ${JSON.stringify(type)}`);
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_HEARTBEAT_BYTES)
    throw new HttpError(400, `body is larger than ${MAX_HEARTBEAT_BYTES} bytes`);
}

/** The address the controller would call for this heartbeat, checked against the policy. */
function callAddress(req: IncomingMessage, status: BaseStatus, opts: TunnelOptions): string {
  const ip = opts.baseAddress === "source" ? plainIp(req.socket.remoteAddress) : status.localIP;
  const problem = addressProblem(ip, opts.allowed);
  if (problem) throw new HttpError(403, `the controller will not call this base: ${problem}`);
  return ip;
}

async function handle(req: IncomingMessage, opts: TunnelOptions): Promise<[number, string]> {
  checkRequest(req);
  const parsed = parseHeartbeat(await readLimited(req), opts.env);
  if (!parsed.ok) throw new HttpError(400, parsed.reason);
  const identity = parsed.status.baseMetadata.identity;
  if (!credentialOk(opts.secret, identity, req.headers.authorization)) {
    throw new HttpError(
      401,
      `missing or wrong credential for ${identity}: send Authorization: Bearer <hex HMAC-SHA256 of the identity under KOUPLELESS_HEARTBEAT_SECRET>`,
    );
  }
  const ip = callAddress(req, parsed.status, opts);
  const verdict = opts.gate.check({ identity, ip, activated: parsed.activated, now: Date.now() });
  if (!verdict.ok) throw new HttpError(verdict.status, verdict.reason);
  // from here on the controller knows the base by the address it will call
  opts.onHeartbeat({ ...parsed.status, localIP: ip }, parsed.activated);
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
  const server = createServer((req, res) => {
    handle(req, opts)
      .then(([status, body]) => reply(res, status, body))
      .catch((err: unknown) => {
        if (err instanceof HttpError) {
          heartbeatsRefused.inc({ status: String(err.status) });
          return reply(res, err.status, err.message);
        }
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
