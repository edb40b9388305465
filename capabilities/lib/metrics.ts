// Lifecycle metrics (prom-client). Pepr's own collector has no histograms and keeps its
// registry private, so ours is served on a port of its own (KOUPLELESS_METRICS_PORT), apart
// from the heartbeat port that bases (and whoever else reaches it) talk to.
import { createServer, Server } from "node:http";
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export const registry = new Registry();

export const readySeconds = new Histogram({
  name: "koupleless_module_bound_to_ready_seconds",
  help: "Time from a module pod being seen bound to its VNode to its Ready status being written",
  buckets: [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 300],
  registers: [registry],
});

export const arkletSeconds = new Histogram({
  name: "koupleless_arklet_call_seconds",
  help: "Arklet HTTP calls by operation and outcome",
  labelNames: ["operation", "outcome"],
  buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
  registers: [registry],
});

export const queueDepth = new Gauge({
  name: "koupleless_queue_depth",
  help: "Biz operations running or waiting, per VNode",
  labelNames: ["vnode"],
  registers: [registry],
});

export const retries = new Counter({
  name: "koupleless_biz_retries_total",
  help: "Biz operations scheduled again after a failure",
  registers: [registry],
});

export const failures = new Counter({
  name: "koupleless_biz_failures_total",
  help: "Failed biz operations by operation and reason",
  labelNames: ["operation", "reason"],
  registers: [registry],
});

export const ownedVNodes = new Gauge({
  name: "koupleless_owned_vnodes",
  help: "VNodes whose Lease this replica holds",
  registers: [registry],
});

export const takeovers = new Counter({
  name: "koupleless_vnode_takeovers_total",
  help: "VNode Leases taken from another replica (expired or released)",
  registers: [registry],
});

export const releases = new Counter({
  name: "koupleless_vnode_releases_total",
  help: "VNode Leases handed back for a peer to take (rebalancing or graceful stop)",
  registers: [registry],
});

export const renewFailures = new Counter({
  name: "koupleless_lease_renew_failures_total",
  help: "Failed renewals of a held VNode Lease",
  registers: [registry],
});

/** Times an Arklet call; the outcome label comes from the answer, or "unreachable". */
export async function timed<T extends { code?: string }>(
  operation: string,
  call: () => Promise<T>,
): Promise<T> {
  const end = arkletSeconds.startTimer({ operation });
  try {
    const res = await call();
    end({ outcome: res.code ?? "unknown" });
    return res;
  } catch (err) {
    end({ outcome: "unreachable" });
    throw err;
  }
}

export const heartbeatsRefused = new Counter({
  name: "koupleless_heartbeats_refused_total",
  help: "Heartbeats answered with a 4xx, by HTTP status",
  labelNames: ["status"],
  registers: [registry],
});

export const mqttDropped = new Counter({
  name: "koupleless_mqtt_dropped_total",
  help: "MQTT messages from bases that changed nothing: topic, malformed, stale, identity, heartbeat, gate",
  labelNames: ["reason"],
  registers: [registry],
});

export const intakeBacklog = new Gauge({
  name: "koupleless_heartbeat_intake_backlog",
  help: "Accepted heartbeats whose Node or Lease work has not finished yet",
  registers: [registry],
});

/** GET /metrics on its own port; resolves once it listens. */
export async function serveMetrics(port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("only GET /metrics here\n");
      return;
    }
    registry
      .metrics()
      .then(text => res.writeHead(200, { "content-type": registry.contentType }).end(text))
      .catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((res, rej) => {
    server.once("error", rej);
    server.listen(port, () => res());
  });
  return server;
}
