// Pod shapes shared by the unit tests of this capability (not used at runtime).
import type { V1Affinity, V1Container, V1Pod, V1Toleration } from "@kubernetes/client-node";
import { COMPONENT_MODULE, ENV_BIZ_VERSION, LABEL_COMPONENT } from "../contract";

export const JAR = "https://repo.example.com/biz1-0.0.1-ark-biz.jar";

export function biz(name: string, version?: string, image = JAR): V1Container {
  return {
    name,
    image,
    ...(version === undefined ? {} : { env: [{ name: ENV_BIZ_VERSION, value: version }] }),
  };
}

export interface PodShape {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  containers?: V1Container[];
  tolerations?: V1Toleration[];
  affinity?: V1Affinity;
  nodeName?: string;
}

/** A module pod (the label is set unless `labels` is given) with one biz1:0.0.1 by default. */
export function modulePod(s: PodShape = {}): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "p",
      namespace: "ns",
      labels: s.labels ?? { [LABEL_COMPONENT]: COMPONENT_MODULE },
      ...(s.annotations ? { annotations: s.annotations } : {}),
    },
    spec: {
      containers: s.containers ?? [biz("biz1", "0.0.1")],
      ...(s.tolerations ? { tolerations: s.tolerations } : {}),
      ...(s.affinity ? { affinity: s.affinity } : {}),
      ...(s.nodeName ? { nodeName: s.nodeName } : {}),
    },
  };
}

/** Freezes an object graph, so that a function that writes to its input throws in the test. */
export function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object" && !Object.isFrozen(o)) {
    Object.freeze(o);
    Object.values(o).forEach(deepFreeze);
  }
  return o;
}
