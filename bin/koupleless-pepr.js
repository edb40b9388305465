#!/usr/bin/env node
// koupleless-pepr <command>: the package's own tools, written in TypeScript. They run from
// their JavaScript bundles (bin/*.cjs, made by the prepare script: hack/build/bin.ts), so an
// installed package needs Node alone; a checkout without them falls back to tsx.
"use strict";
const { existsSync } = require("node:fs");
const { join } = require("node:path");
const { pathToFileURL } = require("node:url");

const COMMANDS = {
  status: { bundle: "status.cjs", source: "hack/status/cli.ts" },
};
const USAGE = `usage: koupleless-pepr <command> [options]

commands:
  status   bases (VNodes), their owner replicas, and module pods of the current cluster

koupleless-pepr <command> --help for its options`;

async function main() {
  const [command, ...args] = process.argv.slice(2);
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    console.log(USAGE);
    return;
  }
  const tool = COMMANDS[command];
  if (!tool) {
    console.error(`koupleless-pepr: unknown command ${JSON.stringify(command)}\n${USAGE}`);
    process.exit(1);
  }
  const bundle = join(__dirname, tool.bundle);
  if (existsSync(bundle)) return require(bundle).run(args);
  // a checkout where `npm run prepare` has not run: tsx's loaders, for every later import
  await import("tsx");
  const cli = await import(pathToFileURL(join(__dirname, "..", tool.source)).href);
  (cli.run ?? cli.default.run)(args);
}

main().catch(err => {
  console.error(`koupleless-pepr: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
