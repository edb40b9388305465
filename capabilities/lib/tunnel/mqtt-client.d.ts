// Types for MQTT.js's client subpath (package exports "./*" -> build/*.js), which TypeScript's
// "node" module resolution does not follow: the same class and options the main entry exports.
declare module "mqtt/lib/client" {
  import { MqttClient } from "mqtt";
  export type { IClientOptions } from "mqtt";
  export default MqttClient;
}
