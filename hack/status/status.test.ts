import { describe, expect, it } from "@jest/globals";
import type { V1Node, V1Pod } from "@kubernetes/client-node";
import type { Lease } from "../../capabilities/lib/kinds";
import {
  describeApiError,
  kubeconfigSource,
  noKubeconfigMessage,
  parseStatusArgs,
  SERVICE_ACCOUNT_TOKEN,
} from "./args";
import {
  applyFilter,
  baseRows,
  basesTable,
  formatTable,
  moduleRows,
  modulesTable,
  quantityBytes,
  renderJson,
  renderText,
  shorten,
} from "./status";

const NOW = Date.parse("2026-11-22T08:00:00Z");

/** A VNode as the controller writes it (labels of vnode/node.ts, status of desiredStatus). */
function vnode(ip: string, env: string, ready: { status: string; reason: string }): V1Node {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: `vnode.${ip}.${env}`,
      labels: {
        "virtual-kubelet.koupleless.io/component": "vnode",
        "virtual-kubelet.koupleless.io/env": env,
        "base.koupleless.io/name": "base",
        "base.koupleless.io/version": "1.0.0",
        "base.koupleless.io/cluster-name": "default",
        "base.koupleless.io/host-name": `base-${ip}`,
        type: "virtual-kubelet",
      },
    },
    status: {
      phase: "Running",
      conditions: [
        { type: "Ready", ...ready, message: `Arklet at ${ip}:1238 answers` },
        { type: "MemoryPressure", status: "False", reason: "BaseReported", message: "" },
      ],
      addresses: [{ type: "InternalIP", address: ip }],
      capacity: { pods: "65535", memory: "262144Ki", cpu: "4" },
      allocatable: { pods: "65535", memory: "196608Ki", cpu: "4" },
    },
  };
}

function lease(name: string, holder: string, renew: string, duration = 40): Lease {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name, namespace: "kube-node-lease" },
    spec: { holderIdentity: holder, leaseDurationSeconds: duration, renewTime: renew },
  } as Lease;
}

function modulePod(name: string, node: string | undefined, status: V1Pod["status"]): V1Pod {
  return {
    metadata: {
      name,
      namespace: "shop",
      labels: { "virtual-kubelet.koupleless.io/component": "module" },
    },
    spec: {
      nodeName: node,
      containers: [
        {
          name: "orders",
          image: "https://repo.example/orders-1.2.0-ark-biz.jar",
          env: [{ name: "BIZ_VERSION", value: "1.2.0" }],
        },
      ],
      tolerations: [
        { key: "schedule.koupleless.io/virtual-node", value: "True", effect: "NoExecute" },
        { key: "schedule.koupleless.io/node-env", value: "dev", effect: "NoExecute" },
      ],
    },
    status,
  };
}

const running = modulePod("orders-a", "vnode.10.0.0.1.dev", {
  phase: "Running",
  containerStatuses: [
    {
      name: "orders",
      image: "https://repo.example/orders-1.2.0-ark-biz.jar",
      imageID: "",
      restartCount: 0,
      ready: true,
      state: { running: { startedAt: new Date(NOW) } },
    },
  ],
});

const failing = modulePod("orders-b", "vnode.10.0.0.2.dev", {
  phase: "Running",
  containerStatuses: [
    {
      name: "orders",
      image: "https://repo.example/orders-1.2.0-ark-biz.jar",
      imageID: "",
      restartCount: 0,
      ready: false,
      state: {
        waiting: {
          reason: "CMD_PROCESS_INTERNAL_ERROR",
          message:
            "install biz orders:1.2.0 failed: java.lang.IllegalStateException: port 8080 in use\n\tat com.alipay.sofa.ark.Foo.bar(Foo.java:42)",
        },
      },
    },
  ],
});

const unschedulable = modulePod("orders-c", undefined, {
  phase: "Pending",
  conditions: [
    {
      type: "PodScheduled",
      status: "False",
      reason: "Unschedulable",
      message: "0/2 nodes are available: 2 node(s) had untolerated taint",
    },
  ],
});

const nodes = [
  vnode("10.0.0.2", "dev", { status: "False", reason: "BaseUnreachable" }),
  vnode("10.0.0.1", "dev", { status: "True", reason: "BaseReady" }),
  vnode("10.0.0.9", "prod", { status: "Unknown", reason: "NodeStatusUnknown" }),
];
const leases = [
  lease("vnode.10.0.0.1.dev", "r1", "2026-11-22T07:59:50.000000Z"),
  // renewed 60 s ago with a 40 s duration: expired, so nobody drives that base
  lease("vnode.10.0.0.2.dev", "r2", "2026-11-22T07:59:00.000000Z"),
  lease("vnode.10.0.0.9.prod", "", "2026-11-22T07:59:59.000000Z"),
];
const pods = [failing, running, unschedulable];

