// Module pod admission through the real kube-apiserver and `npm run dev`: the sample manifests
// produce mutated pods, every kind of bad pod is refused with a message `kubectl apply` shows,
// plain pods are left alone, and updates go through. There are no VNodes here, so module pods
// stay Pending; what admission did is read from their spec.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { join } from "node:path";
import { K8s, kind } from "kubernetes-fluent-client";
import {
  ANNOTATION_MUTATED,
  COMPONENT_MODULE,
  COMPONENT_VNODE,
  ENV_BIZ_VERSION,
  LABEL_BASE_NAME,
  LABEL_BASE_VERSION,
  LABEL_COMPONENT,
  LABEL_ENV,
  LABEL_HOSTNAME,
  LABEL_MODULE_NAME,
  LABEL_MODULE_VERSION,
  TAINT_EFFECT,
  TAINT_NODE_ENV,
  TAINT_NOT_READY,
  TAINT_UNREACHABLE,
  TAINT_VIRTUAL_NODE,
  TAINT_VIRTUAL_NODE_VALUE,
} from "../../capabilities/lib/contract";
import { REPO_ROOT } from "../../hack/cluster/cluster";
import { createNamespace, kubectl, waitFor } from "./kube";
import { PeprDev, startPeprDev, stopPeprDev } from "./pepr-dev";

const SAMPLES = join(REPO_ROOT, "capabilities", "module-admission", "samples");
const JAR_HOST = "serverless-opensource.oss-cn-shanghai.aliyuncs.com";
const JAR = `https://${JAR_HOST}/module-packages/stable/biz1-web-single-host-0.0.1-SNAPSHOT-ark-biz.jar`;
const VERSION = "0.0.1-SNAPSHOT";
const ENV = "dev"; // KOUPLELESS_ENV's default, which the samples assume
const FAILOVER_SECONDS = 30; // KOUPLELESS_FAILOVER_SECONDS's default
const REV = "e2e.koupleless.io/rev";

type Pod = kind.Pod;
type Toleration = NonNullable<NonNullable<Pod["spec"]>["tolerations"]>[number];

const sameToleration = (t: Toleration, key: string, value?: string) =>
  t.key === key && t.effect === TAINT_EFFECT && (value === undefined || t.value === value);

function requiredTerms(pod: Pod) {
  return (
    pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
      ?.nodeSelectorTerms ?? []
  );
}

/** What admission must have added to a module pod, whatever else it carries. */
function expectVNodeScheduling(pod: Pod): void {
  const tolerations = pod.spec?.tolerations ?? [];
  const vnode = tolerations.filter(t =>
    sameToleration(t, TAINT_VIRTUAL_NODE, TAINT_VIRTUAL_NODE_VALUE),
  );
  const env = tolerations.filter(t => sameToleration(t, TAINT_NODE_ENV, ENV));
  expect([vnode.length, env.length]).toEqual([1, 1]); // added once, never twice
  const terms = requiredTerms(pod);
  expect(terms.length).toBeGreaterThan(0);
  for (const term of terms) {
    expect(term.matchExpressions).toEqual(
      expect.arrayContaining([
        { key: LABEL_COMPONENT, operator: "In", values: [COMPONENT_VNODE] },
        { key: LABEL_ENV, operator: "In", values: [ENV] },
      ]),
    );
  }
  expect(pod.metadata?.annotations?.[ANNOTATION_MUTATED]).toBeTruthy();
}

/** A single-biz module pod made by a Deployment or on its own: also failover, labels, spread. */
function expectMutatedModule(pod: Pod, bizName: string): void {
  expectVNodeScheduling(pod);
  for (const key of [TAINT_NOT_READY, TAINT_UNREACHABLE]) {
    const t = (pod.spec?.tolerations ?? []).filter(x => sameToleration(x, key));
    expect(t.map(x => x.tolerationSeconds)).toEqual([FAILOVER_SECONDS]);
  }
  expect(pod.metadata?.labels).toMatchObject({
    [LABEL_MODULE_NAME]: bizName,
    [LABEL_MODULE_VERSION]: VERSION,
  });
  expect(
    pod.spec?.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution,
  ).toEqual(
    expect.arrayContaining([
      expect.objectContaining({
        podAffinityTerm: {
          labelSelector: { matchLabels: { [LABEL_MODULE_NAME]: bizName } },
          topologyKey: LABEL_HOSTNAME,
        },
      }),
    ]),
  );
}

