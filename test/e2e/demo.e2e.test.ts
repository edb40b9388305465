// The README's first command: `npm start` brings everything up, prints Ready modules, and
// Ctrl-C leaves nothing of the demo behind (the local cluster stays up, as it says).
import { describe, expect, it } from "@jest/globals";
import { execFile, spawn } from "node:child_process";
import { K8s, kind } from "kubernetes-fluent-client";
import { REPO_ROOT } from "../../hack/cluster/cluster";
import { WEBHOOK_NAME } from "./pepr-dev";
import { sleep, waitFor } from "./kube";

function npx(args: string[]): Promise<string> {
  return new Promise((res, rej) =>
    execFile("npx", args, { cwd: REPO_ROOT }, (err, stdout, stderr) =>
      err ? rej(new Error(`npx ${args.join(" ")}: ${stderr}`)) : res(stdout),
    ),
  );
}

/** The README's "look further": npx koupleless-pepr status, as text and as --json. */
async function checkStatusCli(vnodes: Set<string>): Promise<void> {
  const text = await npx(["koupleless-pepr", "status"]);
  expect(text).toMatch(/^Bases\nVNODE\s+READY\s+OWNER/);
  const status = JSON.parse(await npx(["koupleless-pepr", "status", "--json"])) as {
    bases: Array<{ name: string; ready: { status: string }; owner: string; pods: number }>;
    modules: Array<{ namespace: string; biz: string; ready: boolean; state: string }>;
  };
  const demoBases = status.bases.filter(b => vnodes.has(b.name));
  expect(demoBases.map(b => [b.ready.status, b.pods, b.owner !== ""])).toEqual([
    ["True", 1, true],
    ["True", 1, true],
  ]);
  const demoModules = status.modules.filter(m => m.namespace === "koupleless-demo");
  expect(demoModules.map(m => [m.biz, m.state, m.ready])).toEqual([
    ["biz1:0.0.1-SNAPSHOT", "running", true],
    ["biz1:0.0.1-SNAPSHOT", "running", true],
  ]);
}

/** `npm start` in its own process group, until it prints its table; its output so far. */
async function startDemo() {
  const child = spawn("npm", ["start"], { cwd: REPO_ROOT, detached: true, stdio: "pipe" });
  const demo = { child, out: "" };
  child.stdout.on("data", (b: Buffer) => (demo.out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (demo.out += b.toString()));
  const exited = new Promise<number | null>(res => child.on("exit", code => res(code)));
  try {
    await waitFor(
      "the demo's table",
      async () => {
        if (child.exitCode !== null) throw new Error(`npm start exited:\n${demo.out}`);
        return demo.out.includes("npm run cluster:down");
      },
      300_000,
    );
  } catch (err) {
    if (child.pid) process.kill(-child.pid, "SIGKILL");
    throw err;
  }
  return { demo, exited };
}

/** The demo's table rows: two module pods, Ready on two different VNodes. */
function checkTable(out: string): Set<string> {
  const table = out.slice(out.indexOf("MODULE POD"), out.indexOf("Look further")).trim();
  console.log(`[demo]\n${table}`);
  const rows = table.split("\n").slice(1);
  expect(rows).toHaveLength(2); // the sample Deployment has 2 replicas
  for (const r of rows)
    expect(r).toMatch(
      /^biz1-\S+\s+vnode\.127\.0\.0\.5[01]\.dev\s+127\.0\.0\.5[01]\s+biz1:0\.0\.1-SNAPSHOT\s+running\s+true$/,
    );
  const vnodes = new Set(rows.map(r => r.split(/\s+/)[1]));
  expect(vnodes.size).toBe(2); // spread over both bases
  return vnodes;
}

describe("npm start", () => {
  it("shows the sample modules Ready on two VNodes, and Ctrl-C cleans up", async () => {
    const { demo, exited } = await startDemo();
    await checkStatusCli(checkTable(demo.out));

    process.kill(-(demo.child.pid as number), "SIGINT"); // Ctrl-C in the terminal: the whole group
    await waitFor("the demo to stop", async () => demo.out.includes("Stopped."), 90_000);
    await exited; // npm itself ends on the signal; the demo's own exit code is 0
    expect(demo.out).toContain("Stopped. The local cluster is still up");
    expect(demo.out).not.toContain("npm start failed");
    await waitFor("the demo's VNodes gone", async () => {
      const nodes = await K8s(kind.Node).Get();
      return !nodes.items.some(n => /^vnode\.127\.0\.0\.5[01]\.dev$/.test(n.metadata?.name ?? ""));
    });
    const hooks = await K8s(kind.MutatingWebhookConfiguration).Get();
    expect(hooks.items.map(h => h.metadata?.name)).not.toContain(WEBHOOK_NAME);
    await sleep(500);
    expect((await K8s(kind.Pod).InNamespace("koupleless-demo").Get()).items).toEqual([]);
  });
});
