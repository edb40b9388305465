// The tunnel believes only what it can verify: the address it calls is the heartbeat's own
// source, an identity stays with its address until that address goes quiet, goodbyes come only
// from the base itself, credentials are per identity, new bases are capped, and heartbeats are
// answered even while the API server stalls.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { K8s, kind } from "kubernetes-fluent-client";
import { Lease } from "../../capabilities/lib/kinds";
import {
  ANNOTATION_BASE_ADDRESS,
  LABEL_COMPONENT,
  LABEL_ENV,
  NODE_LEASE_NAMESPACE,
} from "../../capabilities/lib/contract";
import { identityToken } from "../../capabilities/lib/tunnel/address";
import { readState } from "../../hack/cluster/cluster";
import { FakeBase, postHeartbeat } from "../../hack/fake-base/fake-base";
import { sleep, waitFor } from "./kube";
import { PeprDev, startPeprDev, stopPeprDev } from "./pepr-dev";
import { Replica, startReplica, stopReplica } from "./replica";

const CONTROLLER = "http://127.0.0.1:7777";
const SECRET = "e2e-tunnel-secret-0123456789";
const MAX_VNODES = 40;
const DEV_ENV = {
  KOUPLELESS_REPLICA_ID: "e2e-tunnel",
  KOUPLELESS_HEARTBEAT_SECRET: SECRET,
  KOUPLELESS_MAX_VNODES: String(MAX_VNODES),
  KOUPLELESS_NEW_BASES_PER_MINUTE: "10000",
  KOUPLELESS_UNREACHABLE_SECONDS: "8",
  KOUPLELESS_VNODE_TTL_SECONDS: "120",
  KOUPLELESS_HEALTH_POLL_SECONDS: "2",
  // the tests send heartbeats of their own between a base's: no spacing rule here
  KOUPLELESS_HEARTBEAT_MIN_INTERVAL_MS: "0",
  KOUPLELESS_LEASE_RENEW_SECONDS: "5",
  // the API-server stall below must not make Pepr's watches give up
  PEPR_RESYNC_FAILURE_MAX: "30",
};
const nodeName = (identity: string) => `vnode.${identity}.dev`;
const auth = (identity: string) => ({
  authorization: `Bearer ${identityToken(SECRET, identity)}`,
});

function body(identity: string, ip: string, port: number, state = "activated") {
  return {
    baseMetadata: { identity, name: "base", version: "1.0.0", clusterName: "default" },
    localIP: ip,
    localHostName: "tunnel-e2e-host",
    port,
    state,
  };
}

async function getNode(name: string): Promise<kind.Node | undefined> {
  try {
    return await K8s(kind.Node).Get(name);
  } catch {
    return undefined;
  }
}

const readyOf = (n: kind.Node | undefined) =>
  n?.status?.conditions?.find(c => c.type === "Ready")?.status;

async function waitReady(name: string, status: "True" | "False"): Promise<kind.Node> {
  return waitFor(`${name} Ready=${status}`, async () => {
    const n = await getNode(name);
    return readyOf(n) === status ? n : undefined;
  });
}

async function vnodeNames(): Promise<string[]> {
  const list = await K8s(kind.Node)
    .WithLabel(LABEL_COMPONENT, "vnode")
    .WithLabel(LABEL_ENV, "dev")
    .Get();
  return list.items.map(n => n.metadata?.name ?? "");
}

function base(octet: number, identity: string): FakeBase {
  return new FakeBase({
    host: `127.0.0.${octet}`,
    identity,
    controller: CONTROLLER,
    heartbeatMs: 1000,
    secret: SECRET,
  });
}

/** Requests the fake base received, other than from the test itself. */
const calls = (b: FakeBase) => b.log.map(e => e.command);

