import { describe, expect, it } from "@jest/globals";
import { ArkletUnreachable } from "../arklet/client";
import type { Tunnel } from "./seam";
import { Tunnels } from "./tunnels";

function fake(kind: string, calls: string[]): Tunnel {
  const record = (what: string) => async () => {
    calls.push(`${kind} ${what}`);
    return { code: "SUCCESS" as const };
  };
  return {
    kind,
    listen: async () => void calls.push(`${kind} listen`),
    stopListening: async () => undefined,
    close: async () => undefined,
    health: record("health"),
    queryAllBiz: record("queryAllBiz"),
    installBiz: record("installBiz"),
    uninstallBiz: record("uninstallBiz"),
    release: () => void calls.push(`${kind} release`),
    sightSince: () => (kind === "mqtt" ? undefined : 5),
  };
}

const ref = (tunnel?: string) => ({ identity: "b", ip: "10.0.0.1", port: 1238, tunnel });

describe("Tunnels", () => {
  it("sends each base's commands to the tunnel it speaks", async () => {
    const calls: string[] = [];
    const t = new Tunnels(
      new Map([
        ["http", fake("http", calls)],
        ["mqtt", fake("mqtt", calls)],
      ]),
    );
    await t.installBiz(ref(), { bizName: "a", bizVersion: "1" }, 10);
    await t.health(ref("mqtt"), 10);
    t.release(ref("mqtt"));
    expect(calls).toEqual(["http installBiz", "mqtt health", "mqtt release"]);
    expect(t.sightSince(ref())).toBe(5);
    expect(t.sightSince(ref("mqtt"))).toBeUndefined();
    expect(t.kind).toBe("http+mqtt");
  });

  it("says so when a base speaks a tunnel this controller does not run", async () => {
    const t = new Tunnels(new Map([["http", fake("http", [])]]));
    await expect(t.queryAllBiz(ref("mqtt"), 10)).rejects.toThrow(ArkletUnreachable);
    await expect(t.queryAllBiz(ref("mqtt"), 10)).rejects.toThrow(/speaks the mqtt tunnel/);
    expect(t.sightSince(ref("mqtt"))).toBeUndefined();
  });
});
