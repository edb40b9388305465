// docs/writing-capabilities.md shows the worked example's code: every ```ts block must be found
// in the code as shown (a "// ..." line stands for lines left out), and every file it names must
// exist, so that the guide cannot drift from the capability it describes.
import { describe, expect, it } from "@jest/globals";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(__dirname, "..", "..");
const GUIDE = readFileSync(join(ROOT, "docs", "writing-capabilities.md"), "utf8");
const ELISION = "// ...";

/** The fenced blocks of a markdown text, with their language ("" when none). */
export function fenced(md: string): Array<{ lang: string; body: string }> {
  return [...md.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map(m => ({ lang: m[1], body: m[2] }));
}

const lines = (text: string) =>
  text
    .split("\n")
    .map(l => l.trim())
    .filter(Boolean);

/** Where `run` starts in `have` at or after `from`, or -1. */
function indexOfRun(have: string[], run: string[], from: number): number {
  for (let i = from; i + run.length <= have.length; i++) {
    if (run.every((l, j) => have[i + j] === l)) return i;
  }
  return -1;
}

/**
 * Whether the snippet's lines occur in the code, indentation aside: each stretch between
 * "// ..." lines as consecutive lines, the stretches in order.
 */
export function occursIn(snippet: string, code: string): boolean {
  const have = lines(code);
  const runs: string[][] = [[]];
  for (const l of lines(snippet)) {
    if (l === ELISION) runs.push([]);
    else runs[runs.length - 1].push(l);
  }
  let from = 0;
  for (const run of runs.filter(r => r.length)) {
    const at = indexOfRun(have, run, from);
    if (at < 0) return false;
    from = at + run.length;
  }
  return true;
}

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap(e => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return e.name === "node_modules" ? [] : tsFiles(path);
    return e.name.endsWith(".ts") ? [path] : [];
  });
}

/** The paths a text names in backticks: `capabilities/…/x.ts`, `lib/…` (under capabilities/). */
export function namedFiles(md: string): string[] {
  const tokens = [...md.matchAll(/`([\w./-]+\/[\w.-]+\.(?:ts|md|yaml|json))`/g)].map(m => m[1]);
  return [...new Set(tokens)].filter(t => !t.startsWith("dist/")); // dist/: npm run build makes it
}

/** The files of the guide's "where the files go" tree: a directory line, then indented names. */
export function treeFiles(tree: string): string[] {
  let dir = "";
  return tree.split("\n").flatMap(line => {
    const name = line.trim().split(/\s+/)[0];
    if (!name) return [];
    if (!line.startsWith(" ")) {
      dir = name.endsWith("/") ? name : "";
      return name.endsWith("/") ? [] : [name];
    }
    return [`${dir}${name}`];
  });
}

describe("occursIn", () => {
  const code = "function f() {\n  const a = 1;\n  const b = 2;\n  return a + b;\n}\n";
  it.each([
    {
      name: "the same lines, indented differently",
      snippet: "const a = 1;\nconst b = 2;",
      want: true,
    },
    { name: "a run with an elision", snippet: "function f() {\n// ...\nreturn a + b;", want: true },
    { name: "lines that are not consecutive", snippet: "const a = 1;\nreturn a + b;", want: false },
    { name: "runs out of order", snippet: "return a + b;\n// ...\nconst a = 1;", want: false },
    { name: "a line that differs", snippet: "const a = 2;", want: false },
  ])("$name: $want", ({ snippet, want }) => expect(occursIn(snippet, code)).toBe(want));
});

describe("treeFiles", () => {
  it("reads a directory line and its indented files, and lone paths", () => {
    expect(
      treeFiles("caps/x/\n  index.ts   bindings\n  a.test.ts\ntest/e2e/x.e2e.test.ts  e2e\n"),
    ).toEqual(["caps/x/index.ts", "caps/x/a.test.ts", "test/e2e/x.e2e.test.ts"]);
  });
});

describe("docs/writing-capabilities.md", () => {
  const sources = ["pepr.ts", ...tsFiles("capabilities"), ...tsFiles("test"), ...tsFiles("hack")];
  const code = new Map(sources.map(f => [f, readFileSync(join(ROOT, f), "utf8")]));
  const blocks = fenced(GUIDE);
  const snippets = blocks
    .filter(b => b.lang === "ts")
    .map(b => ({ first: lines(b.body)[0], body: b.body }));

  it("shows code", () => expect(snippets.length).toBeGreaterThan(5));

  it.each(snippets)("shows code that is in the repository: $first", ({ body }) => {
    const where = sources.filter(f => occursIn(body, code.get(f) ?? ""));
    expect(where).not.toEqual([]);
  });

  const tree = blocks.find(b => b.lang === "" && b.body.startsWith("capabilities/"));
  const files = [...treeFiles(tree?.body ?? ""), ...namedFiles(GUIDE)];

  it("names files", () => expect(files.length).toBeGreaterThan(10));

  it.each(files.map(f => [f]))("names %s, which exists", file => {
    const found = [file, `capabilities/${file}`].some(f => existsSync(join(ROOT, f)));
    expect(found).toBe(true);
  });
});
