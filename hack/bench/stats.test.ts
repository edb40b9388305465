import { describe, expect, it } from "@jest/globals";
import { cpuTicks, delta, memoryKiB, parseProm, percentile, sumBy, summarize } from "./stats";

describe("percentiles", () => {
  it("uses the nearest rank", () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(v, 50), percentile(v, 90), percentile(v, 99), percentile(v, 100)]).toEqual([
      50, 90, 99, 100,
    ]);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
  it("summarizes unsorted values and ignores missing ones", () => {
    expect(summarize([30, 10, NaN, 20])).toEqual({
      n: 3,
      p50: 20,
      p90: 30,
      p99: 30,
      max: 30,
      mean: 20,
    });
  });
});

describe("Prometheus text", () => {
  const text = [
    "# HELP apiserver_request_total Counter",
    "# TYPE apiserver_request_total counter",
    'apiserver_request_total{code="200",resource="leases",verb="PATCH"} 12',
    'apiserver_request_total{code="201",resource="nodes",verb="POST"} 3',
    'apiserver_request_total{code="200",resource="nodes",verb="PATCH"} 5',
    "process_cpu_seconds_total 4.5",
  ].join("\n");
  const samples = parseProm(text);
  it("reads names, labels and values", () => {
    expect(samples).toHaveLength(4);
    expect(samples[0]).toEqual({
      name: "apiserver_request_total",
      labels: { code: "200", resource: "leases", verb: "PATCH" },
      value: 12,
    });
  });
  it("sums by a label, with a filter, and takes differences", () => {
    expect(sumBy(samples, "apiserver_request_total", "verb")).toEqual({ PATCH: 17, POST: 3 });
    expect(sumBy(samples, "apiserver_request_total", "", l => l.resource === "nodes")).toEqual({
      "": 8,
    });
    expect(delta({ PATCH: 10 }, { PATCH: 17, POST: 3 })).toEqual({ PATCH: 7, POST: 3 });
  });
});

describe("/proc", () => {
  it("reads CPU ticks past a command name with spaces", () => {
    const stat = "1234 (node my app) S 1 1234 1234 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 11 0";
    expect(cpuTicks(stat)).toBe(300);
  });
  it("reads peak and current RSS", () => {
    expect(memoryKiB("Name:\tnode\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n")).toEqual({
      peak: 204800,
      now: 102400,
    });
  });
});
