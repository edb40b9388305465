// What idle bases cost: controller CPU and memory, apiserver requests by verb, and our
// writes per base per minute, over a quiet window.
import { sleep } from "../dev/wait";
import { writesPerSecondByClient } from "./audit";
import { apiserverMetrics, controllerPids, Harness, sampleProcesses } from "./harness";
import { delta, parseProm, sumBy } from "./stats";

export interface CostResult {
  seconds: number;
  bases: number;
  controllerCpuCores: number;
  controllerPeakRssMiB: number;
  apiRequestsPerSecondByVerb: Record<string, number>;
  writesPerBasePerMinute: number;
  writesByResourcePerSecond: Record<string, number>;
  /** from the apiserver's audit log (KUBE_LOCAL_AUDIT=1): "agent user verb resource" → /s */
  writesByClientPerSecond?: Record<string, number>;
}

const WRITE_VERBS = new Set(["POST", "PUT", "PATCH", "APPLY", "DELETE"]);
const OURS = new Set(["nodes", "leases", "pods", "peprstores", "events"]);
const perSecond = (m: Record<string, number>, s: number) =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Math.round((v / s) * 100) / 100]));

/** Measures the controller and the apiserver while `during` runs (or for `seconds` of quiet). */
export async function measureCost(
  h: Harness,
  bases: number,
  during: () => Promise<void>,
): Promise<CostResult> {
  const pids = controllerPids(h);
  const p0 = sampleProcesses(pids);
  const m0 = parseProm(await apiserverMetrics());
  const t0 = Date.now();
  await during();
  const t1 = Date.now();
  const seconds = (t1 - t0) / 1000;
  const p1 = sampleProcesses(pids);
  const m1 = parseProm(await apiserverMetrics());
  const byVerb = delta(
    sumBy(m0, "apiserver_request_total", "verb"),
    sumBy(m1, "apiserver_request_total", "verb"),
  );
  const writes = (ms: typeof m0) =>
    sumBy(
      ms,
      "apiserver_request_total",
      "resource",
      l => WRITE_VERBS.has(l.verb) && OURS.has(l.resource),
    );
  const writesByResource = delta(writes(m0), writes(m1));
  const totalWrites = Object.values(writesByResource).reduce((a, b) => a + b, 0);
  return {
    seconds: Math.round(seconds),
    bases,
    controllerCpuCores: Math.round(((p1.cpuSeconds - p0.cpuSeconds) / seconds) * 1000) / 1000,
    controllerPeakRssMiB: Math.round(p1.peakRssMiB),
    apiRequestsPerSecondByVerb: perSecond(byVerb, seconds),
    writesPerBasePerMinute:
      Math.round((totalWrites / Math.max(1, bases) / (seconds / 60)) * 100) / 100,
    writesByResourcePerSecond: perSecond(writesByResource, seconds),
    writesByClientPerSecond: writesPerSecondByClient(t0, t1),
  };
}

export const quietFor = (seconds: number) => async (): Promise<void> => {
  await sleep(seconds * 1000);
};
