// npm run broker [-- --dir DIR]: a Mosquitto broker for the MQTT tunnel until Ctrl-C, with the
// settings for the controller and for fake bases printed.
import { parseArgs } from "node:util";
import { join } from "node:path";
import { CLUSTER_DIR } from "../cluster/paths";
import { Broker, BrokerInfo } from "./broker";

/** What to run next, with this broker's settings filled in. */
export function howToUse(b: BrokerInfo): string {
  const auth = `MQTT_USERNAME=${b.username} MQTT_PASSWORD=${b.password}`;
  const fake = `--mqtt-username ${b.username} --mqtt-password ${b.password}`;
  return [
    `MQTT broker (mosquitto) on ${b.url} and, with TLS, ${b.tlsUrl}; user ${b.username}`,
    "",
    "Controller, with the HTTP tunnel beside it:",
    `  ENABLE_MQTT_TUNNEL=true MQTT_BROKER=${b.host} MQTT_PORT=${b.port} ${auth} npm run dev`,
    "  over TLS:",
    `  ENABLE_MQTT_TUNNEL=true MQTT_BROKER=${b.host} MQTT_PORT=${b.tlsPort} ${auth} MQTT_CA_PATH=${b.caPath} npm run dev`,
    "",
    "Fake bases that speak MQTT:",
    `  npm run fake-base -- --count 3 --tunnel mqtt --broker ${b.url} ${fake}`,
    "",
    "Ctrl-C stops the broker.",
  ].join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { dir: { type: "string", default: join(CLUSTER_DIR, "broker") } },
  });
  const broker = await Broker.start({ dir: values.dir ?? "" });
  console.log(howToUse(broker.info));
  const stop = () => void broker.stop().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (require.main === module)
  main().catch(err => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
