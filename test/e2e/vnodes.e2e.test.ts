// Bases become VNodes: fake Arklet bases heartbeat into `npm run dev`, and the real
// apiserver, controller-manager and scheduler see Nodes that live and die with their bases.
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { K8s, kind } from "kubernetes-fluent-client";
import { Lease } from "../../capabilities/lib/kinds";
import {
  NODE_LEASE_NAMESPACE,
  TAINT_NOT_READY,
  TAINT_UNREACHABLE,
} from "../../capabilities/lib/contract";
import { REPO_ROOT } from "../../hack/cluster/cluster";
import { FakeBase, postHeartbeat, startFleet } from "../../hack/fake-base/fake-base";
import { sleep, waitFor } from "./kube";
import { PeprDev, startPeprDev, stopPeprDev } from "./pepr-dev";

const REPLICA = "e2e-replica";
const CONTROLLER = "http://127.0.0.1:7777";
const DEV_ENV = {
  KOUPLELESS_REPLICA_ID: REPLICA,
  KOUPLELESS_UNREACHABLE_SECONDS: "8",
  KOUPLELESS_VNODE_TTL_SECONDS: "20",
  KOUPLELESS_HEALTH_POLL_SECONDS: "2",
  KOUPLELESS_HEARTBEAT_MIN_INTERVAL_MS: "500",
  // a pepr dev restart rebuilds the module (25-45 s): renew often to stay inside the 60 s grace
  KOUPLELESS_LEASE_RENEW_SECONDS: "5",
};
const FIRST_OCTET = 20;
const nodeName = (b: FakeBase) => `vnode.${b.opts.identity}.dev`;

async function getNode(name: string): Promise<kind.Node | undefined> {
  try {
    return await K8s(kind.Node).Get(name);
  } catch {
    return undefined;
  }
}

async function getLease(name: string): Promise<Lease | undefined> {
  try {
    return await K8s(Lease).InNamespace(NODE_LEASE_NAMESPACE).Get(name);
  } catch {
    return undefined;
  }
}

const ready = (n: kind.Node | undefined) => n?.status?.conditions?.find(c => c.type === "Ready");

async function waitReady(
  name: string,
  status: "True" | "False",
  timeoutMs = 60_000,
): Promise<kind.Node> {
  return waitFor(
    `${name} Ready=${status}`,
    async () => {
      const n = await getNode(name);
      return ready(n)?.status === status ? n : undefined;
    },
    timeoutMs,
  );
}

async function gone(name: string, timeoutMs: number): Promise<void> {
  await waitFor(
    `${name} and its Lease deleted`,
    async () => !(await getNode(name)) && !(await getLease(name)),
    timeoutMs,
  );
}

function heartbeat(
  body: string,
  headers: Record<string, string> = { "content-type": "application/json" },
  method = "POST",
) {
  return fetch(`${CONTROLLER}/heartbeat`, {
    method,
    headers,
    body: method === "GET" ? undefined : body,
  });
}

