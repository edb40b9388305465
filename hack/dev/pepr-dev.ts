// Runs `npm run dev` (npx pepr dev --host localhost --yes) for a suite, the way a capability
// author would, and tears it down including the webhooks it registered: pepr dev only
// removes them on a clean child exit, and a dangling failurePolicy=Fail webhook would block
// every later pod create.
import { ChildProcess, spawn } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { K8s, kind } from "kubernetes-fluent-client";
import cfg from "../../package.json";
import { CLUSTER_DIR, REPO_ROOT, tail } from "../cluster/cluster";
import { sleep, waitFor } from "./wait";

export const WEBHOOK_NAME = `pepr-${cfg.pepr.uuid}`;

export interface PeprDev {
  child: ChildProcess;
  log: string;
}

function healthz(): Promise<boolean> {
  return new Promise(res => {
    const req = request(
      "https://localhost:3000/healthz",
      { rejectUnauthorized: false, timeout: 2000 },
      r => {
        r.resume();
        res(r.statusCode === 200);
      },
    );
    req.on("error", () => res(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

export async function startPeprDev(env: NodeJS.ProcessEnv = {}): Promise<PeprDev> {
  mkdirSync(join(CLUSTER_DIR, "logs"), { recursive: true });
  const log = join(CLUSTER_DIR, "logs", `pepr-dev-${Date.now()}.log`);
  const fd = openSync(log, "a");
  const child = spawn("npm", ["run", "dev"], {
    cwd: REPO_ROOT,
    detached: true, // own process group, so that stop kills npm, pepr dev and its fork together
    stdio: ["ignore", fd, fd],
    env: { ...process.env, ...env },
  });
  const dev = { child, log };
  try {
    await waitFor(
      "pepr dev to serve /healthz and register its webhook",
      async () => {
        if (child.exitCode !== null) throw new Error(`npm run dev exited with ${child.exitCode}`);
        const hook = await K8s(kind.MutatingWebhookConfiguration).Get(WEBHOOK_NAME);
        return hook && (await healthz());
      },
      240_000,
    );
  } catch (err) {
    await stopPeprDev(dev);
    throw new Error(`${(err as Error).message}\n--- pepr dev log ---\n${tail(log, 40)}`);
  }
  return dev;
}

function groupAlive(group: number): boolean {
  try {
    process.kill(group, 0);
    return true;
  } catch {
    return false;
  }
}

export async function stopPeprDev(dev: PeprDev | undefined): Promise<void> {
  if (!dev?.child.pid) return;
  const group = -dev.child.pid;
  try {
    process.kill(group, "SIGTERM"); // the controller hands its VNodes over, then exits
    for (let i = 0; i < 60 && groupAlive(group); i++) await sleep(250);
    if (groupAlive(group)) process.kill(group, "SIGKILL");
  } catch {
    // already gone
  }
  await K8s(kind.MutatingWebhookConfiguration).Delete(WEBHOOK_NAME);
  await K8s(kind.ValidatingWebhookConfiguration).Delete(WEBHOOK_NAME);
}
