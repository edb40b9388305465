import { describe, expect, it } from "@jest/globals";
import { OwnPodDeps, untilOwnPodDeleting } from "./own-pod";

/** Answers the GETs in turn (an Error is thrown); counts sleeps. */
function deps(answers: unknown[], stopAfter = Infinity) {
  let i = 0;
  let sleeps = 0;
  const warnings: string[] = [];
  const d: OwnPodDeps = {
    get: async () => {
      const a = answers[Math.min(i++, answers.length - 1)];
      if (a instanceof Error) throw a;
      return a as never;
    },
    sleep: async () => void sleeps++,
    stopped: () => sleeps >= stopAfter,
    log: { info: () => {}, warn: (_o, m) => warnings.push(m), error: () => {} },
  };
  return { d, gets: () => i, sleeps: () => sleeps, warnings };
}

const live = { metadata: {} };
const deleting = { metadata: { deletionTimestamp: "2026-12-02T19:00:00Z" } };

describe("untilOwnPodDeleting", () => {
  it.each([
    ["outside a Pod the first GET finds nothing: give up at once", [undefined], "not a pod", 1],
    ["a deletionTimestamp is the stop signal", [live, live, deleting], "deleting", 3],
    ["a Pod that vanished after we saw it is being deleted too", [live, undefined], "deleting", 2],
    [
      "an API error is retried, not taken for a deletion",
      [live, new Error("503"), deleting],
      "deleting",
      3,
    ],
  ])("%s", async (_name, answers, outcome, gets) => {
    const t = deps(answers);
    expect(await untilOwnPodDeleting("/p", 1000, t.d)).toBe(outcome);
    expect(t.gets()).toBe(gets);
  });

  it("logs API errors and ends when the process stops", async () => {
    const t = deps([live, new Error("boom")], 3);
    expect(await untilOwnPodDeleting("/p", 1000, t.d)).toBe("stopped");
    expect(t.warnings).toContain("cannot read our own Pod");
  });
});
