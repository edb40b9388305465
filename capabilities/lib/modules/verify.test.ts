import { describe, expect, it } from "@jest/globals";
import type { InstallAnswer } from "../arklet/outcome";
import type { BizView } from "./status";
import { installVerdict, mismatch, NAME_MISMATCH, NOT_INSTALLED, VERSION_MISMATCH } from "./verify";

const URL = "file:///opt/biz/skew-1.0.0-ark-biz.jar";
const asked = { bizName: "skew", bizVersion: "2.0.0", bizUrl: URL };
const active: BizView = { state: "activated", changeTime: 1 };
const list = (...keys: string[]) => new Map(keys.map(k => [k, active]));
const installed = (...keys: string[]): InstallAnswer => ({
  kind: "installed",
  bizzes: new Map(keys.map(k => [k, { state: "activated" }])),
});

describe("installVerdict", () => {
  const cases: Array<{
    name: string;
    answer: InstallAnswer;
    list?: Map<string, BizView>;
    ok: boolean;
    reason?: string;
    stray?: string;
  }> = [
    { name: "SUCCESS listing the asked biz", answer: installed("skew:2.0.0"), ok: true },
    {
      name: "SUCCESS that says nothing: believed until the next biz list",
      answer: installed(),
      ok: true,
    },
    {
      name: "SUCCESS listing another version of the name (the manifest won)",
      answer: installed("skew:1.0.0"),
      ok: false,
      reason: VERSION_MISMATCH,
      stray: "skew:1.0.0",
    },
    {
      name: "SUCCESS listing another name (the jar is another biz)",
      answer: installed("alpha:1.0.0"),
      ok: false,
      reason: NAME_MISMATCH,
      stray: "alpha:1.0.0",
    },
    {
      name: "REPEAT_BIZ with the asked biz on the base: ours already",
      answer: { kind: "repeat", identity: "skew:2.0.0" },
      list: list("skew:2.0.0"),
      ok: true,
    },
    {
      name: "REPEAT_BIZ naming another module's biz (the same jar under another name)",
      answer: { kind: "repeat", identity: "alpha:1.0.0" },
      list: list("alpha:1.0.0"),
      ok: false,
      reason: NAME_MISMATCH,
      stray: "alpha:1.0.0",
    },
    {
      name: "REPEAT_BIZ naming another version of the name",
      answer: { kind: "repeat", identity: "skew:1.0.0" },
      list: list("skew:1.0.0"),
      ok: false,
      reason: VERSION_MISMATCH,
      stray: "skew:1.0.0",
    },
    {
      name: "REPEAT_BIZ naming nothing, the asked biz not listed",
      answer: { kind: "repeat" },
      list: list("other:9"),
      ok: false,
      reason: NOT_INSTALLED,
    },
    {
      name: "a failure stays that failure",
      answer: { kind: "failed", reason: "CMD_PROCESS_INTERNAL_ERROR", message: "boom" },
      ok: false,
      reason: "CMD_PROCESS_INTERNAL_ERROR",
    },
  ];
  it.each(cases)("$name", ({ answer, list: l, ok, reason, stray }) => {
    const v = installVerdict(asked, answer, l ?? new Map());
    expect(v.ok).toBe(ok);
    if (!v.ok) expect(v.failure.reason).toBe(reason);
    if (!v.ok) expect(v.failure.stray).toBe(stray);
  });
});

describe("mismatch messages name both sides and the fix", () => {
  it("for a version", () => {
    expect(mismatch(asked, "skew:1.0.0", false).message).toBe(
      `BIZ_VERSION is 2.0.0 but the jar ${URL} is version 1.0.0 (its manifest's Ark-Biz-Version), ` +
        "so the base installed skew:1.0.0 instead of skew:2.0.0. " +
        "Set BIZ_VERSION to 1.0.0, or use a jar built as 2.0.0.",
    );
  });
  it("for a name, when the jar's biz was already there", () => {
    const m = mismatch({ ...asked, bizName: "beta" }, "alpha:1.0.0", true).message;
    expect(m).toMatch(/named beta but the jar .* holds the biz alpha/);
    expect(m).toMatch(/the base already runs alpha:1.0.0 from it instead of beta:2.0.0/);
    expect(m).toMatch(/Name the container alpha \(with BIZ_VERSION 1.0.0\)/);
  });
  it("for a REPEAT_BIZ that names nothing", () => {
    expect(mismatch(asked, undefined, true)).toEqual({
      reason: NOT_INSTALLED,
      message: `the base answered REPEAT_BIZ for skew:2.0.0 from ${URL} but does not run skew:2.0.0`,
    });
  });
});
