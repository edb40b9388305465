// Every transition of a worker pass, table-driven: state in, decisions out.
import { describe, expect, it } from "@jest/globals";
import type { V1Pod, V1PodStatus } from "@kubernetes/client-node";
import {
  deleteKey,
  INTERIM_STATUS_DELAY_MS,
  PassState,
  planPass,
  planStatus,
  StatusState,
} from "./plan";
import { boundPod } from "./pods.fixture";
import { BizView, InstallFailure, podStatusFingerprint } from "./status";

const NOW = 1_000_000;
const GRACE = 60_000;

const pod = (
  name: string,
  bizzes: string[],
  extra: { terminating?: boolean; status?: V1PodStatus } = {},
): V1Pod => boundPod(name, bizzes, { ...extra, now: NOW });

const running = (state = "ACTIVATED"): BizView => ({ state, changeTime: NOW - 5000 });
const failure = (extra: Partial<InstallFailure> = {}): InstallFailure => ({
  reason: "CMD_PROCESS_INTERNAL_ERROR",
  message: "boom",
  ...extra,
});

/** A pod whose status shows a failed install of key (what survives a restart on the pod). */
function showingFailure(name: string, key: string): V1Pod {
  return pod(name, [key], {
    status: {
      containerStatuses: [
        {
          name: key.split(":")[0],
          containerID: `arklet://${key}`,
          image: "",
          imageID: "",
          ready: false,
          restartCount: 0,
          state: { waiting: { reason: "CMD_PROCESS_INTERNAL_ERROR" } },
        },
      ],
    },
  });
}

function state(over: Partial<PassState> = {}): PassState {
  return {
    now: NOW,
    pods: [],
    bizzes: new Map(),
    knownBizList: true,
    restored: true,
    failures: new Map(),
    unclaimed: new Set(),
    listedKeys: undefined,
    busy: new Set(),
    retryInMs: () => 0,
    orphanSince: new Map(),
    orphanGraceMs: GRACE,
    ...over,
  };
}

const installs = (s: PassState) => planPass(s).install.map(i => i.key);

describe("planPass: installs", () => {
  const p1 = pod("p1", ["biz1:1.0"]);
  it.each<[string, Partial<PassState>, string[]]>([
    ["a wanted biz the base lacks", { pods: [p1] }, ["biz1:1.0"]],
    ["nothing before the base's biz list is known", { pods: [p1], knownBizList: false }, []],
    [
      "nothing for a biz the base runs",
      { pods: [p1], bizzes: new Map([["biz1:1.0", running()]]) },
      [],
    ],
    [
      "nothing while an install of it is on the wire",
      { pods: [p1], busy: new Set(["biz1:1.0"]) },
      [],
    ],
    ["nothing while its backoff runs", { pods: [p1], retryInMs: () => 5000 }, []],
    [
      "nothing for a terminating pod",
      { pods: [pod("p1", ["biz1:1.0"], { terminating: true })] },
      [],
    ],
    [
      "one install for two pods wanting the same biz",
      { pods: [p1, pod("p2", ["biz1:1.0"])] },
      ["biz1:1.0"],
    ],
    [
      "every biz of a pod with two",
      { pods: [pod("p3", ["biz1:1.0", "biz2:2.0"])] },
      ["biz1:1.0", "biz2:2.0"],
    ],
    [
      "nothing while the stray biz its jar installed stands",
      {
        pods: [p1],
        failures: new Map([["biz1:1.0", failure({ stray: "other:9" })]]),
        bizzes: new Map([["other:9", running()]]),
      },
      [],
    ],
    [
      "again once the stray is gone",
      { pods: [p1], failures: new Map([["biz1:1.0", failure({ stray: "other:9" })]]) },
      ["biz1:1.0"],
    ],
    [
      "no retry before the retry store is read, for a pod showing a failure",
      { pods: [showingFailure("p1", "biz1:1.0")], restored: false },
      [],
    ],
    [
      "a fresh install does not wait for the retry store",
      { pods: [p1], restored: false },
      ["biz1:1.0"],
    ],
  ])("%s", (_what, over, want) => {
    expect(installs(state(over))).toEqual(want);
  });

  it("comes back when the earliest backoff runs out", () => {
    const waits: Record<string, number> = { "biz1:1.0": 9000, "biz2:2.0": 4000 };
    const pass = planPass(
      state({ pods: [pod("p", ["biz1:1.0", "biz2:2.0"])], retryInMs: k => waits[k] ?? 0 }),
    );
    expect(pass.install).toEqual([]);
    expect(pass.againInMs).toBe(4000);
  });
});

