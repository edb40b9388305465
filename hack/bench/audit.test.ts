import { describe, expect, it } from "@jest/globals";
import { agentName, auditKey, countWrites } from "./audit";

const ev = (o: object) => JSON.stringify({ stage: "ResponseComplete", ...o });

describe("agentName", () => {
  it("keeps the client's name from a Kubernetes user-agent", () => {
    expect(agentName("kube-controller-manager/v1.36.3 (linux/amd64) kubernetes/abc")).toBe(
      "kube-controller-manager",
    );
    expect(agentName("kube-local/v1.36.3 (linux/amd64) kubernetes/0000000/node-controller")).toBe(
      "kube-local:node-controller",
    );
    expect(agentName("koupleless-pepr")).toBe("koupleless-pepr");
    expect(agentName(undefined)).toBe("(none)");
  });
});

describe("countWrites", () => {
  const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
  const lines = [
    ev({
      verb: "update",
      userAgent: "koupleless-pepr",
      user: { username: "admin" },
      objectRef: { resource: "leases" },
      stageTimestamp: t(1),
    }),
    ev({
      verb: "patch",
      userAgent: "koupleless-pepr",
      user: { username: "admin" },
      objectRef: { resource: "nodes", subresource: "status" },
      stageTimestamp: t(2),
    }),
    ev({ verb: "update", objectRef: { resource: "leases" }, stageTimestamp: t(9) }),
    JSON.stringify({ stage: "ResponseStarted", verb: "patch", stageTimestamp: t(2) }),
    "",
  ];

  it("counts completed requests in the window by client, user, verb and subresource", () => {
    const from = Date.parse(t(0));
    expect(countWrites(lines, from, Date.parse(t(5)))).toEqual({
      "koupleless-pepr admin update leases": 1,
      "koupleless-pepr admin patch nodes/status": 1,
    });
  });

  it("names what an event leaves out", () => {
    expect(auditKey({ verb: "delete" })).toBe("(none) ? delete ?");
  });
});
