import { describe, expect, it } from "@jest/globals";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AUDIT_POLICY, auditArgs, graceSeconds, isOurProcess, tail } from "./cluster";

describe("graceSeconds", () => {
  it.each([
    ["20s", 20],
    ["1m", 60],
    ["1m30s", 90],
    ["2h", 7200],
  ])("%s is %d seconds", (d, s) => expect(graceSeconds(d)).toBe(s));
  it.each(["", "20", "1d", "5ms"])("rejects %j", d =>
    expect(() => graceSeconds(d)).toThrow(/unsupported/),
  );
});

describe("isOurProcess", () => {
  it("does not claim a process that runs another binary", () => {
    expect(isOurProcess(process.pid, "/nonexistent/bin")).toBe(false);
  });
  it("does not claim a pid that does not exist", () => {
    expect(isOurProcess(2 ** 22 + 1, "/nonexistent/bin")).toBe(false);
  });
});

describe("tail", () => {
  it("says so when there is no log", () => {
    expect(tail("/nonexistent/log")).toBe("(no log)");
  });
});

describe("auditArgs", () => {
  it("writes a policy that logs writes at Metadata level and nothing else", () => {
    const dir = mkdtempSync(join(tmpdir(), "audit-"));
    const args = auditArgs(dir);
    expect(args).toContain(`--audit-policy-file=${join(dir, "audit-policy.yaml")}`);
    expect(args).toContain(`--audit-log-path=${join(dir, "logs", "audit.log")}`);
    expect(readFileSync(join(dir, "audit-policy.yaml"), "utf8")).toBe(AUDIT_POLICY);
    expect(AUDIT_POLICY).toMatch(/level: Metadata\n\s+verbs: \[create, update, patch, delete/);
    expect(AUDIT_POLICY.trimEnd().endsWith("- level: None")).toBe(true);
  });
});