function moduleContainer(over: Record<string, unknown> = {}) {
  return { name: "biz1", image: JAR, env: [{ name: ENV_BIZ_VERSION, value: VERSION }], ...over };
}

function podManifest(name: string, spec: Record<string, unknown>, module = true) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: module ? { [LABEL_COMPONENT]: COMPONENT_MODULE } : {} },
    spec,
  };
}

async function podsOf(ns: string, app: string): Promise<Pod[]> {
  return (await K8s(kind.Pod).InNamespace(ns).WithLabel("app", app).Get()).items;
}

describe("module pod admission (npm run dev)", () => {
  let dev: PeprDev | undefined;
  let ns: string;

  beforeAll(async () => {
    ns = await createNamespace("e2e-admission");
    // An allowlist, so that a jar from elsewhere can be shown to be refused.
    dev = await startPeprDev({ KOUPLELESS_ALLOWED_JAR_LOCATIONS: `${JAR_HOST},file:///opt/biz/` });
  });

  afterAll(async () => {
    await stopPeprDev(dev);
    if (ns) await kubectl(["delete", "namespace", ns, "--wait=false"]);
  });

  it("the README's sample Deployment creates mutated module pods", async () => {
    const r = await kubectl(["apply", "-f", join(SAMPLES, "module-deployment.yaml"), "-n", ns]);
    expect(r).toMatchObject({ code: 0 });
    const pods = await waitFor("the 2 pods of Deployment biz1", async () => {
      const items = await podsOf(ns, "biz1");
      return items.length >= 2 && items;
    });
    for (const pod of pods) expectMutatedModule(pod, "biz1");
  });

  it("a Deployment update goes through, and the new template's pods are mutated too", async () => {
    const patch = { spec: { template: { metadata: { annotations: { [REV]: "2" } } } } };
    const r = await kubectl([
      "patch",
      "deployment",
      "biz1",
      "-n",
      ns,
      "--type=merge",
      "-p",
      JSON.stringify(patch),
    ]);
    expect(r).toMatchObject({ code: 0 });
    const pod = await waitFor("a pod of the updated template", async () =>
      (await podsOf(ns, "biz1")).find(p => p.metadata?.annotations?.[REV] === "2"),
    );
    expectMutatedModule(pod, "biz1");
  });

  it("an admitted module pod can still be labelled and annotated (UPDATE)", async () => {
    const [pod] = await podsOf(ns, "biz1");
    const name = pod.metadata!.name!;
    const label = await kubectl(["label", "pod", name, "-n", ns, "e2e.koupleless.io/touched=1"]);
    expect(label).toMatchObject({ code: 0 });
    const note = await kubectl(["annotate", "pod", name, "-n", ns, "e2e.koupleless.io/note=x"]);
    expect(note).toMatchObject({ code: 0 });
  });

  it("the DaemonSet sample is accepted, and a pod from its template is completed, not doubled", async () => {
    const r = await kubectl(["apply", "-f", join(SAMPLES, "module-daemonset.yaml"), "-n", ns]);
    expect(r).toMatchObject({ code: 0 });
    // Without VNodes the DaemonSet makes no pod; build the one it would make for a VNode (its
    // template, pinned to the Node by matchFields, with the DaemonSet's own failover
    // tolerations) and send it through admission with a server-side dry run.
    const ds = await K8s(kind.DaemonSet).InNamespace(ns).Get("biz2");
    const template = ds.spec!.template;
    const forever = (key: string) => ({ key, operator: "Exists", effect: TAINT_EFFECT });
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "biz2-dry-run", namespace: ns, labels: template.metadata?.labels },
      spec: {
        ...template.spec,
        tolerations: [
          ...(template.spec?.tolerations ?? []),
          forever(TAINT_NOT_READY),
          forever(TAINT_UNREACHABLE),
        ],
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                {
                  matchFields: [
                    { key: "metadata.name", operator: "In", values: [`vnode.e2e.${ENV}`] },
                  ],
                },
              ],
            },
          },
        },
      },
    };
    const out = await kubectl(
      ["create", "--dry-run=server", "-o", "json", "-n", ns, "-f", "-"],
      JSON.stringify(pod),
    );
    expect(out).toMatchObject({ code: 0 });
    const admitted = JSON.parse(out.stdout) as Pod;
    expectVNodeScheduling(admitted);
    expect(requiredTerms(admitted)[0].matchFields).toEqual(
      pod.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
        .nodeSelectorTerms[0].matchFields,
    );
    // A DaemonSet module stays with its base: its own "forever" tolerations are kept.
    const failover = (admitted.spec?.tolerations ?? []).filter(t => t.key === TAINT_NOT_READY);
    expect(failover).toEqual([forever(TAINT_NOT_READY)]);
    expect(admitted.spec?.nodeSelector).toEqual(template.spec?.nodeSelector);
  });

  it("the base-restricted sample pod may only land on the bases it names", async () => {
    const r = await kubectl(["apply", "-f", join(SAMPLES, "module-pod-on-base.yaml"), "-n", ns]);
    expect(r).toMatchObject({ code: 0 });
    const pod = await K8s(kind.Pod).InNamespace(ns).Get("biz1-on-base1");
    expectMutatedModule(pod, "biz1");
    expect(requiredTerms(pod)[0].matchExpressions).toEqual(
      expect.arrayContaining([
        { key: LABEL_BASE_NAME, operator: "In", values: ["base1"] },
        { key: LABEL_BASE_VERSION, operator: "In", values: ["1.0.0", "1.1.0"] },
      ]),
    );
  });

  const bad: Array<{ name: string; pod: object; says: string[] }> = [
    {
      name: "an image that is no jar URL",
      pod: podManifest("bad-image", { containers: [moduleContainer({ image: "biz1:0.0.1" })] }),
      says: ['spec.containers[0].image "biz1:0.0.1" must be a jar URL', "e.g. https://"],
    },
    {
      name: "a scheme that is not allowed",
      pod: podManifest("bad-scheme", {
        containers: [moduleContainer({ image: `ftp://${JAR_HOST}/biz1.jar` })],
      }),
      says: ["spec.containers[0].image", '(got scheme "ftp")'],
    },
    {
      name: "a URL that is no .jar",
      pod: podManifest("bad-suffix", {
        containers: [moduleContainer({ image: `https://${JAR_HOST}/biz1.zip?f=a.jar` })],
      }),
      says: ["spec.containers[0].image", "must point to a .jar file"],
    },
    {
      name: "a jar from outside the allowlist",
      pod: podManifest("bad-host", {
        containers: [moduleContainer({ image: "https://elsewhere.example.com/biz1.jar" })],
      }),
      says: ["spec.containers[0].image", "is not in an allowed jar location"],
    },
    {
      // WHATWG reads host JAR_HOST here; java.net.URL (what Arklet fetches with) reads evil.org
      name: "an allowlisted host before a backslash and user info",
      pod: podManifest("bad-backslash", {
        containers: [moduleContainer({ image: `http://${JAR_HOST}\\@evil.org/x-1.0.0.jar` })],
      }),
      says: ["spec.containers[0].image", "a backslash", "write the jar URL plainly"],
    },
    {
      name: "an allowlisted host as user info",
      pod: podManifest("bad-userinfo", {
        containers: [moduleContainer({ image: `http://${JAR_HOST}@evil.org/x-1.0.0.jar` })],
      }),
      says: ["spec.containers[0].image", "user info"],
    },
    {
      name: "no BIZ_VERSION",
      pod: podManifest("bad-no-version", { containers: [moduleContainer({ env: [] })] }),
      says: [`spec.containers[0].env has no ${ENV_BIZ_VERSION}: add {name`],
    },
    {
      name: "a BIZ_VERSION with whitespace",
      pod: podManifest("bad-version", {
        containers: [moduleContainer({ env: [{ name: ENV_BIZ_VERSION, value: "0.0.1 " }] })],
      }),
      says: ["spec.containers[0].env[0].value (BIZ_VERSION)", "contains whitespace"],
    },
    {
      name: "a BIZ_VERSION longer than 128 characters",
      pod: podManifest("bad-long-version", {
        containers: [moduleContainer({ env: [{ name: ENV_BIZ_VERSION, value: "1".repeat(129) }] })],
      }),
      says: ["spec.containers[0].env[0].value (BIZ_VERSION) is 129 characters long"],
    },
    {
      name: "a nodeName that is no VNode",
      pod: podManifest("bad-node", { nodeName: "worker-1", containers: [moduleContainer()] }),
      says: ['spec.nodeName "worker-1" is not a VNode of env "dev"', "remove spec.nodeName"],
    },
    {
      name: "a plain pod that tolerates the VNode taint",
      pod: podManifest(
        "bad-foreign",
        {
          containers: [{ name: "c", image: "example.invalid/app:1" }],
          tolerations: [{ key: TAINT_VIRTUAL_NODE, operator: "Exists" }],
        },
        false,
      ),
      says: [`spec.tolerations[0] tolerates ${TAINT_VIRTUAL_NODE}`, "remove the toleration"],
    },
    {
      name: "several problems, all in one message",
      pod: podManifest("bad-many", {
        containers: [
          moduleContainer({ image: "/opt/biz1.jar" }),
          moduleContainer({ name: "biz2", env: [] }),
        ],
      }),
      says: ["2 problems: (1) spec.containers[0].image", "(2) spec.containers[1].env"],
    },
  ];

  it.each(bad)("refuses $name, and kubectl apply says why", async ({ pod, says }) => {
    const r = await kubectl(["apply", "-n", ns, "-f", "-"], JSON.stringify(pod));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("denied the request");
    for (const s of says) expect(r.stderr).toContain(s);
  });

  it("a pod that chose another node-env keeps it, and kubectl apply prints why it will wait", async () => {
    // as the upstream docs' sample pod does: it tolerates schedule.koupleless.io/node-env=test
    const pod = podManifest("env-test", {
      containers: [moduleContainer()],
      tolerations: [{ key: TAINT_NODE_ENV, operator: "Equal", value: "test", effect: "NoExecute" }],
      nodeSelector: { "vnode.koupleless.io/name": "base" },
    });
    const r = await kubectl(["apply", "-n", ns, "-f", "-"], JSON.stringify(pod));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`Warning: spec.tolerations choose ${TAINT_NODE_ENV}=test`);
    expect(r.stderr).toContain("use base.koupleless.io/name");
    const got = await K8s(kind.Pod).InNamespace(ns).Get("env-test");
    const envs = (got.spec?.tolerations ?? []).filter(t => t.key === TAINT_NODE_ENV);
    expect(envs.map(t => t.value)).toEqual(["test"]); // ours was not added on top
    const envReq = requiredTerms(got)[0].matchExpressions?.find(e => e.key === LABEL_ENV);
    expect(envReq?.values).toEqual(["test"]);
    await kubectl(["delete", "pod", "-n", ns, "env-test", "--grace-period=0", "--force"]);
  });

  it("leaves a plain pod in the same namespace untouched", async () => {
    const plain = podManifest(
      "plain",
      { containers: [{ name: "c", image: "example.invalid/app:1" }] },
      false,
    );
    const r = await kubectl(["apply", "-n", ns, "-f", "-"], JSON.stringify(plain));
    expect(r).toMatchObject({ code: 0 });
    const pod = await K8s(kind.Pod).InNamespace(ns).Get("plain");
    expect((pod.spec?.tolerations ?? []).map(t => t.key)).not.toContain(TAINT_VIRTUAL_NODE);
    expect(pod.spec?.affinity).toBeUndefined();
    expect(pod.metadata?.annotations?.[ANNOTATION_MUTATED]).toBeUndefined();
  });

  it("admits a plain pod that tolerates every taint (kube-proxy-like)", async () => {
    const everywhere = podManifest(
      "tolerates-all",
      {
        containers: [{ name: "c", image: "example.invalid/app:1" }],
        tolerations: [{ operator: "Exists" }],
      },
      false,
    );
    const r = await kubectl(["apply", "-n", ns, "-f", "-"], JSON.stringify(everywhere));
    expect(r).toMatchObject({ code: 0 });
  });
});