describe("planPass: failures", () => {
  it.each<[string, Partial<PassState>, string[], string[]]>([
    [
      "forgets the failure of a biz no pod wants",
      { failures: new Map([["old:1", failure()]]) },
      ["old:1"],
      [],
    ],
    [
      "keeps the failure of a wanted biz",
      { pods: [pod("p", ["biz1:1.0"])], failures: new Map([["biz1:1.0", failure()]]) },
      [],
      [],
    ],
    [
      "keeps a restored failure until a LIST shows that no pod wants it",
      { failures: new Map([["old:1", failure()]]), unclaimed: new Set(["old:1"]) },
      [],
      [],
    ],
    [
      "keeps a restored failure a LIST shows wanted",
      {
        failures: new Map([["old:1", failure()]]),
        unclaimed: new Set(["old:1"]),
        listedKeys: new Set(["old:1"]),
      },
      [],
      [],
    ],
    [
      "forgets a restored failure the LIST shows nobody wants",
      {
        failures: new Map([["old:1", failure()]]),
        unclaimed: new Set(["old:1"]),
        listedKeys: new Set(),
      },
      ["old:1"],
      [],
    ],
    [
      "claims a restored failure a live pod wants",
      {
        pods: [pod("p", ["biz1:1.0"])],
        failures: new Map([["biz1:1.0", failure()]]),
        unclaimed: new Set(["biz1:1.0"]),
      },
      [],
      ["biz1:1.0"],
    ],
  ])("%s", (_what, over, forget, claim) => {
    const pass = planPass(state(over));
    expect(pass.forget).toEqual(forget);
    expect(pass.claim).toEqual(claim);
  });
});

describe("planPass: deletion", () => {
  const gone = pod("p1", ["biz1:1.0"], { terminating: true });
  it.each<[string, Partial<PassState>, string[], string[]]>([
    ["finishes a terminating pod; its biz is not wanted", { pods: [gone] }, ["p1"], []],
    [
      "a biz another live pod wants stays wanted",
      { pods: [gone, pod("p2", ["biz1:1.0"])] },
      ["p1"],
      ["biz1:1.0"],
    ],
    [
      "not twice while its deletion is on the wire",
      { pods: [gone], busy: new Set([deleteKey(gone)]) },
      [],
      [],
    ],
    ["a live pod is not finished", { pods: [pod("p2", ["biz1:1.0"])] }, [], ["biz1:1.0"]],
  ])("%s", (_what, over, finish, wanted) => {
    const pass = planPass(state(over));
    expect(pass.finish.map(p => p.metadata?.name)).toEqual(finish);
    expect([...pass.wanted.keys()]).toEqual(wanted);
  });
});

