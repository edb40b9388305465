import { describe, expect, it } from "@jest/globals";
import type { V1Container, V1Pod, V1PodStatus } from "@kubernetes/client-node";
import {
  BizView,
  InstallFailure,
  interimHoldMs,
  PodView,
  podStatusFingerprint,
  podStatusFor,
  ReportedBiz,
  showsInstallFailure,
  withStableTimes,
} from "./status";

const BASE_IP = "10.0.0.7";
const NOW = new Date("2026-11-22T05:22:32.789Z");
const EARLIER = new Date("2026-11-22T05:00:00Z");
const CHANGED = Date.parse("2026-11-22T05:10:00.250Z");

const jar = (name: string, version = "1.0.0"): V1Container => ({
  name,
  image: `https://repo.example/${name}-${version}-ark-biz.jar`,
  env: [{ name: "BIZ_VERSION", value: version }],
});

const podOf = (containers: V1Container[], status?: V1PodStatus): V1Pod => ({
  metadata: { name: "biz1-pod", namespace: "default" },
  spec: { nodeName: "vnode.base-1", containers },
  status,
});

const biz = (state: string, extra: Partial<BizView> = {}): BizView => ({
  state,
  changeTime: CHANGED,
  ...extra,
});

const viewOf = (
  bizzes: Record<string, BizView> = {},
  failures: Record<string, InstallFailure> = {},
  now: Date = NOW,
): PodView => ({
  bizzes: new Map(Object.entries(bizzes)),
  failures: new Map(Object.entries(failures)),
  baseIP: BASE_IP,
  now,
});

const cond = (s: V1PodStatus, type: string) => s.conditions?.find(c => c.type === type);

