// Discovery with the API faked: what a heartbeat writes, what it costs when nothing changed,
// and which heartbeats must not move or delete a VNode.
import { describe, expect, it } from "@jest/globals";
import type { V1Node } from "@kubernetes/client-node";
import { loadConfig } from "../config";
import { ANNOTATION_BASE_ADDRESS } from "../contract";
import type { Logger } from "../logger";
import type { BaseStatus } from "../tunnel/heartbeat";
import { Discovery, DiscoveryApi } from "./discovery";
import type { MetadataOp } from "./node";

const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

const base = (ip = "10.0.0.7", version = "1.0.0"): BaseStatus => ({
  baseMetadata: { identity: "base-a", name: "base", version, clusterName: "default" },
  localIP: ip,
  localHostName: "host-a",
  port: 1238,
  state: "ACTIVATED",
});

class FakeApi implements DiscoveryApi {
  nodes = new Map<string, V1Node>();
  leases = new Set<string>();
  calls: string[] = [];

  async getNode(name: string) {
    this.calls.push(`get ${name}`);
    return this.nodes.get(name);
  }
  async createNode(node: V1Node) {
    this.calls.push(`create ${node.metadata?.name}`);
    this.nodes.set(node.metadata?.name ?? "", {
      ...node,
      metadata: { ...node.metadata, creationTimestamp: new Date() },
    });
  }
  async patchNode(name: string, ops: MetadataOp[]) {
    this.calls.push(`patch ${name} ${ops.map(o => o.path).join(",")}`);
  }
  async leaseExists(name: string) {
    return this.leases.has(name);
  }
}

function setup() {
  const api = new FakeApi();
  const log: string[] = [];
  const discovery = new Discovery(
    loadConfig({}),
    quiet as unknown as Logger,
    {
      heard: (name, b, confirmed) => log.push(`heard ${name} ${b.localIP} ${confirmed}`),
      createLease: async name => {
        api.leases.add(name);
        log.push(`lease ${name}`);
      },
      remove: async name => {
        log.push(`remove ${name}`);
      },
    },
    { api },
  );
  return { api, log, discovery };
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise(r => setTimeout(r, 5));
  }
  throw new Error(`never happened: ${what}`);
}
const settle = () => new Promise(r => setTimeout(r, 50));
const NAME = "vnode.base-a.dev";

describe("Discovery", () => {
  it("creates the Node and its Lease for a new base, and nothing more for the same heartbeat", async () => {
    const { api, log, discovery } = setup();
    discovery.onHeartbeat(base(), true);
    await eventually(() => api.leases.has(NAME), "the Lease");
    expect(api.calls).toEqual([`get ${NAME}`, `create ${NAME}`]);
    expect(log).toContain(`heard ${NAME} 10.0.0.7 true`);
    api.calls = [];
    discovery.onHeartbeat(base(), true);
    discovery.onHeartbeat(base(), true);
    await settle();
    expect(api.calls).toEqual([]);
    discovery.stop();
  });

  it("patches only the labels that changed when the base does", async () => {
    const { api, discovery } = setup();
    discovery.onHeartbeat(base(), true);
    await eventually(() => api.leases.has(NAME), "the Lease");
    api.calls = [];
    discovery.onHeartbeat(base("10.0.0.7", "2.0.0"), true);
    await eventually(() => api.calls.length === 2, "a patch");
    expect(api.calls[1]).toBe(`patch ${NAME} /metadata/labels/base.koupleless.io~1version`);
    discovery.stop();
  });

  it("ignores a heartbeat from another address while the bound base still answers", async () => {
    const { api, log, discovery } = setup();
    api.nodes.set(NAME, {
      metadata: { name: NAME, annotations: { [ANNOTATION_BASE_ADDRESS]: "10.0.0.7" } },
      status: {
        conditions: [{ type: "Ready", status: "True", message: "Arklet at 10.0.0.7:1238 answers" }],
      },
    });
    api.leases.add(NAME);
    discovery.onHeartbeat(base("10.0.0.99"), true);
    await eventually(() => api.calls.length === 1, "the Node read");
    await settle();
    expect(api.calls).toEqual([`get ${NAME}`]);
    expect(log.filter(l => l.endsWith("true"))).toEqual([]);
    discovery.stop();
  });

  it("deletes the VNode on a goodbye from its address, and not from another", async () => {
    const { api, log, discovery } = setup();
    api.nodes.set(NAME, {
      metadata: { name: NAME, annotations: { [ANNOTATION_BASE_ADDRESS]: "10.0.0.7" } },
    });
    discovery.onHeartbeat({ ...base("10.0.0.99"), state: "DEACTIVATED" }, false);
    await eventually(() => api.calls.length === 1, "the Node read");
    await settle();
    expect(log).toEqual([]);
    discovery.onHeartbeat({ ...base(), state: "DEACTIVATED" }, false);
    await eventually(() => log.length === 1, "the removal");
    expect(log).toEqual([`remove ${NAME}`]);
    discovery.stop();
  });
});