describe("VNode lifecycle", () => {
  let dev: PeprDev | undefined;
  let bases: FakeBase[] = [];

  beforeAll(async () => {
    dev = await startPeprDev(DEV_ENV);
  });

  afterAll(async () => {
    await Promise.all(bases.map(b => b.stop(true)));
    await stopPeprDev(dev);
    for (const b of bases) {
      await K8s(kind.Node).Delete(nodeName(b));
      await K8s(Lease).InNamespace(NODE_LEASE_NAMESPACE).Delete(nodeName(b));
    }
  });

  it("turns 3 heartbeating bases into 3 Ready VNodes with the contract's labels, taints and addresses", async () => {
    const t0 = Date.now();
    bases = await startFleet(
      3,
      {
        controller: CONTROLLER,
        heartbeatMs: 2000,
        name: "base-e2e",
        version: "2.0.0",
        clusterName: "c1",
      },
      FIRST_OCTET,
    );
    const nodes = await Promise.all(bases.map(b => waitReady(nodeName(b), "True")));
    process.stderr.write(`[vnodes] first heartbeat -> 3 VNodes Ready in ${Date.now() - t0} ms\n`);
    for (const [i, node] of nodes.entries()) {
      const b = bases[i];
      expect(node.metadata?.labels).toEqual({
        "virtual-kubelet.koupleless.io/component": "vnode",
        "virtual-kubelet.koupleless.io/env": "dev",
        "base.koupleless.io/name": "base-e2e",
        "base.koupleless.io/version": "2.0.0",
        "base.koupleless.io/cluster-name": "c1",
        "base.koupleless.io/host-name": b.opts.hostName,
        "base.koupleless.io/tunnel-port": "1238",
        "kubernetes.io/hostname": b.opts.hostName,
        type: "virtual-kubelet",
        "kubernetes.io/role": "agent",
      });
      // the apiserver adds not-ready:NoSchedule to every new Node; the controller-manager lifts it once Ready
      const taints = await waitFor(
        `${node.metadata?.name} without the not-ready taint`,
        async () => {
          const t = (await getNode(node.metadata?.name ?? ""))?.spec?.taints ?? [];
          return t.some(x => x.key === TAINT_NOT_READY) ? undefined : t;
        },
      );
      expect(taints).toEqual([
        { key: "schedule.koupleless.io/virtual-node", value: "True", effect: "NoExecute" },
        { key: "schedule.koupleless.io/node-env", value: "dev", effect: "NoExecute" },
      ]);
      expect(node.status?.addresses).toEqual([
        { type: "InternalIP", address: b.opts.host },
        { type: "Hostname", address: b.opts.hostName },
      ]);
      // fake bases run like a JVM without -XX:MaxMetaspaceSize: memory is the max heap (ADR 7)
      expect(node.status?.capacity).toMatchObject({ pods: "65535", memory: "2Gi" });
    }
  });

  it("relabels a VNode in place when its base reports a new version", async () => {
    const b = bases[0];
    const before = await getNode(nodeName(b));
    b.opts.version = "2.1.0"; // the next heartbeat carries it
    const node = await waitFor(`${nodeName(b)} labelled with version 2.1.0`, async () => {
      const n = await getNode(nodeName(b));
      return n?.metadata?.labels?.["base.koupleless.io/version"] === "2.1.0" ? n : undefined;
    });
    // the same Node object, still Ready: a metadata patch, not a re-creation
    expect(node.metadata?.uid).toBe(before?.metadata?.uid);
    expect(ready(node)?.status).toBe("True");
    b.opts.version = "2.0.0";
    await waitFor(`${nodeName(b)} back to version 2.0.0`, async () => {
      const n = await getNode(nodeName(b));
      return n?.metadata?.labels?.["base.koupleless.io/version"] === "2.0.0";
    });
  });

  it("holds each VNode's Lease and renews it", async () => {
    const name = nodeName(bases[0]);
    const first = await getLease(name);
    expect(first?.metadata?.labels).toEqual({
      "virtual-kubelet.koupleless.io/env": "dev",
      "virtual-kubelet.koupleless.io/component": "vnode-lease",
    });
    expect(first?.spec).toMatchObject({ holderIdentity: REPLICA, leaseDurationSeconds: 40 });
    const renewed = await waitFor(
      "a newer renewTime",
      async () => {
        const l = await getLease(name);
        return l?.spec?.renewTime !== first?.spec?.renewTime ? l : undefined;
      },
      30_000,
    );
    expect(new Date(renewed.spec?.renewTime ?? 0).getTime()).toBeGreaterThan(
      new Date(first?.spec?.renewTime ?? 0).getTime(),
    );
  });

  it("answers malformed heartbeats with 4xx and changes nothing", async () => {
    const snapshot = async () =>
      (await K8s(kind.Node).Get()).items
        .map(n => `${n.metadata?.name}@${n.metadata?.resourceVersion}`)
        .sort();
    const before = (await snapshot()).filter(s => !s.startsWith("vnode."));
    const good = JSON.stringify(bases[0].baseStatus());
    const meta = (patch: object) =>
      JSON.stringify({
        ...bases[0].baseStatus(),
        baseMetadata: { identity: "bad-1", name: "b", version: "1", clusterName: "c", ...patch },
      });
    const cases: Array<[string, Promise<Response>, number]> = [
      ["bad JSON", heartbeat("{oops"), 400],
      ["JSON array", heartbeat("[1,2]"), 400],
      ["missing identity", heartbeat(meta({ identity: undefined })), 400],
      ["identity with /", heartbeat(meta({ identity: "a/b" })), 400],
      ["identity uppercase", heartbeat(meta({ identity: "BAD" })), 400],
      ["port as string", heartbeat(JSON.stringify({ ...JSON.parse(meta({})), port: "1238" })), 400],
      [
        "state unknown",
        heartbeat(JSON.stringify({ ...JSON.parse(meta({})), state: "sleepy" })),
        400,
      ],
      [
        "1 MiB body",
        heartbeat(JSON.stringify({ ...JSON.parse(meta({})), pad: "x".repeat(1024 * 1024) })),
        400,
      ],
      ["GET", heartbeat("", {}, "GET"), 405],
      ["PUT", heartbeat(good, { "content-type": "application/json" }, "PUT"), 405],
      ["wrong content type", heartbeat(meta({}), { "content-type": "text/plain" }), 415],
      ["wrong path", fetch(`${CONTROLLER}/heartbeats`, { method: "POST", body: good }), 404],
    ];
    for (const [what, res, status] of cases) {
      const r = await res;
      const text = await r.text();
      expect({ what, status: r.status }).toEqual({ what, status });
      expect(text.length).toBeGreaterThan(5); // a reason, not an empty 4xx
    }
    // the same identity twice within the rate limit: the second is 429
    const own = { from: bases[0].opts.host }; // from the base's own address, or it is a spoof (409)
    const fast = [
      await postHeartbeat(CONTROLLER, good, own),
      await postHeartbeat(CONTROLLER, good, own),
    ].map(r => r.status);
    expect(fast).toContain(429);
    expect(await getNode("vnode.bad-1.dev")).toBeUndefined();
    expect((await snapshot()).filter(s => !s.startsWith("vnode."))).toEqual(before);
  });

  it("keeps the same VNodes through a controller restart, without a Ready flap", async () => {
    const before = await Promise.all(bases.map(b => getNode(nodeName(b))));
    let flapped = "";
    const watch = setInterval(() => {
      void Promise.all(bases.map(b => getNode(nodeName(b)))).then(ns => {
        for (const n of ns)
          if (ready(n)?.status !== "True")
            flapped ||= `${n?.metadata?.name}: ${JSON.stringify(ready(n))}`;
      });
    }, 1000);
    try {
      await stopPeprDev(dev);
      dev = await startPeprDev(DEV_ENV);
      await sleep(15_000); // several health polls and liveness checks of the new process
    } finally {
      clearInterval(watch);
    }
    expect(flapped).toBe("");
    const after = await Promise.all(bases.map(b => getNode(nodeName(b))));
    expect(after.map(n => n?.metadata?.uid)).toEqual(before.map(n => n?.metadata?.uid));
    expect(after.map(n => ready(n)?.lastTransitionTime)).toEqual(
      before.map(n => ready(n)?.lastTransitionTime),
    );
  });

  it("marks an unreachable base NotReady, lets the controller-manager taint it, and recovers", async () => {
    const b = bases[1];
    const name = nodeName(b);
    b.setReachable(false);
    const down = await waitReady(name, "False", 45_000);
    expect(ready(down)).toMatchObject({ reason: "BaseUnreachable" });
    await waitFor(
      "the controller-manager's not-ready/unreachable taint",
      async () => {
        const keys = ((await getNode(name))?.spec?.taints ?? []).map(t => t.key);
        return keys.includes(TAINT_NOT_READY) || keys.includes(TAINT_UNREACHABLE);
      },
      60_000,
    );
    b.setReachable(true);
    await waitReady(name, "True", 45_000);
    await waitFor(
      "the taint lifted",
      async () =>
        !((await getNode(name))?.spec?.taints ?? []).some(
          t => t.key === TAINT_NOT_READY || t.key === TAINT_UNREACHABLE,
        ),
      60_000,
    );
  });

  it("deletes the Node and Lease of a base that says DEACTIVATED", async () => {
    const b = bases[0];
    await b.stop(true);
    await gone(nodeName(b), 30_000);
  });

  it("runs the README's fake-base command, and its Ctrl-C says DEACTIVATED", async () => {
    const cli = spawn(
      "npm",
      [
        "run",
        "fake-base",
        "--",
        "--count",
        "1",
        "--first",
        "40",
        "--controller",
        CONTROLLER,
        "--heartbeat-ms",
        "2000",
        "--deactivate-on-exit",
      ],
      { cwd: REPO_ROOT, detached: true, stdio: "ignore" },
    );
    try {
      await waitReady("vnode.127.0.0.40.dev", "True", 60_000);
    } finally {
      process.kill(-(cli.pid ?? 0), "SIGTERM");
    }
    await gone("vnode.127.0.0.40.dev", 30_000);
  });

  it("deletes the Node and Lease of a base silent past the TTL", async () => {
    const b = bases[2];
    await b.stop(false);
    await waitReady(nodeName(b), "False", 30_000);
    await gone(nodeName(b), 60_000);
  });
});
