import { describe, expect, it } from "@jest/globals";
import { inLocation, jarUrlProblem, JarRules } from "./jar-url";

const DEFAULT: JarRules = { allowedJarSchemes: ["http", "https", "file"], allowedJarLocations: [] };
const F = "spec.containers[0].image";

describe("jarUrlProblem", () => {
  const cases: Array<{ image?: string; rules?: Partial<JarRules>; want?: string }> = [
    { image: "https://repo.example.com/biz1-0.0.1-ark-biz.jar" },
    { image: "http://10.0.0.1:8080/biz1.jar" },
    { image: "file:///opt/biz/biz1.jar" },
    { image: "https://repo.example.com/biz1.jar?token=abc&x=.zip" },
    { image: "https://repo.example.com/biz1.jar#frag" },
    {
      image: undefined,
      want: `${F} "" must be a jar URL with one of the schemes http, https, file (got not a URL)`,
    },
    { image: "biz1:0.0.1", want: `(got scheme "biz1")` },
    { image: "registry.example.com/biz1:0.0.1", want: "(got not a URL)" },
    { image: "/opt/biz/biz1.jar", want: "(got not a URL)" },
    { image: "ftp://repo.example.com/biz1.jar", want: `(got scheme "ftp")` },
    {
      image: "http://repo.example.com/biz1.jar",
      rules: { allowedJarSchemes: ["https"] },
      want: 'must be a jar URL with one of the schemes https (got scheme "http")',
    },
    {
      image: "https://repo.example.com/biz1.zip",
      want: `${F} "https://repo.example.com/biz1.zip" must point to a .jar file`,
    },
    { image: "https://repo.example.com/get?file=biz1.jar", want: "must point to a .jar file" },
    { image: "https://repo.example.com/biz1.JAR", want: "must point to a .jar file" },
    { image: "https://repo.example.com/biz1.jar/", want: "must point to a .jar file" },
    {
      image: "https://other.example.com/biz1.jar",
      rules: { allowedJarLocations: ["repo.example.com"] },
      want: `${F} "https://other.example.com/biz1.jar" is not in an allowed jar location (repo.example.com)`,
    },
  ];

  it.each(cases)("$image", ({ image, rules, want }) => {
    const p = jarUrlProblem(F, image, { ...DEFAULT, ...rules });
    if (want === undefined) expect(p).toBeUndefined();
    else expect(p).toContain(want);
  });

  // Each of these reads one host to the WHATWG parser and another (or a path) to java.net.URL.
  const ambiguous: Array<[string, string]> = [
    ["http://repo.example.com\\@evil.org/x-1.0.0.jar", "a backslash"],
    ["http://repo.example.com@evil.org/x.jar", "user info"],
    ["http://user:pw@repo.example.com/x.jar", "user info"],
    ["http://repo.example.com/x y.jar", "outside RFC 3986"],
    ["http://repo.example.com/x\ty.jar", "outside RFC 3986"],
    ["http://repo.exämple.com/x.jar", "outside RFC 3986"],
    ["http://repo%2eexample.com/x.jar", "an escaped host"],
    ["http://repo.example.com/a%zz.jar", "'%' that is not followed"],
    ["https://repo.example.com/biz/../etc/a.jar", "'.' or '..' path segments"],
    ["https://repo.example.com/biz/%2e%2E/a.jar", "'.' or '..' path segments"],
  ];
  it.each(ambiguous)("refuses %s (%s)", (image, why) => {
    const p = jarUrlProblem(F, image, DEFAULT);
    expect(p).toContain(why);
    expect(p).toContain("write the jar URL plainly");
  });

  it("the allowlist cannot be passed by a URL that Java reads with another host", () => {
    const rules = { ...DEFAULT, allowedJarLocations: ["repo.example.com"] };
    expect(jarUrlProblem(F, "http://repo.example.com\\@evil.org/x-1.0.0.jar", rules)).toBeDefined();
    expect(jarUrlProblem(F, "http://repo.example.com:8080/x-1.0.0.jar", rules)).toBeUndefined();
    expect(jarUrlProblem(F, "http://[::1]:8080/x.jar", DEFAULT)).toBeUndefined();
  });

  it("says how to fix it", () => {
    expect(jarUrlProblem(F, "biz1:1", DEFAULT)).toMatch(
      /set it to the biz jar's URL, e\.g\. https:/,
    );
    expect(
      jarUrlProblem(F, "https://x/y.jar", { ...DEFAULT, allowedJarLocations: ["z"] }),
    ).toContain("KOUPLELESS_ALLOWED_JAR_LOCATIONS");
  });
});

describe("inLocation", () => {
  const cases: Array<[string, string, boolean]> = [
    ["https://repo.example.com/a.jar", "repo.example.com", true],
    ["https://REPO.example.com/a.jar", "repo.EXAMPLE.com", true],
    ["https://repo.example.com:8443/a.jar", "repo.example.com", true],
    ["https://repo.example.com:8443/a.jar", "repo.example.com:8443", true],
    ["https://repo.example.com/a.jar", "repo.example.com:8443", false],
    ["https://repo.example.com.evil.org/a.jar", "repo.example.com", false],
    ["https://repo.example.com/biz/a.jar", "https://repo.example.com/biz/", true],
    ["https://repo.example.com/biz/a.jar", "https://repo.example.com/biz", true],
    ["https://repo.example.com/biz/x/a.jar", "https://repo.example.com/", true],
    ["https://repo.example.com/biz-other/a.jar", "https://repo.example.com/biz", false],
    ["https://repo.example.com/biz/../etc/a.jar", "https://repo.example.com/biz/", false],
    ["https://repo.example.com.evil.org/biz/a.jar", "https://repo.example.com/biz/", false],
    ["http://repo.example.com/biz/a.jar", "https://repo.example.com/biz/", false],
    ["file:///opt/biz/a.jar", "file:///opt/biz/", true],
    ["file:///opt/other/a.jar", "file:///opt/biz/", false],
    ["file:///opt/biz/a.jar", "not a url://", false],
  ];
  it.each(cases)("%s in %s → %s", (image, entry, want) => {
    expect(inLocation(new URL(image), entry)).toBe(want);
  });
});
