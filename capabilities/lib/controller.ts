// Watcher-side services: the heartbeat tunnel and the VNode registry. They run only where
// Pepr runs watches (the watcher pods, and `pepr dev`), never in admission pods or builds.
import type { Server } from "node:http";
import { Config } from "./config";
import { Logger, VNodeRegistry } from "./vnode/registry";
import { startTunnel } from "./tunnel/server";

export interface Running {
  registry: VNodeRegistry;
  tunnel: Server;
  stop(): Promise<void>;
}

/** True in the processes that should run watcher-side services. */
export function isWatcherProcess(env: Record<string, string | undefined>): boolean {
  return env.PEPR_WATCH_MODE === "true" || env.PEPR_MODE === "dev";
}

export async function startController(cfg: Config, log: Logger): Promise<Running> {
  const registry = new VNodeRegistry(cfg, log);
  await registry.start();
  const tunnel = await startTunnel({
    port: cfg.tunnelPort,
    env: cfg.env,
    token: cfg.heartbeatToken,
    minIntervalMs: cfg.heartbeatMinIntervalMs,
    onHeartbeat: (status, activated) => registry.onHeartbeat(status, activated),
    onError: err => log.error({ err: String(err) }, "heartbeat handling failed"),
  });
  log.info(
    { port: cfg.tunnelPort, replica: cfg.replicaId, env: cfg.env },
    "heartbeat tunnel listening",
  );
  return {
    registry,
    tunnel,
    stop: async () => {
      registry.stop();
      await new Promise(res => tunnel.close(res));
    },
  };
}
