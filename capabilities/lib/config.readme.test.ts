// The README's configuration table must match the code: same variables, same defaults.
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "./config";

const root = join(__dirname, "..", "..");
const readme = readFileSync(join(root, "README.md"), "utf8");
const section = readme.slice(
  readme.indexOf("## Configuration"),
  readme.indexOf("\n## ", readme.indexOf("## Configuration") + 5),
);
const rows = [...section.matchAll(/^\|\s*`(KOUPLELESS_[A-Z_]+)`\s*\|\s*([^|]+?)\s*\|/gm)].map(
  m => ({
    name: m[1],
    def: m[2].trim(),
  }),
);
const source = readFileSync(join(__dirname, "config.ts"), "utf8");
const inCode = new Set([...source.matchAll(/\b(KOUPLELESS_[A-Z_]+)\b/g)].map(m => m[1]));

/** The README's default as the variable's value: `50` → "50"; "empty (off)" → "". */
function literal(def: string): string | undefined {
  if (def.startsWith("empty")) return "";
  const m = /^`([^`]*)`$/.exec(def);
  return m ? m[1] : undefined;
}

describe("README configuration table", () => {
  it("lists exactly the variables the config module reads", () => {
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.map(r => r.name).sort()).toEqual([...inCode].sort());
  });

  it.each(rows.filter(r => literal(r.def) !== undefined))(
    "states the real default of $name ($def)",
    ({ name, def }) => {
      // setting the variable to the documented default must change nothing
      expect(loadConfig({ [name]: literal(def) })).toEqual(loadConfig({}));
    },
  );
});
