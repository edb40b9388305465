// koupleless-pepr status [--env <env>] [-n <ns>] [--json]
// Lists the VNodes, their Lease holders and the module pods of the current kubeconfig's
// cluster. Read-only. Run by bin/koupleless-pepr.js, or directly with
// `node --import tsx hack/status/cli.ts [args]`.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { KUBECONFIG_PATH } from "../cluster/paths";
import {
  USAGE,
  describeApiError,
  kubeconfigSource,
  noKubeconfigMessage,
  parseStatusArgs,
} from "./args";
import { applyFilter, baseRows, moduleRows, renderJson, renderText } from "./status";

/** Thrown for a bad command line, before the cluster code is loaded. */
class UsageError extends Error {}

/** Where the kubeconfig comes from, for messages; fails when there is none at all. */
function kubeconfigWhere(): string {
  const source = kubeconfigSource(process.env.KUBECONFIG, homedir(), existsSync);
  if (!source) {
    // nothing configured, but this repo's local cluster is up: that is what the user means
    if (existsSync(KUBECONFIG_PATH)) {
      process.env.KUBECONFIG = KUBECONFIG_PATH;
      return KUBECONFIG_PATH;
    }
    throw new UsageError(noKubeconfigMessage(undefined));
  }
  return source.kind === "in-cluster" ? "the in-cluster config" : source.path;
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseStatusArgs(argv);
  if (parsed.kind === "help") {
    console.log(USAGE);
    return 0;
  }
  if (parsed.kind === "error") throw new UsageError(`${parsed.message} (see --help)`);
  const where = kubeconfigWhere();
  const { apiServer, snapshot } = await import("./fetch");
  const { nodes, leases, pods } = await snapshot(await apiServer(where));
  const all = {
    bases: baseRows(nodes, leases, pods, Date.now()),
    modules: moduleRows(pods, nodes),
  };
  const shown = applyFilter(all, parsed.options);
  console.log(parsed.options.json ? renderJson(shown) : renderText(shown));
  return 0;
}

/** Runs main and exits: kubernetes-fluent-client's keep-alive sockets would hold the process open. */
export function run(argv: string[]): void {
  main(argv).then(
    // exit only once stdout is flushed: a piped --json of many bases is larger than one write
    code => process.stdout.write("", () => process.exit(code)),
    (err: unknown) => {
      // our own errors carry the whole story; anything else is reduced to one line too
      console.error(`koupleless-pepr status: ${describeApiError(err, "?", "objects")}`);
      process.exit(1);
    },
  );
}

if (require.main === module) run(process.argv.slice(2));
