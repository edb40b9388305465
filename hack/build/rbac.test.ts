import { describe, expect, it } from "@jest/globals";
import pkg from "../../package.json";
import { CLUSTER_RULES, MODULE_NAMESPACE_RULES, NODE_LEASE_RULES, peprDeployRules } from "./rbac";

describe("one source of truth for the module's RBAC", () => {
  it("package.json's pepr.rbac (what `npx pepr deploy` grants) equals hack/build/rbac.ts", () => {
    // on failure: node --import tsx hack/build/rbac.ts --write
    expect(pkg.pepr.rbacMode).toBe("scoped");
    expect(pkg.pepr.rbac).toEqual(peprDeployRules());
  });

  it("grants every rule dist/ grants, and no wildcard", () => {
    const all = [...CLUSTER_RULES, ...NODE_LEASE_RULES, ...MODULE_NAMESPACE_RULES];
    for (const rule of all) expect(peprDeployRules()).toContainEqual(rule);
    for (const rule of peprDeployRules()) {
      for (const field of [rule.apiGroups, rule.resources, rule.verbs])
        expect(field).not.toContain("*");
    }
  });

  it("has one rule per resource: Pepr merges same-resource rules, resourceNames and all", () => {
    const keys = peprDeployRules().map(r => `${r.apiGroups.join()}/${r.resources.join()}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
