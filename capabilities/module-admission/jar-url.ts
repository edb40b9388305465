// Is a container image a biz jar URL that Arklet can fetch, from a place the operator allows?
// Arklet hands the string to java.net.URL, so a bare path or a container image reference fails
// only on the base, long after admission; we catch it here.
import type { Config } from "../lib/config";

export type JarRules = Pick<Config, "allowedJarSchemes" | "allowedJarLocations">;

const EXAMPLE = "https://repo.example.com/biz1-0.0.1-ark-biz.jar";

function parse(s: string): URL | undefined {
  try {
    return new URL(s);
  } catch {
    return undefined;
  }
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

/** The URL when `image` parses and its scheme is allowed; else the reason it is not. */
function allowedUrl(image: string, rules: JarRules): URL | string {
  const url = parse(image);
  if (!url) return "not a URL";
  const scheme = url.protocol.replace(/:$/, "");
  return rules.allowedJarSchemes.includes(scheme) ? url : `scheme "${scheme}"`;
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
  if (!url.pathname.endsWith(".jar")) {
    return `${field} "${image}" must point to a .jar file (its path, before any query string, must end in .jar): set it to the biz jar built by the Koupleless Maven plugin, e.g. ${EXAMPLE}`;
  }
  const locations = rules.allowedJarLocations;
  if (locations.length && !locations.some(entry => inLocation(url, entry))) {
    return `${field} "${image}" is not in an allowed jar location (${locations.join(", ")}): publish the jar there, or ask the operator to add its host to KOUPLELESS_ALLOWED_JAR_LOCATIONS`;
  }
  return undefined;
}
