// npm run cluster:up [-- --node] | cluster:down [-- --node] | cluster:status | dev | kubectl -- <args>
// --node (or KUBE_LOCAL_NODE=1): one real worker Node too, added to a running cluster if need be;
// cluster:down -- --node removes only that node (see node.ts, docs/adr/0009-*.md).
import { spawn } from "node:child_process";
import { join, relative } from "node:path";
import {
  ComponentDiedError,
  DEFAULT_UP_OPTIONS,
  KUBECONFIG_PATH,
  REPO_ROOT,
  detachNode,
  downDetailed,
  readState,
  status,
  up,
} from "./cluster";

const rel = (p: string) => relative(process.cwd(), p) || ".";

async function cmdUp(args: string[]): Promise<number> {
  const node = args.includes("--node") || DEFAULT_UP_OPTIONS.node;
  const res = await up({ ...DEFAULT_UP_OPTIONS, node });
  const how = [
    `  export KUBECONFIG=${KUBECONFIG_PATH}`,
    `  export PATH=${res.state.binDir}:$PATH   # a kubectl matching the cluster`,
    "  kubectl get --raw /readyz",
    "  npm run dev            # run the Pepr module against it",
    "  npm run cluster:down   # stop it",
  ].join("\n");
  if (res.alreadyUp) {
    console.log(`The local cluster is already up at ${res.state.apiserver}. To use it:\n${how}`);
    return 0;
  }
  if (res.state.node) {
    console.log(`Real node ${res.state.node.name} (${res.state.node.ip}) is Ready.`);
  }
  console.log(
    `Local cluster up at ${res.state.apiserver} in ${res.seconds.toFixed(1)}s. To use it:\n${how}`,
  );
  return 0;
}

async function cmdDown(args: string[]): Promise<number> {
  const nodeOnly = args.includes("--node");
  const { stopped, removed } = nodeOnly ? await detachNode() : await downDetailed();
  if (nodeOnly && !stopped.length && !removed.length) {
    console.log("No real node was running.");
    return 0;
  }
  console.log(stopped.length ? `Stopped ${stopped.join(", ")}.` : "No local cluster was running.");
  if (removed.length) console.log(`Removed: ${removed.join("; ")}.`);
  return 0;
}

async function cmdStatus(): Promise<number> {
  const st = await status();
  if (!st) {
    console.log("No local cluster. Start one with: npm run cluster:up");
    return 1;
  }
  console.log(
    `apiserver: ${st.state.apiserver}   kubeconfig: ${rel(KUBECONFIG_PATH)}   started: ${st.state.startedAt}`,
  );
  const rows = st.components.map(c =>
    [
      c.name.padEnd(24),
      String(c.pid).padEnd(8),
      String(c.port).padEnd(6),
      c.running ? "running" : "stopped",
      c.healthy ? "healthy" : "UNHEALTHY",
    ].join(" "),
  );
  console.log(
    ["COMPONENT".padEnd(24), "PID".padEnd(8), "PORT".padEnd(6), "PROCESS", "HEALTH"].join(" "),
  );
  console.log(rows.join("\n"));
  if (st.state.node) {
    const n = st.state.node;
    console.log(
      `node: ${n.name}   ip: ${n.ip}   Ready: ${st.nodeReady ?? "unknown"}   kubelet port: ${n.kubeletPort}   containerd: ${rel(n.socket)}`,
    );
  }
  console.log(
    st.healthy
      ? "Cluster is healthy."
      : "Cluster is NOT healthy: run npm run cluster:down && npm run cluster:up",
  );
  return st.healthy ? 0 : 1;
}

/** Runs a child with inherited stdio and returns its exit code. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise(res => {
    const child = spawn(cmd, args, { stdio: "inherit", env, cwd: REPO_ROOT });
    child.on("exit", code => res(code ?? 1));
  });
}

async function cmdDev(): Promise<number> {
  const env = { ...process.env };
  if (!env.KUBECONFIG) {
    await up(DEFAULT_UP_OPTIONS);
    env.KUBECONFIG = KUBECONFIG_PATH;
  }
  // a local apiserver restart must not make the watcher give up and exit (pepr-notes §5)
  env.PEPR_RESYNC_FAILURE_MAX ??= "30";
  console.log(`pepr dev against ${env.KUBECONFIG}`);
  return run("npx", ["pepr", "dev", "--host", "localhost", "--yes"], env);
}

async function cmdKubectl(args: string[]): Promise<number> {
  const state = readState();
  if (!state) {
    console.error("No local cluster. Start one with: npm run cluster:up");
    return 1;
  }
  return run(join(state.binDir, "kubectl"), args, { ...process.env, KUBECONFIG: KUBECONFIG_PATH });
}

const commands: Record<string, (args: string[]) => Promise<number>> = {
  up: cmdUp,
  down: cmdDown,
  status: cmdStatus,
  dev: cmdDev,
  kubectl: cmdKubectl,
};

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const cmd = commands[name];
  if (!cmd) {
    console.error(`usage: cli.ts {${Object.keys(commands).join("|")}}`);
    process.exit(2);
  }
  try {
    process.exit(await cmd(args));
  } catch (err) {
    if (err instanceof ComponentDiedError) {
      console.error(
        `\nThe local cluster failed to start: ${err.component} died.\n${err.logTail}\nNothing was left running.`,
      );
    } else {
      console.error(`\n${err instanceof Error ? err.message : String(err)}`);
    }
    process.exit(1);
  }
}

void main();
