// The cluster side of `koupleless-pepr status`: three read-only list calls. Kept apart from
// cli.ts and loaded only when needed, because loading kubernetes-fluent-client takes seconds
// and --help or a bad option should answer at once.
import { K8s, kind, waitForCluster } from "kubernetes-fluent-client";
import type { V1Node, V1Pod } from "@kubernetes/client-node";
import {
  COMPONENT_MODULE,
  COMPONENT_VNODE,
  COMPONENT_VNODE_LEASE,
  LABEL_COMPONENT,
  NODE_LEASE_NAMESPACE,
} from "../../capabilities/lib/contract";
import { Lease } from "../../capabilities/lib/kinds";
import { describeApiError } from "./args";

/** An error whose message is all the user needs: printed as one line, no stack. */
export class CliError extends Error {}

/** A hung apiserver (accepting connections, never answering) must not hang the CLI. */
const API_TIMEOUT_MS = 30_000;

/** The server of the current context, read exactly as every later K8s() call will read it. */
export async function apiServer(where: string): Promise<string> {
  try {
    return (await waitForCluster(0)).server;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new CliError(`cannot use the kubeconfig ${where}: ${why.split("\n")[0]}`);
  }
}

async function list<T>(server: string, what: string, call: () => Promise<{ items: T[] }>) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    const msg = `the Kubernetes API at ${server} did not answer within ${API_TIMEOUT_MS / 1000}s when listing ${what}`;
    timer = setTimeout(() => reject(new CliError(msg)), API_TIMEOUT_MS);
  });
  try {
    return (await Promise.race([call(), timeout])).items;
  } catch (err) {
    throw err instanceof CliError ? err : new CliError(describeApiError(err, server, what));
  } finally {
    clearTimeout(timer);
  }
}

export interface Snapshot {
  nodes: V1Node[];
  leases: Lease[];
  pods: V1Pod[];
}

/** Every VNode, VNode Lease and module pod; filters are applied afterwards, on rows. */
export async function snapshot(server: string): Promise<Snapshot> {
  const [nodes, leases, pods] = await Promise.all([
    list(server, "nodes", () => K8s(kind.Node).WithLabel(LABEL_COMPONENT, COMPONENT_VNODE).Get()),
    list(server, "leases", () =>
      K8s(Lease)
        .InNamespace(NODE_LEASE_NAMESPACE)
        .WithLabel(LABEL_COMPONENT, COMPONENT_VNODE_LEASE)
        .Get(),
    ),
    list(server, "pods", () => K8s(kind.Pod).WithLabel(LABEL_COMPONENT, COMPONENT_MODULE).Get()),
  ]);
  return { nodes, leases, pods };
}
