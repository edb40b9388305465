// Kinds that kubernetes-fluent-client does not know: registered once, here.
import { GenericKind, RegisterKind } from "kubernetes-fluent-client";

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export class Lease extends GenericKind {
  spec?: LeaseSpec;
}

RegisterKind(Lease, {
  group: "coordination.k8s.io",
  version: "v1",
  kind: "Lease",
  plural: "leases",
});

/** A PeprStore object: how our queue shards are stored (the controller writes them with
 * kube/api.ts; tests and tools read them through kubernetes-fluent-client). */
export class PeprStore extends GenericKind {
  data?: Record<string, string>;
}

RegisterKind(PeprStore, {
  group: "pepr.dev",
  version: "v1",
  kind: "PeprStore",
  plural: "peprstores",
});

/** Kubernetes MicroTime: RFC 3339 with microseconds, as Lease renewTime requires. */
export function microTime(date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
