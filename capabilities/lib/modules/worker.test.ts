// The worker shell with its I/O faked: a base in memory behind the BaseCommands seam, and a
// PodApi that records every status write, Event and final delete. Timers are real but short.
import { afterEach, describe, expect, it } from "@jest/globals";
import type { V1Pod, V1PodStatus } from "@kubernetes/client-node";
import type { ArkletEnvelope, BizRequest, HealthData } from "../arklet/client";
import { loadConfig } from "../config";
import type { Logger } from "../logger";
import type { BaseCommands } from "../tunnel/seam";
import { PodIndex } from "./pod-index";
import { boundPod, VNODE } from "./pods.fixture";
import { ModuleWorker, PodApi } from "./worker";

const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

const pod = (
  name: string,
  biz = "biz1",
  extra: { mutated?: boolean; deleting?: boolean } = {},
): V1Pod =>
  boundPod(name, [`${biz}:1.0.0`], { mutated: extra.mutated, terminating: extra.deleting });

/** A base in memory: what it runs, every command it got, and installs told to fail. */
class FakeBase implements BaseCommands {
  running = new Set<string>();
  calls: string[] = [];
  failInstall = new Set<string>();

  private ok(data?: unknown): ArkletEnvelope {
    return { code: "SUCCESS", data, baseIdentity: "base-a" };
  }

  private infos() {
    return [...this.running].map(k => {
      const [bizName, bizVersion] = k.split(":");
      return { bizName, bizVersion, bizState: "ACTIVATED" };
    });
  }

  async health(): Promise<ArkletEnvelope<HealthData>> {
    this.calls.push("health");
    return { code: "SUCCESS", data: {} };
  }

  async queryAllBiz() {
    this.calls.push("queryAllBiz");
    return this.ok(this.infos());
  }

  async installBiz(_b: unknown, biz: BizRequest) {
    const key = `${biz.bizName}:${biz.bizVersion}`;
    this.calls.push(`installBiz ${key}`);
    if (this.failInstall.has(key))
      return {
        code: "FAILED",
        message: "boom",
        data: { code: "INSTALL_FAILED", message: "no jar" },
      } as ArkletEnvelope;
    this.running.add(key);
    return this.ok({ bizInfos: this.infos() });
  }

  async uninstallBiz(_b: unknown, biz: BizRequest) {
    const key = `${biz.bizName}:${biz.bizVersion}`;
    this.calls.push(`uninstallBiz ${key}`);
    this.running.delete(key);
    return this.ok();
  }

  release() {}
  sightSince() {
    return 0;
  }

  count(call: string): number {
    return this.calls.filter(c => c === call).length;
  }
}

/** Records every Kubernetes call of the worker. */
class FakePods implements PodApi {
  statuses: Array<{ pod: string; status: V1PodStatus }> = [];
  events: Array<{ pod: string; type: string; reason: string; message: string }> = [];
  deleted: string[] = [];

  async writePodStatus(p: V1Pod, status: V1PodStatus) {
    this.statuses.push({ pod: p.metadata?.name ?? "", status });
  }
  async podEvent(p: V1Pod, type: string, reason: string, message: string) {
    this.events.push({ pod: p.metadata?.name ?? "", type, reason, message });
  }
  async finalDelete(p: V1Pod) {
    this.deleted.push(p.metadata?.name ?? "");
  }
  async podsOnNode() {
    return [];
  }

  reasons(name: string): string[] {
    return this.events.filter(e => e.pod === name).map(e => e.reason);
  }
  ready(name: string): boolean {
    const last = this.statuses.filter(s => s.pod === name).at(-1)?.status;
    return (last?.conditions ?? []).some(c => c.type === "Ready" && c.status === "True");
  }
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise(r => setTimeout(r, 10));
  }
  throw new Error(`never happened: ${what}`);
}

const settle = () => new Promise(r => setTimeout(r, 100));

