import { describe, expect, it } from "@jest/globals";
import { ensureTunnelService, ServiceDeps } from "./tunnel-service";
import { TUNNEL_SERVICE, WATCHER_DEPLOYMENT } from "../tunnel/service";

/** An apiserver holding the given objects by path suffix; records what was created. */
function fakeApi(objects: Record<string, unknown>, createError?: unknown) {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the created object, read as JSON
  const created: { path: string; body: any }[] = [];
  const deps: ServiceDeps = {
    get: async <T>(path: string) => {
      const hit = Object.entries(objects).find(([suffix]) => path.endsWith(suffix));
      return hit?.[1] as T | undefined;
    },
    create: async (path, body) => {
      if (createError) throw createError;
      created.push({ path, body });
      return body;
    },
  };
  return { deps, created };
}

const deployment = { [`/deployments/${WATCHER_DEPLOYMENT}`]: { metadata: { uid: "u-1" } } };

describe("ensureTunnelService", () => {
  it("leaves an existing Service alone (dist/ and Helm own theirs)", async () => {
    const { deps, created } = fakeApi({ [`/services/${TUNNEL_SERVICE}`]: {}, ...deployment });
    expect(await ensureTunnelService(7777, deps)).toBe("present");
    expect(created).toEqual([]);
  });

  it("makes nothing without the watcher Deployment (pepr dev, npm run replica)", async () => {
    const { deps, created } = fakeApi({});
    expect(await ensureTunnelService(7777, deps)).toBe("no watcher Deployment");
    expect(created).toEqual([]);
  });

  it("creates the Service owned by the watcher Deployment, by port number", async () => {
    const { deps, created } = fakeApi(deployment);
    expect(await ensureTunnelService(7777, deps)).toBe("created");
    expect(created).toHaveLength(1);
    const { path, body } = created[0];
    expect(path).toBe("/api/v1/namespaces/pepr-system/services");
    expect(body.metadata.name).toBe(TUNNEL_SERVICE);
    expect(body.metadata.ownerReferences).toEqual([
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: WATCHER_DEPLOYMENT,
        uid: "u-1",
        blockOwnerDeletion: false,
      },
    ]);
    expect(body.spec.ports).toEqual([
      { name: "tunnel", port: 7777, targetPort: 7777, protocol: "TCP" },
    ]);
    expect(body.spec.selector).toEqual({
      app: WATCHER_DEPLOYMENT,
      "pepr.dev/controller": "watcher",
    });
  });

  it("a peer that made it first is not an error; anything else is", async () => {
    expect(await ensureTunnelService(7777, fakeApi(deployment, { status: 409 }).deps)).toBe(
      "raced",
    );
    await expect(
      ensureTunnelService(7777, fakeApi(deployment, { status: 403 }).deps),
    ).rejects.toEqual({ status: 403 });
  });
});
