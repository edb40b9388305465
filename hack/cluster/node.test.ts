import { describe, expect, it } from "@jest/globals";
import { withoutOurChains } from "./node";

describe("withoutOurChains", () => {
  it("drops KUBE-/CNI- chains, their rules and the jumps to them, and keeps the rest", () => {
    const save = [
      "*filter",
      ":INPUT ACCEPT [0:0]",
      ":OUTPUT ACCEPT [0:0]",
      ":KUBE-FIREWALL - [0:0]",
      ":CNI-HOSTPORT-DNAT - [0:0]",
      ":MINE - [0:0]",
      "-A INPUT -j KUBE-FIREWALL",
      "-A INPUT -p tcp --dport 22 -j ACCEPT",
      "-A OUTPUT -m comment --comment x -g CNI-HOSTPORT-DNAT",
      "-A KUBE-FIREWALL -j DROP",
      "-A MINE -j RETURN",
      "COMMIT",
    ].join("\n");
    const { kept, chains } = withoutOurChains(save);
    expect(chains).toEqual(["KUBE-FIREWALL", "CNI-HOSTPORT-DNAT"]);
    expect(kept).toEqual([
      "*filter",
      ":INPUT ACCEPT [0:0]",
      ":OUTPUT ACCEPT [0:0]",
      ":MINE - [0:0]",
      "-A INPUT -p tcp --dport 22 -j ACCEPT",
      "-A MINE -j RETURN",
      "COMMIT",
    ]);
  });
});
