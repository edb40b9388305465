// Module pods become bizzes on bases: real scheduler, real Deployments, fake Arklet bases,
// and `npm run dev` driving installs, uninstalls and pod status.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { K8s, kind } from "kubernetes-fluent-client";
import { TAINT_NOT_READY } from "../../capabilities/lib/contract";
import { FakeBase, startFleet } from "../../hack/fake-base/fake-base";
import { PeprStore } from "../../capabilities/lib/kinds";
import {
  createNamespace,
  getPod,
  isReady,
  jar,
  kubectl,
  moduleDeployment,
  sleep,
  waitFor,
} from "./kube";
import { PeprDev, startPeprDev, stopPeprDev } from "./pepr-dev";
import { tearDownSuite } from "./teardown";

const CONTROLLER = "http://127.0.0.1:7777";
const DEV_ENV = {
  KOUPLELESS_REPLICA_ID: "e2e-modules",
  KOUPLELESS_HEALTH_POLL_SECONDS: "2",
  KOUPLELESS_BIZ_POLL_SECONDS: "2",
  KOUPLELESS_ORPHAN_GRACE_SECONDS: "6",
  KOUPLELESS_HEARTBEAT_MIN_INTERVAL_MS: "500",
  KOUPLELESS_LEASE_RENEW_SECONDS: "5",
};
const nodeName = (b: FakeBase) => `vnode.${b.opts.identity}.dev`;

function modulePod(ns: string, biz: string, version: string, node?: string): kind.Pod {
  const name = biz; // pod named after its one biz
  return {
    metadata: {
      name,
      namespace: ns,
      labels: { "virtual-kubelet.koupleless.io/component": "module" },
    },
    spec: {
      ...(node ? { nodeSelector: { "kubernetes.io/hostname": node } } : {}),
      containers: [
        { name: biz, image: jar(biz, version), env: [{ name: "BIZ_VERSION", value: version }] },
      ],
    },
  };
}

/** Successful installBiz calls per biz whose name starts with prefix, over every base. */
function successfulInstalls(bases: FakeBase[], prefix: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of bases.flatMap(b => b.log)) {
    const biz = (e.body as { bizName?: string }).bizName ?? "";
    if (e.command === "installBiz" && e.code === "SUCCESS" && biz.startsWith(prefix))
      out.set(biz, (out.get(biz) ?? 0) + 1);
  }
  return out;
}

const installedOn = (b: FakeBase, biz: string) => b.installed().filter(x => x.bizName === biz);

