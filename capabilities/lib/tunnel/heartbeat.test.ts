import { describe, expect, it } from "@jest/globals";
import { parseHeartbeat } from "./heartbeat";

const good = {
  baseMetadata: { identity: "10.244.1.7", name: "base", version: "1.0.0", clusterName: "default" },
  localIP: "10.244.1.7",
  localHostName: "base-7d9f",
  port: 1238,
  state: "activated",
};
const body = (patch: Record<string, unknown>) => JSON.stringify({ ...good, ...patch });
const meta = (patch: Record<string, unknown>) =>
  body({ baseMetadata: { ...good.baseMetadata, ...patch } });

describe("parseHeartbeat", () => {
  it("accepts the exact Arklet body", () => {
    const p = parseHeartbeat(JSON.stringify(good), "dev");
    expect(p).toEqual({ ok: true, activated: true, status: good });
  });

  it.each(["activated", "ACTIVATED", "Activated"])(
    "compares state %s case-insensitively",
    state => {
      expect(parseHeartbeat(body({ state }), "dev")).toMatchObject({ ok: true, activated: true });
    },
  );

  it("reads DEACTIVATED as not activated", () => {
    expect(parseHeartbeat(body({ state: "deactivated" }), "dev")).toMatchObject({
      ok: true,
      activated: false,
    });
  });

  it.each([
    ["bad JSON", "{not json", /not valid JSON/],
    ["an array", "[]", /JSON object/],
    ["no baseMetadata", body({ baseMetadata: undefined }), /baseMetadata is required/],
    ["identity missing", meta({ identity: undefined }), /identity is required/],
    ["identity a number", meta({ identity: 7 }), /identity is required/],
    ["identity with a slash", meta({ identity: "a/b" }), /cannot be part of the Node name/],
    ["identity uppercase", meta({ identity: "Base1" }), /cannot be part of the Node name/],
    ["identity too long", meta({ identity: "a".repeat(250) }), /cannot be part of the Node name/],
    ["name not a string", meta({ name: 1 }), /baseMetadata.name must be a string/],
    [
      "version not a label value",
      meta({ version: "1.0 beta" }),
      /not a valid Kubernetes label value/,
    ],
    ["port missing", body({ port: undefined }), /port is required/],
    ["port a string", body({ port: "1238" }), /port is required/],
    ["port out of range", body({ port: 70000 }), /port is required/],
    ["localIP missing", body({ localIP: undefined }), /localIP is required/],
    ["state unknown", body({ state: "sleeping" }), /must be "activated" or "deactivated"/],
    ["state missing", body({ state: undefined }), /state is required/],
  ])("rejects %s with the reason", (_name, raw, reason) => {
    const p = parseHeartbeat(raw, "dev");
    expect(p.ok).toBe(false);
    expect(p.ok ? "" : p.reason).toMatch(reason);
  });
});
