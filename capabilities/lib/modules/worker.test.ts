// The worker's deletion path with its I/O faked: the Kubernetes writes are mocked, the Arklet
// client is a stub that records calls. Timers are real but short (kick(0) passes).
import { afterEach, describe, expect, it, jest } from "@jest/globals";
import type { V1Pod } from "@kubernetes/client-node";
import type { ArkletClient } from "../arklet/client";
import { loadConfig } from "../config";
import { ANNOTATION_MUTATED } from "../contract";
import type { Logger } from "../logger";
import { FinishedPods, ModuleWorker } from "./worker";
import { finalDelete } from "./kube";

jest.mock("./kube", () => ({
  podEvent: jest.fn(async () => undefined),
  finalDelete: jest.fn(async () => undefined),
  writePodStatus: jest.fn(async () => undefined),
  podsOnNode: jest.fn(async () => []),
}));

const VNODE = "vnode.base-a.dev";

function deletingPod(): V1Pod {
  return {
    metadata: {
      name: "biz1-abc",
      namespace: "team-a",
      uid: "uid-1",
      annotations: { [ANNOTATION_MUTATED]: "" },
      deletionTimestamp: new Date(Date.now() + 30_000),
    },
    spec: {
      nodeName: VNODE,
      containers: [
        {
          name: "biz1",
          image: "https://repo.example.com/biz1.jar",
          env: [{ name: "BIZ_VERSION", value: "1.0.0" }],
        },
      ],
    },
  };
}

function stubArklet() {
  const calls: string[] = [];
  const envelope = (data?: unknown) => ({ code: "SUCCESS", data, baseIdentity: "base-a" });
  const arklet = {
    queryAllBiz: async () => {
      calls.push("queryAllBiz");
      return envelope([{ bizName: "biz1", bizVersion: "1.0.0", bizState: "activated" }]);
    },
    installBiz: async () => {
      calls.push("installBiz");
      return envelope();
    },
    uninstallBiz: async () => {
      calls.push("uninstallBiz");
      return envelope();
    },
  };
  return { calls, arklet: arklet as unknown as ArkletClient };
}

const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
const settle = () => new Promise(r => setTimeout(r, 50));

describe("ModuleWorker deletion", () => {
  let worker: ModuleWorker | undefined;
  afterEach(() => worker?.stop());

  it("uninstalls once: a MODIFIED event arriving after the final delete does not start another", async () => {
    const { calls, arklet } = stubArklet();
    worker = new ModuleWorker({
      vnode: VNODE,
      base: () => ({ ip: "127.0.0.9", port: 1238 }),
      arklet,
      cfg: loadConfig({}),
      log: quiet as unknown as Logger,
    });
    await worker.poll(); // knows the biz list: biz1 is installed
    const pod = deletingPod();
    worker.onPod(pod, false);
    for (let i = 0; i < 40 && jest.mocked(finalDelete).mock.calls.length === 0; i++) await settle();
    expect(jest.mocked(finalDelete)).toHaveBeenCalledTimes(1);
    // the watch still had an older MODIFIED event of the same pod in flight, handed over
    // before and after its DELETED event
    worker.onPod(pod, false);
    worker.onPod(pod, true);
    worker.onPod(pod, false);
    await settle();
    await settle();
    expect(calls.filter(c => c === "uninstallBiz")).toHaveLength(1);
    expect(jest.mocked(finalDelete)).toHaveBeenCalledTimes(1);
  });
});

describe("FinishedPods", () => {
  const pod = (uid: string) => ({ metadata: { uid } }) as V1Pod;

  it("swallows every later event of a finished pod, its DELETED event and stale ones after it", () => {
    const f = new FinishedPods();
    f.add(pod("a"), 0);
    expect(f.lateEvent(pod("a"))).toBe(true);
    expect(f.lateEvent(pod("b"))).toBe(false);
    expect(f.lateEvent(pod("a"))).toBe(true); // its DELETED event
    expect(f.lateEvent(pod("a"))).toBe(true); // an older MODIFIED event handed over after it
  });

  it("forgets pods after ten minutes", () => {
    const f = new FinishedPods();
    f.add(pod("a"), 0);
    f.add(pod("b"), 10 * 60_000 + 1);
    expect(f.lateEvent(pod("a"))).toBe(false);
    expect(f.lateEvent(pod("b"))).toBe(true);
  });
});