describe("module lifecycle", () => {
  let dev: PeprDev | undefined;
  let bases: FakeBase[] = [];
  let ns: string;

  beforeAll(async () => {
    ns = await createNamespace("e2e-modules");
    dev = await startPeprDev(DEV_ENV);
    bases = await startFleet(3, { controller: CONTROLLER, heartbeatMs: 2000 }, 60);
    for (const b of bases) {
      await waitFor(`${nodeName(b)} Ready and schedulable`, async () => {
        const n = await K8s(kind.Node).Get(nodeName(b));
        const ready = n.status?.conditions?.some(c => c.type === "Ready" && c.status === "True");
        return ready && !(n.spec?.taints ?? []).some(t => t.key === TAINT_NOT_READY);
      });
    }
  });

  afterAll(() => tearDownSuite(bases, dev, [ns]));

  it("upstream checklist: install once, Pending→Running/Ready, DEACTIVATED → NotReady, delete → uninstalled and gone", async () => {
    const b = bases[0];
    await K8s(kind.Pod).Create(modulePod(ns, "checklist", "0.0.1", b.opts.hostName));
    const pod = await waitFor("checklist Ready", async () => {
      const p = await getPod(ns, "checklist");
      return isReady(p) ? p : undefined;
    });
    expect(pod.spec?.nodeName).toBe(nodeName(b));
    expect(pod.status).toMatchObject({ phase: "Running", podIP: b.opts.host, hostIP: b.opts.host });
    expect(pod.status?.containerStatuses?.[0]).toMatchObject({
      name: "checklist",
      ready: true,
      state: { running: {} },
    });
    expect(b.log.filter(e => e.command === "installBiz").length).toBe(1);

    b.setBizState("checklist", "0.0.1", "deactivated");
    const notReady = await waitFor("checklist Running but not Ready", async () => {
      const p = await getPod(ns, "checklist");
      return p?.status?.phase === "Running" && !isReady(p) ? p : undefined;
    });
    expect(notReady.status?.containerStatuses?.[0].state?.waiting?.reason).toBe("BizDeactivated");

    await K8s(kind.Pod).InNamespace(ns).Delete("checklist");
    await waitFor("checklist gone", async () => !(await getPod(ns, "checklist")), 60_000);
    expect(installedOn(b, "checklist")).toEqual([]);
    const events = await K8s(kind.CoreEvent).InNamespace(ns).Get();
    const reasons = events.items
      .filter(e => e.involvedObject?.name === "checklist")
      .map(e => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(["Installed", "Uninstalling", "Uninstalled"]));
  });

  it("a slow install shows BizInstalling and an Installing Event, then Ready", async () => {
    const b = bases[1];
    b.opts.installMs = 4000;
    try {
      await K8s(kind.Pod).Create(modulePod(ns, "slowpoke", "0.0.1", b.opts.hostName));
      const installing = await waitFor("slowpoke BizInstalling", async () => {
        const p = await getPod(ns, "slowpoke");
        const waiting = p?.status?.containerStatuses?.[0]?.state?.waiting;
        return waiting?.reason === "BizInstalling" ? p : undefined;
      });
      expect(installing.status?.phase).toBe("Pending");
      await waitFor("slowpoke Ready", async () => isReady(await getPod(ns, "slowpoke")));
      const events = await K8s(kind.CoreEvent).InNamespace(ns).Get();
      const reasons = events.items
        .filter(e => e.involvedObject?.name === "slowpoke")
        .map(e => e.reason);
      expect(reasons).toEqual(expect.arrayContaining(["Installing", "Installed"]));
    } finally {
      b.opts.installMs = 0;
      await K8s(kind.Pod).InNamespace(ns).Delete("slowpoke");
    }
  });

  it("a Deployment of 3 over 3 bases: one biz on each; scale to 1 uninstalls two; delete leaves none", async () => {
    await K8s(kind.Deployment).Apply(moduleDeployment(ns, "spread", "1.0.0", 3));
    await waitFor(
      "3 spread pods Ready",
      async () => {
        const pods = (await K8s(kind.Pod).InNamespace(ns).WithLabel("app", "spread").Get()).items;
        return pods.length === 3 && pods.every(isReady);
      },
      90_000,
    );
    expect(bases.map(b => installedOn(b, "spread").length)).toEqual([1, 1, 1]);

    await K8s(kind.Deployment).Apply(moduleDeployment(ns, "spread", "1.0.0", 1));
    await waitFor(
      "2 of 3 uninstalled",
      async () => bases.filter(b => installedOn(b, "spread").length > 0).length === 1,
      90_000,
    );

    await K8s(kind.Deployment).InNamespace(ns).Delete("spread");
    await waitFor(
      "none left",
      async () => bases.every(b => installedOn(b, "spread").length === 0),
      90_000,
    );
  });

  it("a failing biz: the pod shows the reason, an InstallFailed Event exists, retries slow down", async () => {
    const b = bases[1];
    b.opts.failingBizzes.push("broken");
    await K8s(kind.Pod).Create(modulePod(ns, "broken", "0.0.1", b.opts.hostName));
    const pod = await waitFor("broken shows its failure", async () => {
      const p = await getPod(ns, "broken");
      return p?.status?.containerStatuses?.[0]?.state?.waiting?.reason ===
        "CMD_PROCESS_INTERNAL_ERROR"
        ? p
        : undefined;
    });
    expect(pod.status?.containerStatuses?.[0].state?.waiting?.message).toMatch(/simulated failure/);
    expect(isReady(pod)).toBe(false);
    await sleep(25_000);
    const times = b.log
      .filter(
        e => e.command === "installBiz" && (e.body as { bizName?: string }).bizName === "broken",
      )
      .map(e => e.at);
    expect(times.length).toBeGreaterThanOrEqual(3);
    expect(times.length).toBeLessThan(10); // not a hot loop
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    expect(gaps[gaps.length - 1]).toBeGreaterThan(gaps[0]);
    const events = await K8s(kind.CoreEvent).InNamespace(ns).Get();
    expect(
      events.items.some(e => e.involvedObject?.name === "broken" && e.reason === "InstallFailed"),
    ).toBe(true);
    // the failure and its backoff are persisted in the VNode's queue shard (a PeprStore of ours)
    const shard = await waitFor("the queue shard", async () =>
      K8s(PeprStore)
        .InNamespace("pepr-system")
        .Get(`koupleless-shard.${nodeName(b)}`),
    );
    expect(shard.metadata?.labels?.["virtual-kubelet.koupleless.io/component"]).toBe("vnode-shard");
    expect(JSON.parse(shard.data?.state ?? "{}").failures["broken:0.0.1"]).toMatchObject({
      reason: "CMD_PROCESS_INTERNAL_ERROR",
    });
    await kubectl(["delete", "pod", "broken", "-n", ns, "--wait=false"]);
  });

  it("a base restarted empty gets its modules reinstalled and Ready again", async () => {
    const b = bases[2];
    await K8s(kind.Pod).Create(modulePod(ns, "survivor", "0.0.1", b.opts.hostName));
    await waitFor("survivor Ready", async () => isReady(await getPod(ns, "survivor")));
    await b.restartEmpty();
    expect(installedOn(b, "survivor")).toEqual([]);
    await waitFor(
      "survivor reinstalled",
      async () => installedOn(b, "survivor").length === 1,
      60_000,
    );
    await waitFor("survivor Ready again", async () => isReady(await getPod(ns, "survivor")));
  });

  it("a biz installed behind the controller's back is uninstalled after the grace period", async () => {
    const b = bases[0];
    b.plant("stowaway", "9.9.9");
    await sleep(3000);
    expect(installedOn(b, "stowaway").length).toBe(1); // still inside the grace period
    await waitFor(
      "stowaway uninstalled",
      async () => installedOn(b, "stowaway").length === 0,
      60_000,
    );
  });

  it("the same name:version replaced on the same base stays installed (no double uninstall)", async () => {
    const b = bases[1];
    await K8s(kind.Pod).Create(modulePod(ns, "keeper", "1.0.0", b.opts.hostName));
    await waitFor("keeper Ready", async () => isReady(await getPod(ns, "keeper")));
    const twin = {
      ...modulePod(ns, "keeper", "1.0.0", b.opts.hostName),
      metadata: { ...modulePod(ns, "keeper", "1.0.0").metadata, name: "keeper-twin" },
    };
    await K8s(kind.Pod).Create(twin);
    await waitFor("keeper-twin Ready", async () => isReady(await getPod(ns, "keeper-twin")));
    await K8s(kind.Pod).InNamespace(ns).Delete("keeper");
    await waitFor("keeper gone", async () => !(await getPod(ns, "keeper")), 60_000);
    await sleep(3000);
    expect(installedOn(b, "keeper").length).toBe(1);
    expect(
      b.log.filter(
        e => e.command === "uninstallBiz" && (e.body as { bizName?: string }).bizName === "keeper",
      ),
    ).toEqual([]);
    expect(isReady(await getPod(ns, "keeper-twin"))).toBe(true);
    await kubectl(["delete", "pod", "keeper-twin", "-n", ns, "--wait=false"]);
  });

  it("a rolling update v1 → v2 leaves every base with only v2, never long without either", async () => {
    const dep = (v: string) => {
      const d = moduleDeployment(ns, "roller", v, 3);
      d.spec!.strategy = {
        type: "RollingUpdate",
        rollingUpdate: { maxSurge: 0, maxUnavailable: 1 },
      };
      return d;
    };
    await K8s(kind.Deployment).Apply(dep("1.0.0"));
    await waitFor(
      "v1 on every base",
      async () => bases.every(b => installedOn(b, "roller").length === 1),
      90_000,
    );
    const gaps = bases.map(() => ({ since: 0, worst: 0 }));
    const sampler = setInterval(() => {
      bases.forEach((b, i) => {
        const none = installedOn(b, "roller").length === 0;
        const g = gaps[i];
        if (none && !g.since) g.since = Date.now();
        if (!none && g.since) {
          g.worst = Math.max(g.worst, Date.now() - g.since);
          g.since = 0;
        }
      });
    }, 100);
    try {
      await K8s(kind.Deployment).Apply(dep("2.0.0"));
      await waitFor(
        "only v2 on every base",
        async () =>
          bases.every(
            b =>
              installedOn(b, "roller")
                .map(x => x.bizVersion)
                .join() === "2.0.0",
          ),
        120_000,
      );
    } finally {
      clearInterval(sampler);
    }
    process.stderr.write(
      `[modules] rolling update: longest time a base ran neither version: ${Math.max(...gaps.map(g => g.worst))} ms\n`,
    );
    // one uninstall plus one install on a base with instant installs: seconds at most, never a hang
    expect(Math.max(...gaps.map(g => g.worst))).toBeLessThan(30_000);
    await K8s(kind.Deployment).InNamespace(ns).Delete("roller");
  });

  it("a DaemonSet that tolerates every taint lands on VNodes: each pod is told once why it never runs", async () => {
    const labels = { app: "agent" };
    await K8s(kind.DaemonSet).Apply({
      metadata: { name: "agent", namespace: ns },
      spec: {
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            tolerations: [{ operator: "Exists" }],
            containers: [{ name: "agent", image: "example.invalid/agent:1" }],
          },
        },
      },
    });
    const flagged = async () => {
      const pods = (await K8s(kind.Pod).InNamespace(ns).WithLabel("app", "agent").Get()).items;
      const onBases = pods.filter(p => bases.some(b => p.spec?.nodeName === nodeName(b)));
      const ok =
        onBases.length === 3 &&
        onBases.every(p =>
          p.status?.conditions?.some(
            c => c.type === "KouplelessModule" && c.reason === "NotAModulePod",
          ),
        );
      return ok ? onBases : undefined;
    };
    const pods = await waitFor("3 agent pods flagged", flagged, 60_000);
    await sleep(10_000); // several more checks: still one Event per pod, no churn
    const events = (await K8s(kind.CoreEvent).InNamespace(ns).Get()).items.filter(
      e => e.reason === "NotAModulePod",
    );
    for (const p of pods)
      expect(events.filter(e => e.involvedObject?.name === p.metadata?.name).length).toBe(1);
    expect(events[0].message).toMatch(/type NotIn \[virtual-kubelet\]/);
    await K8s(kind.DaemonSet).InNamespace(ns).Delete("agent");

    // the advice in docs/modules.md: the same DaemonSet with a node affinity on type NotIn [virtual-kubelet]
    await K8s(kind.DaemonSet).Apply({
      metadata: { name: "polite", namespace: ns },
      spec: {
        selector: { matchLabels: { app: "polite" } },
        template: {
          metadata: { labels: { app: "polite" } },
          spec: {
            tolerations: [{ operator: "Exists" }],
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [
                    {
                      matchExpressions: [
                        { key: "type", operator: "NotIn", values: ["virtual-kubelet"] },
                      ],
                    },
                  ],
                },
              },
            },
            containers: [{ name: "agent", image: "example.invalid/agent:1" }],
          },
        },
      },
    });
    await sleep(5000);
    const polite = (await K8s(kind.Pod).InNamespace(ns).WithLabel("app", "polite").Get()).items;
    expect(polite.filter(p => p.spec?.nodeName?.startsWith("vnode."))).toEqual([]);
    await K8s(kind.DaemonSet).InNamespace(ns).Delete("polite");
  });

  it("kill -9 with 50 installs in flight: after a restart all 50 are Ready, each installed once", async () => {
    for (const b of bases) b.opts.installMs = 1500;
    const names = Array.from({ length: 50 }, (_, i) => `bulk${i}`);
    await Promise.all(
      names.map((n, i) =>
        K8s(kind.Pod).Create(modulePod(ns, n, "1.0.0", bases[i % 3].opts.hostName)),
      ),
    );
    await waitFor(
      "installs in flight",
      async () => bases.some(b => b.count("installBiz") > 0),
      30_000,
    );
    await sleep(2000);
    await stopPeprDev(dev); // SIGKILL to the whole process group
    const doneAtKill = bases.reduce(
      (n, b) => n + b.installed().filter(x => x.bizName.startsWith("bulk")).length,
      0,
    );
    process.stderr.write(`[modules] killed with ${doneAtKill}/50 installed\n`);
    dev = await startPeprDev(DEV_ENV);
    await waitFor(
      "all 50 Ready",
      async () => (await Promise.all(names.map(n => getPod(ns, n)))).every(isReady),
      180_000,
    );
    const successes = successfulInstalls(bases, "bulk");
    expect(successes.size).toBe(50);
    expect([...successes.values()].every(n => n === 1)).toBe(true);
    // the restarted controller measured those installs
    const metrics = await (await fetch("http://127.0.0.1:9464/metrics")).text();
    expect(metrics).toMatch(/koupleless_module_bound_to_ready_seconds_count [1-9]/);
    expect(metrics).toMatch(
      /koupleless_arklet_call_seconds_count\{operation="installBiz",outcome="SUCCESS"\} [1-9]/,
    );
    for (const b of bases) b.opts.installMs = 0;
  });

  it("a pod on an unreachable base is deleted after its grace period; its biz is cleaned up when the base returns", async () => {
    const b = bases[2];
    await K8s(kind.Pod).Create(modulePod(ns, "stranded", "0.0.1", b.opts.hostName));
    await waitFor("stranded Ready", async () => isReady(await getPod(ns, "stranded")));
    b.setReachable(false);
    await kubectl(["delete", "pod", "stranded", "-n", ns, "--grace-period=5", "--wait=false"]);
    await waitFor(
      "stranded deleted although its base is silent",
      async () => !(await getPod(ns, "stranded")),
      60_000,
    );
    expect(installedOn(b, "stranded").length).toBe(1); // the base never heard of the deletion
    b.setReachable(true);
    await waitFor(
      "the orphan uninstalled once the base answers",
      async () => installedOn(b, "stranded").length === 0,
      60_000,
    );
  });

  it("a base that says DEACTIVATED takes its VNode's queue shard with it", async () => {
    const b = bases[1]; // the one whose shard recorded the broken biz
    await b.stop(true);
    await waitFor(
      "the shard deleted",
      async () => {
        try {
          await K8s(PeprStore)
            .InNamespace("pepr-system")
            .Get(`koupleless-shard.${nodeName(b)}`);
          return false;
        } catch (err) {
          return (err as { status?: number }).status === 404;
        }
      },
      30_000,
    );
  });
});
