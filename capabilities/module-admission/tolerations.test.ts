import { describe, expect, it } from "@jest/globals";
import type { V1Toleration } from "@kubernetes/client-node";
import { tolerates, vnodeTolerations, withVNodeTolerations } from "./tolerations";

const [vnode, env] = vnodeTolerations("dev");

describe("withVNodeTolerations", () => {
  const cases: Array<{ name: string; given: V1Toleration[] | undefined; added: V1Toleration[] }> = [
    { name: "no tolerations at all", given: undefined, added: [vnode, env] },
    { name: "an empty list", given: [], added: [vnode, env] },
    { name: "both already present", given: [vnode, env], added: [] },
    {
      name: "same key with another value (other env)",
      given: [{ ...env, value: "prod" }],
      added: [vnode, env],
    },
    {
      name: "Exists on the virtual-node key",
      given: [{ key: vnode.key, operator: "Exists", effect: "NoExecute" }],
      added: [env],
    },
    {
      name: "empty key with Exists tolerates every taint",
      given: [{ operator: "Exists" }],
      added: [],
    },
    {
      name: "same key but NoSchedule effect does not count",
      given: [{ ...vnode, effect: "NoSchedule" }],
      added: [vnode, env],
    },
    {
      name: "unrelated tolerations are kept",
      given: [{ key: "a", operator: "Exists" }],
      added: [vnode, env],
    },
  ];

  it.each(cases)("$name", ({ given, added }) => {
    const out = withVNodeTolerations(given, "dev");
    expect(out).toEqual([...(given ?? []), ...added]);
  });

  it("is idempotent", () => {
    const once = withVNodeTolerations([{ key: "x", operator: "Exists" }], "dev");
    expect(withVNodeTolerations(once, "dev")).toEqual(once);
  });

  it("uses the env as the env-taint value", () => {
    expect(withVNodeTolerations([], "prod")[1]).toEqual({ ...env, value: "prod" });
  });
});

describe("tolerates", () => {
  it("rejects a different key", () => {
    expect(tolerates({ key: "other", operator: "Exists" }, vnode)).toBe(false);
  });
  it("treats a missing effect as all effects", () => {
    expect(tolerates({ key: vnode.key, operator: "Equal", value: "True" }, vnode)).toBe(true);
  });
});
