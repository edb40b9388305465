// Watcher-side services: the heartbeat tunnel and the VNode registry. They run only where
// Pepr runs watches (the watcher pods, and `pepr dev`), never in admission pods or builds.
import { errText } from "./errors";
import type { V1Pod } from "@kubernetes/client-node";
import { Config } from "./config";
import { childOf, type Logger } from "./logger";
import { VNodeRegistry } from "./vnode/registry";
import { readFileSync } from "node:fs";
import { HttpTunnel } from "./tunnel/http";
import { MqttTunnel } from "./tunnel/mqtt";
import { Tunnels } from "./tunnel/tunnels";
import type { Tunnel } from "./tunnel/seam";
import { hardenWebhooksInBackground } from "./kube/webhooks";
import { ensureTunnelServiceInBackground } from "./kube/tunnel-service";
import { HeartbeatGate } from "./tunnel/gate";
import { allowedNetworks } from "./tunnel/address";
import { serveMetrics } from "./metrics";
import { onOwnPodDeletion } from "./kube/own-pod";

let current: Running | undefined;

/** Hands a module pod event to the running controller (no-op where none runs). */
export function onModulePod(pod: V1Pod, deleted: boolean): void {
  current?.registry.onModulePod(pod, deleted);
}

export interface Running {
  registry: VNodeRegistry;
  tunnel: Tunnel;
  /** Graceful: hands every owned VNode to a peer before closing. */
  stop(graceful?: boolean): Promise<void>;
}

/** True in the processes that should run watcher-side services. */
export function isWatcherProcess(env: Record<string, string | undefined>): boolean {
  return env.PEPR_WATCH_MODE === "true" || env.PEPR_MODE === "dev";
}

export async function startController(cfg: Config, log: Logger): Promise<Running> {
  hardenWebhooksInBackground(log); // first: until it is done, every pod create depends on us
  if (cfg.httpTunnel) ensureTunnelServiceInBackground(cfg.tunnelPort, log);
  const gate = new HeartbeatGate({
    unreachableMs: cfg.unreachableSeconds * 1000,
    maxVNodes: cfg.maxVNodes,
    minIntervalMs: cfg.heartbeatMinIntervalMs,
    newBasesPerMinute: cfg.newBasesPerMinute,
  });
  const tunnel = buildTunnels(cfg, gate, log);
  const registry = new VNodeRegistry(cfg, log, { commands: tunnel, gate });
  await registry.start(); // lists the VNodes, so the gate knows every bound identity first
  const metrics = cfg.metricsPort ? await serveMetrics(cfg.metricsPort) : undefined;
  await tunnel.listen(registry);
  log.info(
    {
      port: cfg.tunnelPort,
      metricsPort: cfg.metricsPort,
      replica: cfg.replicaId,
      env: cfg.env,
      baseAddress: cfg.baseAddress,
      tunnels: tunnel.kind,
      broker: cfg.mqtt?.url,
    },
    "heartbeat tunnel listening",
  );
  current = {
    registry,
    tunnel,
    stop: async (graceful = true) => {
      current = undefined;
      await tunnel.stopListening();
      metrics?.close();
      await registry.stop(graceful); // a handover still talks to the bases
      await tunnel.close();
    },
  };
  return current;
}

/** The tunnels the config turns on, behind one seam. */
function buildTunnels(cfg: Config, gate: HeartbeatGate, log: Logger): Tunnels {
  const byKind = new Map<string, Tunnel>();
  if (cfg.httpTunnel) {
    const http = new HttpTunnel({
      port: cfg.tunnelPort,
      env: cfg.env,
      baseAddress: cfg.baseAddress,
      allowed: allowedNetworks(cfg.baseCidrs),
      secret: cfg.heartbeatSecret,
      gate,
      userAgent: `koupleless-pepr/${cfg.replicaId}`,
      onError: err => log.error({ err: errText(err) }, "heartbeat handling failed"),
    });
    byKind.set(http.kind, http);
  }
  if (cfg.mqtt) {
    const m = cfg.mqtt;
    const mqtt = new MqttTunnel({
      url: m.url,
      env: cfg.env,
      clientId: m.clientId,
      username: m.username,
      password: m.password,
      ca: pem("MQTT_CA_PATH", m.caPath),
      cert: pem("MQTT_CLIENT_CRT_PATH", m.certPath),
      key: pem("MQTT_CLIENT_KEY_PATH", m.keyPath),
      gate,
      log: childOf(log, { component: "mqtt" }),
    });
    byKind.set(mqtt.kind, mqtt);
  }
  return new Tunnels(byKind);
}

/** A PEM file named by a variable; a path that cannot be read stops the start with its name. */
function pem(varName: string, path: string): string | undefined {
  if (path === "") return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`${varName}=${path} cannot be read: ${errText(err)}`);
  }
}

/**
 * SIGTERM, SIGINT and the deletion of our own Pod (which Pepr's PID 1 never turns into a
 * signal for us, see kube/own-pod.ts) hand the VNodes over before the process ends. Pepr's own
 * SIGTERM handler (close its server, exit 143) would end the process mid-handover, so it runs
 * after ours.
 */
export function stopGracefully(running: Running, log: Logger, namespace: string): void {
  const pepr = process.listeners("SIGTERM");
  process.removeAllListeners("SIGTERM");
  let stopping = false;
  const stop = (why: string, then: () => void) => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, "stopping: handing VNodes over to the other replicas");
    running
      .stop(true)
      .catch(err => log.error({ err: errText(err) }, "graceful handover failed"))
      .finally(then);
  };
  const onSignal = (signal: NodeJS.Signals) =>
    stop(signal, () => {
      if (signal === "SIGTERM" && pepr.length > 0) pepr.forEach(fn => fn(signal));
      else process.exit(signal === "SIGTERM" ? 143 : 130);
    });
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  // exiting ends Pepr's PID 1 too (its only child is gone), so the Pod stops without waiting
  // out its grace period
  onOwnPodDeletion(process.env, namespace, log, () =>
    stop("our Pod is being deleted", () => process.exit(0)),
  );
}
