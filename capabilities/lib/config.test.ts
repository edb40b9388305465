import { describe, expect, it } from "@jest/globals";
import { ConfigError, loadConfig } from "./config";

describe("loadConfig", () => {
  it("has the contract's defaults", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      env: "dev",
      tunnelPort: 7777,
      leaseDurationSeconds: 40,
      leaseRenewSeconds: 10,
      healthPollSeconds: 10,
      unreachableSeconds: 25,
      vnodeTtlSeconds: 600,
      failoverSeconds: 30,
      allowedJarSchemes: ["http", "https", "file"],
      allowedJarLocations: [],
      rejectForeignVNodeTolerations: true,
    });
  });

  it("reads KOUPLELESS_ENV", () => {
    expect(loadConfig({ KOUPLELESS_ENV: "prod-1" }).env).toBe("prod-1");
  });

  it("takes the replica id from the pod name (HOSTNAME) unless set", () => {
    expect(loadConfig({ HOSTNAME: "pepr-x-watcher-abc" }).replicaId).toBe("pepr-x-watcher-abc");
    expect(loadConfig({ HOSTNAME: "h", KOUPLELESS_REPLICA_ID: "r1" }).replicaId).toBe("r1");
  });

  it("splits lists on commas and trims", () => {
    expect(
      loadConfig({ KOUPLELESS_ALLOWED_JAR_LOCATIONS: " https://a/ , b.example " })
        .allowedJarLocations,
    ).toEqual(["https://a/", "b.example"]);
  });

  it.each([
    [{ KOUPLELESS_ENV: "Prod" }, /KOUPLELESS_ENV/],
    [{ KOUPLELESS_ENV: "a.b" }, /KOUPLELESS_ENV/],
    [{ KOUPLELESS_ENV: "x".repeat(64) }, /KOUPLELESS_ENV/],
    [{ KOUPLELESS_TUNNEL_PORT: "0" }, /KOUPLELESS_TUNNEL_PORT.*1 to 65535/],
    [{ KOUPLELESS_TUNNEL_PORT: "80a" }, /KOUPLELESS_TUNNEL_PORT/],
    [{ KOUPLELESS_FAILOVER_SECONDS: "-1" }, /KOUPLELESS_FAILOVER_SECONDS/],
    [{ KOUPLELESS_REJECT_FOREIGN_VNODE_TOLERATIONS: "yes" }, /true or false/],
    [{ KOUPLELESS_LEASE_RENEW_SECONDS: "30" }, /at most half/],
    [{ KOUPLELESS_VNODE_TTL_SECONDS: "20" }, /longer than KOUPLELESS_UNREACHABLE_SECONDS/],
  ])("rejects %j with a message naming the variable", (src, msg) => {
    expect(() => loadConfig(src)).toThrow(ConfigError);
    expect(() => loadConfig(src)).toThrow(msg);
  });
});
