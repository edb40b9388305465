// npm run fake-base -- --count 3 --controller http://localhost:7777 [options]
// Runs Arklet-compatible fake bases until Ctrl-C; with --deactivate-on-exit they say goodbye.
import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { FakeBase, habitOptions, HABITS, startFleet } from "./fake-base";
import type { FakeMqttOptions } from "./mqtt";

const USAGE = `usage: npm run fake-base -- [options]
  --count N               number of bases (default 1), on 127.0.0.<first>, <first+1>, ...
  --first N               last octet of the first address (default 2)
  --port P                Arklet port on every address (default 1238)
  --controller URL        heartbeat endpoint base URL (default http://localhost:7777)
  --heartbeat-ms MS       heartbeat period (default 12000, like Arklet)
  --install-ms MS         install latency (default 0)
  --failure-rate R        probability 0..1 that an install fails (default 0)
  --name, --version, --cluster   base metadata (default TO_BE_IMPLEMENTED, 1.0.0, default:
                          what Arklet sends unless the base implements BaseMetadataHook)
  --max-metaspace BYTES   JVM max metaspace reported by /health (default -1 = unlimited,
                          the JVM default)
  --without LIST          turn off some of the real base's habits (comma list, or "all"):
                          ${HABITS.join(", ")}
  --manifest URL=N:V      the jar at URL holds biz N:V (repeatable): installs of it get N:V
  --deactivate-on-exit    send a DEACTIVATED heartbeat on Ctrl-C
  --tunnel http|mqtt      how bases reach the controller (default http)
  --broker URL            with --tunnel mqtt: mqtt://host:port or mqtts://host:port
                          (npm run broker prints it)
  --mqtt-username U, --mqtt-password P, --mqtt-ca FILE   broker credentials and CA
  --env ENV               with --tunnel mqtt: the controller's KOUPLELESS_ENV (default dev);
                          topics are koupleless_<env>/<identity>/...
Heartbeats leave from each base's own address. With KOUPLELESS_HEARTBEAT_SECRET set, each base
sends its own credential (Authorization: Bearer <HMAC-SHA256 of its identity>).`;

function options() {
  const { values } = parseArgs({
    options: {
      count: { type: "string", default: "1" },
      first: { type: "string", default: "2" },
      port: { type: "string", default: "1238" },
      controller: { type: "string", default: "http://localhost:7777" },
      "heartbeat-ms": { type: "string", default: "12000" },
      "install-ms": { type: "string", default: "0" },
      "failure-rate": { type: "string", default: "0" },
      name: { type: "string", default: "TO_BE_IMPLEMENTED" },
      version: { type: "string", default: "1.0.0" },
      cluster: { type: "string", default: "default" },
      "max-metaspace": { type: "string", default: "-1" },
      without: { type: "string", default: "" },
      manifest: { type: "string", multiple: true, default: [] },
      "deactivate-on-exit": { type: "boolean", default: false },
      tunnel: { type: "string", default: "http" },
      broker: { type: "string", default: "" },
      "mqtt-username": { type: "string", default: "" },
      "mqtt-password": { type: "string", default: "" },
      "mqtt-ca": { type: "string", default: "" },
      env: { type: "string", default: "dev" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const n = (k: keyof typeof values) => {
    const v = Number(values[k]);
    if (!Number.isFinite(v))
      throw new Error(`--${k} must be a number, got ${JSON.stringify(values[k])}\n${USAGE}`);
    return v;
  };
  return { values, n };
}

/** The MQTT side of the options, or nothing for --tunnel http; a bad combination says why. */
export function mqttOptions(v: {
  tunnel?: string;
  broker?: string;
  "mqtt-username"?: string;
  "mqtt-password"?: string;
  "mqtt-ca"?: string;
  env?: string;
}): { mqtt?: FakeMqttOptions } {
  if (v.tunnel === "http" || v.tunnel === undefined) return {};
  if (v.tunnel !== "mqtt")
    throw new Error(`--tunnel must be http or mqtt, got ${JSON.stringify(v.tunnel)}`);
  const broker = v.broker ?? "";
  if (!/^mqtts?:\/\//.test(broker))
    throw new Error(
      "--tunnel mqtt needs --broker mqtt://host:port (or mqtts://); npm run broker prints it",
    );
  const ca = v["mqtt-ca"] ? { ca: readFileSync(v["mqtt-ca"], "utf8") } : {};
  const auth = {
    username: v["mqtt-username"] || undefined,
    password: v["mqtt-password"] || undefined,
  };
  return { mqtt: { url: broker, env: v.env || "dev", ...auth, ...ca } };
}

async function main(): Promise<void> {
  const { values, n } = options();
  const bases: FakeBase[] = await startFleet(
    n("count"),
    {
      port: n("port"),
      controller: values.controller,
      heartbeatMs: n("heartbeat-ms"),
      installMs: n("install-ms"),
      failureRate: n("failure-rate"),
      name: values.name,
      version: values.version,
      clusterName: values.cluster,
      maxMetaspace: n("max-metaspace"),
      ...habitOptions(values.without ?? "", values.manifest ?? []),
      // the same variable the controller reads: each base then sends its own credential
      secret: process.env.KOUPLELESS_HEARTBEAT_SECRET ?? "",
      ...mqttOptions(values),
    },
    n("first"),
  );
  for (const b of bases)
    console.log(
      b.opts.mqtt
        ? `fake base ${b.opts.identity} on MQTT ${b.opts.mqtt.url}, topics koupleless_${b.opts.mqtt.env}/${b.opts.identity}/...`
        : `fake base ${b.opts.identity} listening on http://${b.opts.host}:${b.port}, heartbeats to ${b.opts.controller}`,
    );
  const shutdown = async () => {
    await Promise.all(bases.map(b => b.stop(Boolean(values["deactivate-on-exit"]))));
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown());
  process.on("SIGTERM", () => void shutdown());
}

if (require.main === module)
  main().catch(err => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
