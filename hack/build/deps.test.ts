// Declared dependencies match what the module imports at run time: every package the
// capabilities (and pepr.ts) import is a dependency, by its public entry point, and every
// dependency is imported. Tests and fixtures may use devDependencies.
import { describe, expect, it } from "@jest/globals";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
};

function runtimeSources(dir: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return runtimeSources(path);
    const test = name.endsWith(".test.ts") || name.endsWith(".fixture.ts");
    return name.endsWith(".ts") && !test ? [path] : [];
  });
}

/** Packages imported for their values (type-only imports vanish at build). */
function valueImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^import (?!type )[^;]*?from "([^."][^"]*)"/gms)].map(m => m[1]);
}

const packageOf = (spec: string) =>
  spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];

/** True when the package's exports map declares the subpath (exactly, or by a "./*" pattern). */
function exported(spec: string): boolean {
  const name = packageOf(spec);
  const manifest = JSON.parse(
    readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8"),
  ) as { exports?: Record<string, unknown> };
  const keys = Object.keys(manifest.exports ?? {});
  const sub = `.${spec.slice(name.length)}`;
  return keys.some(k => k === sub || (k.endsWith("/*") && sub.startsWith(k.slice(0, -1))));
}

const files = [...runtimeSources(join(ROOT, "capabilities")), join(ROOT, "pepr.ts")];
const imports = files.flatMap(f => valueImports(f).map(spec => ({ file: f, spec })));

describe("run-time dependencies", () => {
  it("every package imported at run time is declared", () => {
    const undeclared = imports.filter(
      i => !i.spec.startsWith("node:") && !(packageOf(i.spec) in pkg.dependencies),
    );
    expect(undeclared).toEqual([]);
    expect(imports.length).toBeGreaterThan(20);
  });

  it("no import reaches into a package's internals: a subpath must be one its exports declare", () => {
    const deep = imports.filter(i => i.spec !== packageOf(i.spec) && !exported(i.spec));
    expect(deep).toEqual([]);
    expect(exported("kubernetes-fluent-client/dist/fluent/utils.js")).toBe(false);
  });

  it("every declared dependency is used", () => {
    const used = new Set(imports.map(i => packageOf(i.spec)));
    expect(Object.keys(pkg.dependencies).filter(d => !used.has(d))).toEqual([]);
  });
});
