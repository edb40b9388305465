// `koupleless-pepr status`: arguments, where the kubeconfig comes from, and what to say when the
// API cannot be used. Pure, so that every message a user can get is tested.
import { parseArgs } from "node:util";

export const USAGE = `usage: koupleless-pepr status [--env <env>] [-n|--namespace <ns>] [--json]

Bases (VNodes) and module pods of the cluster of the current kubeconfig
($KUBECONFIG, else ~/.kube/config).

  --env <env>            only VNodes of this Koupleless env, and module pods bound to them
                         (or, before binding, tolerating that env)
  -n, --namespace <ns>   only module pods of this namespace (PODS still counts every namespace)
  --json                 one JSON object {bases: [...], modules: [...]}, untruncated
  -h, --help             this text

Bases: OWNER is the replica holding the VNode's Lease in kube-node-lease ("-" when free or
expired); MEMORY is the allocatable/capacity memory the base advertises (its metaspace, or
its heap when metaspace is unbounded).`;

export interface StatusOptions {
  env?: string;
  namespace?: string;
  json: boolean;
}

export type ParsedArgs =
  | { kind: "run"; options: StatusOptions }
  | { kind: "help" }
  | { kind: "error"; message: string };

export function parseStatusArgs(argv: string[]): ParsedArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        env: { type: "string" },
        namespace: { type: "string", short: "n" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (err) {
    return { kind: "error", message: err instanceof Error ? err.message : String(err) };
  }
  if (values.help) return { kind: "help" };
  for (const key of ["env", "namespace"] as const) {
    if (values[key] === "") return { kind: "error", message: `--${key} needs a value` };
  }
  return {
    kind: "run",
    options: { env: values.env, namespace: values.namespace, json: values.json === true },
  };
}

/** Where kubernetes-fluent-client (client-node's loadFromDefault) will read its config from. */
export type KubeconfigSource =
  | { kind: "env"; path: string }
  | { kind: "home"; path: string }
  | { kind: "in-cluster" };

export const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/**
 * The same order as loadFromDefault, minus its last resort (http://localhost:8080 without
 * credentials), which would only turn "no kubeconfig" into a puzzling connection error.
 */
export function kubeconfigSource(
  kubeconfigEnv: string | undefined,
  home: string,
  exists: (path: string) => boolean,
): KubeconfigSource | undefined {
  if (kubeconfigEnv) return { kind: "env", path: kubeconfigEnv };
  const path = `${home}/.kube/config`;
  if (home && exists(path)) return { kind: "home", path };
  if (exists(SERVICE_ACCOUNT_TOKEN)) return { kind: "in-cluster" };
  return undefined;
}

export function noKubeconfigMessage(localKubeconfig: string | undefined): string {
  const local = localKubeconfig
    ? ` For this repo's local cluster: export KUBECONFIG=${localKubeconfig}`
    : " For this repo's local cluster: npm run cluster:up, then export KUBECONFIG=$PWD/.cluster/kubeconfig";
  return `no kubeconfig: KUBECONFIG is not set and ~/.kube/config does not exist.${local}`;
}

const oneLine = (s: string) => s.replace(/\s+/g, " ").trim();

/** The error under undici's "fetch failed", as "connect ECONNREFUSED 127.0.0.1:6443". */
function networkReason(e: unknown): string {
  const cause = (e as { cause?: { message?: string; code?: string } } | undefined)?.cause;
  // an AggregateError (several addresses refused) has no message of its own, only a code
  const reason = cause?.message || cause?.code || (e as Error | undefined)?.message;
  return oneLine(reason || "unknown network error");
}

interface FailedResponse {
  status?: number;
  statusText?: string;
  data?: unknown;
  e?: unknown;
}

/**
 * One line for a failed API call. kubernetes-fluent-client throws its response object rather
 * than an Error: with `e` set when the request never got an answer, with `status` and the
 * API's Status object in `data` when it did.
 */
export function describeApiError(err: unknown, server: string, what: string): string {
  if (err instanceof Error) return oneLine(err.message);
  const r = (err ?? {}) as FailedResponse;
  if ((r.e as { cause?: unknown } | undefined)?.cause !== undefined) {
    return (
      `cannot reach the Kubernetes API at ${server}: ${networkReason(r.e)}. ` +
      "Is the cluster up? (npm run cluster:up)"
    );
  }
  if (r.e !== undefined) {
    // an answer came but could not be read (e.g. not JSON: a proxy's error page)
    return oneLine(
      `unreadable answer from the Kubernetes API at ${server} when listing ${what}: ${networkReason(r.e)}`,
    );
  }
  if (typeof r.status === "number") return httpError(r, server, what);
  return oneLine(String(err));
}

function httpError(r: FailedResponse, server: string, what: string): string {
  const body = r.data as { message?: string } | string | undefined;
  const detail = typeof body === "string" ? body : (body?.message ?? "");
  const head = `the Kubernetes API at ${server} answered ${r.status} ${r.statusText ?? ""}`.trim();
  return oneLine(`${head} when listing ${what}${detail ? `: ${detail}` : ""}`);
}
