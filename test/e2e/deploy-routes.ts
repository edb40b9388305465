// The three ways a platform team installs the module (`npx pepr deploy`, the dist/ manifest, the
// Helm chart), each as docs/deploy.md gives the commands, and what every route must
// leave behind once uninstalled (nothing). Used by deploy.e2e.test.ts.
import { execFileSync, spawn } from "node:child_process";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { K8s, kind } from "kubernetes-fluent-client";
import { MODULE_NAMESPACE } from "../../capabilities/lib/contract";
import { TUNNEL_SERVICE, WATCHER_DEPLOYMENT } from "../../capabilities/lib/tunnel/service";
import { KUBECONFIG_PATH, REPO_ROOT } from "../../hack/cluster/cluster";
import { BRIDGE } from "../../hack/cluster/node";
import { kubectl } from "./kube";

export const UUID = "koupleless-pepr";
export const NS = MODULE_NAMESPACE;
export const TUNNEL_PORT = 7777;
const MANIFEST = join(REPO_ROOT, "dist", `pepr-module-${UUID}.yaml`);
const CHART = join(REPO_ROOT, "dist", `${UUID}-chart`);
const RELEASE = "koupleless-pepr";
export const HELM_NODE_PORT = 30777;

export interface Route {
  name: string;
  /** Watcher replicas the route gives by default. */
  replicas: number;
  install(): Promise<void>;
  /** Where bases send heartbeats (the tunnel Service, as that route exposes it). */
  tunnelUrl(nodeIp: string): Promise<string>;
  /** A new build of the watcher: a rolling update (or Pepr's Recreate). */
  update(): Promise<void>;
  uninstall(): Promise<void>;
}

const env = () => ({ ...process.env, KUBECONFIG: KUBECONFIG_PATH });

