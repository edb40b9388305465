// The contract table (docs/contract.md) must match contract.ts: same constants, same values.
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as contract from "./contract";

const section = readFileSync(join(__dirname, "..", "..", "docs", "contract.md"), "utf8");
const rows = [...section.matchAll(/^\|\s*`([A-Z_]+)`\s*\|\s*`([^`]*)`\s*\|/gm)].map(m => ({
  name: m[1],
  value: m[2],
}));
const inCode = Object.entries(contract).filter(([, v]) => typeof v !== "function");

describe("docs/contract.md table", () => {
  it("lists exactly the constants of contract.ts", () => {
    expect(rows.length).toBeGreaterThan(30);
    expect(rows.map(r => r.name).sort()).toEqual(inCode.map(([k]) => k).sort());
  });

  it.each(rows)("gives the real value of $name ($value)", ({ name, value }) => {
    expect(value).toBe(String(contract[name as keyof typeof contract]));
  });

  it("names VNodes as the table says", () => {
    expect(contract.vnodeName("<identity>", "<env>")).toBe(
      `${contract.VNODE_PREFIX}<identity>.<env>`,
    );
  });
});
