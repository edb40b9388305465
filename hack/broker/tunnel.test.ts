// The MQTT tunnel against a real Mosquitto and a fake base that speaks like the Arklet MQTT
// tunnel: discovery, commands and their asynchronous answers, the baseline, refused messages,
// TLS and credentials, and a broker restart. No Kubernetes: the sink is a recorder.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "mqtt";
import { ArkletUnreachable, BizRequest } from "../../capabilities/lib/arklet/client";
import type { Logger } from "../../capabilities/lib/logger";
import { mqttDropped } from "../../capabilities/lib/metrics";
import type { BaseStatus } from "../../capabilities/lib/tunnel/heartbeat";
import { MqttTunnel } from "../../capabilities/lib/tunnel/mqtt";
import { wrap } from "../../capabilities/lib/tunnel/mqtt-wire";
import { FakeBase } from "../fake-base/fake-base";
import { Broker } from "./broker";

const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
const ENV = "dev";
const JAR = (n: string) => `https://repo.example/${n}.jar`;

class Sink {
  heartbeats: Array<{ status: BaseStatus; activated: boolean }> = [];
  baselines = new Map<string, BizRequest[]>();
  onHeartbeat(status: BaseStatus, activated: boolean) {
    this.heartbeats.push({ status, activated });
  }
  baselineOf(identity: string) {
    return this.baselines.get(identity);
  }
  from(identity: string) {
    return this.heartbeats.filter(h => h.status.baseMetadata.identity === identity);
  }
}

async function eventually(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (check()) return;
    await new Promise(r => setTimeout(r, 50));
  }
  throw new Error(`never happened: ${what}`);
}

const dropped = async (reason: string) =>
  (await mqttDropped.get()).values.find(v => v.labels.reason === reason)?.value ?? 0;