/** Runs a command in the repository; rejects with its output when it fails or overruns. */
export function run(cmd: string, args: string[], timeoutMs = 300_000): Promise<string> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, env: env(), detached: true });
    let out = "";
    child.stdout.on("data", c => (out += c));
    child.stderr.on("data", c => (out += c));
    const t = setTimeout(() => child.pid && process.kill(-child.pid, "SIGKILL"), timeoutMs);
    child.on("exit", code => {
      clearTimeout(t);
      if (code === 0) res(out);
      else rej(new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${out.slice(-4000)}`));
    });
  });
}

/** helm, built from its Go module and cached (hack/helm/build.sh; `.ci/run` builds it first). */
export function helmBinary(): string {
  const out = execFileSync("bash", [join(REPO_ROOT, "hack", "helm", "build.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 900_000,
  });
  return out.trim().split("\n").pop() as string;
}

const clusterIpUrl = async () => {
  const svc = await K8s(kind.Service).InNamespace(NS).Get(TUNNEL_SERVICE);
  return `http://${svc.spec?.clusterIP}:${TUNNEL_PORT}`;
};

const restartWatcher = () =>
  kubectl(["rollout", "restart", "-n", NS, `deployment/${WATCHER_DEPLOYMENT}`]).then(r => {
    if (r.code !== 0) throw new Error(r.stderr);
  });

async function waitRollout(): Promise<void> {
  const deployment = `deployment/${WATCHER_DEPLOYMENT}`;
  await run("kubectl", ["rollout", "status", "-n", NS, deployment, "--timeout=240s"]);
}

/** The uninstall (docs/deploy.md) for `npx pepr deploy` (Pepr 1.1.4 has no command for it). */
export const PEPR_UNINSTALL: string[][] = [
  ["delete", "mutatingwebhookconfiguration,validatingwebhookconfiguration", `pepr-${UUID}`],
  ["delete", "namespace", NS],
  ["delete", "clusterrole,clusterrolebinding", `pepr-${UUID}`],
];

/** The two commands (docs/deploy.md) that remove the VNodes an uninstall leaves, and their Leases. */
export const VNODE_CLEANUP: string[][] = [
  ["delete", "nodes", "-l", "virtual-kubelet.koupleless.io/component=vnode"],
  [
    "delete",
    "leases",
    "-n",
    "kube-node-lease",
    "-l",
    "virtual-kubelet.koupleless.io/component=vnode-lease",
  ],
];

/** The Helm install (docs/deploy.md) for bases outside the cluster. */
export const HELM_NODE_PORT_VALUES = [
  "--set",
  "tunnel.service.type=NodePort",
  "--set",
  `tunnel.service.nodePort=${HELM_NODE_PORT}`,
];

export const peprDeployRoute: Route = {
  name: "npx pepr deploy",
  replicas: 1,
  install: () => run("npx", ["pepr", "deploy", "--yes"]).then(() => undefined),
  tunnelUrl: clusterIpUrl,
  update: () => restartWatcher().then(waitRollout),
  uninstall: async () => {
    for (const args of PEPR_UNINSTALL) await run("kubectl", [...args, "--ignore-not-found"]);
  },
};

export const distRoute: Route = {
  name: "dist/ manifest",
  replicas: 2,
  install: async () => {
    await run("npm", ["run", "build"]);
    await run("kubectl", ["apply", "--server-side", "-f", MANIFEST]);
  },
  tunnelUrl: clusterIpUrl,
  update: () => restartWatcher().then(waitRollout),
  uninstall: () => run("kubectl", ["delete", "-f", MANIFEST, "--ignore-not-found"]).then(() => {}),
};

/** The chart with the NodePort option: how bases outside the cluster reach the watchers. */
export function helmRoute(helm: string): Route {
  const nodePort = HELM_NODE_PORT_VALUES;
  return {
    name: "Helm chart",
    replicas: 2,
    install: async () => {
      await run("npm", ["run", "build"]);
      await run(helm, ["lint", CHART]);
      await run(helm, ["template", RELEASE, CHART, ...nodePort]);
      await run(helm, ["install", RELEASE, CHART, ...nodePort, "--wait", "--timeout", "5m"]);
    },
    tunnelUrl: async nodeIp => `http://${nodeIp}:${HELM_NODE_PORT}`,
    update: () =>
      run(helm, [
        "upgrade",
        RELEASE,
        CHART,
        "--reuse-values",
        "--set-string",
        `watcher.podAnnotations.koupleless-pepr\\.io/build=${Date.now()}`,
        "--wait",
        "--timeout",
        "5m",
      ]).then(waitRollout),
    uninstall: () => run(helm, ["uninstall", RELEASE, "--wait", "--timeout", "5m"]).then(() => {}),
  };
}

/** The address of the pods' bridge on the host: pods reach it, and host traffic to a Service leaves from it. */
export function bridgeAddress(): string {
  const a = networkInterfaces()[BRIDGE]?.find(i => i.family === "IPv4");
  if (!a) throw new Error(`no IPv4 address on ${BRIDGE}`);
  return a.address;
}

const names = async (args: string[]) =>
  (await kubectl([...args, "-o", "name", "--ignore-not-found"])).stdout.split("\n").filter(Boolean);

/**
 * What an uninstall must have removed, by name: both webhook configurations, the ClusterRole
 * and its binding, the Roles in kube-node-lease, the module's namespace (and with it the
 * Deployments, Services, Secrets, ServiceAccount, store and membership Leases, PeprStores).
 * VNodes and their Leases are left (documented): the test removes them as docs/deploy.md says.
 */
export async function leftovers(): Promise<string[]> {
  const ours = (n: string) => n.includes(`pepr-${UUID}`);
  return [
    ...(await names(["get", "mutatingwebhookconfigurations,validatingwebhookconfigurations"])),
    ...(await names(["get", "clusterroles,clusterrolebindings"])),
    ...(await names(["get", "roles,rolebindings", "-n", "kube-node-lease"])),
    ...(await names(["get", "namespace", NS])),
  ].filter(n => ours(n) || n === `namespace/${NS}`);
}