describe("baseRows", () => {
  const rows = baseRows(nodes, leases, pods, NOW);

  it("reads a Ready VNode with a live Lease", () => {
    expect(rows[0]).toEqual({
      name: "vnode.10.0.0.1.dev",
      env: "dev",
      ready: { status: "True", reason: "BaseReady", message: "Arklet at 10.0.0.1:1238 answers" },
      cordoned: false,
      owner: "r1",
      lease: {
        holder: "r1",
        renewTime: "2026-11-22T07:59:50.000000Z",
        durationSeconds: 40,
        expired: false,
      },
      pods: 1,
      memory: { allocatableMi: 192, capacityMi: 256 },
      base: { name: "base", version: "1.0.0", clusterName: "default" },
      address: "10.0.0.1",
    });
  });

  it("shows no owner for an expired or free Lease, and keeps the stale holder in the lease", () => {
    expect(rows.map(r => [r.name, r.owner, r.lease?.holder, r.lease?.expired])).toEqual([
      ["vnode.10.0.0.1.dev", "r1", "r1", false],
      ["vnode.10.0.0.2.dev", "", "r2", true],
      ["vnode.10.0.0.9.prod", "", "", false],
    ]);
  });

  it("reads NotReady with its reason, a missing Lease and missing memory", () => {
    const bare = vnode("10.0.0.3", "dev", { status: "False", reason: "BaseUnreachable" });
    delete bare.status!.capacity;
    bare.spec = { unschedulable: true };
    const [row] = baseRows([bare], [], [], NOW);
    expect(row).toMatchObject({
      ready: { status: "False", reason: "BaseUnreachable" },
      cordoned: true,
      owner: "",
      lease: null,
      pods: 0,
      memory: null,
    });
  });

  it("counts a Node without a Ready condition as Unknown", () => {
    const fresh = vnode("10.0.0.4", "dev", { status: "True", reason: "BaseReady" });
    fresh.status = {};
    expect(baseRows([fresh], [], [], NOW)[0].ready).toEqual({
      status: "Unknown",
      reason: "NoReadyCondition",
      message: "",
    });
  });
});

describe("moduleRows", () => {
  const rows = moduleRows(pods, nodes);

  it("gives one row per biz container, sorted, with the Arklet reason of a failed install", () => {
    expect(rows).toEqual([
      {
        namespace: "shop",
        pod: "orders-a",
        vnode: "vnode.10.0.0.1.dev",
        vnodeExists: true,
        env: "dev",
        biz: "orders:1.2.0",
        state: "running",
        ready: true,
        deleting: false,
        phase: "Running",
        reason: "",
        message: "",
      },
      {
        namespace: "shop",
        pod: "orders-b",
        vnode: "vnode.10.0.0.2.dev",
        vnodeExists: true,
        env: "dev",
        biz: "orders:1.2.0",
        state: "waiting",
        ready: false,
        deleting: false,
        phase: "Running",
        reason: "CMD_PROCESS_INTERNAL_ERROR",
        message: failing.status!.containerStatuses![0].state!.waiting!.message,
      },
      {
        namespace: "shop",
        pod: "orders-c",
        vnode: "",
        vnodeExists: true,
        env: "dev",
        biz: "orders:1.2.0",
        state: "pending",
        ready: false,
        deleting: false,
        phase: "Pending",
        reason: "Unschedulable",
        message: "0/2 nodes are available: 2 node(s) had untolerated taint",
      },
    ]);
  });

  it("shows a terminated biz with its exit code, and a pod being deleted", () => {
    const stopped = modulePod("orders-d", "vnode.10.0.0.1.dev", {
      phase: "Succeeded",
      containerStatuses: [
        {
          name: "orders",
          image: "",
          imageID: "",
          restartCount: 0,
          ready: false,
          state: { terminated: { exitCode: 1, reason: "Stopped", message: "" } },
        },
      ],
    });
    stopped.metadata!.deletionTimestamp = new Date(NOW);
    expect(moduleRows([stopped], nodes)[0]).toMatchObject({
      state: "terminated",
      reason: "Stopped (exit 1)",
      deleting: true,
    });
  });

  it("flags a pod left on a VNode that no longer exists", () => {
    const left = modulePod("orders-e", "vnode.10.0.0.7.dev", running.status);
    left.metadata!.deletionTimestamp = new Date(NOW);
    const rows = moduleRows([left], nodes);
    expect(rows[0]).toMatchObject({ vnodeExists: false, env: "dev", deleting: true });
    expect(modulesTable(rows).split("\n")[1]).toBe(
      "shop/orders-e   vnode.10.0.0.7.dev (gone)   orders:1.2.0   true    running,deleting   -",
    );
  });

  it("says why a pod with no jar container runs nothing", () => {
    const foreign = modulePod("web", "vnode.10.0.0.1.dev", {});
    foreign.spec!.containers[0].image = "nginx:1.27";
    expect(moduleRows([foreign], nodes)[0]).toMatchObject({ biz: "", reason: "NoBizContainer" });
  });
});

