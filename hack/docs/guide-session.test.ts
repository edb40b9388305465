import { describe, expect, it } from "@jest/globals";
import { normalized, section, session } from "./guide-session";

const FENCE = "```";
const MD = [
  "# Guide",
  "## 8. Try it by hand",
  "Three terminals:",
  `${FENCE}bash`,
  "npm run dev                 # 1: the module",
  "npm run fake-base -- --first 3   # 2: a base",
  FENCE,
  "Then:",
  `${FENCE}console`,
  "$ npm run kubectl -- get nodes",
  "NAME   STATUS",
  "",
  "vnode.127.0.0.3.dev   Ready",
  "$ npm run kubectl -- create namespace team-a",
  "namespace/team-a created",
  FENCE,
  `${FENCE}console`,
  "$ npm run kubectl -- delete namespace team-a",
  FENCE,
  "## 9. Next",
  `${FENCE}console`,
  "$ not this one",
  FENCE,
].join("\n");

describe("session", () => {
  it("reads the terminals' commands and each step with its output, in this section only", () => {
    expect(session(section(MD, "## 8. Try it by hand"))).toEqual({
      background: ["npm run dev", "npm run fake-base -- --first 3"],
      steps: [
        {
          command: "npm run kubectl -- get nodes",
          expected: ["NAME   STATUS", "vnode.127.0.0.3.dev   Ready"],
        },
        {
          command: "npm run kubectl -- create namespace team-a",
          expected: ["namespace/team-a created"],
        },
        { command: "npm run kubectl -- delete namespace team-a", expected: [] },
      ],
    });
  });

  it("names a missing section", () => {
    expect(() => section(MD, "## 3. Nope")).toThrow('no section "## 3. Nope"');
  });
});

describe("normalized", () => {
  it.each([
    {
      name: "npm's header and blank lines dropped",
      given: ["", "> x@1 kubectl", "> node cli.ts", "a"],
      want: ["a"],
    },
    {
      name: "npm's error lines dropped",
      given: ["error: x", "npm error code 1", "npm ERR! x"],
      want: ["error: x"],
    },
    {
      name: "columns of any width",
      given: ["NAME    STATUS  ", "  n1  Ready"],
      want: ["NAME STATUS", "n1 Ready"],
    },
    {
      name: "ages",
      given: ["n1 Ready 12s", "n2 Ready 2m3s", "n3 Ready 5d"],
      want: ["n1 Ready <age>", "n2 Ready <age>", "n3 Ready <age>"],
    },
    {
      name: "not an age",
      given: ["vnode.127.0.0.2.dev 1.0.0 s3"],
      want: ["vnode.127.0.0.2.dev 1.0.0 s3"],
    },
  ])("$name", ({ given, want }) => expect(normalized(given)).toEqual(want));
});
