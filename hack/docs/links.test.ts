// Every relative link in README.md and docs/*.md points at a file that exists, and every
// #anchor at a heading of that file (GitHub's slugs), so moving a section breaks a test.
import { describe, expect, it } from "@jest/globals";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const ROOT = resolve(__dirname, "..", "..");
const pages = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter(f => f.endsWith(".md"))
    .map(f => `docs/${f}`),
  ...readdirSync(join(ROOT, "docs", "adr")).map(f => `docs/adr/${f}`),
];

/** GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to '-'. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

const withoutCode = (md: string) => md.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");

function anchors(file: string): Set<string> {
  const md = readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "");
  return new Set([...md.matchAll(/^#+ (.*)$/gm)].map(m => slug(m[1])));
}

function links(page: string): { page: string; target: string }[] {
  const md = withoutCode(readFileSync(join(ROOT, page), "utf8"));
  return [...md.matchAll(/\]\(([^)\s]+)\)/g)]
    .map(m => m[1])
    .filter(t => !/^[a-z]+:/.test(t))
    .map(target => ({ page, target }));
}

/** What is wrong with one link, or undefined. */
function problem(page: string, target: string): string | undefined {
  const [path, anchor] = target.split("#");
  const file = path ? resolve(dirname(join(ROOT, page)), path) : join(ROOT, page);
  if (!existsSync(file)) return `${page}: ${target}: no such file`;
  if (!anchor || statSync(file).isDirectory()) return undefined;
  if (!anchors(file).has(anchor)) return `${page}: ${target}: no such heading`;
  return undefined;
}

describe("links between the README and docs/", () => {
  it("slugs headings as GitHub does", () => {
    expect(slug("Placement policy: which base clusters a namespace may use")).toBe(
      "placement-policy-which-base-clusters-a-namespace-may-use",
    );
    expect(slug("Using it with kind (`npx pepr dev`)")).toBe("using-it-with-kind-npx-pepr-dev");
  });

  it.each(pages.map(p => [p]))("%s: every relative link resolves", page => {
    const bad = links(page)
      .map(l => problem(l.page, l.target))
      .filter(Boolean);
    expect(bad).toEqual([]);
  });

  it("the README stays one page", () => {
    expect(readFileSync(join(ROOT, "README.md"), "utf8").split("\n").length).toBeLessThanOrEqual(
      200,
    );
  });

  it("the README's first module is the sample file the demo and the admission e2e apply", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const block = readme.slice(readme.indexOf("## First module")).match(/```yaml\n([\s\S]*?)```/);
    const sample = readFileSync(
      join(ROOT, "capabilities", "module-admission", "samples", "module-deployment.yaml"),
      "utf8",
    );
    // the sample file's leading comment lines are not part of the README's copy
    const body = sample.replace(/^(#.*\n)+/, "");
    expect(block?.[1]).toBe(body);
  });
});
