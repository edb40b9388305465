// Installing the module must not put the cluster at risk, and admission must be the only way
// a pod becomes a module: the module label cannot be added or removed later, a module pod in a
// namespace the webhooks leave out is never installed, and with the controller killed (its
// webhooks left behind) only module pods are refused: every other pod is created as usual.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { K8s, kind } from "kubernetes-fluent-client";
import {
  ANNOTATION_MUTATED,
  COMPONENT_MODULE,
  LABEL_BASE_NAME,
  LABEL_COMPONENT,
  MODULE_NAMESPACE,
  NODE_LEASE_NAMESPACE,
  TAINT_NODE_ENV,
  TAINT_VIRTUAL_NODE,
} from "../../capabilities/lib/contract";
import { ADMITTED_CONDITION, NOT_ADMITTED_REASON } from "../../capabilities/lib/modules/admitted";
import {
  foreignWebhookName,
  moduleWebhookName,
  workloadWebhookName,
} from "../../capabilities/lib/webhooks";
import { Lease, PeprStore } from "../../capabilities/lib/kinds";
import { FakeBase, startFleet } from "../../hack/fake-base/fake-base";
import { createNamespace, kubectl, waitFor } from "./kube";
import { PeprDev, startPeprDev, stopPeprDev, WEBHOOK_NAME } from "./pepr-dev";

const CONTROLLER = "http://127.0.0.1:7777";
const FIRST_OCTET = 160; // 127.0.0.160, apart from the other suites' bases
const DEV_ENV = {
  KOUPLELESS_REPLICA_ID: "e2e-safety",
  KOUPLELESS_HEALTH_POLL_SECONDS: "2",
  KOUPLELESS_BIZ_POLL_SECONDS: "2",
  KOUPLELESS_HEARTBEAT_MIN_INTERVAL_MS: "500",
};
const EXCLUDED_NS = "kube-system";
const EXCLUDED_POD = "e2e-safety-excluded";
const nodeName = (b: FakeBase) => `vnode.${b.opts.identity}.dev`;

type Pod = kind.Pod;

function modulePod(name: string, extra: Partial<NonNullable<Pod["spec"]>> = {}): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      // a base nothing runs: the pod stays Pending, admission is what is under test
      labels: { [LABEL_COMPONENT]: COMPONENT_MODULE, [LABEL_BASE_NAME]: "no-such-base" },
    },
    spec: {
      containers: [
        {
          name,
          image: `file:///opt/biz/${name}-1.0.0-ark-biz.jar`,
          env: [{ name: "BIZ_VERSION", value: "1.0.0" }],
        },
      ],
      ...extra,
    },
  };
}

const plainPod = (name: string): Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name },
  spec: { containers: [{ name: "app", image: "example.invalid/app:1" }] },
});

const apply = (ns: string, obj: object) =>
  kubectl(["apply", "-n", ns, "-f", "-"], JSON.stringify(obj));

async function getPod(ns: string, name: string): Promise<Pod | undefined> {
  try {
    return await K8s(kind.Pod).InNamespace(ns).Get(name);
  } catch {
    return undefined;
  }
}

/** The processes of `npm run dev` die at once: nothing removes the webhooks they registered. */
function killDev(dev: PeprDev): void {
  try {
    process.kill(-(dev.child.pid as number), "SIGKILL");
  } catch {
    // already gone
  }
}

