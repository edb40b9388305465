// The configuration table (docs/configuration.md) must match the code: same variables, same defaults.
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "./config";

const root = join(__dirname, "..", "..");
const section = readFileSync(join(root, "docs", "configuration.md"), "utf8");
// ours, and ModuleController V2's names for the tunnels
const VARIABLE = "KOUPLELESS_[A-Z_]+|ENABLE_[A-Z]+_TUNNEL|MQTT_[A-Z_]+";
const rows = [
  ...section.matchAll(new RegExp(`^\\|\\s*\`(${VARIABLE})\`\\s*\\|\\s*([^|]+?)\\s*\\|`, "gm")),
].map(m => ({
  name: m[1],
  def: m[2].trim(),
}));
const source = readFileSync(join(__dirname, "config.ts"), "utf8");
const inCode = new Set([...source.matchAll(new RegExp(`\\b(${VARIABLE})\\b`, "g"))].map(m => m[1]));

/** The documented default as the variable's value: `50` → "50"; "empty (off)" → "". */
function literal(def: string): string | undefined {
  if (def.startsWith("empty")) return "";
  const m = /^`([^`]*)`$/.exec(def);
  return m ? m[1] : undefined;
}

describe("docs/configuration.md table", () => {
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
