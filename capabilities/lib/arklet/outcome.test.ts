import { describe, expect, it } from "@jest/globals";
import type { ArkletEnvelope } from "./client";
import { bizViews, installAnswer, InstallAnswer, Outcome, uninstallOutcome } from "./outcome";

// Envelopes as arklet-core sends them (contract §3.6, §3.7, §5.1, §5.2).
const INSTALL_OK: ArkletEnvelope = {
  code: "SUCCESS",
  data: {
    code: "SUCCESS",
    message: "Install Biz: biz1:1.0.0 success, cost: 1830 ms, started at: 05:22:32,123",
    bizInfos: [{ bizName: "biz1", bizVersion: "1.0.0", bizState: "ACTIVATED" }],
    elapsedSpace: 1024,
  },
  baseIdentity: "base-1",
};
const REPEAT_BIZ: ArkletEnvelope = {
  code: "FAILED",
  message: "install biz not success!",
  data: { code: "REPEAT_BIZ", message: "Biz: biz1:1.0.0 has been installed or registered." },
};
const INTERNAL_ERROR: ArkletEnvelope = {
  code: "CMD_PROCESS_INTERNAL_ERROR",
  message: "Internal Error: java.lang.IllegalStateException: boom",
  errorStackTrace: "java.lang.IllegalStateException: boom\n\tat ...",
};
const CONFLICT: ArkletEnvelope = {
  code: "FAILED",
  message: "FAILED:biz1:1.0.0 conflict, exist unfinished command(installBiz) for this biz",
};
const UNINSTALL_OK: ArkletEnvelope = {
  code: "SUCCESS",
  data: { code: "SUCCESS", message: "Uninstall biz: biz1:1.0.0 success." },
};
const NOT_FOUND_BIZ: ArkletEnvelope = {
  code: "FAILED",
  message: "uninstall biz not success!",
  data: { code: "NOT_FOUND_BIZ", message: "Uninstall biz: biz1:1.0.0 not found." },
};
const MASTER_BIZ: ArkletEnvelope = {
  code: "FAILED",
  message: "Master biz must not be uninstalled.",
};

describe("installAnswer", () => {
  const failed = (reason: string, message: string): InstallAnswer => ({
    kind: "failed",
    reason,
    message,
  });
  const cases: Array<{ name: string; env: ArkletEnvelope; want: InstallAnswer }> = [
    {
      name: "SUCCESS, with what bizInfos says was installed",
      env: INSTALL_OK,
      want: {
        kind: "installed",
        bizzes: new Map([["biz1:1.0.0", { state: "ACTIVATED" }]]),
      },
    },
    {
      name: "SUCCESS without bizInfos",
      env: { code: "SUCCESS", data: { code: "SUCCESS", message: "ok" } },
      want: { kind: "installed", bizzes: new Map() },
    },
    {
      name: "FAILED/REPEAT_BIZ names the jar's biz (which may not be the one asked)",
      env: REPEAT_BIZ,
      want: { kind: "repeat", identity: "biz1:1.0.0" },
    },
    {
      name: "REPEAT_BIZ with a message that names nothing",
      env: { code: "FAILED", data: { code: "REPEAT_BIZ", message: "already there" } },
      want: { kind: "repeat", identity: undefined },
    },
    {
      name: "CMD_PROCESS_INTERNAL_ERROR (the biz failed to start)",
      env: INTERNAL_ERROR,
      want: failed(
        "CMD_PROCESS_INTERNAL_ERROR",
        "Internal Error: java.lang.IllegalStateException: boom",
      ),
    },
    {
      name: "FAILED without data (concurrent command)",
      env: CONFLICT,
      want: failed("FAILED", CONFLICT.message!),
    },
    {
      name: "FAILED with an inner code: reason and message from data",
      env: {
        code: "FAILED",
        message: "install biz not success!",
        data: { code: "ILLEGAL_STATE_BIZ", message: "Biz: biz1:1.0.0 is in illegal state." },
      },
      want: failed("ILLEGAL_STATE_BIZ", "Biz: biz1:1.0.0 is in illegal state."),
    },
    {
      name: "NOT_FOUND_BIZ is not an install success",
      env: NOT_FOUND_BIZ,
      want: failed("NOT_FOUND_BIZ", "Uninstall biz: biz1:1.0.0 not found."),
    },
    {
      name: "CMD_NOT_FOUND",
      env: { code: "CMD_NOT_FOUND", message: "please follow the doc" },
      want: failed("CMD_NOT_FOUND", "please follow the doc"),
    },
    {
      name: "a failure with no message at all",
      env: { code: "FAILED" },
      want: failed("FAILED", ""),
    },
    {
      name: "a non-string inner code is ignored",
      env: { code: "FAILED", message: "m", data: { code: 500 } },
      want: failed("FAILED", "m"),
    },
  ];
  it.each(cases)("$name", ({ env, want }) => expect(installAnswer(env)).toEqual(want));
});

