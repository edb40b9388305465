// `npm run dev` against the local cluster: the module's mutating webhook is in the path of
// a real Pod create, reached by the real kube-apiserver over https://localhost:3000.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { K8s, kind } from "kubernetes-fluent-client";
import {
  COMPONENT_MODULE,
  LABEL_COMPONENT,
  TAINT_NODE_ENV,
  TAINT_VIRTUAL_NODE,
} from "../../capabilities/lib/contract";
import { createNamespace, kubectl } from "./kube";
import { PeprDev, startPeprDev, stopPeprDev } from "./pepr-dev";

describe("npm run dev", () => {
  let dev: PeprDev | undefined;
  let ns: string;

  beforeAll(async () => {
    ns = await createNamespace("e2e-dev");
    dev = await startPeprDev();
  });

  afterAll(async () => {
    await stopPeprDev(dev);
    await kubectl(["delete", "namespace", ns, "--wait=false"]);
  });

  const container = {
    name: "biz1",
    image: "https://repo.example.com/biz1-0.0.1-ark-biz.jar",
    env: [{ name: "BIZ_VERSION", value: "0.0.1" }],
  };

  it("mutates a module pod on create through the webhook", async () => {
    const pod = await K8s(kind.Pod).Create({
      metadata: { name: "biz1", namespace: ns, labels: { [LABEL_COMPONENT]: COMPONENT_MODULE } },
      spec: { containers: [container] },
    });
    const keys = (pod.spec?.tolerations ?? []).map(t => `${t.key}=${t.value ?? ""}:${t.effect}`);
    expect(keys).toEqual(
      expect.arrayContaining([
        `${TAINT_VIRTUAL_NODE}=True:NoExecute`,
        `${TAINT_NODE_ENV}=dev:NoExecute`,
      ]),
    );
    expect(pod.metadata?.annotations?.["koupleless-pepr.pepr.dev/module-admission"]).toBe(
      "succeeded",
    );
  });

  it("leaves a plain pod in the same namespace untouched", async () => {
    const pod = await K8s(kind.Pod).Create({
      metadata: { name: "plain", namespace: ns },
      spec: { containers: [{ name: "c", image: "example.invalid/app:1" }] },
    });
    expect((pod.spec?.tolerations ?? []).map(t => t.key)).not.toContain(TAINT_VIRTUAL_NODE);
    expect(
      Object.keys(pod.metadata?.annotations ?? {}).filter(k => k.includes("pepr.dev")),
    ).toEqual([]);
  });
});
