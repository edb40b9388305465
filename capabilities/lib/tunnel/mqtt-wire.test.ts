import { describe, expect, it } from "@jest/globals";
import { classify, mqttTopics, operationKey, STALE_MS, wrap } from "./mqtt-wire";

const NOW = 1_800_000_000_000;
const T = (kind: string, id = "base-a", env = "dev") => `koupleless_${env}/${id}/base/${kind}`;
const HEART = {
  baseMetadata: { identity: "base-a", name: "base", version: "1.0.0", clusterName: "default" },
  localIP: "10.0.0.7",
  localHostName: "host-a",
  state: "ACTIVATED",
};

describe("mqtt topics", () => {
  it("are MC V2's", () => {
    expect(mqttTopics.heartbeats("dev")).toBe("koupleless_dev/+/base/heart");
    expect(mqttTopics.baselineQueries("dev")).toBe("koupleless_dev/+/base/queryBaseline");
    expect(mqttTopics.command("dev", "b1", "installBiz")).toBe("koupleless_dev/b1/installBiz");
    expect(mqttTopics.baseline("dev", "b1")).toBe("koupleless_dev/b1/base/baseline");
    expect(mqttTopics.replies("dev", "b1")).toEqual([
      "koupleless_dev/b1/base/health",
      "koupleless_dev/b1/base/simpleBiz",
      "koupleless_dev/b1/base/biz",
      "koupleless_dev/b1/base/bizOperation",
      "koupleless_dev/b1/base/batchInstallBizResponse",
    ]);
  });
});

describe("classify: accepted", () => {
  it("a heartbeat becomes a BaseStatus on the MQTT tunnel, with the default Arklet port", () => {
    const c = classify(T("heart"), wrap(HEART, NOW), "dev", NOW);
    expect(c).toEqual({
      ok: true,
      msg: {
        kind: "heart",
        identity: "base-a",
        activated: true,
        status: { ...HEART, port: 1238, tunnel: "mqtt" },
      },
    });
  });

  it("a deactivated heartbeat says goodbye", () => {
    const c = classify(T("heart"), wrap({ ...HEART, state: "deactivated" }, NOW), "dev", NOW);
    expect(c.ok && c.msg.kind === "heart" && c.msg.activated).toBe(false);
  });

  it("simpleBiz becomes a queryAllBiz envelope", () => {
    const data = [
      { name: "biz1", version: "1.0", state: "ACTIVATED", latestStateRecord: { changeTime: 5 } },
    ];
    const c = classify(T("simpleBiz"), wrap(data, NOW), "dev", NOW);
    expect(c).toEqual({
      ok: true,
      msg: {
        kind: "bizList",
        identity: "base-a",
        envelope: {
          code: "SUCCESS",
          baseIdentity: "base-a",
          data: [
            {
              bizName: "biz1",
              bizVersion: "1.0",
              bizState: "ACTIVATED",
              bizStateRecords: [{ changeTime: 5 }],
            },
          ],
        },
      },
    });
  });

  it("the legacy base/biz list and health are Arklet envelopes as they are", () => {
    const env = { code: "SUCCESS", data: [] };
    expect(classify(T("biz"), wrap(env, NOW), "dev", NOW)).toMatchObject({
      ok: true,
      msg: { kind: "bizList", envelope: env },
    });
    expect(classify(T("health"), wrap(env, NOW), "dev", NOW)).toMatchObject({
      ok: true,
      msg: { kind: "health", envelope: env },
    });
  });

  it("an operation's answer carries the key of the call that asked, however old", () => {
    const data = {
      command: "installBiz",
      bizName: "biz1",
      bizVersion: "1.0",
      response: { code: "SUCCESS" },
    };
    const c = classify(T("bizOperation"), wrap(data, NOW - 60_000), "dev", NOW);
    expect(c).toMatchObject({
      ok: true,
      msg: {
        kind: "bizOperation",
        key: operationKey("base-a", "installBiz", { bizName: "biz1", bizVersion: "1.0" }),
      },
    });
  });

  it("a baseline query", () => {
    expect(classify(T("queryBaseline"), wrap(HEART.baseMetadata, NOW), "dev", NOW)).toEqual({
      ok: true,
      msg: { kind: "queryBaseline", identity: "base-a" },
    });
  });
});

describe("classify: refused, with the reason counted", () => {
  it.each<[string, string, string, string]>([
    ["a topic for another env", T("heart", "base-a", "prod"), wrap(HEART, NOW), "topic"],
    ["a topic of no kind we know", T("whatever"), wrap({}, NOW), "topic"],
    ["a topic of the wrong shape", "koupleless_dev/base-a/heart", wrap(HEART, NOW), "topic"],
    ["bad JSON", T("heart"), "{not json", "malformed"],
    ["no envelope", T("heart"), JSON.stringify(HEART), "malformed"],
    [
      "a publishTimestamp that is not a number",
      T("heart"),
      JSON.stringify({ publishTimestamp: "now", data: HEART }),
      "malformed",
    ],
    ["an old heartbeat", T("heart"), wrap(HEART, NOW - STALE_MS - 1), "stale"],
    ["an old biz list", T("simpleBiz"), wrap([], NOW - STALE_MS - 1), "stale"],
    ["a heartbeat whose data is a list", T("heart"), wrap([HEART], NOW), "malformed"],
    [
      "a heartbeat of the wrong types",
      T("heart"),
      wrap({ ...HEART, localIP: 7 }, NOW),
      "heartbeat",
    ],
    ["a heartbeat for another identity", T("heart", "base-b"), wrap(HEART, NOW), "identity"],
    ["a health answer without a code", T("health"), wrap({ data: {} }, NOW), "malformed"],
    ["a simpleBiz that is no list", T("simpleBiz"), wrap({ name: "x" }, NOW), "malformed"],
    [
      "a simpleBiz entry without a name",
      T("simpleBiz"),
      wrap([{ version: "1" }], NOW),
      "malformed",
    ],
    [
      "an operation answer without its biz",
      T("bizOperation"),
      wrap({ command: "installBiz", response: { code: "SUCCESS" } }, NOW),
      "malformed",
    ],
  ])("%s", (_what, topic, payload, reason) => {
    const c = classify(topic, payload, "dev", NOW);
    expect(c.ok).toBe(false);
    if (!c.ok) {
      expect(c.reason).toBe(reason);
      expect(c.detail.length).toBeGreaterThan(10);
    }
  });
});
