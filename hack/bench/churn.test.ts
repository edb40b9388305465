import { describe, expect, it } from "@jest/globals";
import { moduleDeployment, phasesOf } from "./churn";

describe("where a module's time goes", () => {
  it("splits create -> Ready at the pod milestones and the base's request log", () => {
    const t = { created: 1000, added: 1300, bound: 1350, ready: 1600 };
    const install = {
      receivedAt: 1420,
      at: 1500,
      command: "installBiz",
      body: {},
      userAgent: "",
      code: "SUCCESS",
    };
    expect(phasesOf(t, install)).toEqual({
      "controllers+admission (create -> pod seen)": 300,
      "scheduling (pod seen -> bound)": 50,
      "our queue (bound -> Arklet call arrives)": 70,
      "Arklet installBiz": 80,
      "status write (Arklet answer -> Ready seen)": 100,
    });
  });
  it("leaves a step it could not see out (NaN) rather than guessing", () => {
    const p = phasesOf({ created: 1000, added: 1300 }, undefined);
    expect(p["scheduling (pod seen -> bound)"]).toBeNaN();
    expect(p["Arklet installBiz"]).toBeNaN();
  });
});

describe("the benchmark's module", () => {
  it("is a one-pod Deployment of one biz named after it", () => {
    const d = moduleDeployment("ms-7");
    const c = d.spec?.template.spec?.containers[0];
    expect([d.spec?.replicas, c?.name, c?.image, c?.env]).toEqual([
      1,
      "ms-7",
      "file:///opt/biz/ms-7-1.0.0-ark-biz.jar",
      [{ name: "BIZ_VERSION", value: "1.0.0" }],
    ]);
    expect(d.spec?.template.metadata?.labels?.["virtual-kubelet.koupleless.io/component"]).toBe(
      "module",
    );
  });
});