describe("planPass: orphans", () => {
  const bizzes = new Map([["orphan:1", running()]]);
  const clock = (since: number) => new Map([["orphan:1", since]]);
  type Want = { due: string[]; since?: number; again?: number };
  it.each<[string, Partial<PassState>, Want]>([
    ["starts the clock of a biz nobody wants", { bizzes }, { due: [], since: NOW, again: GRACE }],
    [
      "uninstalls it once the grace is over",
      { bizzes, orphanSince: clock(NOW - GRACE) },
      { due: ["orphan:1"], since: NOW - GRACE },
    ],
    [
      "waits out the rest of the grace",
      { bizzes, orphanSince: clock(NOW - 1000) },
      { due: [], since: NOW - 1000, again: GRACE - 1000 },
    ],
    ["never, with the rule off", { bizzes, orphanGraceMs: 0 }, { due: [] }],
    [
      "not while an uninstall of it is on the wire",
      { bizzes, busy: new Set(["orphan:1"]), orphanSince: clock(0) },
      { due: [], since: 0 },
    ],
    [
      "a wanted biz is no orphan",
      { bizzes, pods: [pod("p", ["orphan:1"])], orphanSince: clock(0) },
      { due: [] },
    ],
    [
      "a terminating pod's biz is no orphan (its deletion uninstalls it)",
      { bizzes, pods: [pod("p", ["orphan:1"], { terminating: true })] },
      { due: [] },
    ],
    [
      "a stray claimed by a live pod's failure stays",
      {
        bizzes,
        pods: [pod("p", ["biz1:1.0"])],
        failures: new Map([["biz1:1.0", failure({ stray: "orphan:1" })]]),
      },
      { due: [] },
    ],
    [
      "a biz the base does not hold is no orphan",
      { bizzes: new Map([["orphan:1", running("uninstalled")]]) },
      { due: [] },
    ],
    [
      "the state is compared case-insensitively",
      { bizzes: new Map([["orphan:1", running("deactivated")]]) },
      { due: [], since: NOW, again: GRACE },
    ],
  ])("%s", (_what, over, want) => {
    const pass = planPass(state(over));
    expect(pass.orphans).toEqual(want.due);
    expect(pass.orphanSince.get("orphan:1")).toBe(want.since);
    expect(pass.againInMs).toBe(want.again);
  });

  it("never changes the clock it was given", () => {
    const orphanSince = new Map([["gone:1", 5]]);
    planPass(state({ bizzes, orphanSince }));
    expect([...orphanSince]).toEqual([["gone:1", 5]]);
  });
});

describe("planStatus", () => {
  const p1 = pod("p1", ["biz1:1.0"]);
  const base: StatusState = {
    now: NOW,
    bizzes: new Map([["biz1:1.0", running()]]),
    failures: new Map(),
    knownBizList: true,
    restored: true,
    installingSince: new Map(),
    baseIP: "10.0.0.7",
  };

  it("writes Ready for a running biz, with the base's address", () => {
    const step = planStatus(p1, base);
    expect(step.kind).toBe("write");
    if (step.kind !== "write") return;
    expect(step.status.phase).toBe("Running");
    expect(step.status.podIP).toBe("10.0.0.7");
    expect(step.status.conditions?.find(c => c.type === "Ready")?.status).toBe("True");
    expect(step.fingerprint).toBe(podStatusFingerprint(step.status));
  });

  it("writes nothing when the pod already shows it", () => {
    const first = planStatus(p1, base);
    if (first.kind !== "write") throw new Error("expected a write");
    expect(planStatus(p1, { ...base, written: first.fingerprint }).kind).toBe("none");
    expect(planStatus({ ...p1, status: first.status }, base).kind).toBe("none");
  });

  it.each<[string, Partial<StatusState>, string]>([
    [
      "nothing before the biz list, unless every biz failed",
      { knownBizList: false, bizzes: new Map() },
      "none",
    ],
    [
      "a failure is known without the biz list",
      { knownBizList: false, bizzes: new Map(), failures: new Map([["biz1:1.0", failure()]]) },
      "write",
    ],
    [
      "nothing for a biz neither running nor failed until the retry store is read",
      { restored: false, bizzes: new Map() },
      "none",
    ],
    ["a running biz does not wait for the retry store", { restored: false }, "write"],
    [
      "an install younger than the interim delay shows nothing yet",
      { bizzes: new Map(), installingSince: new Map([["biz1:1.0", NOW - 100]]) },
      "later",
    ],
    [
      "an install older than that shows BizInstalling",
      {
        bizzes: new Map(),
        installingSince: new Map([["biz1:1.0", NOW - INTERIM_STATUS_DELAY_MS]]),
      },
      "write",
    ],
  ])("%s", (_what, over, kind) => {
    expect(planStatus(p1, { ...base, ...over }).kind).toBe(kind);
  });

  it("comes back when the interim delay runs out", () => {
    const step = planStatus(p1, {
      ...base,
      bizzes: new Map(),
      installingSince: new Map([["biz1:1.0", NOW - 100]]),
    });
    expect(step).toEqual({ kind: "later", inMs: INTERIM_STATUS_DELAY_MS - 100 });
  });
});
