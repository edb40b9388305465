// The few Kubernetes writes the module lifecycle makes: pod status, pod Events, final delete.
import { randomBytes } from "node:crypto";
import type { V1Pod, V1PodStatus } from "@kubernetes/client-node";
import { apiRequest, MERGE_PATCH } from "../kube/api";
import { isConflict, isNotFound } from "../errors";

export const EVENT_SOURCE = "koupleless-pepr";

const podPath = (pod: V1Pod) =>
  `/api/v1/namespaces/${pod.metadata?.namespace}/pods/${pod.metadata?.name}`;

/** A merge patch of the status subresource, on the kept-alive connection (it is on the install path). */
export async function writePodStatus(pod: V1Pod, status: V1PodStatus): Promise<void> {
  await apiRequest("PATCH", `${podPath(pod)}/status`, { status }, MERGE_PATCH);
}

/** Records a Kubernetes Event on the pod; never throws (an Event is worth less than the work). */
export async function podEvent(
  pod: V1Pod,
  type: "Normal" | "Warning",
  reason: string,
  message: string,
): Promise<void> {
  const now = new Date();
  const name = `${pod.metadata?.name}.${randomBytes(6).toString("hex")}`;
  try {
    await apiRequest("POST", `/api/v1/namespaces/${pod.metadata?.namespace}/events`, {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name, namespace: pod.metadata?.namespace },
      involvedObject: {
        apiVersion: "v1",
        kind: "Pod",
        name: pod.metadata?.name,
        namespace: pod.metadata?.namespace,
        uid: pod.metadata?.uid,
      },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: EVENT_SOURCE, host: pod.spec?.nodeName },
      reportingComponent: EVENT_SOURCE,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    });
  } catch {
    // best effort
  }
}

/** Deletes the pod at once, but only the pod we looked at (UID precondition). 404 and 409 mean done. */
export async function finalDelete(pod: V1Pod): Promise<void> {
  const body = { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata?.uid } };
  try {
    await apiRequest("DELETE", podPath(pod), body);
  } catch (err) {
    if (!isNotFound(err) && !isConflict(err)) throw err;
  }
}

/** Pods bound to a Node, module or not (field selector: one small LIST). */
export async function podsOnNode(node: string): Promise<V1Pod[]> {
  const selector = encodeURIComponent(`spec.nodeName=${node}`);
  return (await apiRequest<{ items: V1Pod[] }>("GET", `/api/v1/pods?fieldSelector=${selector}`))
    .items;
}