describe("MQTT tunnel with Mosquitto and an Arklet-like base", () => {
  let broker: Broker;
  let tunnel: MqttTunnel;
  let base: FakeBase;
  const sink = new Sink();
  const ref = { identity: "base-a", ip: "127.0.0.1", port: 1238, tunnel: "mqtt" };

  beforeAll(async () => {
    broker = await Broker.start({ dir: mkdtempSync(join(tmpdir(), "kp-broker-")) });
    const b = broker.info;
    tunnel = new MqttTunnel({
      url: b.url,
      env: ENV,
      clientId: "koupleless@@@test",
      username: b.username,
      password: b.password,
      log: quiet as unknown as Logger,
    });
    await tunnel.listen(sink);
    base = new FakeBase({
      identity: "base-a",
      heartbeatMs: 300,
      mqtt: { url: b.url, env: ENV, username: b.username, password: b.password },
    });
    await base.start();
  });

  afterAll(async () => {
    await base?.stop();
    await tunnel?.close();
    await broker?.stop();
  });

  it("hears the base's heartbeats, as a BaseStatus on the MQTT tunnel", async () => {
    await eventually(() => sink.from("base-a").length >= 2, "two heartbeats");
    const h = sink.from("base-a")[0];
    expect(h.activated).toBe(true);
    expect(h.status).toMatchObject({ localIP: "127.0.0.1", tunnel: "mqtt", state: "activated" });
    expect(tunnel.sightSince()).toBeLessThanOrEqual(Date.now());
  });

  it("commands the base and matches each asynchronous answer to its call", async () => {
    expect((await tunnel.health(ref, 5000)).code).toBe("SUCCESS");
    const biz = { bizName: "biz1", bizVersion: "1.0.0", bizUrl: JAR("biz1") };
    const other = { bizName: "biz2", bizVersion: "2.0.0", bizUrl: JAR("biz2") };
    const [one, two] = await Promise.all([
      tunnel.installBiz(ref, biz, 5000),
      tunnel.installBiz(ref, other, 5000),
    ]);
    expect([one.code, two.code]).toEqual(["SUCCESS", "SUCCESS"]);
    const repeat = await tunnel.installBiz(ref, biz, 5000);
    expect(repeat).toMatchObject({ code: "FAILED", data: { code: "REPEAT_BIZ" } });
    const list = await tunnel.queryAllBiz(ref, 5000);
    const names = (list.data as Array<{ bizName: string }>).map(b => b.bizName).sort();
    expect(names).toEqual(["biz1", "biz2"]);
    expect((await tunnel.uninstallBiz(ref, other, 5000)).code).toBe("SUCCESS");
    const gone = await tunnel.uninstallBiz(ref, other, 5000);
    expect(gone).toMatchObject({ data: { code: "NOT_FOUND_BIZ" } });
    expect(base.count("installBiz")).toBe(3);
  });

  it("a base that does not answer fails the call with ArkletUnreachable, in time", async () => {
    base.setReachable(false);
    try {
      await expect(tunnel.health(ref, 300)).rejects.toThrow(ArkletUnreachable);
      await expect(tunnel.health(ref, 300)).rejects.toThrow(/no answer over MQTT within 300 ms/);
    } finally {
      base.setReachable(true);
    }
  });

  it("sends a base that connects its baseline, which it installs", async () => {
    sink.baselines.set("base-a", [{ bizName: "baseline1", bizVersion: "1.0", bizUrl: JAR("b1") }]);
    await base.restartEmpty();
    await eventually(() => base.installed().some(b => b.bizName === "baseline1"), "the baseline");
    expect(base.installed().map(b => b.bizName)).toEqual(["baseline1"]);
  });

  it("drops and counts malformed, stale and foreign messages, and changes nothing", async () => {
    const b = broker.info;
    const raw = await connectRaw(b.url, b.username, b.password);
    const before = sink.heartbeats.length;
    const counts = {
      malformed: await dropped("malformed"),
      stale: await dropped("stale"),
      identity: await dropped("identity"),
      heartbeat: await dropped("heartbeat"),
    };
    const heart = (id: string) => `koupleless_${ENV}/${id}/base/heart`;
    const good = base.baseStatus() as Record<string, unknown>;
    await raw.publishAsync(heart("intruder"), "{not json");
    await raw.publishAsync(heart("intruder"), wrap({ ...good, localIP: 42 }, Date.now()));
    await raw.publishAsync(heart("intruder"), wrap(good, Date.now() - 60_000));
    await raw.publishAsync(heart("intruder"), wrap(good, Date.now()));
    await raw.publishAsync(`koupleless_prod/base-a/base/heart`, wrap(good, Date.now()));
    await new Promise(r => setTimeout(r, 500)); // time for the tunnel to see them all
    await raw.endAsync();
    expect(await dropped("malformed")).toBe(counts.malformed + 1);
    expect(await dropped("heartbeat")).toBe(counts.heartbeat + 1);
    expect(await dropped("stale")).toBe(counts.stale + 1);
    expect(await dropped("identity")).toBe(counts.identity + 1);
    const intruders = sink.heartbeats
      .slice(before)
      .filter(h => h.status.baseMetadata.identity !== "base-a");
    expect(intruders).toEqual([]);
  });

  it("is blind while the broker is down, and hears and commands again after its restart", async () => {
    base.setReachable(false); // an install on the wire whose answer the outage loses
    const pending = tunnel
      .installBiz(ref, { bizName: "lost", bizVersion: "1", bizUrl: JAR("l") }, 600_000)
      .then(
        () => "answered",
        (err: Error) => err.message,
      );
    await broker.stop();
    expect(await pending).toMatch(/connection to the MQTT broker was lost/);
    base.setReachable(true);
    await eventually(() => tunnel.sightSince() === undefined, "the tunnel notices");
    await expect(tunnel.health(ref, 500)).rejects.toThrow(/not connected/);
    await broker.run();
    await eventually(() => tunnel.sightSince() !== undefined, "the tunnel reconnects");
    const since = sink.heartbeats.length;
    await eventually(() => sink.heartbeats.length > since, "heartbeats after the restart");
    await eventually(() => base.mqtt !== undefined, "the base reconnects");
    const answer = await retry(() => tunnel.health(ref, 2000));
    expect(answer.code).toBe("SUCCESS");
  });

  it("connects over TLS with the broker's CA, and refuses a wrong password clearly", async () => {
    const b = broker.info;
    const tls = new MqttTunnel({
      url: b.tlsUrl,
      env: ENV,
      clientId: "koupleless@@@tls",
      username: b.username,
      password: b.password,
      ca: readFileSync(b.caPath, "utf8"),
      log: quiet as unknown as Logger,
    });
    await tls.listen(new Sink());
    expect(tls.sightSince()).toBeDefined();
    await tls.close();
    const wrong = new MqttTunnel({
      url: b.url,
      env: ENV,
      clientId: "koupleless@@@wrong",
      username: b.username,
      password: "wrong",
      connectTimeoutMs: 2000,
      log: quiet as unknown as Logger,
    });
    await expect(wrong.listen(new Sink())).rejects.toThrow(/no connection to the MQTT broker/);
    await wrong.close();
  });
});

function connectRaw(url: string, username: string, password: string) {
  const client = connect(url, { username, password, clientId: `raw-${Date.now()}` });
  return new Promise<typeof client>((res, rej) => {
    client.once("connect", () => res(client));
    client.once("error", rej);
  });
}

/** The base may still be re-subscribing right after a broker restart: try a few times. */
async function retry<T>(fn: () => Promise<T>, times = 10): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= times) throw err;
    }
  }
}
