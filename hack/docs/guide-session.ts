// The "try it by hand" section of docs/writing-capabilities.md as data: the commands left running
// in their own terminals, then the kubectl session (each "$ command" and the output the guide
// shows for it). test/e2e/guide.e2e.test.ts runs exactly these commands and compares the output.

export interface Step {
  command: string;
  /** the output lines the guide shows, as printed (see `normalized`) */
  expected: string[];
}

export interface Session {
  /** commands of the `bash` block, one per terminal, without their comments */
  background: string[];
  steps: Step[];
}

/** The text of the section whose heading starts with `heading`, up to the next `## `. */
export function section(md: string, heading: string): string {
  const start = md.indexOf(`\n${heading}`);
  if (start < 0) throw new Error(`no section "${heading}"`);
  const end = md.indexOf("\n## ", start + 1);
  return md.slice(start, end < 0 ? undefined : end);
}

function blocks(md: string, lang: string): string[] {
  return [...md.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].filter(m => m[1] === lang).map(m => m[2]);
}

/** "$ command" lines start a step; the lines up to the next one are its output. */
function steps(consoleBlock: string): Step[] {
  const out: Step[] = [];
  for (const line of consoleBlock.split("\n")) {
    if (line.startsWith("$ ")) out.push({ command: line.slice(2), expected: [] });
    else if (line.trim() && out.length) out[out.length - 1].expected.push(line);
  }
  return out;
}

export function session(sectionText: string): Session {
  const background = blocks(sectionText, "bash")
    .flatMap(b => b.split("\n"))
    .map(l => l.replace(/\s+#.*$/, "").trim())
    .filter(Boolean);
  return { background, steps: blocks(sectionText, "console").flatMap(steps) };
}

const AGE = /^\d+(s|m|h|d)(\d+(s|m|h))?$/;

/**
 * Output as the guide shows it: npm's own lines (its "> script" header, "npm error …") and
 * blank lines dropped, runs of spaces made one (column widths vary), ages ("12s", "2m3s") as
 * "<age>".
 */
export function normalized(lines: string[]): string[] {
  return lines
    .filter(l => l.trim() && !/^> /.test(l) && !/^npm (error|ERR!)/.test(l))
    .map(l =>
      l
        .trim()
        .split(/\s+/)
        .map(t => (AGE.test(t) ? "<age>" : t))
        .join(" "),
    );
}