describe("podStatusFor: one biz container (contract §3.4)", () => {
  const cases: Array<{
    name: string;
    bizzes?: Record<string, BizView>;
    failures?: Record<string, InstallFailure>;
    state: Record<string, unknown>;
    ready: boolean;
    phase: string;
  }> = [
    {
      name: "ACTIVATED → running, Ready",
      bizzes: { "biz1:1.0.0": biz("ACTIVATED") },
      state: { running: { startedAt: new Date(CHANGED) } },
      ready: true,
      phase: "Running",
    },
    {
      name: "lowercase activated (as Arklet sends it) → running, Ready",
      bizzes: { "biz1:1.0.0": biz("activated") },
      state: { running: { startedAt: new Date(CHANGED) } },
      ready: true,
      phase: "Running",
    },
    {
      name: "RESOLVED → waiting BizResolved",
      bizzes: { "biz1:1.0.0": biz("RESOLVED", { message: "resolving" }) },
      state: { waiting: { reason: "BizResolved", message: "resolving" } },
      ready: false,
      phase: "Running",
    },
    {
      name: "deactivated → waiting BizDeactivated",
      bizzes: { "biz1:1.0.0": biz("deactivated", { reason: "Switched" }) },
      state: { waiting: { reason: "BizDeactivated", message: "" } },
      ready: false,
      phase: "Running",
    },
    {
      name: "BROKEN → waiting BizBroken with the base's message",
      bizzes: { "biz1:1.0.0": biz("broken", { reason: "Install Failed", message: "NPE" }) },
      state: { waiting: { reason: "BizBroken", message: "NPE" } },
      ready: false,
      phase: "Running",
    },
    {
      name: "missing biz → waiting BizInstalling, Pending",
      state: { waiting: { reason: "BizInstalling" } },
      ready: false,
      phase: "Pending",
    },
    {
      name: "a biz installed under another version does not count",
      bizzes: { "biz1:2.0.0": biz("ACTIVATED") },
      state: { waiting: { reason: "BizInstalling" } },
      ready: false,
      phase: "Pending",
    },
    {
      name: "missing biz with a recorded install failure → waiting with that failure",
      failures: {
        "biz1:1.0.0": { reason: "CMD_PROCESS_INTERNAL_ERROR", message: "Internal Error: x" },
      },
      state: { waiting: { reason: "CMD_PROCESS_INTERNAL_ERROR", message: "Internal Error: x" } },
      ready: false,
      phase: "Running",
    },
    {
      name: "STOPPED → terminated exitCode 1, Succeeded",
      bizzes: { "biz1:1.0.0": biz("STOPPED", { reason: "Stopped", message: "bye" }) },
      state: {
        terminated: {
          exitCode: 1,
          reason: "Stopped",
          message: "bye",
          startedAt: new Date(CHANGED),
          finishedAt: new Date(CHANGED),
        },
      },
      ready: false,
      phase: "Succeeded",
    },
    {
      name: "stopped without a reason → terminated reason Stopped",
      bizzes: { "biz1:1.0.0": biz("stopped") },
      state: { terminated: { exitCode: 1, reason: "Stopped", message: "" } },
      ready: false,
      phase: "Succeeded",
    },
  ];

  it.each(cases)("$name", ({ bizzes, failures, state, ready, phase }) => {
    const s = podStatusFor(podOf([jar("biz1")]), viewOf(bizzes, failures));
    expect(s.phase).toBe(phase);
    expect(s.containerStatuses).toHaveLength(1);
    const [c] = s.containerStatuses!;
    expect(c).toMatchObject({ name: "biz1", ready, started: ready, restartCount: 0 });
    expect(c.image).toBe(jar("biz1").image);
    expect(c.imageID).toBe(jar("biz1").image);
    expect(c.state).toMatchObject(state);
    expect(Object.keys(c.state!)).toEqual(Object.keys(state));
    const want = ready ? "True" : "False";
    expect(cond(s, "Ready")?.status).toBe(want);
    expect(cond(s, "ContainersReady")?.status).toBe(want);
    expect(cond(s, "PodScheduled")?.status).toBe("True");
    expect(cond(s, "Initialized")?.status).toBe("True");
  });

  it("says which biz it is installing", () => {
    const s = podStatusFor(podOf([jar("biz1")]), viewOf());
    expect(s.containerStatuses![0].state?.waiting?.message).toContain("biz1:1.0.0");
  });

  it("does not take a failure over a biz the base actually runs", () => {
    const s = podStatusFor(
      podOf([jar("biz1")]),
      viewOf({ "biz1:1.0.0": biz("ACTIVATED") }, { "biz1:1.0.0": { reason: "X", message: "y" } }),
    );
    expect(s.containerStatuses![0].state?.running).toBeDefined();
    expect(s.phase).toBe("Running");
    expect(cond(s, "Ready")?.status).toBe("True");
  });

  it("marks not-ready conditions with ContainersNotReady", () => {
    const s = podStatusFor(podOf([jar("biz1")]), viewOf({ "biz1:1.0.0": biz("RESOLVED") }));
    expect(cond(s, "Ready")?.reason).toBe("ContainersNotReady");
    expect(cond(s, "ContainersReady")?.reason).toBe("ContainersNotReady");
    expect(cond(s, "PodScheduled")?.reason).toBeUndefined();
  });
});

