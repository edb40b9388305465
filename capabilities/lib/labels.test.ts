import { describe, expect, it } from "@jest/globals";
import { isLabelValue } from "./labels";

describe("isLabelValue", () => {
  it.each([
    ["", true],
    ["a", true],
    ["cluster-a", true],
    ["Cluster_1.prod", true],
    ["a".repeat(63), true],
    ["a".repeat(64), false],
    ["-a", false],
    ["a.", false],
    ["a b", false],
    ["a,b", false],
    ["*", false],
    ["ä", false],
  ])("%j → %s", (value, want) => expect(isLabelValue(value)).toBe(want));
});