describe("safe to install", () => {
  let dev: PeprDev | undefined;
  let bases: FakeBase[] = [];
  let ns = "";

  beforeAll(async () => {
    ns = await createNamespace("e2e-safety");
    dev = await startPeprDev(DEV_ENV);
    bases = await startFleet(1, { controller: CONTROLLER, heartbeatMs: 2000 }, FIRST_OCTET);
    await waitFor(`${nodeName(bases[0])} Ready`, async () => {
      const n = await K8s(kind.Node).Get(nodeName(bases[0]));
      return n.status?.conditions?.some(c => c.type === "Ready" && c.status === "True");
    });
  });

  afterAll(async () => {
    await Promise.all(bases.map(b => b.stop(true)));
    await stopPeprDev(dev); // also removes the webhooks the killed controller left
    for (const b of bases) {
      await K8s(kind.Node).Delete(nodeName(b));
      await K8s(Lease).InNamespace(NODE_LEASE_NAMESPACE).Delete(nodeName(b));
      await K8s(PeprStore)
        .InNamespace(MODULE_NAMESPACE)
        .Delete(`koupleless-shard.${nodeName(b)}`);
    }
    await kubectl(["delete", "deployment", "e2e-safety-plain", "-n", "default", "--wait=false"]);
    const force = ["--grace-period=0", "--force", "--ignore-not-found"];
    await kubectl(["delete", "pods", "-l", "e2e=safety", "-n", "default", ...force]);
    await kubectl(["delete", "pod", "e2e-safety-plain", "-n", "default", ...force]);
    await kubectl(["delete", "pod", EXCLUDED_POD, "-n", EXCLUDED_NS, ...force]);
    await kubectl(["delete", "pods", "--all", "-n", ns, "--grace-period=0", "--force"]);
    await kubectl(["delete", "namespace", ns, "--wait=false"]);
  });

  it("makes Pepr's webhooks safe when the controller starts (npm run dev applies Pepr's own)", async () => {
    const hooks = await waitFor("the foreign-pod and workload webhook entries", async () => {
      const v = await K8s(kind.ValidatingWebhookConfiguration).Get(WEBHOOK_NAME);
      return v.webhooks?.length === 3 ? v : undefined;
    });
    const byName = Object.fromEntries((hooks.webhooks ?? []).map(w => [w.name, w]));
    const module = byName[moduleWebhookName(WEBHOOK_NAME)];
    const foreign = byName[foreignWebhookName(WEBHOOK_NAME)];
    expect(module).toMatchObject({
      failurePolicy: "Fail",
      objectSelector: {
        matchExpressions: [{ key: LABEL_COMPONENT, operator: "In", values: [COMPONENT_MODULE] }],
      },
    });
    expect(foreign).toMatchObject({
      failurePolicy: "Ignore",
      timeoutSeconds: 3,
      objectSelector: {
        matchExpressions: [{ key: LABEL_COMPONENT, operator: "NotIn", values: [COMPONENT_MODULE] }],
      },
    });
    // Deployments and DaemonSets: warnings only, so the entry fails open and selects nothing
    expect(byName[workloadWebhookName(WEBHOOK_NAME)]).toMatchObject({
      failurePolicy: "Ignore",
      timeoutSeconds: 3,
    });
    expect(byName[workloadWebhookName(WEBHOOK_NAME)].objectSelector).toEqual({});
    const mutating = await K8s(kind.MutatingWebhookConfiguration).Get(WEBHOOK_NAME);
    expect(mutating.webhooks?.map(w => [w.failurePolicy, w.objectSelector])).toEqual([
      ["Fail", module.objectSelector],
    ]);
  });

  it("refuses the module label on an existing pod, and its removal from a module pod", async () => {
    expect(await apply(ns, plainPod("plain"))).toMatchObject({ code: 0 });
    const added = await kubectl(["label", "pod", "plain", "-n", ns, `${LABEL_COMPONENT}=module`]);
    expect(added.code).not.toBe(0);
    expect(added.stderr).toContain("can only be set when the pod is created");
    expect(added.stderr).toContain("delete the pod and create it with the label");
    expect((await getPod(ns, "plain"))?.metadata?.labels?.[LABEL_COMPONENT]).toBeUndefined();

    expect(await apply(ns, modulePod("labelled"))).toMatchObject({ code: 0 });
    const removed = await kubectl(["label", "pod", "labelled", "-n", ns, `${LABEL_COMPONENT}-`]);
    expect(removed.code).not.toBe(0);
    expect(removed.stderr).toContain("cannot be removed from a module pod");
    const changed = await kubectl([
      "label",
      "pod",
      "labelled",
      "-n",
      ns,
      `${LABEL_COMPONENT}=x`,
      "--overwrite",
    ]);
    expect(changed.code).not.toBe(0);

    // the mark that admission saw the pod survives an update that drops it
    const mark = (await getPod(ns, "labelled"))?.metadata?.annotations?.[ANNOTATION_MUTATED];
    expect(mark).toBeTruthy();
    const dropped = await kubectl([
      "annotate",
      "pod",
      "labelled",
      "-n",
      ns,
      `${ANNOTATION_MUTATED}-`,
    ]);
    expect(dropped.code).toBe(0);
    expect((await getPod(ns, "labelled"))?.metadata?.annotations?.[ANNOTATION_MUTATED]).toBe(mark);
  });

  it("never installs a module pod from a namespace the webhooks leave out", async () => {
    const b = bases[0];
    const pod = modulePod(EXCLUDED_POD, {
      nodeName: nodeName(b), // straight onto a live base, as the probe did
      tolerations: [
        { key: TAINT_VIRTUAL_NODE, operator: "Exists", effect: "NoExecute" },
        { key: TAINT_NODE_ENV, operator: "Exists", effect: "NoExecute" },
      ],
    });
    pod.metadata!.annotations = { [ANNOTATION_MUTATED]: "forged" }; // the namespace decides
    expect(await apply(EXCLUDED_NS, pod)).toMatchObject({ code: 0 });

    const flagged = await waitFor("the NotAdmitted condition", async () => {
      const p = await getPod(EXCLUDED_NS, EXCLUDED_POD);
      return p?.status?.conditions?.find(c => c.type === ADMITTED_CONDITION);
    });
    expect(flagged).toMatchObject({ status: "False", reason: NOT_ADMITTED_REASON });
    expect(flagged.message).toContain(`namespace ${EXCLUDED_NS} is left out`);
    const events = await K8s(kind.CoreEvent).InNamespace(EXCLUDED_NS).Get();
    const ours = events.items.filter(e => e.involvedObject?.name === EXCLUDED_POD);
    expect(ours.map(e => [e.type, e.reason])).toEqual([["Warning", NOT_ADMITTED_REASON]]);

    // two more biz polls, each followed by a reconcile pass: still nothing asked of the base
    const polls = b.count("queryAllBiz");
    await waitFor("two biz polls after the flag", async () => b.count("queryAllBiz") >= polls + 2);
    const asked = b.log.filter(e => (e.body as { bizName?: string }).bizName === EXCLUDED_POD);
    expect(asked).toEqual([]);

    // deleted: gone for good without an uninstall (the base never had it)
    await kubectl(["delete", "pod", EXCLUDED_POD, "-n", EXCLUDED_NS, "--wait=false"]);
    await waitFor("the excluded pod gone", async () => !(await getPod(EXCLUDED_NS, EXCLUDED_POD)));
    expect(b.log.filter(e => (e.body as { bizName?: string }).bizName === EXCLUDED_POD)).toEqual(
      [],
    );
  });

  it("with the controller killed, refuses only module pods, naming the webhook", async () => {
    killDev(dev as PeprDev);
    const child = (dev as PeprDev).child;
    await waitFor("npm run dev gone", async () => child.exitCode !== null || !!child.signalCode);
    // the failure this guards against: the webhooks stay, nothing answers them
    // module pods, other pods, workloads: only the first fails closed
    expect(
      (await K8s(kind.ValidatingWebhookConfiguration).Get(WEBHOOK_NAME)).webhooks?.map(
        w => w.failurePolicy,
      ),
    ).toEqual(["Fail", "Ignore", "Ignore"]);

    expect(await apply("default", plainPod("e2e-safety-plain"))).toMatchObject({ code: 0 });
    expect(await apply(ns, plainPod("plain-too"))).toMatchObject({ code: 0 });
    const deployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "e2e-safety-plain" },
      spec: {
        replicas: 2,
        selector: { matchLabels: { e2e: "safety" } },
        template: {
          metadata: { labels: { e2e: "safety" } },
          spec: { containers: [{ name: "app", image: "example.invalid/app:1" }] },
        },
      },
    };
    expect(await apply("default", deployment)).toMatchObject({ code: 0 });
    await waitFor("the Deployment's 2 pods created", async () => {
      const pods = await K8s(kind.Pod).InNamespace("default").WithLabel("e2e", "safety").Get();
      return pods.items.length === 2;
    });

    const refused = await apply(ns, modulePod("while-down"));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`failed calling webhook "${moduleWebhookName(WEBHOOK_NAME)}"`);
    expect(await getPod(ns, "while-down")).toBeUndefined();
  });
});
