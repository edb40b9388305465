import { describe, expect, it } from "@jest/globals";
import type { V1NodeStatus } from "@kubernetes/client-node";
import {
  baseFromVNode,
  binaryQuantity,
  buildVNode,
  metadataPatch,
  desiredStatus,
  fingerprint,
  memoryFrom,
  withTimes,
} from "./node";
import type { BaseStatus } from "../tunnel/heartbeat";

const base: BaseStatus = {
  baseMetadata: { identity: "10.244.1.7", name: "base", version: "1.0.0", clusterName: "default" },
  localIP: "10.244.1.7",
  localHostName: "base-7d9f",
  port: 1238,
  state: "activated",
};
const jvm = (maxMeta: number) => ({
  healthData: {
    jvm: {
      "java max metaspace": maxMeta,
      "java committed metaspace": 64 * 1024 * 1024,
      "max memory(M)": 2048,
      "total memory(M)": 512,
      "free memory(M)": 256,
    },
    cpu: { count: 4 },
  },
});

describe("buildVNode", () => {
  it("names, labels and taints the Node exactly as the contract says", () => {
    expect(buildVNode(base, "dev")).toEqual({
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: "vnode.10.244.1.7.dev",
        annotations: { "koupleless-pepr.io/base-address": "10.244.1.7" },
        labels: {
          "virtual-kubelet.koupleless.io/component": "vnode",
          "virtual-kubelet.koupleless.io/env": "dev",
          "base.koupleless.io/name": "base",
          "base.koupleless.io/version": "1.0.0",
          "base.koupleless.io/cluster-name": "default",
          "base.koupleless.io/host-name": "base-7d9f",
          "base.koupleless.io/tunnel-port": "1238",
          "kubernetes.io/hostname": "base-7d9f",
          type: "virtual-kubelet",
          "kubernetes.io/role": "agent",
        },
      },
      spec: {
        taints: [
          { key: "schedule.koupleless.io/virtual-node", value: "True", effect: "NoExecute" },
          { key: "schedule.koupleless.io/node-env", value: "dev", effect: "NoExecute" },
        ],
      },
    });
  });

  it("round-trips through baseFromVNode (adoption after a restart)", () => {
    const node = buildVNode(base, "dev");
    node.status = desiredStatus(base, undefined, {
      reachable: true,
      silentSeconds: 0,
      address: "",
    });
    expect(baseFromVNode(node)).toEqual(base);
  });

  it("does not adopt Nodes of another env or component", () => {
    const node = buildVNode(base, "prod");
    node.metadata!.labels!["virtual-kubelet.koupleless.io/component"] = "other";
    expect(baseFromVNode(node)).toBeUndefined();
  });
});

describe("binaryQuantity", () => {
  it.each([
    [1024, "1Ki"],
    [1536 * 1024, "1536Ki"],
    [256 * 1024 * 1024, "256Mi"],
    [2 * 1024 ** 3, "2Gi"],
    [1000, "0Ki"],
  ])("%d bytes is %s", (b, q) => expect(binaryQuantity(b)).toBe(q));
});

describe("memoryFrom", () => {
  const MI = 1024 * 1024;
  const heap = (jvm: Record<string, number>) => ({ healthData: { jvm } });
  it("uses metaspace like upstream: capacity = max, allocatable = max - committed", () => {
    expect(memoryFrom(jvm(256 * MI))).toEqual({ capacity: "256Mi", allocatable: "192Mi" });
  });
  it.each([
    // committed metaspace → allocatable of a 256 MiB max, in 16 MiB steps (ADR 7)
    [64 * MI, "192Mi"],
    [64 * MI + 1, "176Mi"],
    [79 * MI, "176Mi"],
    [80 * MI, "176Mi"],
    [81 * MI, "160Mi"],
    [300 * MI, "0Ki"],
  ])("metaspace: committed %d bytes gives allocatable %s", (committed, allocatable) => {
    const m = memoryFrom(
      heap({ "java max metaspace": 256 * MI, "java committed metaspace": committed }),
    );
    expect(m).toEqual({ capacity: "256Mi", allocatable });
  });
  it("never advertises 0 when max metaspace is -1: the max heap, for capacity and allocatable", () => {
    expect(memoryFrom(jvm(-1))).toEqual({ capacity: "2Gi", allocatable: "2Gi" });
  });
  it.each([
    // a live JVM: used and free heap change on every /health, the limits do not
    [{ "total memory(M)": 512, "free memory(M)": 17 }],
    [{ "total memory(M)": 900, "free memory(M)": 311 }],
    [{ "used heap memory(M)": 1999, "committed heap memory(M)": 2048 }],
  ])("with max metaspace -1, heap usage %j does not move the figures", usage => {
    const m = memoryFrom(
      heap({
        "java max metaspace": -1,
        "max memory(M)": 2048,
        "max heap memory(M)": 2048,
        ...usage,
      }),
    );
    expect(m).toEqual({ capacity: "2Gi", allocatable: "2Gi" });
  });
  it.each([
    ["the heap pool's max first", { "max heap memory(M)": 1024, "max memory(M)": 990 }, "1Gi"],
    [
      "Runtime.maxMemory() when the pool has no max",
      { "max heap memory(M)": -1, "max memory(M)": 990 },
      "990Mi",
    ],
  ])("reads %s", (_what, jvmData, q) => {
    expect(memoryFrom(heap({ "java max metaspace": -1, ...jvmData }))?.capacity).toBe(q);
  });
  it("is undefined without health data or any max", () => {
    expect(memoryFrom(undefined)).toBeUndefined();
    expect(memoryFrom(heap({ "java max metaspace": -1 }))).toBeUndefined();
  });
});

