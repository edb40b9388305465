// The command-line bundles need Node and the package's declared dependencies, nothing else:
// no tsx, no devDependency, and they find the repository from bin/ as from the sources.
import { describe, expect, it } from "@jest/globals";
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { BUNDLES, bundle } from "./bin";
import { packageRoot } from "../cluster/paths";

const ROOT = join(__dirname, "..", "..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
};

describe("command-line bundles", () => {
  const dir = mkdtempSync(join(tmpdir(), "kp-bin-"));

  it.each(BUNDLES)("$entry needs only Node and declared dependencies", async ({ entry }) => {
    const out = join(dir, "tool.cjs");
    await bundle(entry, out);
    const text = readFileSync(out, "utf8");
    const required = [...text.matchAll(/require\("([^"]+)"\)/g)].map(m => m[1]);
    const foreign = required.filter(r => !r.startsWith("node:") && !(r in pkg.dependencies));
    expect(foreign).toEqual([]);
    expect(required).toContain("kubernetes-fluent-client");
  });

  it("status --help runs through the bin where tsx cannot be found", async () => {
    // an installed package: bin/ and the declared dependencies, no devDependencies
    const pkgDir = mkdtempSync(join(tmpdir(), "kp-installed-"));
    mkdirSync(join(pkgDir, "bin"));
    mkdirSync(join(pkgDir, "node_modules"));
    copyFileSync(
      join(ROOT, "bin", "koupleless-pepr.js"),
      join(pkgDir, "bin", "koupleless-pepr.js"),
    );
    writeFileSync(join(pkgDir, "package.json"), "{}");
    for (const dep of Object.keys(pkg.dependencies)) {
      const at = join(pkgDir, "node_modules", dep);
      mkdirSync(dirname(at), { recursive: true }); // a scoped package sits one folder down
      symlinkSync(join(ROOT, "node_modules", dep), at);
    }
    const run = () =>
      execFileSync(
        process.execPath,
        [join(pkgDir, "bin", "koupleless-pepr.js"), "status", "--help"],
        {
          env: { PATH: process.env.PATH ?? "", NODE_OPTIONS: "" },
          encoding: "utf8",
          stdio: "pipe",
        },
      );
    expect(run).toThrow(/tsx/); // without the bundle it would need tsx: this test can tell
    await bundle("hack/status/cli.ts", join(pkgDir, "bin", "status.cjs"));
    expect(run()).toMatch(/^usage: koupleless-pepr status/);
  });

  it("finds the repository from bin/ as from hack/cluster/", () => {
    expect(packageRoot(join(ROOT, "bin"))).toBe(ROOT);
    expect(packageRoot(join(ROOT, "hack", "cluster"))).toBe(ROOT);
  });
});
