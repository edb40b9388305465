// Which addresses the controller may call, and how a base proves who it is. Pure: the gate
// decides with these, the server only supplies the request's facts.
import { createHmac, timingSafeEqual } from "node:crypto";
import { BlockList, isIP } from "node:net";

/**
 * Never called, whatever the configuration: "this network", link-local (which holds the cloud
 * metadata services at 169.254.169.254 and fd00:ec2::254), Alibaba Cloud's metadata address,
 * multicast and reserved space. A base never lives there; an attacker would love us to call it.
 */
const ALWAYS_REFUSED: Array<[string, number, "ipv4" | "ipv6"]> = [
  ["0.0.0.0", 8, "ipv4"],
  ["169.254.0.0", 16, "ipv4"],
  ["100.100.100.200", 32, "ipv4"],
  ["224.0.0.0", 4, "ipv4"],
  ["240.0.0.0", 4, "ipv4"],
  ["::", 128, "ipv6"],
  ["fe80::", 10, "ipv6"],
  ["fd00:ec2::254", 128, "ipv6"],
  ["ff00::", 8, "ipv6"],
];

function blockList(entries: Array<[string, number, "ipv4" | "ipv6"]>): BlockList {
  const list = new BlockList();
  for (const [ip, bits, family] of entries) list.addSubnet(ip, bits, family);
  return list;
}

const refused = blockList(ALWAYS_REFUSED);

/** A socket's remote address as a plain IP: IPv4-mapped IPv6 (::ffff:10.0.0.1) becomes IPv4. */
export function plainIp(remote: string | undefined): string {
  const ip = remote ?? "";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return mapped ? mapped[1] : ip;
}

/** The allowed CIDRs (already validated by the config module) as a matcher; undefined = any. */
export function allowedNetworks(cidrs: string[]): BlockList | undefined {
  if (cidrs.length === 0) return undefined;
  return blockList(
    cidrs.map(c => {
      const [ip, bits] = c.split("/");
      return [ip, Number(bits), isIP(ip) === 6 ? "ipv6" : "ipv4"];
    }),
  );
}

/** Why the controller must not call `ip`, or undefined when it may. */
export function addressProblem(ip: string, allowed: BlockList | undefined): string | undefined {
  const family = isIP(ip);
  if (family === 0) return `${JSON.stringify(ip)} is not an IP address`;
  const type = family === 6 ? "ipv6" : "ipv4";
  if (refused.check(ip, type)) {
    return `${ip} is a link-local, metadata, multicast or reserved address, which the controller never calls`;
  }
  if (allowed && !allowed.check(ip, type)) {
    return `${ip} is outside KOUPLELESS_BASE_CIDRS, the networks the controller may call`;
  }
  return undefined;
}

/** The credential of one identity: hex HMAC-SHA256 of the identity under the cluster secret. */
export function identityToken(secret: string, identity: string): string {
  return createHmac("sha256", secret).update(identity).digest("hex");
}

/** True when the Authorization header carries this identity's credential (or none is required). */
export function credentialOk(
  secret: string,
  identity: string,
  header: string | undefined,
): boolean {
  if (!secret) return true;
  const want = Buffer.from(`Bearer ${identityToken(secret, identity)}`);
  const got = Buffer.from(header ?? "");
  return got.length === want.length && timingSafeEqual(got, want);
}