describe("desiredStatus", () => {
  const up = { reachable: true, silentSeconds: 0, address: "10.244.1.7:1238" };
  it("is Ready with addresses and capacity", () => {
    const s = desiredStatus(base, jvm(-1), up);
    expect(s.conditions?.[0]).toMatchObject({ type: "Ready", status: "True", reason: "BaseReady" });
    expect(s.addresses).toEqual([
      { type: "InternalIP", address: "10.244.1.7" },
      { type: "Hostname", address: "base-7d9f" },
    ]);
    expect(s.capacity).toEqual({ pods: "65535", memory: "2Gi", cpu: "4" });
  });
  it("is Ready=False with the reason when the base is silent", () => {
    const s = desiredStatus(base, jvm(-1), { ...up, reachable: false, silentSeconds: 31 });
    expect(s.conditions?.[0]).toMatchObject({
      type: "Ready",
      status: "False",
      reason: "BaseUnreachable",
      message: "Arklet at 10.244.1.7:1238 has not answered for 31s",
    });
  });
});

describe("fingerprint and withTimes", () => {
  const up = { reachable: true, silentSeconds: 0, address: "a" };
  it("ignores times and the NotReady seconds counter", () => {
    const a = desiredStatus(base, jvm(-1), { ...up, reachable: false, silentSeconds: 30 });
    const b = desiredStatus(base, jvm(-1), { ...up, reachable: false, silentSeconds: 40 });
    expect(fingerprint(withTimes(a, undefined, new Date(1)))).toBe(fingerprint(b));
  });
  it("does not change with the heap's every breath (max metaspace -1)", () => {
    const breath = (free: number) => ({
      healthData: { jvm: { ...jvm(-1).healthData.jvm, "free memory(M)": free }, cpu: { count: 4 } },
    });
    expect(fingerprint(desiredStatus(base, breath(100), up))).toBe(
      fingerprint(desiredStatus(base, breath(400), up)),
    );
  });
  it("is the same for the status read back from the apiserver (its key order, no empty messages)", () => {
    const written = withTimes(desiredStatus(base, jvm(-1), up), undefined, new Date(1));
    const readBack = JSON.parse(JSON.stringify(written), (_k, v: unknown) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(
            Object.entries(v as Record<string, unknown>)
              .filter(([, x]) => x !== "")
              .sort(([a], [b]) => a.localeCompare(b)),
          )
        : v,
    ) as V1NodeStatus;
    expect(Object.keys(readBack.addresses![0])).toEqual(["address", "type"]);
    expect(fingerprint(readBack)).toBe(fingerprint(desiredStatus(base, jvm(-1), up)));
  });
  it("sees a change of readiness or capacity", () => {
    const a = desiredStatus(base, jvm(-1), up);
    expect(fingerprint(a)).not.toBe(
      fingerprint(desiredStatus(base, jvm(-1), { ...up, reachable: false })),
    );
    expect(fingerprint(a)).not.toBe(fingerprint(desiredStatus(base, jvm(512 * 1024 * 1024), up)));
  });
  it("keeps lastTransitionTime while the status stays the same", () => {
    const then = new Date(1000);
    const current = withTimes(desiredStatus(base, undefined, up), undefined, then) as V1NodeStatus;
    const next = withTimes(desiredStatus(base, undefined, up), current, new Date(5000));
    expect(next.conditions?.[0].lastTransitionTime).toEqual(then);
    expect(next.conditions?.[0].lastHeartbeatTime).toEqual(new Date(5000));
    const flipped = withTimes(
      desiredStatus(base, undefined, { ...up, reachable: false }),
      current,
      new Date(6000),
    );
    expect(flipped.conditions?.[0].lastTransitionTime).toEqual(new Date(6000));
  });
});

describe("metadataPatch", () => {
  const want = buildVNode(base, "dev");
  it("is empty when labels and annotation are already there (extra keys are left alone)", () => {
    const current = {
      metadata: {
        labels: { ...want.metadata?.labels, extra: "x" },
        annotations: { ...want.metadata?.annotations, other: "y" },
      },
    };
    expect(metadataPatch(current, want)).toEqual([]);
  });
  it("adds the annotation map when the Node has none (a VNode made by an older version)", () => {
    const current = { metadata: { labels: want.metadata?.labels } };
    expect(metadataPatch(current, want)).toEqual([
      {
        op: "add",
        path: "/metadata/annotations",
        value: { "koupleless-pepr.io/base-address": "10.244.1.7" },
      },
    ]);
  });
  it("patches only changed keys, escaping '/' in them", () => {
    const moved = buildVNode({ ...base, localIP: "10.0.0.9", port: 1239 }, "dev");
    expect(metadataPatch(want, moved)).toEqual([
      { op: "add", path: "/metadata/labels/base.koupleless.io~1tunnel-port", value: "1239" },
      {
        op: "add",
        path: "/metadata/annotations/koupleless-pepr.io~1base-address",
        value: "10.0.0.9",
      },
    ]);
  });
});

describe("baseFromVNode", () => {
  it("prefers the address annotation (newest heartbeat) over the status address", () => {
    const node = buildVNode({ ...base, localIP: "10.0.0.9" }, "dev");
    node.status = { addresses: [{ type: "InternalIP", address: "10.244.1.7" }] };
    expect(baseFromVNode(node)?.localIP).toBe("10.0.0.9");
  });
});
