// The health of one VNode with the base and the API faked: the Node status is written when what
// it says changes, and only then; silence makes it NotReady, and past the TTL the VNode goes.
import { describe, expect, it } from "@jest/globals";
import type { V1NodeStatus } from "@kubernetes/client-node";
import { ArkletUnreachable } from "../arklet/client";
import { loadConfig } from "../config";
import type { Logger } from "../logger";
import type { BaseCommands } from "../tunnel/seam";
import type { BaseStatus } from "../tunnel/heartbeat";
import { NodeHealth, NodeStatusApi } from "./health";

const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
const BASE: BaseStatus = {
  baseMetadata: { identity: "base-a", name: "base", version: "1.0.0", clusterName: "default" },
  localIP: "10.0.0.7",
  localHostName: "host-a",
  port: 1238,
  state: "ACTIVATED",
};
const HEALTH = {
  healthData: { jvm: { javaMaxMetaspace: 1, javaUsedMetaspace: 0 }, cpu: { count: 4 } },
};

function setup(env: Record<string, string> = {}) {
  let answers = true;
  const writes: V1NodeStatus[] = [];
  const expired: string[] = [];
  const commands = {
    sightSince: () => 0,
    health: async () => {
      if (!answers) throw new ArkletUnreachable("connect ECONNREFUSED");
      return { code: "SUCCESS" as const, data: HEALTH };
    },
  } as unknown as BaseCommands;
  const api: NodeStatusApi = {
    read: async () => writes.at(-1),
    write: async (_name, status) => void writes.push(status),
  };
  const health = new NodeHealth(
    {
      name: "vnode.base-a.dev",
      cfg: loadConfig(env),
      log: quiet as unknown as Logger,
      commands,
      mayAct: () => true,
      expire: async name => void expired.push(name),
      api,
    },
    BASE,
    "",
  );
  return { health, writes, expired, silence: () => (answers = false) };
}

const ready = (s: V1NodeStatus | undefined) => s?.conditions?.find(c => c.type === "Ready");

describe("NodeHealth", () => {
  it("writes Ready once the base answers, and nothing while nothing changes", async () => {
    const { health, writes } = setup();
    await health.checkLiveness(); // adopted or new: nothing until the base answers
    expect(writes).toHaveLength(0);
    await health.poll();
    expect(writes).toHaveLength(1);
    expect(ready(writes[0])?.status).toBe("True");
    expect(writes[0].capacity?.cpu).toBe("4");
    await health.poll();
    await health.checkLiveness();
    expect(writes).toHaveLength(1);
  });

  it("writes NotReady when the base stops answering past the threshold", async () => {
    const { health, writes, silence } = setup({ KOUPLELESS_UNREACHABLE_SECONDS: "1" });
    await health.poll();
    silence();
    await new Promise(r => setTimeout(r, 2100));
    await health.poll();
    expect(writes).toHaveLength(2);
    expect(ready(writes[1])).toMatchObject({ status: "False", reason: "BaseUnreachable" });
  });

  it("expires the VNode when the base stays silent past its TTL", async () => {
    const { health, expired } = setup({
      KOUPLELESS_UNREACHABLE_SECONDS: "1",
      KOUPLELESS_VNODE_TTL_SECONDS: "2",
    });
    await new Promise(r => setTimeout(r, 2100));
    await health.checkLiveness();
    expect(expired).toEqual(["vnode.base-a.dev"]);
  });

  it("addresses commands to the base's identity and current address", () => {
    const { health } = setup();
    health.heard({ ...BASE, localIP: "10.0.0.8" });
    expect(health.ref()).toEqual({ identity: "base-a", ip: "10.0.0.8", port: 1238 });
    health.heard({ ...BASE, tunnel: "mqtt" });
    expect(health.ref()).toMatchObject({ identity: "base-a", tunnel: "mqtt" });
  });

  it("judges nothing while the tunnel hears nothing, and counts silence from when it hears again", async () => {
    let sight: number | undefined = undefined;
    const { health, writes, expired } = setup({
      KOUPLELESS_UNREACHABLE_SECONDS: "1",
      KOUPLELESS_VNODE_TTL_SECONDS: "2",
    });
    await health.poll(); // Ready while the tunnel could hear
    (
      health as unknown as { deps: { commands: { sightSince: () => number | undefined } } }
    ).deps.commands.sightSince = () => sight;
    await new Promise(r => setTimeout(r, 2100)); // silent past the TTL, but blind
    await health.checkLiveness();
    expect(expired).toEqual([]);
    expect(writes).toHaveLength(1);
    sight = Date.now(); // hears again: the base has its full time to speak
    await health.checkLiveness();
    expect(expired).toEqual([]);
    expect(writes).toHaveLength(1);
  });
});