describe("podStatusFor: several containers", () => {
  const A = "a:1.0.0";
  const B = "b:2.0.0";
  const cases: Array<{
    name: string;
    bizzes?: Record<string, BizView>;
    failures?: Record<string, InstallFailure>;
    phase: string;
    ready: boolean[];
  }> = [
    {
      name: "both activated → Running, Ready",
      bizzes: { [A]: biz("ACTIVATED"), [B]: biz("activated") },
      phase: "Running",
      ready: [true, true],
    },
    {
      name: "one activated, one missing → Running, not Ready",
      bizzes: { [A]: biz("ACTIVATED") },
      phase: "Running",
      ready: [true, false],
    },
    { name: "both missing → Pending", phase: "Pending", ready: [false, false] },
    {
      name: "one missing, one failed to install → Running, not Ready",
      failures: { [B]: { reason: "FAILED", message: "boom" } },
      phase: "Running",
      ready: [false, false],
    },
    {
      name: "one activated, one stopped → Running, not Ready",
      bizzes: { [A]: biz("ACTIVATED"), [B]: biz("STOPPED") },
      phase: "Running",
      ready: [true, false],
    },
    {
      name: "both stopped → Succeeded",
      bizzes: { [A]: biz("STOPPED"), [B]: biz("stopped") },
      phase: "Succeeded",
      ready: [false, false],
    },
  ];

  it.each(cases)("$name", ({ bizzes, failures, phase, ready }) => {
    const s = podStatusFor(podOf([jar("a"), jar("b", "2.0.0")]), viewOf(bizzes, failures));
    expect(s.phase).toBe(phase);
    expect(s.containerStatuses!.map(c => c.name)).toEqual(["a", "b"]);
    expect(s.containerStatuses!.map(c => c.ready)).toEqual(ready);
    const podReady = ready.every(Boolean) ? "True" : "False";
    expect(cond(s, "Ready")?.status).toBe(podReady);
    expect(cond(s, "ContainersReady")?.status).toBe(podReady);
  });

  it("counts only jar containers", () => {
    const sidecar: V1Container = { name: "log-agent", image: "busybox:1.36" };
    const s = podStatusFor(podOf([sidecar, jar("a")]), viewOf({ [A]: biz("ACTIVATED") }));
    expect(s.containerStatuses!.map(c => c.name)).toEqual(["a"]);
    expect(s.phase).toBe("Running");
    expect(cond(s, "Ready")?.status).toBe("True");
  });

  it.each([
    { name: "no jar containers", containers: [{ name: "web", image: "nginx:1.27" }] },
    { name: "no containers at all", containers: [] },
  ])("$name → Succeeded, not Ready", ({ containers }) => {
    const s = podStatusFor(podOf(containers), viewOf());
    expect(s.phase).toBe("Succeeded");
    expect(s.containerStatuses).toEqual([]);
    expect(cond(s, "Ready")?.status).toBe("False");
  });
});

describe("podStatusFor: addresses and times", () => {
  it("reports the base's IP as pod and host IP", () => {
    const s = podStatusFor(podOf([jar("biz1")]), viewOf());
    expect(s.podIP).toBe(BASE_IP);
    expect(s.hostIP).toBe(BASE_IP);
    expect(s.podIPs).toEqual([{ ip: BASE_IP }]);
    expect(s.hostIPs).toEqual([{ ip: BASE_IP }]);
  });

  it("starts the pod now when it has no start time yet", () => {
    const s = podStatusFor(podOf([jar("biz1")]), viewOf());
    expect(s.startTime).toEqual(NOW);
    expect(s.conditions!.every(c => c.lastTransitionTime === NOW)).toBe(true);
  });

  it("keeps the start time of the current status", () => {
    const s = podStatusFor(podOf([jar("biz1")], { startTime: EARLIER }), viewOf());
    expect(s.startTime).toEqual(EARLIER);
  });

  // current Ready/ContainersReady status → next readiness → transition time kept?
  const transitions = [
    { name: "not ready → not ready keeps the time", was: "False", active: false, kept: true },
    { name: "ready → ready keeps the time", was: "True", active: true, kept: true },
    { name: "not ready → ready moves the time to now", was: "False", active: true, kept: false },
    { name: "ready → not ready moves the time to now", was: "True", active: false, kept: false },
  ];
  it.each(transitions)("$name", ({ was, active, kept }) => {
    const current: V1PodStatus = {
      startTime: EARLIER,
      conditions: ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map(type => ({
        type,
        status: type === "Ready" || type === "ContainersReady" ? was : "True",
        lastTransitionTime: EARLIER,
      })),
    };
    const bizzes: Record<string, BizView> = active ? { "biz1:1.0.0": biz("ACTIVATED") } : {};
    const s = podStatusFor(podOf([jar("biz1")], current), viewOf(bizzes));
    const expected = kept ? EARLIER : NOW;
    expect(cond(s, "Ready")?.lastTransitionTime).toEqual(expected);
    expect(cond(s, "ContainersReady")?.lastTransitionTime).toEqual(expected);
    // PodScheduled and Initialized were True and stay True
    expect(cond(s, "PodScheduled")?.lastTransitionTime).toEqual(EARLIER);
    expect(cond(s, "Initialized")?.lastTransitionTime).toEqual(EARLIER);
  });

  it("keeps a transition time the API returned as a string", () => {
    const api = "2026-11-22T05:00:00Z";
    const current = {
      conditions: [{ type: "Ready", status: "False", lastTransitionTime: api }],
    } as unknown as V1PodStatus;
    const s = podStatusFor(podOf([jar("biz1")], current), viewOf());
    expect(cond(s, "Ready")?.lastTransitionTime).toBe(api);
    expect(cond(s, "ContainersReady")?.lastTransitionTime).toEqual(NOW);
  });
});

