// Is a container image a biz jar URL that Arklet can fetch, from a place the operator allows?
// Arklet hands the string to java.net.URL, so a bare path or a container image reference fails
// only on the base, long after admission; we catch it here. The allowlist is only as good as
// the host we compare: we accept only URLs that Java and the WHATWG parser read alike.
import type { Config } from "../lib/config";

export type JarRules = Pick<Config, "allowedJarSchemes" | "allowedJarLocations">;

const EXAMPLE = "https://repo.example.com/biz1-0.0.1-ark-biz.jar";

// RFC 3986 characters: unreserved, reserved and '%' (whose escapes are checked separately).
const RFC3986_CHARS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]*$/;
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
// RFC 3986 appendix B, with the authority split off: scheme, authority, path.
const PARTS = /^([A-Za-z][A-Za-z0-9+.-]*):(?:\/\/([^/?#]*))?([^?#]*)/;
// A dot segment, literal or escaped: java.net.URL keeps it, WHATWG (and servers) resolve it.
const DOT_SEGMENT = /(^|\/)(\.|%2e){1,2}(\/|$)/i;

function parse(s: string): URL | undefined {
  try {
    return new URL(s);
  } catch {
    return undefined;
  }
}

/**
 * Why two URL parsers (Java's, which fetches the jar, and ours, which checks the allowlist)
 * could read `s` differently, or undefined when they cannot: backslashes, user info, escapes
 * in the host, dot segments and characters outside RFC 3986 are each refused.
 */
export function ambiguity(s: string): string | undefined {
  if (s.includes("\\")) return "a backslash, which Java and browsers read differently";
  if (!RFC3986_CHARS.test(s)) return "characters outside RFC 3986 (spaces, quotes, non-ASCII)";
  if (BAD_ESCAPE.test(s)) return "a '%' that is not followed by two hex digits";
  const parts = PARTS.exec(s);
  if (!parts) return "no scheme";
  const authority = parts[2] ?? "";
  if (authority.includes("@")) return "user info ('user@host'), which hides the real host";
  if (authority.includes("%")) return "an escaped host";
  if (DOT_SEGMENT.test(parts[3])) return "'.' or '..' path segments";
  return undefined;
}

/** The host as RFC 3986 (and so java.net.URL) reads it, lowercased; "" for file URLs. */
function rfcHost(s: string): string {
  const authority = PARTS.exec(s)?.[2] ?? "";
  return authority.replace(/:\d*$/, "").toLowerCase();
}

/**
 * True when the URL is under `entry`: a host (`repo.example.com`, or `host:port` to pin the
 * port) or a URL prefix (`https://repo.example.com/biz/`). A prefix is compared on the parsed
 * URL, by whole path segments, so `https://repo.example.com.evil.org/` or `/biz-other/` and
 * `/biz/../etc/` do not pass as `https://repo.example.com/biz/`.
 */
export function inLocation(url: URL, entry: string): boolean {
  if (!entry.includes("://")) {
    const host = entry.toLowerCase();
    return url.host === host || url.hostname === host;
  }
  const prefix = parse(entry);
  if (!prefix || prefix.protocol !== url.protocol || prefix.host !== url.host) return false;
  const dir = prefix.pathname.endsWith("/") ? prefix.pathname : `${prefix.pathname}/`;
  return url.pathname === prefix.pathname || url.pathname.startsWith(dir);
}

/** The URL when `image` parses unambiguously and its scheme is allowed; else the reason it is not. */
function allowedUrl(image: string, rules: JarRules): URL | string {
  const url = parse(image);
  if (!url) return "not a URL";
  const scheme = url.protocol.replace(/:$/, "");
  return rules.allowedJarSchemes.includes(scheme) ? url : `scheme "${scheme}"`;
}

function ambiguityProblem(field: string, image: string, url: URL): string | undefined {
  const why =
    ambiguity(image) ??
    (rfcHost(image) !== url.hostname ? "a host the parsers read differently" : undefined);
  if (!why) return undefined;
  return `${field} "${image}" has ${why}: write the jar URL plainly, as scheme://host[:port]/path/name.jar with %-escapes for other characters, e.g. ${EXAMPLE}`;
}

/** A message naming `field` and the fix when `image` is no acceptable jar URL; else undefined. */
export function jarUrlProblem(
  field: string,
  image: string | undefined,
  rules: JarRules,
): string | undefined {
  const url = allowedUrl(image ?? "", rules);
  if (typeof url === "string") {
    return `${field} "${image ?? ""}" must be a jar URL with one of the schemes ${rules.allowedJarSchemes.join(", ")} (got ${url}): set it to the biz jar's URL, e.g. ${EXAMPLE}`;
  }
  const ambiguous = ambiguityProblem(field, image ?? "", url);
  if (ambiguous) return ambiguous;
  if (!url.pathname.endsWith(".jar")) {
    return `${field} "${image}" must point to a .jar file (its path, before any query string, must end in .jar): set it to the biz jar built by the Koupleless Maven plugin, e.g. ${EXAMPLE}`;
  }
  const locations = rules.allowedJarLocations;
  if (locations.length && !locations.some(entry => inLocation(url, entry))) {
    return `${field} "${image}" is not in an allowed jar location (${locations.join(", ")}): publish the jar there, or ask the operator to add its host to KOUPLELESS_ALLOWED_JAR_LOCATIONS`;
  }
  return undefined;
}