describe("ModuleWorker (shell, faked I/O)", () => {
  let worker: ModuleWorker | undefined;
  afterEach(() => worker?.stop());

  function setup(env: Record<string, string> = {}, mayAct = () => true) {
    const base = new FakeBase();
    const api = new FakePods();
    const index = new PodIndex();
    worker = new ModuleWorker({
      vnode: VNODE,
      base: () => ({ identity: "base-a", ip: "127.0.0.9", port: 1238 }),
      commands: base,
      index,
      cfg: loadConfig(env),
      log: quiet as unknown as Logger,
      api,
      mayAct,
    });
    const w = worker;
    const event = (p: V1Pod, deleted = false) => {
      if (index.apply(p, deleted)) w.onPod(p, deleted);
    };
    return { base, api, index, worker: w, event };
  }

  it("installs a biz once for two pods that want it, and both become Ready", async () => {
    const { base, api, worker, event } = setup();
    worker.start();
    event(pod("p1"));
    event(pod("p2"));
    await eventually(() => api.ready("p1") && api.ready("p2"), "both pods Ready");
    expect(base.count("installBiz biz1:1.0.0")).toBe(1);
    expect(api.reasons("p1")).toContain("Installed");
    expect(api.statuses.find(s => s.pod === "p1")?.status.podIP).toBe("127.0.0.9");
  });

  it("shows a failed install on the pod and does not retry at once", async () => {
    const { base, api, worker, event } = setup();
    base.failInstall.add("biz1:1.0.0");
    worker.start();
    event(pod("p1"));
    await eventually(() => api.reasons("p1").includes("InstallFailed"), "a Warning Event");
    await settle();
    const failed = api.events.find(e => e.reason === "InstallFailed");
    expect(failed?.type).toBe("Warning");
    expect(failed?.message).toMatch(/biz1:1.0.0: INSTALL_FAILED: no jar \(retry in \d+s\)/);
    const shown = api.statuses.filter(s => s.pod === "p1").at(-1)?.status;
    expect(shown?.containerStatuses?.[0].state?.waiting?.reason).toBe("INSTALL_FAILED");
    expect(base.count("installBiz biz1:1.0.0")).toBe(1); // backoff: seconds, not a hot loop
  });

  it("uninstalls once and deletes a pod for good; late events of it change nothing", async () => {
    const { base, api, worker, event } = setup();
    base.running.add("biz1:1.0.0");
    worker.start();
    const gone = pod("p1", "biz1", { deleting: true });
    event(gone);
    await eventually(() => api.deleted.length === 1, "the final delete");
    expect(base.count("uninstallBiz biz1:1.0.0")).toBe(1);
    expect(api.reasons("p1")).toEqual(["Uninstalling", "Uninstalled"]);
    // the watch still had older events of the same pod in flight, before and after DELETED
    event(gone);
    event(gone, true);
    event(gone);
    await settle();
    expect(base.count("uninstallBiz biz1:1.0.0")).toBe(1);
    expect(api.deleted).toEqual(["p1"]);
  });

  it("keeps a biz another live pod wants when one of its pods is deleted", async () => {
    const { base, api, worker, event } = setup();
    base.running.add("biz1:1.0.0");
    worker.start();
    event(pod("p2"));
    event(pod("p1", "biz1", { deleting: true }));
    await eventually(() => api.deleted.includes("p1"), "the final delete");
    await settle();
    expect(base.calls.filter(c => c.startsWith("uninstallBiz"))).toEqual([]);
    expect(base.running.has("biz1:1.0.0")).toBe(true);
  });

  it("never installs a pod admission did not see: it flags it once", async () => {
    const { base, api, worker, event } = setup();
    worker.start();
    event(pod("raw", "biz1", { mutated: false }));
    event(pod("raw", "biz1", { mutated: false }));
    await eventually(() => api.reasons("raw").includes("NotAdmitted"), "a Warning Event");
    await settle();
    expect(api.reasons("raw")).toEqual(["NotAdmitted"]);
    expect(base.calls.filter(c => c.startsWith("installBiz"))).toEqual([]);
  });

  it("uninstalls a biz no pod wants once its grace is over", async () => {
    const { base, worker } = setup({ KOUPLELESS_ORPHAN_GRACE_SECONDS: "1" });
    base.running.add("stale:2.0");
    worker.start();
    await eventually(() => base.count("uninstallBiz stale:2.0") === 1, "the orphan uninstall");
    expect(base.running.size).toBe(0);
  });

  it("does nothing on a base it may no longer act for", async () => {
    const { base, api, worker, event } = setup({}, () => false);
    base.running.add("stale:2.0");
    worker.start();
    event(pod("p1"));
    await settle();
    expect(base.calls).toEqual([]);
    expect(api.statuses).toEqual([]);
  });

  it("starts with the pods the index already holds", async () => {
    const { api, index, worker } = setup();
    index.apply(pod("early"), false);
    worker.start();
    await eventually(() => api.ready("early"), "the early pod Ready");
  });
});
