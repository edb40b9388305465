import { describe, expect, it } from "@jest/globals";
import { addressProblem, allowedNetworks, credentialOk, identityToken, plainIp } from "./address";

describe("addressProblem", () => {
  const any = allowedNetworks([]);
  it.each([
    ["169.254.169.254", "link-local, metadata"],
    ["169.254.1.1", "link-local, metadata"],
    ["100.100.100.200", "link-local, metadata"],
    ["0.0.0.0", "link-local, metadata"],
    ["224.0.0.1", "link-local, metadata"],
    ["255.255.255.255", "link-local, metadata"],
    ["fe80::1", "link-local, metadata"],
    ["fd00:ec2::254", "link-local, metadata"],
    ["::", "link-local, metadata"],
    ["metadata.google.internal", "not an IP address"],
    ["", "not an IP address"],
  ])("refuses %s always", (ip, why) => {
    expect(addressProblem(ip, any)).toContain(why);
    expect(addressProblem(ip, allowedNetworks(["0.0.0.0/0", "::/0"]))).toContain(why);
  });

  it.each(["127.0.0.1", "10.1.2.3", "192.168.0.7", "::1", "2001:db8::1"])(
    "allows %s when no networks are configured",
    ip => expect(addressProblem(ip, any)).toBeUndefined(),
  );

  it("allows only the configured networks when there are some", () => {
    const nets = allowedNetworks(["10.0.0.0/8", "fd00::/8"]);
    expect(addressProblem("10.9.9.9", nets)).toBeUndefined();
    expect(addressProblem("fd12::1", nets)).toBeUndefined();
    expect(addressProblem("192.168.0.1", nets)).toContain("outside KOUPLELESS_BASE_CIDRS");
    expect(addressProblem("127.0.0.1", nets)).toContain("outside KOUPLELESS_BASE_CIDRS");
  });
});

describe("plainIp", () => {
  it.each([
    ["::ffff:127.0.0.20", "127.0.0.20"],
    ["127.0.0.20", "127.0.0.20"],
    ["::1", "::1"],
    [undefined, ""],
  ])("%s → %s", (raw, want) => expect(plainIp(raw)).toBe(want));
});

describe("credentials", () => {
  const secret = "0123456789abcdef0123";
  it("one identity's credential does not work for another", () => {
    const a = `Bearer ${identityToken(secret, "base-a")}`;
    expect(credentialOk(secret, "base-a", a)).toBe(true);
    expect(credentialOk(secret, "base-b", a)).toBe(false);
    expect(credentialOk(secret, "base-a", undefined)).toBe(false);
    expect(credentialOk(secret, "base-a", "Bearer nope")).toBe(false);
  });
  it("is not required without a secret", () => {
    expect(credentialOk("", "base-a", undefined)).toBe(true);
  });
  it("is the HMAC-SHA256 that openssl computes", () => {
    // printf %s base-a | openssl dgst -sha256 -hmac 0123456789abcdef0123 -hex
    expect(identityToken(secret, "base-a")).toBe(
      "b220abdbc5bf4f392d4794bfc0c8457d6b3a013f90c10487260235fdbfa4c0b9",
    );
  });
});