describe("applyFilter", () => {
  const all = { bases: baseRows(nodes, leases, pods, NOW), modules: moduleRows(pods, nodes) };

  it("keeps one env in both tables; an unbound pod goes by the env it tolerates", () => {
    const prod = applyFilter(all, { env: "prod" });
    expect(prod.bases.map(b => b.name)).toEqual(["vnode.10.0.0.9.prod"]);
    expect(prod.modules).toEqual([]);
    const dev = applyFilter(all, { env: "dev" });
    expect(dev.modules.map(m => m.pod)).toEqual(["orders-a", "orders-b", "orders-c"]);
  });

  it("filters modules by namespace but leaves the bases' pod counts alone", () => {
    const other = applyFilter(all, { namespace: "other" });
    expect(other.modules).toEqual([]);
    expect(other.bases.map(b => b.pods)).toEqual([1, 1, 0]);
  });
});

describe("tables", () => {
  const all = { bases: baseRows(nodes, leases, pods, NOW), modules: moduleRows(pods, nodes) };

  it("aligns columns with three spaces and leaves no trailing blanks", () => {
    expect(
      formatTable(
        ["A", "LONGER"],
        [
          ["wide-cell", "x"],
          ["y", ""],
        ],
      ).split("\n"),
    ).toEqual(["A           LONGER", "wide-cell   x", "y"]);
  });

  it("prints the bases table", () => {
    expect(basesTable(all.bases).split("\n")).toEqual([
      "VNODE                 READY                         OWNER   PODS   MEMORY      BASE         CLUSTER",
      "vnode.10.0.0.1.dev    True                          r1      1      192/256Mi   base:1.0.0   default",
      "vnode.10.0.0.2.dev    False (BaseUnreachable)       -       1      192/256Mi   base:1.0.0   default",
      "vnode.10.0.0.9.prod   Unknown (NodeStatusUnknown)   -       0      192/256Mi   base:1.0.0   default",
    ]);
  });

  it("prints the modules table with reasons on one shortened line", () => {
    const lines = modulesTable(all.modules).split("\n");
    expect(lines).toEqual([
      "POD             VNODE                BIZ            READY   STATE     REASON",
      "shop/orders-a   vnode.10.0.0.1.dev   orders:1.2.0   true    running   -",
      "shop/orders-b   vnode.10.0.0.2.dev   orders:1.2.0   false   waiting   CMD_PROCESS_INTERNAL_ERROR: install biz orders:1.2.0 failed…",
      "shop/orders-c   -                    orders:1.2.0   false   pending   Unschedulable: 0/2 nodes are available: 2 node(s) had untol…",
    ]);
    // every column starts at the same offset on every line
    const at = (line: string, word: string) => line.indexOf(word);
    expect(new Set(lines.slice(1).map(l => at(l, "orders:")))).toEqual(
      new Set([at(lines[0], "BIZ")]),
    );
  });

  it("says so when a table is empty, under titled sections", () => {
    expect(renderText({ bases: [], modules: [] })).toBe(
      "Bases\nNo VNodes.\n\nModules\nNo module pods.",
    );
  });

  it("marks a cordoned base and a pod being deleted", () => {
    const b = { ...all.bases[0], cordoned: true };
    expect(basesTable([b])).toContain("True,SchedulingDisabled");
    const m = { ...all.modules[0], deleting: true };
    expect(modulesTable([m])).toContain("running,deleting");
  });
});

describe("renderJson", () => {
  it("is one object {bases, modules} with the rows untruncated", () => {
    const all = { bases: baseRows(nodes, leases, pods, NOW), modules: moduleRows(pods, nodes) };
    const parsed = JSON.parse(renderJson(all));
    expect(Object.keys(parsed)).toEqual(["bases", "modules"]);
    expect(parsed.bases).toHaveLength(3);
    expect(parsed.bases[1]).toMatchObject({
      name: "vnode.10.0.0.2.dev",
      owner: "",
      lease: { holder: "r2", expired: true },
      ready: { status: "False", reason: "BaseUnreachable" },
    });
    expect(parsed.modules[1].message).toContain("\tat com.alipay.sofa.ark.Foo.bar");
  });
});

