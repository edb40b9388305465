// CI keeps the benchmark harness working with a tiny run; it asserts what happened (every
// module Ready once, every deletion done, every step measured), never how fast.
import { describe, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CLUSTER_DIR, REPO_ROOT } from "../../hack/cluster/cluster";
import type { BenchResult } from "../../hack/bench/cli";
import type { PassResult } from "../../hack/bench/churn";

const OUT = join(CLUSTER_DIR, "bench-e2e.json");

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

function checkPass(pass: PassResult): void {
  expect(pass.successRatio).toBe(1);
  expect(pass.installCallsPerModule).toBe(1);
  expect(pass.createLatencyMs.n).toBe(20);
  expect(Object.keys(pass.phases)).toHaveLength(5);
  for (const s of Object.values(pass.phases)) expect(s.n).toBe(20);
}

describe("npm run bench (tiny)", () => {
  it("3 bases, 20 modules, admission: every module Ready once, deleted, every step measured", async () => {
    const res = await bench([
      "--bases",
      "3",
      "--modules",
      "20",
      "--admission",
      "--admission-requests",
      "20",
    ]);
    expect({ code: res.code, tail: res.code ? res.out.slice(-3000) : "" }).toEqual({
      code: 0,
      tail: "",
    });
    console.log(`[bench] ${res.out.slice(res.out.indexOf("npm run bench --"))}`);
    const r = JSON.parse(readFileSync(OUT, "utf8")) as BenchResult;
    expect(r.machine.cpus).toBeGreaterThan(0);
    const churn = r.churn as NonNullable<BenchResult["churn"]>;
    checkPass(churn.steady);
    checkPass(churn.burst);
    expect(churn.deletion.successRatio).toBe(1);
    expect(churn.deletion.deleteToUninstalledMs.n).toBe(40);
    expect(churn.cost.controllerPeakRssMiB).toBeGreaterThan(0);
    const levels = r.admission ?? [];
    expect(levels.map(a => [a.concurrency, a.withWebhookMs.n, a.withoutWebhookMs.n])).toEqual([
      [1, 20, 20],
      [10, 20, 20],
      [50, 20, 20],
    ]);
  });
});
