import { describe, expect, it } from "@jest/globals";
import type { BenchResult } from "./cli";
import { churnTable, idleTable } from "./table";

const s = (p50: number) => ({ n: 3, p50, p90: p50 * 2, p99: p50 * 3, max: p50 * 4, mean: p50 });

const pass = {
  modules: 3,
  createLatencyMs: s(100),
  throughputPerSecond: 12.5,
  successRatio: 1,
  installCallsPerModule: 1,
  phases: { a: s(1), b: s(2), c: s(3), d: s(4), e: s(5) },
};

describe("bench tables", () => {
  it("one churn row per pass that ran, steps in order", () => {
    const r = {
      churn: { steady: pass, deletion: {}, cost: {} },
    } as unknown as BenchResult;
    const lines = churnTable([{ name: "run-a", r }]);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe(
      "| run-a | steady | 3 | 100 / 200 / 300 / 400 | 12.5 | 100% | 1 | 1 / 2 | 2 / 4 | 3 / 6 | 4 / 8 | 5 / 10 |",
    );
  });

  it("idle rows list the verbs seen, alphabetically, without zeros", () => {
    const idle = {
      seconds: 300,
      bases: 10,
      controllerCpuCores: 0.03,
      controllerPeakRssMiB: 190,
      writesPerBasePerMinute: 6.1,
      apiRequestsPerSecondByVerb: { PATCH: 1.2, DELETE: 0, GET: 0.3 },
      writesByResourcePerSecond: {},
    };
    const lines = idleTable([{ name: "x", r: { idle } as unknown as BenchResult }]);
    expect(lines[2]).toBe("| 10 | 300 | 0.03 | 190 | 6.1 | GET 0.3, PATCH 1.2 |");
  });
});