/** The status as the API server hands it back: JSON with second-resolution timestamps and
 * empty strings dropped (every string field of the pod status is `omitempty`). */
function roundTrip(s: V1PodStatus): V1PodStatus {
  const json = JSON.stringify(s, (_k, v: unknown) => {
    if (v === "") return undefined;
    if (typeof v === "string" && /^\d{4}-\d\d-\d\dT.*\.\d{3}Z$/.test(v))
      return v.replace(/\.\d{3}Z$/, "Z");
    return v;
  });
  return JSON.parse(json) as V1PodStatus;
}

describe("podStatusFingerprint", () => {
  const pod = podOf([jar("a"), jar("b", "2.0.0")]);
  const running = viewOf({ "a:1.0.0": biz("ACTIVATED"), "b:2.0.0": biz("ACTIVATED") });
  const base = podStatusFor(pod, running);

  it("is empty for no status", () => expect(podStatusFingerprint(undefined)).toBe(""));

  const same: Array<{ name: string; other: () => V1PodStatus }> = [
    {
      name: "computed at another time",
      other: () => podStatusFor(pod, { ...running, now: new Date(NOW.getTime() + 60_000) }),
    },
    {
      name: "with other condition and start times",
      other: () => ({
        ...base,
        startTime: EARLIER,
        conditions: base.conditions!.map(c => ({ ...c, lastTransitionTime: EARLIER })),
      }),
    },
    { name: "read back from the API (second-resolution strings)", other: () => roundTrip(base) },
    {
      name: "with a startedAt that differs only below the second",
      other: () =>
        podStatusFor(
          pod,
          viewOf({
            "a:1.0.0": biz("ACTIVATED", { changeTime: CHANGED + 500 }),
            "b:2.0.0": biz("ACTIVATED"),
          }),
        ),
    },
  ];
  it.each(same)("is equal for the same status $name", ({ other }) => {
    expect(podStatusFingerprint(other())).toBe(podStatusFingerprint(base));
  });

  it("is equal for a waiting status read back from the API", () => {
    const s = podStatusFor(pod, viewOf({ "a:1.0.0": biz("RESOLVED", { message: "wait" }) }));
    expect(podStatusFingerprint(roundTrip(s))).toBe(podStatusFingerprint(s));
  });

  // the API server drops empty strings: an empty message must compare equal to none
  it("is equal for a waiting status with an empty message read back from the API", () => {
    const s = podStatusFor(pod, viewOf({ "a:1.0.0": biz("DEACTIVATED", { reason: "Switched" }) }));
    expect(podStatusFingerprint(roundTrip(s))).toBe(podStatusFingerprint(s));
  });

  const different: Array<{ name: string; view: PodView }> = [
    {
      name: "readiness (one biz goes missing)",
      view: viewOf({ "a:1.0.0": biz("ACTIVATED") }),
    },
    { name: "phase (both missing → Pending)", view: viewOf() },
    {
      name: "phase (both stopped → Succeeded)",
      view: viewOf({ "a:1.0.0": biz("STOPPED"), "b:2.0.0": biz("STOPPED") }),
    },
    {
      name: "a container's state (running → waiting)",
      view: viewOf({ "a:1.0.0": biz("ACTIVATED"), "b:2.0.0": biz("DEACTIVATED") }),
    },
    {
      name: "the base IP",
      view: { ...running, baseIP: "10.0.0.8" },
    },
  ];
  it.each(different)("changes with $name", ({ view }) => {
    expect(podStatusFingerprint(podStatusFor(pod, view))).not.toBe(podStatusFingerprint(base));
  });

  it("changes with a container's waiting reason", () => {
    const a = podStatusFor(pod, viewOf({ "a:1.0.0": biz("RESOLVED") }));
    const b = podStatusFor(pod, viewOf({ "a:1.0.0": biz("BROKEN") }));
    const c = podStatusFor(pod, viewOf({}, { "a:1.0.0": { reason: "FAILED", message: "x" } }));
    const fps = new Set([a, b, c].map(podStatusFingerprint));
    expect(fps.size).toBe(3);
  });

  it("changes with a container's terminated reason", () => {
    const stopped = (reason: string) =>
      podStatusFor(
        pod,
        viewOf({ "a:1.0.0": biz("STOPPED", { reason }), "b:2.0.0": biz("STOPPED") }),
      );
    expect(podStatusFingerprint(stopped("Stopped"))).not.toBe(
      podStatusFingerprint(stopped("Uninstall Failed")),
    );
  });
});

