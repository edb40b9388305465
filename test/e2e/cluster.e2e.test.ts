// The local control plane behaves like a real cluster where this module needs it:
// node leases drive node health, the node-lifecycle controller taints silent nodes,
// Deployments make pods, and the scheduler binds pods that tolerate VNode taints.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { K8s, kind } from "kubernetes-fluent-client";
import { Lease, microTime } from "../../capabilities/lib/kinds";
import {
  NODE_LEASE_NAMESPACE,
  TAINT_EFFECT,
  TAINT_VIRTUAL_NODE,
  TAINT_VIRTUAL_NODE_VALUE,
} from "../../capabilities/lib/contract";
import { graceSeconds, readState } from "../../hack/cluster/cluster";
import { createNamespace, kubectl, sleep, waitFor } from "./kube";

const suffix = Date.now().toString(36);
const healthy = `e2e-healthy-${suffix}`;
const silent = `e2e-silent-${suffix}`;
const UNREACHABLE = "node.kubernetes.io/unreachable";
const vnodeToleration = {
  key: TAINT_VIRTUAL_NODE,
  operator: "Equal",
  value: TAINT_VIRTUAL_NODE_VALUE,
  effect: TAINT_EFFECT,
};

async function createNode(name: string): Promise<void> {
  await K8s(kind.Node).Apply({
    metadata: { name, labels: { "e2e.koupleless.io/node": name } },
    spec: {
      taints: [{ key: TAINT_VIRTUAL_NODE, value: TAINT_VIRTUAL_NODE_VALUE, effect: TAINT_EFFECT }],
    },
  });
  const now = new Date().toISOString();
  await K8s(kind.Node).PatchStatus({
    metadata: { name },
    status: {
      capacity: { cpu: "8", memory: "16Gi", pods: "110" },
      allocatable: { cpu: "8", memory: "16Gi", pods: "110" },
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "E2E",
          message: "test node",
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        },
      ],
    },
  } as unknown as kind.Node);
  await renewLease(name);
}

async function renewLease(name: string): Promise<void> {
  await K8s(Lease).Apply(
    {
      metadata: { name, namespace: NODE_LEASE_NAMESPACE },
      spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: microTime() },
    },
    { force: true },
  );
}

const taintKeys = async (name: string) =>
  ((await K8s(kind.Node).Get(name)).spec?.taints ?? []).map(t => t.key);
const readyStatus = async (name: string) =>
  (await K8s(kind.Node).Get(name)).status?.conditions?.find(c => c.type === "Ready")?.status;

describe("local control plane", () => {
  let renewer: NodeJS.Timeout;
  let ns: string;
  const seenOnHealthy = new Set<string>();

  let createdAt = 0;

  beforeAll(async () => {
    ns = await createNamespace("e2e-cluster");
    createdAt = Date.now();
    await createNode(healthy);
    await createNode(silent);
    renewer = setInterval(() => {
      renewLease(healthy).catch(() => undefined);
      taintKeys(healthy)
        .then(keys => keys.forEach(k => seenOnHealthy.add(k ?? "")))
        .catch(() => undefined);
    }, 2000);
  });

  afterAll(async () => {
    clearInterval(renewer);
    await K8s(kind.Node).Delete(healthy);
    await K8s(kind.Node).Delete(silent);
    await kubectl(["delete", "namespace", ns, "--wait=false"]);
  });

  it("the node-lifecycle controller lifts not-ready from a node whose Lease is renewed", async () => {
    await waitFor(
      "not-ready taint removed",
      async () => !(await taintKeys(healthy)).includes("node.kubernetes.io/not-ready"),
    );
  });

  it("schedules a tolerating Deployment's pods onto the VNode-tainted node", async () => {
    const labels = { app: "tolerating" };
    await K8s(kind.Deployment).Apply({
      metadata: { name: "tolerating", namespace: ns },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            // keeps the silent node out of the picture
            nodeSelector: { "e2e.koupleless.io/node": healthy },
            tolerations: [vnodeToleration],
            containers: [{ name: "c", image: "example.invalid/app:1" }],
          },
        },
      },
    });
    const pods = await waitFor(
      "2 pods bound",
      async () => {
        const list = await K8s(kind.Pod).InNamespace(ns).WithLabel("app", "tolerating").Get();
        return list.items.length === 2 && list.items.every(p => p.spec?.nodeName)
          ? list.items
          : undefined;
      },
      90_000,
    );
    expect(pods.map(p => p.spec?.nodeName)).toEqual([healthy, healthy]);
  });

  it("leaves a pod without the toleration Pending and unschedulable", async () => {
    await K8s(kind.Pod).Apply({
      metadata: { name: "intolerant", namespace: ns },
      spec: { containers: [{ name: "c", image: "example.invalid/app:1" }] },
    });
    const cond = await waitFor("PodScheduled=False", async () => {
      const pod = await K8s(kind.Pod).InNamespace(ns).Get("intolerant");
      return pod.status?.conditions?.find(c => c.type === "PodScheduled" && c.status === "False");
    });
    expect(cond.reason).toBe("Unschedulable");
    await sleep(3000);
    const pod = await K8s(kind.Pod).InNamespace(ns).Get("intolerant");
    expect(pod.spec?.nodeName).toBeUndefined();
    expect(pod.status?.phase).toBe("Pending");
  });

  it("taints a node whose Lease stops being renewed as unreachable", async () => {
    const keys = await waitFor(
      "unreachable taint on the silent node",
      async () => {
        const k = await taintKeys(silent);
        return k.includes(UNREACHABLE) ? k : undefined;
      },
      120_000,
    );
    expect(keys).toContain(UNREACHABLE);
    expect(await readyStatus(silent)).toBe("Unknown");
  });

  it("keeps the renewed node Ready past the grace period, never tainted unreachable", async () => {
    const grace = graceSeconds(readState()?.options.nodeMonitorGracePeriod ?? "50s");
    await sleep(Math.max(0, createdAt + (grace + 10) * 1000 - Date.now()));
    expect(await readyStatus(healthy)).toBe("True");
    expect(seenOnHealthy.size).toBeGreaterThan(0);
    expect([...seenOnHealthy]).not.toContain(UNREACHABLE);
    expect(await taintKeys(healthy)).toEqual([TAINT_VIRTUAL_NODE]);
  });
});
