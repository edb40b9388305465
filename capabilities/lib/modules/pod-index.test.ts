import { describe, expect, it } from "@jest/globals";
import type { V1Pod } from "@kubernetes/client-node";
import { PodIndex } from "./pod-index";

const pod = (name: string, node?: string): V1Pod => ({
  metadata: { name, namespace: "team-a", uid: `uid-${name}` },
  spec: { nodeName: node, containers: [] },
});

describe("PodIndex", () => {
  it("holds bound pods by node and forgets deleted ones", () => {
    const index = new PodIndex();
    expect(index.apply(pod("a", "n1"), false)).toBe(true);
    expect(index.apply(pod("b", "n1"), false)).toBe(true);
    expect(index.apply(pod("c", "n2"), false)).toBe(true);
    expect([...index.on("n1").keys()]).toEqual(["team-a/a", "team-a/b"]);
    index.apply(pod("a", "n1"), true);
    expect([...index.on("n1").keys()]).toEqual(["team-a/b"]);
    expect([...index.on("n3").keys()]).toEqual([]);
  });

  it("ignores pods not bound to a node", () => {
    const index = new PodIndex();
    expect(index.apply(pod("a"), false)).toBe(false);
  });

  it("swallows every later event of a pod deleted for good, its DELETED event and stale ones after it", () => {
    const index = new PodIndex();
    index.apply(pod("a", "n1"), false);
    index.finish(pod("a", "n1"), 0);
    expect(index.on("n1").size).toBe(0);
    expect(index.apply(pod("a", "n1"), false)).toBe(false); // an older MODIFIED event
    expect(index.apply(pod("a", "n1"), true)).toBe(false); // its DELETED event
    expect(index.apply(pod("a", "n1"), false)).toBe(false); // a MODIFIED handed over after it
    expect(index.on("n1").size).toBe(0);
    expect(index.isFinished(pod("b", "n1"))).toBe(false);
  });

  it("forgets finished pods after ten minutes", () => {
    const index = new PodIndex();
    index.finish(pod("a", "n1"), 0);
    index.finish(pod("b", "n1"), 10 * 60_000 + 1);
    expect(index.isFinished(pod("a", "n1"))).toBe(false);
    expect(index.isFinished(pod("b", "n1"))).toBe(true);
  });
});
