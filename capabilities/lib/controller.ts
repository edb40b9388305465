// Watcher-side services: the heartbeat tunnel and the VNode registry. They run only where
// Pepr runs watches (the watcher pods, and `pepr dev`), never in admission pods or builds.
import { errText } from "./errors";
import type { Server } from "node:http";
import type { V1Pod } from "@kubernetes/client-node";
import { Config } from "./config";
import type { Logger } from "./logger";
import { VNodeRegistry } from "./vnode/registry";
import { startTunnel } from "./tunnel/server";
import { hardenWebhooksInBackground } from "./kube/webhooks";
import { HeartbeatGate } from "./tunnel/gate";
import { allowedNetworks } from "./tunnel/address";
import { serveMetrics } from "./metrics";

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
  hardenWebhooksInBackground(log); // first: until it is done, every pod create depends on us
  const gate = new HeartbeatGate({
    unreachableMs: cfg.unreachableSeconds * 1000,
    maxVNodes: cfg.maxVNodes,
    minIntervalMs: cfg.heartbeatMinIntervalMs,
    newBasesPerMinute: cfg.newBasesPerMinute,
  });
  const registry = new VNodeRegistry(cfg, log, gate);
  await registry.start(); // lists the VNodes, so the gate knows every bound identity first
  const metrics = cfg.metricsPort ? await serveMetrics(cfg.metricsPort) : undefined;
  const tunnel = await startTunnel({
    port: cfg.tunnelPort,
    env: cfg.env,
    baseAddress: cfg.baseAddress,
    allowed: allowedNetworks(cfg.baseCidrs),
    secret: cfg.heartbeatSecret,
    gate,
    onHeartbeat: (status, activated) => registry.onHeartbeat(status, activated),
    onError: err => log.error({ err: errText(err) }, "heartbeat handling failed"),
  });
  log.info(
    {
      port: cfg.tunnelPort,
      metricsPort: cfg.metricsPort,
      replica: cfg.replicaId,
      env: cfg.env,
      baseAddress: cfg.baseAddress,
    },
    "heartbeat tunnel listening",
  );
  current = {
    registry,
    tunnel,
    stop: async (graceful = true) => {
      current = undefined;
      tunnel.close();
      metrics?.close();
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
