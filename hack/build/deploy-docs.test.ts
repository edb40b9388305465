// The deploy page's commands (docs/deploy.md) are the ones test/e2e/deploy.e2e.test.ts runs.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { HELM_NODE_PORT_VALUES, PEPR_UNINSTALL, VNODE_CLEANUP } from "../../test/e2e/deploy-routes";

// shell continuation lines joined, spaces collapsed
const readme = readFileSync(join(__dirname, "..", "..", "docs", "deploy.md"), "utf8")
  .replace(/\\\n\s*/g, " ")
  .replace(/[ \t]+/g, " ");

describe("docs/deploy.md commands", () => {
  it.each([...PEPR_UNINSTALL, ...VNODE_CLEANUP].map(a => [`kubectl ${a.join(" ")}`]))(
    "%s",
    command => expect(readme).toContain(command),
  );

  it("the Helm install for bases outside the cluster", () => {
    const cmd = `helm install koupleless-pepr dist/koupleless-pepr-chart ${HELM_NODE_PORT_VALUES.join(" ")}`;
    expect(readme).toContain(cmd);
  });
});
