import { describe, expect, it } from "@jest/globals";
import type { V1Pod } from "@kubernetes/client-node";
import { denyMessage, newProblems } from "./messages";

// a check with one problem per label value "bad-*"
const check = (pod: V1Pod) =>
  Object.entries(pod.metadata?.labels ?? {})
    .filter(([, v]) => v.startsWith("bad"))
    .map(([k, v]) => `label ${k}=${v}`);
const pod = (labels: Record<string, string>): V1Pod => ({ metadata: { labels } });

describe("newProblems", () => {
  it.each([
    ["CREATE reports everything", pod({ a: "bad-1" }), undefined, ["label a=bad-1"]],
    ["an UPDATE keeping old problems passes", pod({ a: "bad-1", x: "y" }), pod({ a: "bad-1" }), []],
    [
      "an UPDATE reports what it adds",
      pod({ a: "bad-1", b: "bad-2" }),
      pod({ a: "bad-1" }),
      ["label b=bad-2"],
    ],
    ["an UPDATE that fixes one passes", pod({ a: "ok" }), pod({ a: "bad-1" }), []],
  ])("%s", (_name, now, old, want) => {
    expect(newProblems(check, now, old)).toEqual(want);
  });
});

describe("denyMessage", () => {
  it("is the problem itself when there is one", () => {
    expect(denyMessage(["a"])).toBe("a");
  });
  it("lists them all, numbered", () => {
    expect(denyMessage(["a", "b"])).toBe("2 problems: (1) a; (2) b");
  });
});
