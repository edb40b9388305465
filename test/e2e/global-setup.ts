// Brings the local control plane up for the e2e suites unless it is already up, and
// remembers whether it did, so that teardown stops only what setup started.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLUSTER_DIR, DEFAULT_UP_OPTIONS, KUBECONFIG_PATH, up } from "../../hack/cluster/cluster";
import { kubectl } from "./kube";
import { WEBHOOK_NAME } from "./pepr-dev";

export default async function globalSetup(): Promise<void> {
  if (process.env.KUBECONFIG && process.env.E2E_USE_KUBECONFIG === "true") return;
  const res = await up({
    ...DEFAULT_UP_OPTIONS,
    // no real node even with KUBE_LOCAL_NODE=1: the suites expect pods without VNode
    // tolerations to stay Pending; test/e2e/node.e2e.test.ts adds and removes its own node
    node: false,
    log: line => process.stderr.write(`[e2e setup] ${line}\n`),
  });
  process.env.KUBECONFIG = KUBECONFIG_PATH;
  // a `pepr dev` killed in an earlier run may have left its failurePolicy=Fail webhooks behind,
  // which would block every pod create; each suite that needs the module starts its own
  await kubectl([
    "delete",
    "mutatingwebhookconfiguration,validatingwebhookconfiguration",
    WEBHOOK_NAME,
    "--ignore-not-found",
  ]);
  writeFileSync(join(CLUSTER_DIR, "started-by-tests"), res.alreadyUp ? "no" : "yes");
  process.stderr.write(
    `[e2e setup] cluster ${res.alreadyUp ? "already up" : `started in ${res.seconds.toFixed(1)}s`}: ${res.state.apiserver}\n`,
  );
}
