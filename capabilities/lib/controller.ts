// Watcher-side services: the heartbeat tunnel and the VNode registry. They run only where
// Pepr runs watches (the watcher pods, and `pepr dev`), never in admission pods or builds.
import { errText } from "./errors";
import type { Server } from "node:http";
import type { V1Pod } from "@kubernetes/client-node";
import { Config } from "./config";
import type { Logger } from "./logger";
import { VNodeRegistry } from "./vnode/registry";
import { startTunnel } from "./tunnel/server";

let current: Running | undefined;

/** Hands a module pod event to the running controller (no-op where none runs). */
export function onModulePod(pod: V1Pod, deleted: boolean): void {
  current?.registry.onModulePod(pod, deleted);
}

export interface Running {
  registry: VNodeRegistry;
  tunnel: Server;
  /** Graceful: hands every owned VNode to a peer before closing. */
  stop(graceful?: boolean): Promise<void>;
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
    onError: err => log.error({ err: errText(err) }, "heartbeat handling failed"),
  });
  log.info(
    { port: cfg.tunnelPort, replica: cfg.replicaId, env: cfg.env },
    "heartbeat tunnel listening",
  );
  current = {
    registry,
    tunnel,
    stop: async (graceful = true) => {
      current = undefined;
      tunnel.close();
      await registry.stop(graceful);
    },
  };
  return current;
}

/**
 * SIGTERM and SIGINT hand the VNodes over before the process ends. Pepr's own SIGTERM handler
 * (close its server, exit 143) would end the process mid-handover, so it runs after ours.
 */
export function stopGracefullyOnSignals(running: Running, log: Logger): void {
  const pepr = process.listeners("SIGTERM");
  process.removeAllListeners("SIGTERM");
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping: handing VNodes over to the other replicas");
    running
      .stop(true)
      .catch(err => log.error({ err: errText(err) }, "graceful handover failed"))
      .finally(() => {
        if (signal === "SIGTERM" && pepr.length > 0) pepr.forEach(fn => fn(signal));
        else process.exit(signal === "SIGTERM" ? 143 : 130);
      });
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
}
