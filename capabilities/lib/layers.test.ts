// The floors of capabilities/lib: a file imports only from lower floors or its own folder, and
// a capability imports only from lib and itself. An import that runs upward fails here, naming
// the file and the import, before it becomes a cycle nobody can untangle.
import { describe, expect, it } from "@jest/globals";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(__dirname, "../..");
const LIB = join(ROOT, "capabilities/lib");

/** Lower floors first. Files directly in lib/ are floor 0 (contract, config, errors, logger, ...). */
const FLOORS: string[][] = [
  ["", "async"],
  ["arklet", "admission"],
  ["tunnel"],
  ["kube"],
  ["modules", "shards"],
  ["vnode"],
];
const CONTROLLER = ["controller.ts"]; // composes everything: the top floor

function floorOf(libPath: string): number {
  if (CONTROLLER.includes(libPath)) return FLOORS.length;
  const folder = libPath.includes("/") ? libPath.split("/")[0] : "";
  const floor = FLOORS.findIndex(names => names.includes(folder));
  if (floor < 0) throw new Error(`capabilities/lib/${libPath}: folder not in FLOORS`);
  return floor;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith(".ts") && !name.endsWith(".test.ts") ? [path] : [];
  });
}

function relativeImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/from "(\.[^"]+)"/g)].map(m => m[1]);
}

/** The import's target, relative to lib/ (undefined when it leaves lib/). */
function libTarget(file: string, spec: string): string | undefined {
  const target = relative(LIB, resolve(dirname(file), spec));
  return target.startsWith("..") ? undefined : `${target}.ts`;
}

function folder(libPath: string): string {
  return libPath.includes("/") ? libPath.split("/")[0] : "";
}

/** True when a lib file may import another: same folder, or a lower floor. */
function allowed(from: string, to: string): boolean {
  if (folder(to) === folder(from) && !CONTROLLER.includes(to)) return true;
  return floorOf(to) < floorOf(from);
}

/** Every import in lib/ that runs to a higher floor or sideways into another folder. */
function libViolations(): string[] {
  return sources(LIB).flatMap(file => {
    const from = relative(LIB, file);
    return relativeImports(file).flatMap(spec => {
      const to = libTarget(file, spec);
      if (to === undefined || to.endsWith(".json.ts") || allowed(from, to)) return [];
      return [`${from} imports ${spec}`];
    });
  });
}

/** Imports from one capability into another (lib is shared; anything else is not). */
function capabilityViolations(): string[] {
  const caps = join(ROOT, "capabilities");
  return readdirSync(caps)
    .filter(name => name !== "lib" && statSync(join(caps, name)).isDirectory())
    .flatMap(name =>
      sources(join(caps, name)).flatMap(file =>
        relativeImports(file).flatMap(spec => {
          const target = relative(caps, resolve(dirname(file), spec));
          const owner = target.split("/")[0];
          return owner === name || owner === "lib" || owner.startsWith("..")
            ? []
            : [`${relative(caps, file)} imports ${spec}`];
        }),
      ),
    );
}

describe("import floors", () => {
  it("every lib folder has a floor", () => {
    const folders = readdirSync(LIB).filter(n => statSync(join(LIB, n)).isDirectory());
    expect(folders.filter(f => floorOf(`${f}/x.ts`) < 0)).toEqual([]);
    expect(folders.length).toBeGreaterThan(5);
  });

  it("no import in capabilities/lib runs upward or sideways", () => {
    expect(libViolations()).toEqual([]);
  });

  it("no capability imports another", () => {
    expect(capabilityViolations()).toEqual([]);
  });

  it.each([
    ["vnode/registry.ts", "shards/ownership.ts", true],
    ["shards/ownership.ts", "vnode/node.ts", false],
    ["modules/worker.ts", "modules/biz.ts", true],
    ["modules/worker.ts", "shards/plan.ts", false],
    ["kube/tunnel-service.ts", "tunnel/service.ts", true],
    ["tunnel/service.ts", "kube/api.ts", false],
    ["runtime.ts", "config.ts", true],
    ["config.ts", "controller.ts", false],
    ["controller.ts", "vnode/registry.ts", true],
  ])("%s -> %s allowed: %s", (from, to, ok) => {
    expect(allowed(from, to)).toBe(ok);
  });

  it("a folder without a floor is named", () => {
    expect(() => floorOf("nowhere/file.ts")).toThrow(/nowhere\/file.ts: folder not in FLOORS/);
  });
});
