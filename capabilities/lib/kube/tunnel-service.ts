// Makes the heartbeat Service when the module runs as Pepr's watcher Deployment and the
// Service is missing (`npx pepr deploy`). An existing Service is never touched: dist/ and Helm
// own theirs, and a platform team may have changed its type. Without the Deployment (`pepr
// dev`, `npm run replica`) there is nothing to own the Service, so nothing is made.
import { errText, isConflict } from "../errors";
import type { Logger } from "../logger";
import { MODULE_NAMESPACE } from "../contract";
import { Owner, TUNNEL_SERVICE, tunnelService, WATCHER_DEPLOYMENT } from "../tunnel/service";
import { apiRequest, getIfPresent } from "./api";

export type ServiceOutcome = "present" | "created" | "no watcher Deployment" | "raced";

export interface ServiceDeps {
  get<T>(path: string): Promise<T | undefined>;
  create(path: string, body: unknown): Promise<unknown>;
}

const SERVICES = `/api/v1/namespaces/${MODULE_NAMESPACE}/services`;
const DEPLOYMENT = `/apis/apps/v1/namespaces/${MODULE_NAMESPACE}/deployments/${WATCHER_DEPLOYMENT}`;

export async function ensureTunnelService(
  port: number,
  deps: ServiceDeps,
): Promise<ServiceOutcome> {
  if (await deps.get(`${SERVICES}/${TUNNEL_SERVICE}`)) return "present";
  const d = await deps.get<{ metadata?: { uid?: string } }>(DEPLOYMENT);
  const uid = d?.metadata?.uid;
  if (!uid) return "no watcher Deployment";
  const owner: Owner = { apiVersion: "apps/v1", kind: "Deployment", name: WATCHER_DEPLOYMENT, uid };
  try {
    await deps.create(SERVICES, tunnelService(port, owner));
    return "created";
  } catch (err) {
    // every replica starts with this: one of them makes it
    if (isConflict(err)) return "raced";
    throw err;
  }
}

/** The watcher's call: in the background; a failure is logged, the tunnel still listens. */
export function ensureTunnelServiceInBackground(port: number, log: Logger): void {
  ensureTunnelService(port, {
    get: getIfPresent,
    create: (path, body) => apiRequest("POST", path, body),
  })
    .then(outcome => {
      log.info({ port }, `heartbeat Service ${MODULE_NAMESPACE}/${TUNNEL_SERVICE}: ${outcome}`);
    })
    .catch(err =>
      log.warn({ err: errText(err) }, `cannot make the heartbeat Service ${TUNNEL_SERVICE}`),
    );
}
