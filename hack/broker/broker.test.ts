import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../capabilities/lib/config";
import { mqttOptions } from "../fake-base/cli";
import { BrokerInfo, mosquittoBinary, mosquittoConfig } from "./broker";
import { howToUse } from "./cli";

const INFO: BrokerInfo = {
  url: "mqtt://127.0.0.1:1883",
  tlsUrl: "mqtts://127.0.0.1:8883",
  host: "127.0.0.1",
  port: 1883,
  tlsPort: 8883,
  username: "koupleless",
  password: "secret-pass",
  caPath: "/tmp/b/pki/ca.crt",
  dir: "/tmp/b",
};

describe("the development broker", () => {
  it("takes no anonymous clients, and listens plain and with TLS on loopback only", () => {
    const conf = mosquittoConfig(INFO, {
      cert: "/tmp/b/pki/server.crt",
      key: "/tmp/b/pki/server.key",
    });
    expect(conf).toContain("allow_anonymous false");
    expect(conf).toContain("password_file /tmp/b/passwd");
    expect(conf).toContain("listener 1883 127.0.0.1");
    expect(conf).toContain("listener 8883 127.0.0.1");
    expect(conf).toContain("cafile /tmp/b/pki/ca.crt");
    expect(conf).toContain("certfile /tmp/b/pki/server.crt");
  });

  it("says how to install mosquitto when it is missing", () => {
    expect(() => mosquittoBinary(() => false)).toThrow(/apt-get install mosquitto/);
    expect(mosquittoBinary(p => p === "/usr/sbin/mosquitto")).toBe("/usr/sbin/mosquitto");
  });

  it("prints the settings under ModuleController V2's variable names, and the fake-base flags", () => {
    const how = howToUse(INFO);
    expect(how).toContain(
      "ENABLE_MQTT_TUNNEL=true MQTT_BROKER=127.0.0.1 MQTT_PORT=1883 MQTT_USERNAME=koupleless MQTT_PASSWORD=secret-pass npm run dev",
    );
    expect(how).toContain("MQTT_PORT=8883");
    expect(how).toContain("MQTT_CA_PATH=/tmp/b/pki/ca.crt");
    expect(how).toContain(
      "npm run fake-base -- --count 3 --tunnel mqtt --broker mqtt://127.0.0.1:1883 --mqtt-username koupleless --mqtt-password secret-pass",
    );
  });
});

describe("fake-base --tunnel", () => {
  it.each<[string, Record<string, string>, RegExp]>([
    ["an unknown tunnel", { tunnel: "amqp" }, /--tunnel must be http or mqtt/],
    ["mqtt without a broker", { tunnel: "mqtt" }, /needs --broker mqtt:\/\/host:port/],
    [
      "a broker that is no MQTT URL",
      { tunnel: "mqtt", broker: "127.0.0.1:1883" },
      /needs --broker/,
    ],
  ])("refuses %s", (_what, flags, message) => {
    expect(() => mqttOptions(flags)).toThrow(message);
  });

  it("speaks HTTP by default, and MQTT with a broker", () => {
    expect(mqttOptions({})).toEqual({});
    expect(mqttOptions({ tunnel: "http" })).toEqual({});
    expect(
      mqttOptions({
        tunnel: "mqtt",
        broker: "mqtt://127.0.0.1:1883",
        "mqtt-username": "u",
        env: "test",
      }),
    ).toEqual({
      mqtt: { url: "mqtt://127.0.0.1:1883", env: "test", username: "u", password: undefined },
    });
  });
});

describe("the README's bases-over-MQTT sample", () => {
  const readme = readFileSync(join(__dirname, "..", "..", "README.md"), "utf8");
  const block = readme.split("### Bases over MQTT")[1]?.split("```bash")[1]?.split("```")[0] ?? "";
  const bases = readFileSync(join(__dirname, "..", "..", "docs", "bases.md"), "utf8");

  it("sets the controller's variables the config module reads, and they make an MQTT tunnel", () => {
    const env = Object.fromEntries(
      [...block.matchAll(/\b([A-Z_]+)=(\S+)/g)].map(m => [m[1], m[2].replace(/[<>]/g, "x")]),
    );
    expect(Object.keys(env).sort()).toEqual(
      ["ENABLE_MQTT_TUNNEL", "MQTT_BROKER", "MQTT_PASSWORD", "MQTT_PORT", "MQTT_USERNAME"].sort(),
    );
    expect(loadConfig(env).mqtt).toMatchObject({ url: "mqtt://xbroker:1883", username: "xuserx" });
  });

  it("sets on the base only the Arklet properties the bases page maps", () => {
    const props = [...block.matchAll(/-D([a-z.]+)=/g)].map(m => m[1]);
    expect(props.length).toBeGreaterThanOrEqual(6);
    for (const p of props) expect(bases).toContain(p.replace("koupleless.arklet.mqtt.", ""));
  });
});
