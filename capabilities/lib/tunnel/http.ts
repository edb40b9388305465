// The HTTP tunnel: bases POST heartbeats to our server (server.ts) and we call their Arklet
// HTTP API (arklet/client.ts). The first implementation of the tunnel seam (seam.ts).
import type { Server } from "node:http";
import { ArkletClient, BizRequest } from "../arklet/client";
import type { BaseCommands, BaseRef, HeartbeatSink, Tunnel } from "./seam";
import { startTunnel, TunnelOptions } from "./server";

export type HttpTunnelOptions = Omit<TunnelOptions, "onHeartbeat"> & { userAgent: string };

export class HttpTunnel implements Tunnel {
  readonly kind = "http";
  private client: ArkletClient;
  private server?: Server;
  /** A base heartbeats to us directly: we can hear it whenever we listen. */
  private listeningSince?: number;

  constructor(private opts: HttpTunnelOptions) {
    this.client = new ArkletClient(opts.userAgent);
  }

  async listen(sink: HeartbeatSink): Promise<void> {
    this.server = await startTunnel({
      ...this.opts,
      onHeartbeat: (status, activated) => sink.onHeartbeat(status, activated),
    });
    this.listeningSince = Date.now();
  }

  release(): void {
    // nothing is held per base: connections are pooled
  }

  sightSince(): number | undefined {
    return this.listeningSince;
  }

  async stopListening(): Promise<void> {
    // not waiting for keep-alive connections of bases to end: they would hold a stop for long
    this.server?.close();
    this.server?.closeIdleConnections();
    this.server = undefined;
  }

  async close(): Promise<void> {
    await this.stopListening();
    await this.client.close();
  }

  health(base: BaseRef, timeoutMs: number): ReturnType<BaseCommands["health"]> {
    return this.client.health(base, timeoutMs);
  }

  queryAllBiz(base: BaseRef, timeoutMs: number): ReturnType<BaseCommands["queryAllBiz"]> {
    return this.client.queryAllBiz(base, timeoutMs);
  }

  installBiz(base: BaseRef, biz: BizRequest, timeoutMs: number) {
    return this.client.installBiz(base, biz, timeoutMs);
  }

  uninstallBiz(base: BaseRef, biz: BizRequest, timeoutMs: number) {
    return this.client.uninstallBiz(base, biz, timeoutMs);
  }
}
