#!/usr/bin/env node
// koupleless-pepr <command>: the package's own tools, written in TypeScript and run through
// tsx (as the npm scripts do with `node --import tsx`), so there is nothing to build first.
"use strict";
const { join } = require("node:path");
const { pathToFileURL } = require("node:url");

const COMMANDS = {
  status: "hack/status/cli.ts",
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
  const file = COMMANDS[command];
  if (!file) {
    console.error(`koupleless-pepr: unknown command ${JSON.stringify(command)}\n${USAGE}`);
    process.exit(1);
  }
  // registers tsx's loaders for every later import and require
  await import("tsx");
  const cli = await import(pathToFileURL(join(__dirname, "..", file)).href);
  (cli.run ?? cli.default.run)(args);
}

main().catch(err => {
  console.error(`koupleless-pepr: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