describe("tunnel trust (npm run dev with per-identity credentials)", () => {
  let dev: PeprDev | undefined;
  let replica: Replica | undefined;
  const bases: FakeBase[] = [];
  const flood: string[] = [];

  beforeAll(async () => {
    dev = await startPeprDev(DEV_ENV);
  });

  afterAll(async () => {
    await Promise.all(bases.map(b => b.stop(true)));
    // goodbyes for the flood's VNodes, from the address they were bound to
    for (const id of flood)
      await postHeartbeat(CONTROLLER, body(id, "127.0.0.1", 1, "deactivated"), {
        from: "127.0.0.1",
        headers: auth(id),
      });
    await stopReplica(replica, "SIGTERM");
    await stopPeprDev(dev);
    const ours = (await vnodeNames()).filter(n => n.startsWith("vnode.tun-"));
    for (const n of ours) {
      await K8s(kind.Node).Delete(n);
      await K8s(Lease).InNamespace(NODE_LEASE_NAMESPACE).Delete(n);
    }
  });

  it("binds a base to the address its heartbeats come from", async () => {
    const a = base(81, "tun-a");
    bases.push(a);
    await a.start();
    const node = await waitReady(nodeName("tun-a"), "True");
    expect(node.metadata?.annotations?.[ANNOTATION_BASE_ADDRESS]).toBe("127.0.0.81");
    expect(node.status?.addresses?.find(x => x.type === "InternalIP")?.address).toBe("127.0.0.81");
  });

  it("refuses another address for a live identity, and calls nothing there", async () => {
    // a listener at the spoofer's address, to see whether the controller calls it
    const spoof = new FakeBase({ host: "127.0.0.82", identity: "spoof-listener" });
    bases.push(spoof);
    await spoof.start();
    const res = await postHeartbeat(CONTROLLER, body("tun-a", "127.0.0.82", spoof.port), {
      from: "127.0.0.82",
      headers: auth("tun-a"),
    });
    expect(res.status).toBe(409);
    expect(res.text).toContain("tun-a is bound to 127.0.0.81, which still answers");
    await sleep(6000); // three health polls and more
    expect(calls(spoof)).toEqual([]);
    const node = await getNode(nodeName("tun-a"));
    expect(node?.metadata?.annotations?.[ANNOTATION_BASE_ADDRESS]).toBe("127.0.0.81");
  });

  it("refuses a goodbye from another address: the Node stays", async () => {
    const before = await getNode(nodeName("tun-a"));
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await postHeartbeat(
        CONTROLLER,
        body("tun-a", "127.0.0.81", 1238, "deactivated"),
        { from: "127.0.0.83", headers: auth("tun-a") },
      );
      statuses.push(res.status);
    }
    expect(new Set(statuses)).toEqual(new Set([403]));
    await sleep(2000);
    const after = await getNode(nodeName("tun-a"));
    expect(after?.metadata?.uid).toBe(before?.metadata?.uid);
    expect(readyOf(after)).toBe("True");
  });

  it("refuses one base's credential for another identity, and a missing one", async () => {
    const stolen = await postHeartbeat(CONTROLLER, body("tun-b", "127.0.0.84", 1238), {
      from: "127.0.0.84",
      headers: auth("tun-a"),
    });
    expect(stolen.status).toBe(401);
    expect(stolen.text).toContain("missing or wrong credential for tun-b");
    const none = await postHeartbeat(CONTROLLER, body("tun-b", "127.0.0.84", 1238), {
      from: "127.0.0.84",
    });
    expect(none.status).toBe(401);
    expect(await getNode(nodeName("tun-b"))).toBeUndefined();
  });

  it("lets a base that restarts with a new address take its identity back once the old one is unreachable", async () => {
    const old = base(85, "tun-mover");
    bases.push(old);
    await old.start();
    await waitReady(nodeName("tun-mover"), "True");
    await old.stop(); // a JVM killed: no goodbye
    const moved = base(86, "tun-mover");
    bases.push(moved);
    // at once: the old address has not been silent long enough
    const early = await postHeartbeat(CONTROLLER, moved.baseStatus(), {
      from: "127.0.0.86",
      headers: auth("tun-mover"),
    });
    expect(early.status).toBe(409);
    await waitReady(nodeName("tun-mover"), "False");
    await moved.start();
    const node = await waitFor("tun-mover bound to 127.0.0.86 and Ready", async () => {
      const n = await getNode(nodeName("tun-mover"));
      const ip = n?.metadata?.annotations?.[ANNOTATION_BASE_ADDRESS];
      return ip === "127.0.0.86" && readyOf(n) === "True" ? n : undefined;
    });
    expect(node.status?.addresses?.find(x => x.type === "InternalIP")?.address).toBe("127.0.0.86");
    // its heartbeats alone can make it Ready before the next health poll: the calls follow it
    await waitFor("the controller calling the base at its new address", async () =>
      calls(moved).includes("health"),
    );
  });

  it("answers heartbeats while the API server is stalled, and records the new base afterwards", async () => {
    const apiserver = readState()?.components.find(c => c.name === "kube-apiserver");
    if (!apiserver) throw new Error("no kube-apiserver in the local cluster state");
    // listens but sends no heartbeats of its own: the test sends its first one mid-stall
    const fresh = new FakeBase({ host: "127.0.0.87", identity: "tun-stall", controller: "" });
    bases.push(fresh);
    await fresh.start();
    process.kill(apiserver.pid, "SIGSTOP");
    let answers: number[];
    try {
      answers = [];
      for (const b of [bases[0], fresh]) {
        await sleep(300);
        const res = await postHeartbeat(CONTROLLER, b.baseStatus(), {
          from: b.opts.host,
          headers: auth(b.opts.identity),
          timeoutMs: 5000,
        });
        answers.push(res.status);
      }
    } finally {
      process.kill(apiserver.pid, "SIGCONT");
    }
    // a known base and a new one: both answered (status 0 would be no answer within 5 s)
    expect(answers).toEqual([200, 200]);
    await waitReady(nodeName("tun-stall"), "True");
  });

  it("caps VNodes: of 2000 new identities only what fits under the cap gets one, the rest 429", async () => {
    const existing = (await vnodeNames()).length;
    const statuses = new Map<number, number>();
    let sample429 = "";
    const ids = Array.from({ length: 2000 }, (_, i) => `tun-flood-${i}`);
    for (let i = 0; i < ids.length; i += 50) {
      const batch = ids.slice(i, i + 50);
      const res = await Promise.all(
        batch.map(id =>
          postHeartbeat(CONTROLLER, body(id, "127.0.0.1", 1), {
            from: "127.0.0.1",
            headers: auth(id),
          }),
        ),
      );
      res.forEach((r, j) => {
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status === 200) flood.push(batch[j]);
        if (r.status === 429) sample429 ||= r.text;
      });
    }
    const accepted = statuses.get(200) ?? 0;
    expect(accepted).toBeLessThanOrEqual(MAX_VNODES - existing);
    expect(statuses.get(429)).toBe(2000 - accepted);
    expect(sample429).toContain(`KOUPLELESS_MAX_VNODES=${MAX_VNODES}`);
    await waitFor(`the ${accepted} accepted identities to have VNodes`, async () => {
      const names = new Set(await vnodeNames());
      return flood.every(id => names.has(nodeName(id)));
    });
    expect((await vnodeNames()).length).toBeLessThanOrEqual(MAX_VNODES);
  });

  it("never calls a link-local or metadata address, even when told to call the heartbeat's localIP", async () => {
    replica = await startReplica("e2e-tunnel-hb", 7821, {
      ...DEV_ENV,
      KOUPLELESS_REPLICA_ID: "e2e-tunnel-hb",
      KOUPLELESS_BASE_ADDRESS: "heartbeat",
    });
    const url = `http://127.0.0.1:${replica.tunnelPort}`;
    for (const ip of ["169.254.169.254", "100.100.100.200", "fe80::1", "0.0.0.0"]) {
      const id = `tun-meta-${ip.replace(/[^0-9a-f]/g, "-")}`;
      const res = await postHeartbeat(url, body(id, ip, 80), { headers: auth(id) });
      expect({ ip, status: res.status }).toEqual({ ip, status: 403 });
      expect(res.text).toContain("never calls");
    }
    // a host name is not an address it will resolve and call either
    const named = await postHeartbeat(url, body("tun-meta-dns", "metadata.google.internal", 80), {
      headers: auth("tun-meta-dns"),
    });
    expect(named.status).toBe(403);
    const names = await vnodeNames();
    expect(names.filter(n => n.startsWith("vnode.tun-meta-"))).toEqual([]);
  });
});
