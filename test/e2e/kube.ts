// Small helpers the e2e suites share: polling, namespaces, kubectl from the cluster build.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { K8s, kind } from "kubernetes-fluent-client";
import { readState } from "../../hack/cluster/cluster";

export const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** Polls fn until it returns a truthy value; fails with `what` and the last value seen. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false | "">,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last as T;
    } catch (err) {
      last = err;
    }
    await sleep(500);
  }
  throw new Error(
    `timed out after ${timeoutMs / 1000}s waiting for ${what}; last: ${JSON.stringify(last)}`,
  );
}

/** Creates a namespace and waits for its default ServiceAccount (made by kube-controller-manager). */
export async function createNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${Date.now().toString(36)}`;
  await K8s(kind.Namespace).Apply({ metadata: { name } });
  await waitFor(`ServiceAccount ${name}/default`, async () =>
    K8s(kind.ServiceAccount).InNamespace(name).Get("default"),
  );
  return name;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the kubectl built with the cluster (same version) against the test cluster. */
export function kubectl(args: string[], stdin?: string): Promise<KubectlResult> {
  const state = readState();
  const bin = state ? join(state.binDir, "kubectl") : "kubectl";
  return new Promise(res => {
    const child = execFile(bin, args, { env: process.env }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}
