// Runs `npm run replica -- --id <name>` for a suite, as a person adding replicas would, in its
// own process group so that a test can SIGKILL it (a crash) or SIGTERM it (a graceful stop).
import { ChildProcess, spawn } from "node:child_process";
import { mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CLUSTER_DIR, REPO_ROOT, tail } from "../cluster/cluster";
import { sleep, waitFor } from "./wait";

export interface Replica {
  id: string;
  tunnelPort: number;
  /** Its Prometheus metrics: tunnelPort + 1000. */
  metricsPort: number;
  child: ChildProcess;
  log: string;
}

/** True when a heartbeat tunnel answers on the port (a GET is refused with 405: it is up). */
async function tunnelUp(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/heartbeat`, {
      signal: AbortSignal.timeout(2000),
    });
    return res.status === 405;
  } catch {
    return false;
  }
}

export async function startReplica(
  id: string,
  tunnelPort: number,
  env: NodeJS.ProcessEnv = {},
): Promise<Replica> {
  if (await tunnelUp(tunnelPort)) {
    throw new Error(
      `port ${tunnelPort} already serves a tunnel: a replica of an earlier run is still running (pgrep -af replica/cli)`,
    );
  }
  const metricsPort = tunnelPort + 1000;
  mkdirSync(join(CLUSTER_DIR, "logs"), { recursive: true });
  const log = join(CLUSTER_DIR, "logs", `replica-${id}-${Date.now()}.log`);
  const fd = openSync(log, "a");
  const child = spawn(
    "npm",
    [
      "run",
      "replica",
      "--",
      "--id",
      id,
      "--tunnel-port",
      String(tunnelPort),
      "--metrics-port",
      String(metricsPort),
    ],
    { cwd: REPO_ROOT, detached: true, stdio: ["ignore", fd, fd], env: { ...process.env, ...env } },
  );
  const r = { id, tunnelPort, metricsPort, child, log };
  try {
    await waitFor(
      `replica ${id} to serve its tunnel on :${tunnelPort}`,
      async () => {
        if (child.exitCode !== null)
          throw new Error(`npm run replica exited with ${child.exitCode}`);
        return tunnelUp(tunnelPort);
      },
      120_000,
    );
  } catch (err) {
    await stopReplica(r, "SIGKILL");
    throw new Error(`${(err as Error).message}\n--- replica log ---\n${tail(log, 40)}`);
  }
  return r;
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILL: a crash. SIGTERM: a graceful stop, waited for (the replica hands its VNodes over). */
export async function stopReplica(r: Replica | undefined, signal: NodeJS.Signals): Promise<void> {
  const pid = r?.child.pid;
  if (!pid || !groupAlive(pid)) return;
  process.kill(-pid, signal);
  for (let i = 0; i < 120 && groupAlive(pid); i++) await sleep(250);
  if (groupAlive(pid)) process.kill(-pid, "SIGKILL");
}

export function replicaLog(r: Replica): string {
  return readFileSync(r.log, "utf8");
}
