// The end of a suite with its own bases: deployments stopped, bases say goodbye (their VNodes
// and queue shards go), the controller stops, leftovers are removed, namespaces deleted.
import { K8s, kind } from "kubernetes-fluent-client";
import { NODE_LEASE_NAMESPACE } from "../../capabilities/lib/contract";
import { Lease, PeprStore } from "../../capabilities/lib/kinds";
import type { FakeBase } from "../../hack/fake-base/fake-base";
import { kubectl, waitFor } from "./kube";
import { PeprDev, stopPeprDev } from "./pepr-dev";

export const devVNode = (b: FakeBase) => `vnode.${b.opts.identity}.dev`;

export async function tearDownSuite(
  bases: FakeBase[],
  dev: PeprDev | undefined,
  namespaces: string[],
): Promise<void> {
  for (const ns of namespaces) {
    await kubectl(["delete", "deployment", "--all", "-n", ns, "--wait=false"]);
  }
  await Promise.all(bases.map(b => b.stop(true)));
  try {
    // a DEACTIVATED base takes its VNode's queue shard with it
    await waitFor("queue shards deleted with their VNodes", async () => {
      const list = await K8s(PeprStore).InNamespace("pepr-system").Get();
      return !list.items.some(r =>
        bases.some(b => r.metadata?.name === `koupleless-shard.${devVNode(b)}`),
      );
    });
  } finally {
    await stopPeprDev(dev); // even when the check fails: a stray pepr dev breaks every later suite
  }
  for (const b of bases) {
    await K8s(kind.Node).Delete(devVNode(b));
    await K8s(Lease).InNamespace(NODE_LEASE_NAMESPACE).Delete(devVNode(b));
  }
  for (const ns of namespaces) {
    await kubectl(["delete", "pods", "--all", "-n", ns, "--grace-period=0", "--force"]);
    await kubectl(["delete", "namespace", ns, "--wait=false"]);
  }
}