describe("interimHoldMs", () => {
  const since = new Map([
    ["a:1", 10_000],
    ["b:1", 10_600],
  ]);

  it("writes at once when none of the pod's bizzes is installing", () => {
    expect(interimHoldMs(["c:1"], since, 10_100, 1000)).toBe(0);
    expect(interimHoldMs([], since, 10_100, 1000)).toBe(0);
  });

  it("holds until the oldest install of the pod is delayMs old", () => {
    expect(interimHoldMs(["a:1"], since, 10_100, 1000)).toBe(900);
    expect(interimHoldMs(["b:1", "a:1"], since, 10_700, 1000)).toBe(300);
  });

  it("stops holding once the install is slow: BizInstalling shows", () => {
    expect(interimHoldMs(["a:1"], since, 11_000, 1000)).toBe(0);
    expect(interimHoldMs(["a:1"], since, 15_000, 1000)).toBe(0);
  });
});

describe("withStableTimes: records without times never move startedAt", () => {
  const T0 = 1_000_000;
  const LATER = 2_000_000;
  const NOW_MS = 3_000_000;
  const cases: Array<{ name: string; reported: ReportedBiz; known?: BizView; want: BizView }> = [
    {
      name: "a record's own time wins over what we knew",
      reported: { state: "activated", changeTime: LATER },
      known: { state: "activated", changeTime: T0, guessed: true },
      want: { state: "activated", changeTime: LATER },
    },
    {
      name: "no time, same state as before: the time we knew, still a guess",
      reported: { state: "activated" },
      known: { state: "ACTIVATED", changeTime: T0, guessed: true },
      want: { state: "activated", changeTime: T0, guessed: true },
    },
    {
      name: "no time, same state as before, which had a real time: that time",
      reported: { state: "activated" },
      known: { state: "activated", changeTime: T0 },
      want: { state: "activated", changeTime: T0, guessed: undefined },
    },
    {
      name: "no time, another state than before: now, a guess",
      reported: { state: "activated" },
      known: { state: "deactivated", changeTime: T0 },
      want: { state: "activated", changeTime: NOW_MS, guessed: true },
    },
    {
      name: "no time, first seen: now, a guess",
      reported: { state: "activated" },
      want: { state: "activated", changeTime: NOW_MS, guessed: true },
    },
  ];
  it.each(cases)("$name", ({ reported, known, want }) => {
    const out = withStableTimes(
      new Map([["biz1:1.0.0", reported]]),
      new Map(known ? [["biz1:1.0.0", known]] : []),
      NOW_MS,
    );
    expect(out.get("biz1:1.0.0")).toEqual(want);
  });

  it("drops what the base no longer reports", () => {
    const known = new Map([["gone:1", { state: "activated", changeTime: T0 }]]);
    expect(withStableTimes(new Map(), known, NOW_MS).size).toBe(0);
  });

  it("gives an unchanged biz polled again and again one status fingerprint", () => {
    const pod = podOf([jar("biz1")]);
    let known = new Map<string, BizView>();
    const prints = [NOW_MS, NOW_MS + 15_000, NOW_MS + 30_000].map(now => {
      known = withStableTimes(new Map([["biz1:1.0.0", { state: "activated" }]]), known, now);
      const view = viewOf(Object.fromEntries(known), {}, new Date(now));
      return podStatusFingerprint(podStatusFor(pod, view));
    });
    expect(new Set(prints).size).toBe(1);
  });
});

