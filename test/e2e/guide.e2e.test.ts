// docs/writing-capabilities.md §8 "Try it by hand", run as written: `npm run dev`, the two
// fake-base commands, then every `$ npm run kubectl -- …` of the session through a shell, each
// printing what the guide shows (ages and column widths aside). That session creates the
// namespace team-a, refuses a pod asking for another cluster, places one that asks for none,
// and refuses `kubectl label pod … --overwrite` asking for another cluster.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ChildProcess, exec, spawn } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { K8s, kind } from "kubernetes-fluent-client";
import { CLUSTER_DIR, REPO_ROOT } from "../../hack/cluster/cluster";
import { normalized, section, session } from "../../hack/docs/guide-session";
import { NODE_LEASE_NAMESPACE, TAINT_NOT_READY } from "../../capabilities/lib/contract";
import { Lease } from "../../capabilities/lib/kinds";
import { kubectl, sleep, waitFor } from "./kube";
import { PeprDev, startPeprDev, stopPeprDev } from "./pepr-dev";

const GUIDE = readFileSync(join(REPO_ROOT, "docs", "writing-capabilities.md"), "utf8");
const HAND = session(section(GUIDE, "## 8. Try it by hand"));
const NAMESPACE = "team-a"; // the guide's
/** The refusal the guide quotes at the top. */
const QUOTED = /^```text\n(.*)\n```$/m.exec(GUIDE)?.[1] ?? "";

/** The VNode a fake-base command makes: one base on 127.0.0.<--first> (default 2). */
function vnodeOf(command: string): string {
  const first = /--first (\d+)/.exec(command)?.[1] ?? "2";
  return `vnode.127.0.0.${first}.dev`;
}

/** A command of the guide through a shell in the repository, stdout and stderr as printed. */
function shell(command: string): Promise<{ code: number; lines: string[] }> {
  return new Promise(res => {
    exec(`${command} 2>&1`, { cwd: REPO_ROOT, env: process.env }, (err, stdout) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, lines: stdout.split("\n") });
    });
  });
}

function startBackground(command: string): ChildProcess {
  const log = openSync(join(CLUSTER_DIR, "logs", `guide-${Date.now()}.log`), "a");
  return spawn("bash", ["-c", command], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ["ignore", log, log],
  });
}

async function exited(child: ChildProcess): Promise<void> {
  for (let i = 0; i < 40 && child.exitCode === null && child.signalCode === null; i++) {
    await sleep(250);
  }
}

describe("docs/writing-capabilities.md: try it by hand", () => {
  let dev: PeprDev | undefined;
  const bases: ChildProcess[] = [];
  const [devCommand, ...baseCommands] = HAND.background;
  const vnodes = baseCommands.map(vnodeOf);
  const outputs: string[] = [];

  beforeAll(async () => {
    expect(devCommand).toBe("npm run dev"); // what startPeprDev runs
    expect(baseCommands.length).toBe(2);
    await kubectl(["delete", "namespace", NAMESPACE, "--ignore-not-found"]);
    dev = await startPeprDev();
    for (const command of baseCommands) bases.push(startBackground(command));
    for (const name of vnodes) {
      await waitFor(`${name} Ready and schedulable`, async () => {
        const n = await K8s(kind.Node).Get(name);
        const ready = n.status?.conditions?.some(c => c.type === "Ready" && c.status === "True");
        return ready && !(n.spec?.taints ?? []).some(t => t.key === TAINT_NOT_READY);
      });
    }
  });

  afterAll(async () => {
    for (const b of bases) if (b.pid) process.kill(-b.pid, "SIGINT"); // Ctrl-C: DEACTIVATED
    await Promise.all(bases.map(exited));
    await kubectl(["delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false"]);
    await stopPeprDev(dev);
    for (const name of vnodes) {
      await K8s(kind.Node).Delete(name);
      await K8s(Lease).InNamespace(NODE_LEASE_NAMESPACE).Delete(name);
    }
  });

  it("has a session that applies the samples and labels a pod with --overwrite", () => {
    const commands = HAND.steps.map(s => s.command);
    expect(commands.some(c => c.includes(" apply ") && c.includes("samples/"))).toBe(true);
    expect(commands.some(c => c.includes(" label pod ") && c.endsWith(" --overwrite"))).toBe(true);
  });

  it.each(HAND.steps)("$command", async ({ command, expected }) => {
    const { lines } = await shell(command);
    outputs.push(...lines);
    expect(normalized(lines)).toEqual(normalized(expected));
  });

  it("prints the refusal the guide quotes at the top", () => {
    expect(QUOTED).toContain("denied the request");
    expect(outputs.some(l => l.endsWith(QUOTED))).toBe(true);
  });
});
