import { describe, expect, it } from "@jest/globals";
import type { V1Pod } from "@kubernetes/client-node";
import { demoRows, demoTable } from "./table";

const pod = (name: string, ready: boolean, state: object): V1Pod => ({
  metadata: { name, namespace: "koupleless-demo" },
  spec: {
    nodeName: "vnode.127.0.0.50.dev",
    containers: [
      {
        name: "biz1",
        image: "https://example.com/biz1-0.0.1-ark-biz.jar",
        env: [{ name: "BIZ_VERSION", value: "0.0.1" }],
      },
    ],
  },
  status: {
    hostIP: "127.0.0.50",
    conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
    containerStatuses: [{ name: "biz1", state, ready, restartCount: 0, image: "", imageID: "" }],
  },
});

describe("the demo table", () => {
  it("shows pod, VNode, base, biz and its state, sorted by pod", () => {
    const rows = demoRows([
      pod("biz1-b", false, { waiting: { reason: "BizInstalling" } }),
      pod("biz1-a", true, { running: {} }),
    ]);
    expect(rows.map(r => [r.pod, r.state, r.ready])).toEqual([
      ["biz1-a", "running", true],
      ["biz1-b", "waiting (BizInstalling)", false],
    ]);
    expect(demoTable(rows).split("\n")).toEqual([
      "MODULE POD   VNODE                  BASE         BIZ          BIZ STATE                 READY",
      "biz1-a       vnode.127.0.0.50.dev   127.0.0.50   biz1:0.0.1   running                   true",
      "biz1-b       vnode.127.0.0.50.dev   127.0.0.50   biz1:0.0.1   waiting (BizInstalling)   false",
    ]);
  });

  it("leaves out terminating pods and shows unscheduled ones", () => {
    const gone = { ...pod("x", true, {}), metadata: { name: "x", deletionTimestamp: new Date() } };
    const pending: V1Pod = {
      ...pod("y", false, {}),
      spec: { ...pod("y", false, {}).spec!, nodeName: undefined },
    };
    expect(demoRows([gone, pending]).map(r => [r.pod, r.vnode])).toEqual([
      ["y", "(not scheduled)"],
    ]);
  });
});