describe("podStatusFor: a guessed time yields to the startedAt the pod shows", () => {
  const shown = "2026-11-22T05:01:00Z";
  const running = (startedAt: string): V1PodStatus => ({
    containerStatuses: [
      {
        name: "biz1",
        image: "x.jar",
        imageID: "x.jar",
        containerID: "arklet://biz1:1.0.0",
        ready: true,
        restartCount: 0,
        state: { running: { startedAt: startedAt as unknown as Date } },
      },
    ],
  });
  const startedAt = (guessed: boolean, status?: V1PodStatus) =>
    podStatusFor(
      podOf([jar("biz1")], status),
      viewOf({ "biz1:1.0.0": biz("activated", { guessed }) }),
    ).containerStatuses?.[0].state?.running?.startedAt;
  it.each([
    {
      name: "a guess, the pod running (a restarted controller)",
      guessed: true,
      status: running(shown),
      want: new Date(shown),
    },
    {
      name: "a guess, the pod not running yet",
      guessed: true,
      status: undefined,
      want: new Date(CHANGED),
    },
    {
      name: "the base's own time",
      guessed: false,
      status: running(shown),
      want: new Date(CHANGED),
    },
  ])("$name", ({ guessed, status, want }) => {
    expect(startedAt(guessed, status)).toEqual(want);
  });
});

describe("showsInstallFailure (what a restarted controller learns from the pod)", () => {
  const waitingFor = (key: string, reason: string): V1PodStatus => ({
    containerStatuses: [
      {
        name: "biz1",
        image: "x.jar",
        imageID: "x.jar",
        containerID: `arklet://${key}`,
        ready: false,
        restartCount: 0,
        state: { waiting: { reason } },
      },
    ],
  });
  it.each([
    { reason: "BizVersionMismatch", want: true },
    { reason: "BizNameMismatch", want: true },
    { reason: "CMD_PROCESS_INTERNAL_ERROR", want: true },
    { reason: "BaseUnreachable", want: true },
    { reason: "BizInstalling", want: false },
    { reason: "BizDeactivated", want: false },
    { reason: "BizBroken", want: false },
  ])("$reason: $want", ({ reason, want }) => {
    expect(
      showsInstallFailure(podOf([jar("biz1")], waitingFor("biz1:1.0.0", reason)), "biz1:1.0.0"),
    ).toBe(want);
  });
  it("looks only at the container of that biz", () => {
    const pod = podOf([jar("biz1")], waitingFor("biz1:2.0.0", "BizVersionMismatch"));
    expect(showsInstallFailure(pod, "biz1:1.0.0")).toBe(false);
    expect(showsInstallFailure(podOf([jar("biz1")]), "biz1:1.0.0")).toBe(false);
  });
});
