// Pepr's controller runs as PID 1 and forks the module; it has no SIGTERM handler, and PID 1
// ignores signals it does not handle, so the module never hears that its Pod is stopping and
// is killed at the end of the grace period, mid-work, with its Leases left to expire. The
// module therefore watches its own Pod: a deletionTimestamp is the stop signal.
import { errText } from "../errors";
import type { Logger } from "../logger";
import { getIfPresent } from "./api";

interface PodMeta {
  metadata?: { deletionTimestamp?: string | Date };
}

export type OwnPodOutcome = "deleting" | "not a pod" | "stopped";

export interface OwnPodDeps {
  get(path: string): Promise<PodMeta | undefined>;
  sleep(ms: number): Promise<void>;
  stopped(): boolean;
  log: Logger;
}

export const ownPodPath = (ns: string, name: string) => `/api/v1/namespaces/${ns}/pods/${name}`;

/**
 * Resolves once the Pod is being deleted. Outside a Pod (`pepr dev`, `npm run replica`) the
 * first GET finds nothing and it gives up at once; API errors are logged and retried.
 */
export async function untilOwnPodDeleting(
  path: string,
  everyMs: number,
  deps: OwnPodDeps,
): Promise<OwnPodOutcome> {
  let seen = false;
  while (!deps.stopped()) {
    try {
      const pod = await deps.get(path);
      // gone after we saw it: deleted already, no grace left to wait for
      if (!pod) return seen ? "deleting" : "not a pod";
      seen = true;
      if (pod.metadata?.deletionTimestamp) return "deleting";
    } catch (err) {
      deps.log.warn({ err: errText(err) }, "cannot read our own Pod");
    }
    await deps.sleep(everyMs);
  }
  return "stopped";
}

/** Calls onDeleting when this process's Pod starts terminating; only where it runs in a Pod. */
export function onOwnPodDeletion(
  env: Record<string, string | undefined>,
  namespace: string,
  log: Logger,
  onDeleting: () => void,
): void {
  if (!env.KUBERNETES_SERVICE_HOST || !env.HOSTNAME) return;
  void untilOwnPodDeleting(ownPodPath(namespace, env.HOSTNAME), 1000, {
    get: getIfPresent,
    sleep: ms => new Promise(res => setTimeout(res, ms).unref()),
    stopped: () => false,
    log,
  }).then(outcome => {
    if (outcome === "deleting") onDeleting();
  });
}
