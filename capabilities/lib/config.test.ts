import { describe, expect, it } from "@jest/globals";
import { ConfigError, loadConfig } from "./config";

describe("loadConfig", () => {
  it("has the contract's defaults", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      env: "dev",
      tunnelPort: 7777,
      leaseDurationSeconds: 40,
      leaseRenewSeconds: 10,
      healthPollSeconds: 10,
      unreachableSeconds: 25,
      vnodeTtlSeconds: 600,
      failoverSeconds: 30,
      allowedJarSchemes: ["http", "https", "file"],
      allowedJarLocations: [],
      rejectForeignVNodeTolerations: true,
    });
  });

  it("reads KOUPLELESS_ENV", () => {
    expect(loadConfig({ KOUPLELESS_ENV: "prod-1" }).env).toBe("prod-1");
  });

  it("takes the replica id from the pod name (HOSTNAME) unless set", () => {
    expect(loadConfig({ HOSTNAME: "pepr-x-watcher-abc" }).replicaId).toBe("pepr-x-watcher-abc");
    expect(loadConfig({ HOSTNAME: "h", KOUPLELESS_REPLICA_ID: "r1" }).replicaId).toBe("r1");
  });

  it("splits lists on commas and trims", () => {
    expect(
      loadConfig({ KOUPLELESS_ALLOWED_JAR_LOCATIONS: " https://a/ , b.example " })
        .allowedJarLocations,
    ).toEqual(["https://a/", "b.example"]);
  });

  it.each([
    [{ KOUPLELESS_ENV: "Prod" }, /KOUPLELESS_ENV/],
    [{ KOUPLELESS_ENV: "a.b" }, /KOUPLELESS_ENV/],
    [{ KOUPLELESS_ENV: "x".repeat(64) }, /KOUPLELESS_ENV/],
    [{ KOUPLELESS_TUNNEL_PORT: "0" }, /KOUPLELESS_TUNNEL_PORT.*1 to 65535/],
    [{ KOUPLELESS_TUNNEL_PORT: "80a" }, /KOUPLELESS_TUNNEL_PORT/],
    [{ KOUPLELESS_FAILOVER_SECONDS: "-1" }, /KOUPLELESS_FAILOVER_SECONDS/],
    [{ KOUPLELESS_REJECT_FOREIGN_VNODE_TOLERATIONS: "yes" }, /true or false/],
    [{ KOUPLELESS_LEASE_RENEW_SECONDS: "30" }, /at most half/],
    [{ KOUPLELESS_VNODE_TTL_SECONDS: "20" }, /longer than KOUPLELESS_UNREACHABLE_SECONDS/],
  ])("rejects %j with a message naming the variable", (src, msg) => {
    expect(() => loadConfig(src)).toThrow(ConfigError);
    expect(() => loadConfig(src)).toThrow(msg);
  });
});

describe("loadConfig: tunnels", () => {
  it("runs the HTTP tunnel alone by default", () => {
    const c = loadConfig({});
    expect(c.httpTunnel).toBe(true);
    expect(c.mqtt).toBeUndefined();
  });

  it.each<[string, Record<string, string>, string]>([
    ["a host, as MC takes it", { MQTT_BROKER: "broker.example" }, "mqtt://broker.example:1883"],
    ["a host and port", { MQTT_BROKER: "10.0.0.5", MQTT_PORT: "8883" }, "mqtt://10.0.0.5:8883"],
    ["a host with a CA: TLS", { MQTT_BROKER: "b", MQTT_CA_PATH: "/ca.pem" }, "mqtts://b:1883"],
    ["MC's ssl:// scheme", { MQTT_BROKER: "ssl://b:8883" }, "mqtts://b:8883"],
    [
      "MC's tcp:// scheme, port from MQTT_PORT",
      { MQTT_BROKER: "tcp://b", MQTT_PORT: "1884" },
      "mqtt://b:1884",
    ],
  ])("reads the MQTT broker from %s", (_what, env, url) => {
    const c = loadConfig({ ENABLE_MQTT_TUNNEL: "true", ...env });
    expect(c.mqtt?.url).toBe(url);
  });

  it("keeps MC's defaults and client id", () => {
    const c = loadConfig({
      ENABLE_MQTT_TUNNEL: "true",
      MQTT_BROKER: "b",
      KOUPLELESS_REPLICA_ID: "r1",
    });
    expect(c.mqtt).toMatchObject({
      username: "test-username",
      password: "",
      clientId: "koupleless@@@r1",
    });
    const p = loadConfig({
      ENABLE_MQTT_TUNNEL: "true",
      MQTT_BROKER: "b",
      MQTT_CLIENT_PREFIX: "mc",
    });
    expect(p.mqtt?.clientId).toMatch(/^mc@@@/);
  });

  it.each<[string, Record<string, string>, RegExp]>([
    [
      "MQTT without a broker",
      { ENABLE_MQTT_TUNNEL: "true" },
      /ENABLE_MQTT_TUNNEL=true needs MQTT_BROKER/,
    ],
    [
      "a broker URL of another scheme",
      { ENABLE_MQTT_TUNNEL: "true", MQTT_BROKER: "ws://b" },
      /scheme ws/,
    ],
    ["no tunnel at all", { ENABLE_HTTP_TUNNEL: "false" }, /bases could not reach the controller/],
    ["a bad port", { ENABLE_MQTT_TUNNEL: "true", MQTT_BROKER: "b", MQTT_PORT: "0" }, /MQTT_PORT/],
  ])("refuses %s", (_what, env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});
