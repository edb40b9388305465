// Module pods bound to a VNode, for the unit tests of the worker and its planner (not used at
// runtime).
import type { V1Pod, V1PodStatus } from "@kubernetes/client-node";
import { ANNOTATION_MUTATED } from "../contract";

export const VNODE = "vnode.base-a.dev";

export interface BoundPodShape {
  /** Being deleted (a deletionTimestamp 30 s ahead of `now`). */
  terminating?: boolean;
  /** Seen by admission (the mutated annotation); true unless false is given. */
  mutated?: boolean;
  status?: V1PodStatus;
  now?: number;
}

/** A pod with one container per "name:version" biz, bound to VNODE, named and UID'd by name. */
export function boundPod(name: string, bizzes: string[], s: BoundPodShape = {}): V1Pod {
  return {
    metadata: {
      name,
      namespace: "team-a",
      uid: `uid-${name}`,
      annotations: s.mutated === false ? {} : { [ANNOTATION_MUTATED]: "" },
      deletionTimestamp: s.terminating ? new Date((s.now ?? Date.now()) + 30_000) : undefined,
    },
    spec: {
      nodeName: VNODE,
      containers: bizzes.map(key => {
        const [bizName, version] = key.split(":");
        return {
          name: bizName,
          image: `https://repo.example.com/${bizName}-${version}.jar`,
          env: [{ name: "BIZ_VERSION", value: version }],
        };
      }),
    },
    status: s.status,
  };
}