describe("uninstallOutcome", () => {
  const cases: Array<{ name: string; env: ArkletEnvelope; want: Outcome }> = [
    { name: "SUCCESS", env: UNINSTALL_OK, want: { ok: true } },
    { name: "FAILED/NOT_FOUND_BIZ (already gone)", env: NOT_FOUND_BIZ, want: { ok: true } },
    {
      name: "FAILED: the master biz",
      env: MASTER_BIZ,
      want: { ok: false, reason: "FAILED", message: "Master biz must not be uninstalled." },
    },
    {
      name: "CMD_PROCESS_INTERNAL_ERROR",
      env: INTERNAL_ERROR,
      want: { ok: false, reason: "CMD_PROCESS_INTERNAL_ERROR", message: INTERNAL_ERROR.message! },
    },
    {
      name: "REPEAT_BIZ is not an uninstall success",
      env: REPEAT_BIZ,
      want: { ok: false, reason: "REPEAT_BIZ", message: "install biz not success!" },
    },
    {
      name: "a failure with no message at all",
      env: { code: "FAILED" },
      want: { ok: false, reason: "FAILED", message: "" },
    },
  ];
  it.each(cases)("$name", ({ env, want }) => expect(uninstallOutcome(env)).toEqual(want));
});

type Record_ = { changeTime?: number; state?: string; reason?: string; message?: string };
const info = (name: string, version: string, state: string, records: Record_[] = []) => ({
  bizName: name,
  bizVersion: version,
  bizState: state,
  mainClass: `com.example.${name}.Main`,
  webContextPath: name,
  classLoader: "BizClassLoader",
  bizStateRecords: records,
});

describe("bizViews", () => {
  it("keys bizzes by name:version and takes the newest state record", () => {
    const data = [
      info("biz1", "1.0.0", "activated", [
        { changeTime: 1000, state: "resolved", reason: "Created", message: "created" },
        { changeTime: 3000, state: "activated", reason: "Started", message: "started" },
        { changeTime: 2000, state: "activated", reason: "Switched", message: "older" },
      ]),
      info("biz1", "2.0.0", "deactivated", [
        { changeTime: 5000, state: "deactivated", reason: "Switched", message: "switched" },
        { changeTime: 4000, state: "activated", reason: "Started", message: "started" },
      ]),
    ];
    const views = bizViews(data);
    expect([...views.keys()].sort()).toEqual(["biz1:1.0.0", "biz1:2.0.0"]);
    expect(views.get("biz1:1.0.0")).toEqual({
      state: "activated",
      changeTime: 3000,
      reason: "Started",
      message: "started",
    });
    expect(views.get("biz1:2.0.0")).toEqual({
      state: "deactivated",
      changeTime: 5000,
      reason: "Switched",
      message: "switched",
    });
  });

  it("takes the state from bizState, not from the newest record", () => {
    const views = bizViews([
      info("biz1", "1.0.0", "BROKEN", [{ changeTime: 10, state: "activated", reason: "Started" }]),
    ]);
    expect(views.get("biz1:1.0.0")?.state).toBe("BROKEN");
  });

  it("does not reorder the records it was given", () => {
    const records = [
      { changeTime: 1, reason: "Created" },
      { changeTime: 2, reason: "Started" },
    ];
    bizViews([info("biz1", "1.0.0", "activated", records)]);
    expect(records.map(r => r.changeTime)).toEqual([1, 2]);
  });

  it.each([
    { name: "no records", records: undefined },
    { name: "an empty record list", records: [] },
    { name: "records without times (sofa-ark before 3.1.9: `[{},{}]`)", records: [{}, {}] },
  ])("has no time when there are $name: the caller keeps the one it knew", ({ records }) => {
    const b = { bizName: "biz1", bizVersion: "1.0.0", bizState: "resolved" };
    const views = bizViews([records ? { ...b, bizStateRecords: records } : b]);
    expect(views.get("biz1:1.0.0")).toEqual({ state: "resolved" });
  });

  it("prefers a record with a time over newer-looking ones without", () => {
    const views = bizViews([
      info("biz1", "1.0.0", "activated", [{ changeTime: 7, reason: "Started" }, {}]),
    ]);
    expect(views.get("biz1:1.0.0")).toMatchObject({ changeTime: 7, reason: "Started" });
  });

  it.each([
    { name: "undefined", data: undefined },
    { name: "null", data: null },
    { name: "an object", data: { bizName: "biz1", bizVersion: "1.0.0", bizState: "activated" } },
    { name: "a string", data: "[]" },
    { name: "an empty list", data: [] },
  ])("is empty for $name", ({ data }) => expect(bizViews(data).size).toBe(0));

  it("ignores malformed entries", () => {
    const data = [
      null,
      42,
      "biz1:1.0.0",
      { bizVersion: "1.0.0", bizState: "activated" },
      { bizName: "nostate", bizVersion: "1.0.0" },
      { bizName: 7, bizVersion: "1.0.0", bizState: "activated" },
      { bizName: "numstate", bizVersion: "1.0.0", bizState: 3 },
      info("good", "1.0.0", "activated", [{ changeTime: 9, reason: "Started" }]),
    ];
    const views = bizViews(data);
    expect([...views.keys()]).toEqual(["good:1.0.0"]);
    expect(views.get("good:1.0.0")).toMatchObject({ state: "activated", changeTime: 9 });
  });
});
