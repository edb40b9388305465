// The heartbeat Service: the one address bases point at, in front of every watcher replica.
// dist/ and the Helm chart ship it; `npx pepr deploy` cannot (Pepr 1.1.4 applies only its own
// objects), so the watcher makes it when it is missing (../kube/tunnel-service.ts).
import pkg from "../../../package.json";
import { MODULE_NAMESPACE } from "../contract";

export const WATCHER_DEPLOYMENT = `pepr-${pkg.pepr.uuid}-watcher`;
export const TUNNEL_SERVICE = `pepr-${pkg.pepr.uuid}-tunnel`;

/** Pepr's labels on the watcher pods, on every route. */
export const WATCHER_SELECTOR = { app: WATCHER_DEPLOYMENT, "pepr.dev/controller": "watcher" };

export interface Owner {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

/**
 * The Service object. `targetPort` is the number, not the port's name: Pepr's own watcher
 * Deployment names no `tunnel` port. An owner makes the Service go with its Deployment.
 */
export function tunnelService(port: number, owner?: Owner) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: TUNNEL_SERVICE,
      namespace: MODULE_NAMESPACE,
      labels: { "pepr.dev/controller": "watcher" },
      ...(owner ? { ownerReferences: [{ ...owner, blockOwnerDeletion: false }] } : {}),
    },
    spec: {
      selector: WATCHER_SELECTOR,
      ports: [{ name: "tunnel", port, targetPort: port, protocol: "TCP" }],
    },
  };
}
