// The few Kubernetes writes the module lifecycle makes: pod status, pod Events, final delete.
import { randomBytes } from "node:crypto";
import { fetch as kfcFetch, K8s, kind } from "kubernetes-fluent-client";
import { k8sCfg } from "kubernetes-fluent-client/dist/fluent/utils.js";
import type { FetchMethods } from "kubernetes-fluent-client/dist/fluent/shared-types.js";
import type { V1Pod, V1PodStatus } from "@kubernetes/client-node";

export const EVENT_SOURCE = "koupleless-pepr";

export async function writePodStatus(pod: V1Pod, status: V1PodStatus): Promise<void> {
  await K8s(kind.Pod).PatchStatus({
    metadata: { name: pod.metadata?.name, namespace: pod.metadata?.namespace },
    status,
  } as kind.Pod);
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
    await K8s(kind.CoreEvent).Create({
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
  const { opts, serverUrl } = await k8sCfg("DELETE" as FetchMethods);
  const url = `${serverUrl}/api/v1/namespaces/${pod.metadata?.namespace}/pods/${pod.metadata?.name}`;
  const body = JSON.stringify({ gracePeriodSeconds: 0, preconditions: { uid: pod.metadata?.uid } });
  // the client's headers already carry Content-Type: application/json; a second one is a 415
  const res = await kfcFetch(url, { ...opts, method: "DELETE", body });
  if (!res.ok && res.status !== 404 && res.status !== 409) {
    throw new Error(
      `deleting pod ${pod.metadata?.namespace}/${pod.metadata?.name}: HTTP ${res.status} ${res.statusText}`,
    );
  }
}

/** Pods bound to a Node, module or not (field selector: one small LIST). */
export async function podsOnNode(node: string): Promise<V1Pod[]> {
  return (await K8s(kind.Pod).WithField("spec.nodeName", node).Get()).items;
}
