// npm start: the whole thing on this machine. Local cluster (built on first use), the
// controller (`npm run dev`), two fake bases and the sample module Deployment; waits until
// the modules are Ready, prints where each runs, and keeps running until Ctrl-C.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, relative } from "node:path";
import { K8s, kind } from "kubernetes-fluent-client";
import { parse } from "yaml";
import { DEFAULT_UP_OPTIONS, KUBECONFIG_PATH, REPO_ROOT, up } from "../cluster/cluster";
import { FakeBase, startFleet } from "../fake-base/fake-base";
import { PeprDev, startPeprDev, stopPeprDev } from "../dev/pepr-dev";
import { sleep, waitFor } from "../dev/wait";
import { demoRows, demoTable, DemoRow } from "./table";

const NAMESPACE = "koupleless-demo";
const SAMPLE = join(
  REPO_ROOT,
  "capabilities",
  "module-admission",
  "samples",
  "module-deployment.yaml",
);
const BASES = 2;

const say = (line: string) => console.log(line);

function portFree(port: number): Promise<boolean> {
  return new Promise(res => {
    const srv = createServer();
    srv.once("error", () => res(false));
    srv.listen(port, () => srv.close(() => res(true)));
  });
}

/** Prints a line every 10 s while a slow step runs, so a first start does not look hung. */
async function withProgress<T>(what: string, work: Promise<T>): Promise<T> {
  const t0 = Date.now();
  const timer = setInterval(
    () => say(`    ... ${what} (${Math.round((Date.now() - t0) / 1000)} s)`),
    10_000,
  );
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

async function startCluster(): Promise<void> {
  say("1/5 Local Kubernetes control plane (the first run builds it from source: about 10 min)");
  const res = await up({ ...DEFAULT_UP_OPTIONS, log: line => say(`    ${line}`) });
  process.env.KUBECONFIG = KUBECONFIG_PATH;
  say(
    `    ${res.alreadyUp ? "already up" : `up in ${res.seconds.toFixed(0)} s`} at ${res.state.apiserver}`,
  );
}

async function startController(): Promise<PeprDev> {
  for (const port of [3000, 7777]) {
    if (!(await portFree(port)))
      throw new Error(
        `port ${port} is in use: stop the other \`npm run dev\` or \`npm start\` first`,
      );
  }
  say("2/5 The controller: npm run dev (pepr dev: webhooks, watches, heartbeat port 7777)");
  const dev = await withProgress("building and starting the module", startPeprDev());
  say(`    running; its log: ${relative(process.cwd(), dev.log)}`);
  return dev;
}

async function startBases(): Promise<FakeBase[]> {
  say(`3/5 ${BASES} fake bases (Arklet-compatible) heartbeating to http://127.0.0.1:7777`);
  const fleet = await startFleet(
    BASES,
    { controller: "http://127.0.0.1:7777", heartbeatMs: 5000 },
    50,
  );
  await waitFor(`${BASES} VNodes Ready`, async () => {
    const nodes = await K8s(kind.Node)
      .WithLabel("virtual-kubelet.koupleless.io/component", "vnode")
      .Get();
    const ready = nodes.items.filter(
      n =>
        fleet.some(b => n.metadata?.name === `vnode.${b.opts.identity}.dev`) &&
        n.status?.conditions?.some(c => c.type === "Ready" && c.status === "True"),
    );
    return ready.length === BASES;
  });
  for (const b of fleet)
    say(`    base ${b.opts.identity}:${b.port} -> VNode vnode.${b.opts.identity}.dev Ready`);
  return fleet;
}

async function deploySample(): Promise<DemoRow[]> {
  say(`4/5 The sample module: ${relative(process.cwd(), SAMPLE)} in namespace ${NAMESPACE}`);
  await waitFor(
    `namespace ${NAMESPACE} from an earlier run to finish terminating`,
    async () => {
      const ns = await K8s(kind.Namespace)
        .Get(NAMESPACE)
        .catch(() => undefined);
      return !ns?.metadata?.deletionTimestamp;
    },
    120_000,
  );
  await K8s(kind.Namespace).Apply({ metadata: { name: NAMESPACE } }, { force: true });
  await waitFor(`ServiceAccount ${NAMESPACE}/default`, () =>
    K8s(kind.ServiceAccount).InNamespace(NAMESPACE).Get("default"),
  );
  const dep = parse(readFileSync(SAMPLE, "utf8")) as kind.Deployment;
  dep.metadata = { ...dep.metadata, namespace: NAMESPACE };
  await K8s(kind.Deployment).Apply(dep, { force: true });
  const want = dep.spec?.replicas ?? 1;
  return waitFor(
    `${want} module pods Ready`,
    async () => {
      const rows = demoRows((await K8s(kind.Pod).InNamespace(NAMESPACE).Get()).items);
      return rows.length === want && rows.every(r => r.ready) && rows;
    },
    120_000,
  );
}

function printResult(rows: DemoRow[]): void {
  say("5/5 Ready:\n");
  say(demoTable(rows));
  say(
    [
      "",
      "Look further (another terminal):",
      "  npm run kubectl -- get nodes,pods -o wide -A",
      `  npm run kubectl -- describe pod -n ${NAMESPACE}`,
      "  npx koupleless-pepr status",
      "",
      "Ctrl-C stops the demo (bases say goodbye, the controller hands over and stops);",
      "the local cluster stays up until: npm run cluster:down",
    ].join("\n"),
  );
}

async function cleanUp(dev: PeprDev | undefined, fleet: FakeBase[]): Promise<void> {
  say("\nStopping: sample namespace, fake bases, controller...");
  await K8s(kind.Namespace)
    .Delete(NAMESPACE)
    .catch(() => undefined);
  // the controller uninstalls the bizzes and deletes the pods before the bases go
  await waitFor(
    "the sample pods to be uninstalled and deleted",
    async () => (await K8s(kind.Pod).InNamespace(NAMESPACE).Get()).items.length === 0,
    30_000,
  ).catch(err => say(`    ${err instanceof Error ? err.message : String(err)}`));
  await Promise.all(fleet.map(b => b.stop(true)));
  await sleep(1000);
  await stopPeprDev(dev);
  say("Stopped. The local cluster is still up: npm run cluster:down stops it.");
}

async function main(): Promise<void> {
  let dev: PeprDev | undefined;
  let fleet: FakeBase[] = [];
  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    void cleanUp(dev, fleet).finally(() => process.exit(code));
  };
  process.on("SIGINT", () => stop(0));
  process.on("SIGTERM", () => stop(0));
  try {
    await startCluster();
    dev = await startController();
    fleet = await startBases();
    printResult(await deploySample());
  } catch (err) {
    console.error(`\nnpm start failed: ${err instanceof Error ? err.message : String(err)}`);
    stop(1);
  }
}

void main();
