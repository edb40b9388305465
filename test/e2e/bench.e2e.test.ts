// CI keeps the benchmark harness working with a tiny run; it asserts what happened (every
// module Ready once, every deletion done, every step measured), never how fast.
import { describe, expect, it, jest } from "@jest/globals";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CLUSTER_DIR, REPO_ROOT } from "../../hack/cluster/cluster";
import type { BenchResult } from "../../hack/bench/cli";
import type { PassResult } from "../../hack/bench/churn";

const OUT = join(CLUSTER_DIR, "bench-e2e.json");

// each run starts its own `npm run dev` (about a minute here) and tears it down
jest.setTimeout(480_000);

function npmRun(args: string[]): Promise<string> {
  return new Promise((res, rej) =>
    execFile("npm", args, { cwd: REPO_ROOT }, (err, stdout) => (err ? rej(err) : res(stdout))),
  );
}

function bench(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise(res => {
    execFile(
      "npm",
      ["run", "bench", "--", ...args, "--out", OUT],
      { cwd: REPO_ROOT, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => res({ code: err ? 1 : 0, out: `${stdout}${stderr}` }),
    );
  });
}

function checkPass(pass: PassResult | undefined, modules = 20): void {
  if (!pass) throw new Error("the bench wrote no result for this pass");
  expect(pass.successRatio).toBe(1);
  expect(pass.createErrors).toBe(0);
  expect(pass.installCallsPerModule).toBe(1);
  expect(pass.createLatencyMs.n).toBe(modules);
  expect(Object.keys(pass.phases)).toHaveLength(5);
  for (const s of Object.values(pass.phases)) expect(s.n).toBe(modules);
}

async function benchOk(args: string[]): Promise<BenchResult> {
  const res = await bench(args);
  expect({ code: res.code, tail: res.code ? res.out.slice(-3000) : "" }).toEqual({
    code: 0,
    tail: "",
  });
  console.log(`[bench] ${res.out.slice(res.out.indexOf("npm run bench --"))}`);
  return JSON.parse(readFileSync(OUT, "utf8")) as BenchResult;
}

describe("npm run bench (tiny)", () => {
  it("3 bases, 20 modules, admission: every module Ready once, deleted, every step measured", async () => {
    const r = await benchOk([
      "--bases",
      "3",
      "--modules",
      "20",
      "--admission",
      "--admission-requests",
      "20",
    ]);
    expect(r.machine.cpus).toBeGreaterThan(0);
    const churn = r.churn as NonNullable<BenchResult["churn"]>;
    checkPass(churn.steady);
    checkPass(churn.burst);
    expect(churn.deletion.successRatio).toBe(1);
    expect(churn.deletion.deleteToUninstalledMs.n).toBe(40);
    // the README's table command turns the same JSON into the docs' rows
    const table = await npmRun(["run", "-s", "bench:table", "--", OUT]);
    expect(table).toMatch(/\| bench-e2e \| steady \| 20 \| [\d.]+ \/ /);
    expect(table).toMatch(/\| bench-e2e \| 50 \| /);
    expect(churn.cost.controllerPeakRssMiB).toBeGreaterThan(0);
    const levels = r.admission ?? [];
    expect(levels.map(a => [a.concurrency, a.withWebhookMs.n, a.withoutWebhookMs.n])).toEqual([
      [1, 20, 20],
      [10, 20, 20],
      [50, 20, 20],
    ]);
  });

  it("bare module pods, steady pass only: no Deployment in the path, every module Ready once", async () => {
    const r = await benchOk(["--bases", "2", "--modules", "10", "--bare", "--passes", "steady"]);
    const churn = r.churn as NonNullable<BenchResult["churn"]>;
    checkPass(churn.steady, 10);
    expect(churn.burst).toBeUndefined();
    expect(churn.deletion.successRatio).toBe(1);
    expect(churn.deletion.deleteToUninstalledMs.n).toBe(10);
  });

  it("idle bases: the controller's CPU, memory and API requests are measured", async () => {
    const r = await benchOk(["--idle-bases", "3", "--duration", "15"]);
    const idle = r.idle as NonNullable<BenchResult["idle"]>;
    expect(idle.bases).toBe(3);
    expect(idle.controllerPeakRssMiB).toBeGreaterThan(0);
    expect(idle.controllerCpuCores).toBeGreaterThan(0);
    // our Lease renewals at least: one per base every 10 s
    expect(idle.writesByResourcePerSecond.leases).toBeGreaterThan(0);
  });
});
