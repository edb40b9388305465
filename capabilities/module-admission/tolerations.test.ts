import { describe, expect, it } from "@jest/globals";
import type { V1Toleration } from "@kubernetes/client-node";
import { TAINT_NODE_ENV, TAINT_NOT_READY, TAINT_UNREACHABLE } from "../lib/contract";
import {
  DEFAULT_TOLERATION_SECONDS,
  failoverToleration,
  otherEnvsChosen,
  tolerates,
  vnodeTolerations,
  withFailoverTolerations,
  withVNodeTolerations,
} from "./tolerations";

const [vnode, env] = vnodeTolerations("dev");

describe("otherEnvsChosen", () => {
  const t = (value: string, operator = "Equal") => ({ key: TAINT_NODE_ENV, operator, value });
  it.each([
    ["none", undefined, []],
    ["ours", [t("dev")], []],
    ["another", [t("test")], ["test"]],
    ["two others", [t("test"), t("prod"), t("test")], ["test", "prod"]],
    ["another and ours", [t("test"), t("dev")], []],
    ["Exists: any env, ours included", [t("", "Exists")], []],
  ])("%s", (_name, given, want) => expect(otherEnvsChosen(given, "dev")).toEqual(want));
});

describe("withVNodeTolerations", () => {
  const cases: Array<{ name: string; given: V1Toleration[] | undefined; added: V1Toleration[] }> = [
    { name: "no tolerations at all", given: undefined, added: [vnode, env] },
    { name: "an empty list", given: [], added: [vnode, env] },
    { name: "both already present", given: [vnode, env], added: [] },
    {
      name: "another env chosen (node-env=prod): kept, ours not added on top",
      given: [{ ...env, value: "prod" }],
      added: [vnode],
    },
    {
      name: "another env and ours both tolerated: nothing chosen against us",
      given: [{ ...env, value: "prod" }, env],
      added: [vnode],
    },
    {
      name: "node-env with Exists tolerates every env",
      given: [{ key: env.key, operator: "Exists", effect: "NoExecute" }],
      added: [vnode],
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

describe("withFailoverTolerations", () => {
  const nr = (seconds: number) => failoverToleration(TAINT_NOT_READY, seconds);
  const ur = (seconds: number) => failoverToleration(TAINT_UNREACHABLE, seconds);
  const cases: Array<{ name: string; given: V1Toleration[] | undefined; want: V1Toleration[] }> = [
    { name: "none at all: both added", given: undefined, want: [nr(30), ur(30)] },
    {
      name: "the apiserver's 300 s defaults are shortened in place",
      given: [vnode, nr(300), ur(300)],
      want: [vnode, nr(30), ur(30)],
    },
    {
      name: "the pod's own seconds are kept",
      given: [nr(600)],
      want: [nr(600), ur(30)],
    },
    {
      name: "the pod's own forever (no seconds) is kept",
      given: [{ key: TAINT_UNREACHABLE, operator: "Exists", effect: "NoExecute" }],
      want: [{ key: TAINT_UNREACHABLE, operator: "Exists", effect: "NoExecute" }, nr(30)],
    },
    {
      name: "a key-only toleration (any effect) is the pod's own",
      given: [{ key: TAINT_NOT_READY, operator: "Exists" }],
      want: [{ key: TAINT_NOT_READY, operator: "Exists" }, ur(30)],
    },
    {
      name: "empty key with Exists tolerates every taint forever: nothing added",
      given: [{ operator: "Exists" }],
      want: [{ operator: "Exists" }],
    },
    {
      name: "a NoSchedule toleration does not count",
      given: [{ key: TAINT_NOT_READY, operator: "Exists", effect: "NoSchedule" }],
      want: [{ key: TAINT_NOT_READY, operator: "Exists", effect: "NoSchedule" }, nr(30), ur(30)],
    },
  ];

  it.each(cases)("$name", ({ given, want }) => {
    const out = withFailoverTolerations(given, 30);
    expect(out).toEqual(want);
    expect(withFailoverTolerations(out, 30)).toEqual(out);
  });

  it("keeps the defaults when failoverSeconds is the default itself", () => {
    const given = [nr(DEFAULT_TOLERATION_SECONDS), ur(DEFAULT_TOLERATION_SECONDS)];
    expect(withFailoverTolerations(given, DEFAULT_TOLERATION_SECONDS)).toEqual(given);
  });

  it("does not modify its input", () => {
    const given = Object.freeze([Object.freeze(nr(300))]);
    expect(() => withFailoverTolerations([...given], 30)).not.toThrow();
    expect(given[0].tolerationSeconds).toBe(300);
  });
});
