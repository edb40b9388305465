// Small helpers the e2e suites share: polling, namespaces, kubectl from the cluster build.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { K8s, kind } from "kubernetes-fluent-client";
import { readState } from "../../hack/cluster/cluster";

export { sleep, waitFor } from "../../hack/dev/wait";
import { waitFor } from "../../hack/dev/wait";

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

/** The pod, or undefined when it does not exist (or cannot be read). */
export async function getPod(ns: string, name: string): Promise<kind.Pod | undefined> {
  try {
    return await K8s(kind.Pod).InNamespace(ns).Get(name);
  } catch {
    return undefined;
  }
}

export const isReady = (p: kind.Pod | undefined): boolean =>
  p?.status?.conditions?.some(c => c.type === "Ready" && c.status === "True") ?? false;

/** A biz jar URL the fake bases accept (they never download it). */
export const jar = (name: string, v: string) => `file:///opt/biz/${name}-${v}-ark-biz.jar`;

/** A Deployment of module pods with one biz, selected by app=<biz> (in ns, or where applied). */
export function moduleDeployment(
  ns: string | undefined,
  biz: string,
  version: string,
  replicas: number,
): kind.Deployment {
  const labels = { app: biz, "virtual-kubelet.koupleless.io/component": "module" };
  const env = [{ name: "BIZ_VERSION", value: version }];
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: biz, ...(ns ? { namespace: ns } : {}) },
    spec: {
      replicas,
      selector: { matchLabels: { app: biz } },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: biz, image: jar(biz, version), env }] },
      },
    },
  };
}