describe("helpers", () => {
  it("reads quantities in binary and decimal units", () => {
    expect(quantityBytes("262144Ki")).toBe(256 * 1024 * 1024);
    expect(quantityBytes("2Gi")).toBe(2 * 1024 ** 3);
    expect(quantityBytes("1500M")).toBe(1.5e9);
    expect(quantityBytes("1024")).toBe(1024);
    expect(quantityBytes("12Xi")).toBeUndefined();
    expect(quantityBytes(undefined)).toBeUndefined();
  });

  it("shortens to the first line, whitespace collapsed", () => {
    expect(shorten("a  b\nstack", 10)).toBe("a b");
    expect(shorten("abcdefghijk", 5)).toBe("abcd…");
  });
});

describe("parseStatusArgs", () => {
  it("reads the options", () => {
    expect(parseStatusArgs(["--env", "dev", "-n", "shop", "--json"])).toEqual({
      kind: "run",
      options: { env: "dev", namespace: "shop", json: true },
    });
    expect(parseStatusArgs([])).toEqual({
      kind: "run",
      options: { env: undefined, namespace: undefined, json: false },
    });
    expect(parseStatusArgs(["-h"])).toEqual({ kind: "help" });
  });

  it("refuses unknown options, stray arguments and empty values", () => {
    expect(parseStatusArgs(["--bogus"])).toMatchObject({ kind: "error" });
    expect(parseStatusArgs(["extra"])).toMatchObject({ kind: "error" });
    expect(parseStatusArgs(["--env="])).toEqual({ kind: "error", message: "--env needs a value" });
  });
});

describe("kubeconfigSource", () => {
  const has =
    (...paths: string[]) =>
    (p: string) =>
      paths.includes(p);

  it("follows loadFromDefault: $KUBECONFIG, ~/.kube/config, then in-cluster", () => {
    expect(kubeconfigSource("/k", "/home/u", has())).toEqual({ kind: "env", path: "/k" });
    expect(kubeconfigSource(undefined, "/home/u", has("/home/u/.kube/config"))).toEqual({
      kind: "home",
      path: "/home/u/.kube/config",
    });
    expect(kubeconfigSource("", "/home/u", has(SERVICE_ACCOUNT_TOKEN))).toEqual({
      kind: "in-cluster",
    });
  });

  it("finds none rather than falling back to localhost:8080", () => {
    expect(kubeconfigSource(undefined, "/home/u", has())).toBeUndefined();
    expect(noKubeconfigMessage("/repo/.cluster/kubeconfig")).toBe(
      "no kubeconfig: KUBECONFIG is not set and ~/.kube/config does not exist. " +
        "For this repo's local cluster: export KUBECONFIG=/repo/.cluster/kubeconfig",
    );
  });
});

describe("describeApiError", () => {
  const server = "https://127.0.0.1:6443";

  it("names the server and the network error when there is no answer", () => {
    // what kubernetes-fluent-client throws when undici cannot connect
    const cause = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6443"), {
      code: "ECONNREFUSED",
    });
    const thrown = {
      ok: false,
      status: 400,
      statusText: "fetch failed",
      e: new TypeError("fetch failed", { cause }),
    };
    expect(describeApiError(thrown, server, "nodes")).toBe(
      "cannot reach the Kubernetes API at https://127.0.0.1:6443: connect ECONNREFUSED " +
        "127.0.0.1:6443. Is the cluster up? (npm run cluster:up)",
    );
  });

  it("uses the code when the cause has no message (several addresses refused)", () => {
    const cause = Object.assign(new AggregateError([], ""), { code: "ECONNREFUSED" });
    const thrown = { status: 400, e: new TypeError("fetch failed", { cause }) };
    expect(describeApiError(thrown, server, "nodes")).toContain(": ECONNREFUSED. Is the cluster");
  });

  it("quotes the API's Status message when the API refused", () => {
    const thrown = {
      ok: false,
      status: 403,
      statusText: "Forbidden",
      data: { kind: "Status", message: 'nodes is forbidden: User "system:anonymous" cannot list' },
    };
    expect(describeApiError(thrown, server, "nodes")).toBe(
      "the Kubernetes API at https://127.0.0.1:6443 answered 403 Forbidden when listing nodes: " +
        'nodes is forbidden: User "system:anonymous" cannot list',
    );
  });

  it("keeps a plain error to its message, on one line", () => {
    expect(describeApiError(new Error("bad\nthing"), server, "pods")).toBe("bad thing");
  });
});
