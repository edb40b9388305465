// The local control plane: real etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler processes on 127.0.0.1, started from the cached multi-call binary; with
// `node: true` also one real worker Node (containerd, kubelet, kube-proxy; see node.ts).
// Every process is recorded by pid in .cluster/state.json so that `down` stops exactly
// what `up` started and nothing else.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { ensurePauseImage } from "../image/image";
import {
  addServiceRoute,
  importCachedImages,
  killShims,
  NodeInfo,
  nodeIp,
  nodeName,
  nodeUnavailableReason,
  removeContainers,
  removeIptablesChains,
  removeNetwork,
  socketAnswers,
  unmountUnder,
  writeNodeConfig,
} from "./node";
import { makePki, Pki, pkiPaths } from "./pki";

import { CLUSTER_DIR, KUBECONFIG_PATH, REPO_ROOT } from "./paths";
export { CLUSTER_DIR, KUBECONFIG_PATH, REPO_ROOT };
const STATE_PATH = join(CLUSTER_DIR, "state.json");
const BIN_NAME = "kube-local";

export type ComponentName =
  | "etcd"
  | "kube-apiserver"
  | "kube-controller-manager"
  | "kube-scheduler"
  | "containerd"
  | "kubelet"
  | "kube-proxy"
  | "apiserver-proxy";

export interface Component {
  name: ComponentName;
  pid: number;
  port: number;
  log: string;
  /** the executable when it is not the multi-call binary (containerd) */
  exe?: string;
}

export interface ClusterState {
  binDir: string;
  options: Omit<UpOptions, "log">;
  apiserver: string;
  startedAt: string;
  components: Component[];
  /** the real worker Node, when started with `node: true` */
  node?: NodeInfo;
}

/** Node-lifecycle timings; short defaults so that failure tests take seconds, not minutes. */
export interface UpOptions {
  nodeMonitorPeriod: string;
  nodeMonitorGracePeriod: string;
  nodeStartupGracePeriod: string;
  nodeEvictionRate: string;
  /** kube-controller-manager's client QPS (upstream default 20; burst is 1.5x). */
  kcmApiQps: string;
  /** also start one real worker Node (kubelet, kube-proxy, containerd) */
  node: boolean;
  /** write an apiserver audit log of every write (Metadata level) to .cluster/logs/audit.log */
  audit?: boolean;
  log: (line: string) => void;
}

export const DEFAULT_UP_OPTIONS: UpOptions = {
  nodeMonitorPeriod: process.env.KUBE_LOCAL_NODE_MONITOR_PERIOD ?? "2s",
  nodeMonitorGracePeriod: process.env.KUBE_LOCAL_NODE_MONITOR_GRACE_PERIOD ?? "60s",
  nodeStartupGracePeriod: process.env.KUBE_LOCAL_NODE_STARTUP_GRACE_PERIOD ?? "60s",
  nodeEvictionRate: process.env.KUBE_LOCAL_NODE_EVICTION_RATE ?? "1",
  kcmApiQps: process.env.KUBE_LOCAL_KCM_API_QPS ?? "20",
  node: process.env.KUBE_LOCAL_NODE === "1",
  audit: process.env.KUBE_LOCAL_AUDIT === "1",
  log: line => console.log(line),
};

/** Seconds in a Go duration of the simple forms used here ("20s", "1m", "1m30s"). */
export function graceSeconds(duration: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration);
  if (!m || duration === "") throw new Error(`unsupported duration ${JSON.stringify(duration)}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

export class ComponentDiedError extends Error {
  constructor(
    readonly component: string,
    readonly logTail: string,
  ) {
    super(`${component} exited during start-up. Last lines of its log:\n${logTail}`);
  }
}

// ---------- small helpers ----------

export function readState(): ClusterState | undefined {
  if (!existsSync(STATE_PATH)) return undefined;
  return JSON.parse(readFileSync(STATE_PATH, "utf8")) as ClusterState;
}

function writeState(state: ClusterState): void {
  writeFileSync(STATE_PATH, JSON.stringify(state, null, 2));
}

/** True when pid is alive and is one of our kube-local processes (pids get reused). */
export function isOurProcess(pid: number, binDir: string, exe?: string): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return cmd.startsWith(exe ?? join(binDir, BIN_NAME)) && !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

export function tail(file: string, lines = 20): string {
  if (!existsSync(file)) return "(no log)";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

interface TlsFiles {
  ca: string;
  cert?: string;
  key?: string;
}

/** GET over HTTPS with our CA (and the admin client certificate when given). */
export function httpsGet(
  url: string,
  tls: TlsFiles,
  timeoutMs = 3000,
): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request(
      url,
      {
        ca: readFileSync(tls.ca),
        cert: tls.cert ? readFileSync(tls.cert) : undefined,
        key: tls.key ? readFileSync(tls.key) : undefined,
        timeout: timeoutMs,
      },
      resp => {
        let body = "";
        resp.on("data", c => (body += c));
        resp.on("end", () => res({ status: resp.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on("error", rej);
    req.end();
  });
}

// ---------- build ----------

/** Builds (or finds in the cache) the multi-call binary; build progress streams to stderr. */
export function ensureBinaries(): string {
  const out = spawnSync("bash", [join(__dirname, "build.sh")], {
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
  });
  if (out.status !== 0) {
    throw new Error(`building the control plane failed (exit ${out.status}); see the output above`);
  }
  const lines = out.stdout.trim().split("\n");
  return lines[lines.length - 1];
}

// ---------- start ----------

interface Ctx {
  binDir: string;
  pki: Pki;
  state: ClusterState;
}

function startComponent(
  ctx: Ctx,
  name: ComponentName,
  port: number,
  run: string[] | { exe: string; args: string[]; env?: NodeJS.ProcessEnv },
): Component {
  const { exe, args, env } = Array.isArray(run)
    ? { args: run, exe: undefined, env: undefined }
    : run;
  const log = join(CLUSTER_DIR, "logs", `${name}.log`);
  const fd = openSync(log, "a");
  // detached: the components outlive `npm run cluster:up`, in their own process group
  const child = spawn(exe ?? join(ctx.binDir, BIN_NAME), exe ? args : [name, ...args], {
    detached: true,
    stdio: ["ignore", fd, fd],
    env: env ?? process.env,
  });
  child.unref();
  const comp: Component = { name, pid: child.pid ?? -1, port, log, ...(exe ? { exe } : {}) };
  ctx.state.components.push(comp);
  writeState(ctx.state);
  return comp;
}

/** Polls check() until it is true; fails fast with the log tail when a started process died. */
async function waitUntil(
  ctx: Ctx,
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const dead = ctx.state.components.find(c => !isOurProcess(c.pid, ctx.binDir, c.exe));
    if (dead) throw new ComponentDiedError(dead.name, tail(dead.log));
    if (await check().catch(() => false)) return;
    await sleep(250);
  }
  const last = ctx.state.components[ctx.state.components.length - 1];
  throw new Error(
    `timed out after ${timeoutMs / 1000}s waiting for ${what}. Last lines of ${last.name}'s log:\n${tail(last.log)}`,
  );
}

function kubeconfigYaml(server: string, pki: Pki): string {
  const b64 = (f: string) => readFileSync(f).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: kube-local",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(pki.caCert)}`,
    "users:",
    "- name: admin",
    "  user:",
    `    client-certificate-data: ${b64(pki.adminCert)}`,
    `    client-key-data: ${b64(pki.adminKey)}`,
    "contexts:",
    "- name: kube-local",
    "  context:",
    "    cluster: kube-local",
    "    user: admin",
    "current-context: kube-local",
    "",
  ].join("\n");
}

async function startEtcd(ctx: Ctx): Promise<string> {
  const [client, peer] = [await freePort(), await freePort()];
  startComponent(ctx, "etcd", client, [
    `--data-dir=${join(CLUSTER_DIR, "etcd")}`,
    `--listen-client-url=http://127.0.0.1:${client}`,
    `--listen-peer-url=http://127.0.0.1:${peer}`,
  ]);
  const url = `http://127.0.0.1:${client}`;
  await waitUntil(ctx, "etcd /health", async () => (await fetch(`${url}/health`)).ok, 60_000);
  return url;
}

/** Who writes what: every mutating request at Metadata level (Events with their bodies), nothing else. */
export const AUDIT_POLICY = [
  "apiVersion: audit.k8s.io/v1",
  "kind: Policy",
  "omitStages: [RequestReceived]",
  "rules:",
  // Events with their bodies: who reports what (reason, involved object)
  "  - level: Request",
  "    verbs: [create, patch]",
  '    resources: [{ group: "", resources: [events] }]',
  "  - level: Metadata",
  "    verbs: [create, update, patch, delete, deletecollection]",
  "  - level: None",
  "",
].join("\n");

export const AUDIT_LOG_PATH = join(CLUSTER_DIR, "logs", "audit.log");

/** The apiserver's audit flags; writes the policy into the cluster directory. */
export function auditArgs(dir: string = CLUSTER_DIR): string[] {
  const policy = join(dir, "audit-policy.yaml");
  writeFileSync(policy, AUDIT_POLICY);
  return [
    `--audit-policy-file=${policy}`,
    `--audit-log-path=${join(dir, "logs", "audit.log")}`,
    "--audit-log-format=json",
    "--audit-log-mode=blocking",
    "--audit-log-maxsize=0",
  ];
}

async function startApiserver(ctx: Ctx, etcd: string, audit: boolean): Promise<void> {
  const port = await freePort();
  const { pki } = ctx;
  startComponent(ctx, "kube-apiserver", port, [
    ...(audit ? auditArgs() : []),
    `--etcd-servers=${etcd}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${port}`,
    `--tls-cert-file=${pki.serverCert}`,
    `--tls-private-key-file=${pki.serverKey}`,
    `--client-ca-file=${pki.caCert}`,
    "--authorization-mode=Node,RBAC",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${pki.saPub}`,
    `--service-account-signing-key-file=${pki.saKey}`,
    "--service-cluster-ip-range=10.0.0.0/24",
    // loopback addresses are invalid in Endpoints, so the default reconciler would loop on errors
    "--endpoint-reconciler-type=none",
    "--allow-privileged=true",
    `--cert-dir=${join(pki.dir, "apiserver")}`,
    "--profiling=false",
    // for a real Node (now or attached later): logs/exec/port-forward reach its kubelet with
    // the admin client certificate, by the node's IP (its host name need not resolve)
    `--kubelet-client-certificate=${pki.adminCert}`,
    `--kubelet-client-key=${pki.adminKey}`,
    "--kubelet-preferred-address-types=InternalIP,Hostname,InternalDNS,ExternalDNS,ExternalIP",
  ]);
  ctx.state.apiserver = `https://127.0.0.1:${port}`;
  writeState(ctx.state);
  const tls = { ca: pki.caCert };
  await waitUntil(
    ctx,
    "kube-apiserver /readyz",
    async () => (await httpsGet(`${ctx.state.apiserver}/readyz`, tls)).status === 200,
    120_000,
  );
}

function commonControllerArgs(pki: Pki, port: number): string[] {
  return [
    `--kubeconfig=${KUBECONFIG_PATH}`,
    `--authentication-kubeconfig=${KUBECONFIG_PATH}`,
    `--authorization-kubeconfig=${KUBECONFIG_PATH}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${port}`,
    `--tls-cert-file=${pki.serverCert}`,
    `--tls-private-key-file=${pki.serverKey}`,
    "--leader-elect=true",
  ];
}

async function startControllers(ctx: Ctx, opts: UpOptions): Promise<void> {
  const { pki } = ctx;
  const kcmPort = await freePort();
  startComponent(ctx, "kube-controller-manager", kcmPort, [
    ...commonControllerArgs(pki, kcmPort),
    "--controllers=*",
    `--service-account-private-key-file=${pki.saKey}`,
    `--root-ca-file=${pki.caCert}`,
    `--cluster-signing-cert-file=${pki.caCert}`,
    `--cluster-signing-key-file=${join(pki.dir, "ca.key")}`,
    `--node-monitor-period=${opts.nodeMonitorPeriod}`,
    `--node-monitor-grace-period=${opts.nodeMonitorGracePeriod}`,
    `--node-startup-grace-period=${opts.nodeStartupGracePeriod}`,
    `--node-eviction-rate=${opts.nodeEvictionRate}`,
    `--kube-api-qps=${opts.kcmApiQps}`,
    `--kube-api-burst=${Math.ceil(Number(opts.kcmApiQps) * 1.5)}`,
  ]);
  const schedPort = await freePort();
  startComponent(ctx, "kube-scheduler", schedPort, commonControllerArgs(pki, schedPort));
  for (const name of ["kube-controller-manager", "kube-scheduler"]) {
    await waitUntil(ctx, `${name} to hold its leader Lease`, () => holdsLease(ctx, name), 120_000);
  }
}

async function holdsLease(ctx: Ctx, name: string): Promise<boolean> {
  const url = `${ctx.state.apiserver}/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${name}`;
  const tls = { ca: ctx.pki.caCert, cert: ctx.pki.adminCert, key: ctx.pki.adminKey };
  const res = await httpsGet(url, tls);
  if (res.status !== 200) return false;
  const lease = JSON.parse(res.body) as { spec?: { holderIdentity?: string } };
  return Boolean(lease.spec?.holderIdentity);
}

// ---------- the real Node ----------

const SERVICE_CIDR = "10.0.0.0/24";

/** The node IP when the machine has one (for the serving certificate's SANs). */
function hostIps(): string[] {
  try {
    return [nodeIp()];
  } catch {
    return [];
  }
}

/**
 * The apiserver for pods: a TCP forwarder from <node IP>:<apiserver port> to the apiserver on
 * 127.0.0.1, run by this machine's Node.js. The apiserver itself stays on loopback, so a
 * cluster without a node is exactly as before, and a node can be attached to a running cluster
 * without restarting the apiserver (its clients would lose their leader Leases). TLS is end to
 * end: pods use the ClusterIP 10.0.0.1 (in the certificate), clients on the host may use the
 * node IP (in the certificate too).
 */
const FORWARDER = `
const net = require("node:net");
const [host, port, target] = process.argv.slice(1);
net
  .createServer(c => {
    const u = net.connect(Number(target), "127.0.0.1");
    c.pipe(u).pipe(c);
    c.on("error", () => u.destroy());
    u.on("error", () => c.destroy());
    c.on("close", () => u.destroy());
    u.on("close", () => c.destroy());
  })
  .listen(Number(port), host);
`;

/** True when something accepts TCP connections on host:port. */
function tcpAnswers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise(res => {
    const s = connect({ host, port });
    const t = setTimeout(() => (s.destroy(), res(false)), timeoutMs);
    s.once("connect", () => (clearTimeout(t), s.destroy(), res(true)));
    s.once("error", () => (clearTimeout(t), res(false)));
  });
}

const apiserverPort = (state: ClusterState) => Number(new URL(state.apiserver).port);

/** The `kubernetes` Service's endpoint objects: the apiserver as pods reach it (node IP). */
function kubernetesEndpoints(ip: string, port: number): { path: string; body: object }[] {
  const ports = [{ name: "https", port, protocol: "TCP" }];
  // the apiserver runs with --endpoint-reconciler-type=none, so nothing else writes these
  const labels = { "endpointslice.kubernetes.io/skip-mirror": "true" };
  return [
    {
      path: "/api/v1/namespaces/default/endpoints/kubernetes",
      body: {
        apiVersion: "v1",
        kind: "Endpoints",
        metadata: { name: "kubernetes", namespace: "default", labels },
        subsets: [{ addresses: [{ ip }], ports }],
      },
    },
    {
      path: "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes",
      body: {
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: {
          name: "kubernetes",
          namespace: "default",
          labels: {
            "kubernetes.io/service-name": "kubernetes",
            "endpointslice.kubernetes.io/managed-by": "kube-local",
          },
        },
        addressType: "IPv4",
        endpoints: [{ addresses: [ip], conditions: { ready: true } }],
        ports,
      },
    },
  ];
}

/** Starts the forwarder and points the `kubernetes` Service at it. */
async function exposeApiserverToPods(ctx: Ctx, node: NodeInfo, log: (l: string) => void) {
  const port = apiserverPort(ctx.state);
  startComponent(ctx, "apiserver-proxy", port, {
    exe: process.execPath,
    args: ["-e", FORWARDER, node.ip, String(port), String(port)],
  });
  await waitUntil(
    ctx,
    `the apiserver on ${node.ip}:${port}`,
    () => tcpAnswers(node.ip, port),
    30_000,
  );
  for (const { path, body } of kubernetesEndpoints(node.ip, port)) {
    const res = await apiRequest(
      "PATCH",
      `${ctx.state.apiserver}${path}?fieldManager=kube-local&force=true`,
      adminTls(),
      JSON.stringify(body),
    );
    if (res.status >= 300) throw new Error(`applying ${path}: HTTP ${res.status} ${res.body}`);
  }
  log(`Pods reach the apiserver at ${node.ip}:${port} (Service kubernetes, 10.0.0.1:443)`);
}

/** Removes the `kubernetes` Service's endpoints again (the forwarder stops with the node). */
async function unexposeApiserver(state: ClusterState): Promise<string[]> {
  const removed: string[] = [];
  for (const { path } of kubernetesEndpoints("0.0.0.0", 0)) {
    const res = await apiRequest("DELETE", `${state.apiserver}${path}`, adminTls()).catch(
      () => undefined,
    );
    if (res?.status === 200) removed.push(path.split("/").slice(-2).join(" "));
  }
  return removed.length ? [`Service kubernetes' ${removed.join(" and ")}`] : [];
}

async function apiGet(ctx: Ctx, path: string): Promise<{ status: number; body: string }> {
  const tls = { ca: ctx.pki.caCert, cert: ctx.pki.adminCert, key: ctx.pki.adminKey };
  return httpsGet(`${ctx.state.apiserver}${path}`, tls);
}

async function nodeReady(ctx: Ctx, name: string): Promise<boolean> {
  const res = await apiGet(ctx, `/api/v1/nodes/${name}`);
  if (res.status !== 200) return false;
  const node = JSON.parse(res.body) as {
    status?: { conditions?: { type: string; status: string }[] };
  };
  return Boolean(node.status?.conditions?.some(c => c.type === "Ready" && c.status === "True"));
}

async function httpOk(url: string): Promise<boolean> {
  return (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok;
}

/** The node's identity and free ports, recorded in the state before anything starts. */
async function nodeInfo(): Promise<NodeInfo> {
  const dir = join(CLUSTER_DIR, "node");
  return {
    name: nodeName(),
    ip: nodeIp(),
    dir,
    socket: join(dir, "containerd.sock"),
    kubeletPort: await freePort(),
    kubeletHealthzPort: await freePort(),
    proxyHealthzPort: await freePort(),
    proxyMetricsPort: await freePort(),
    serviceCidr: SERVICE_CIDR,
  };
}

/**
 * containerd's environment: no image is pulled from anywhere. A pull (of an image nobody
 * imported) goes to a proxy address on which nothing listens and fails at once, instead of
 * reaching for a registry.
 */
function noPullEnv(): NodeJS.ProcessEnv {
  const noPulls = "http://127.0.0.1:9";
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HTTP_PROXY: noPulls,
    HTTPS_PROXY: noPulls,
    NO_PROXY: "",
  };
  for (const k of ["http_proxy", "https_proxy", "no_proxy", "ALL_PROXY", "all_proxy"]) {
    delete env[k];
  }
  return env;
}

/** containerd, then the cached images (pause first), then kubelet until Ready, then kube-proxy. */
async function startNode(ctx: Ctx, opts: UpOptions): Promise<void> {
  const reason = nodeUnavailableReason();
  if (reason) throw new Error(`cannot start the node: ${reason}`);
  const node = await nodeInfo();
  ctx.state.node = node;
  writeState(ctx.state);
  const cfg = writeNodeConfig(node, { kubeconfig: KUBECONFIG_PATH, caCert: ctx.pki.caCert });
  opts.log(`Starting containerd (node ${node.name}, ${node.ip})...`);
  startComponent(ctx, "containerd", 0, {
    exe: "/usr/bin/containerd",
    args: ["--config", cfg.containerdConfig],
    env: noPullEnv(),
  });
  await waitUntil(ctx, "containerd's socket", () => socketAnswers(node.socket), 60_000);
  ensurePauseImage(opts.log);
  importCachedImages(node.socket, opts.log);
  addServiceRoute(node.serviceCidr);
  opts.log("Starting kubelet...");
  startComponent(ctx, "kubelet", node.kubeletHealthzPort, [
    `--config=${cfg.kubeletConfig}`,
    `--kubeconfig=${KUBECONFIG_PATH}`,
    `--hostname-override=${node.name}`,
    `--node-ip=${node.ip}`,
    `--root-dir=${join(node.dir, "kubelet")}`,
    `--cert-dir=${join(node.dir, "kubelet", "pki")}`,
  ]);
  await waitUntil(ctx, `Node ${node.name} to be Ready`, () => nodeReady(ctx, node.name), 180_000);
  opts.log("Starting kube-proxy...");
  startComponent(ctx, "kube-proxy", node.proxyHealthzPort, [`--config=${cfg.proxyConfig}`]);
  await waitUntil(
    ctx,
    "kube-proxy /healthz",
    () => httpOk(`http://127.0.0.1:${node.proxyHealthzPort}/healthz`),
    60_000,
  );
  await exposeApiserverToPods(ctx, node, opts.log);
}

const NODE_COMPONENTS: ComponentName[] = ["containerd", "kubelet", "kube-proxy", "apiserver-proxy"];

/**
 * Adds the real Node to the running cluster (what `up` with `node: true` does last). When the
 * node cannot start, it is cleaned away again and the control plane keeps running.
 */
export async function attachNode(
  log: (line: string) => void = DEFAULT_UP_OPTIONS.log,
): Promise<ClusterState> {
  const st = await status();
  if (!st || !st.healthy)
    throw new Error("No healthy local cluster. Start one with: npm run cluster:up");
  if (st.state.node) return st.state;
  const ctx: Ctx = {
    binDir: st.state.binDir,
    pki: pkiPaths(join(CLUSTER_DIR, "pki")),
    state: st.state,
  };
  try {
    await startNode(ctx, { ...DEFAULT_UP_OPTIONS, node: true, log });
  } catch (err) {
    await detachNode();
    throw err;
  }
  ctx.state.options.node = true;
  writeState(ctx.state);
  return ctx.state;
}

/**
 * Stops the real Node (kube-proxy, kubelet, then containerd after its tasks and containers),
 * removes what it left on the machine, and deletes its Node object; the control plane stays.
 */
export async function detachNode(): Promise<{ stopped: string[]; removed: string[] }> {
  const state = readState();
  const stopped: string[] = [];
  const removed: string[] = [];
  if (!state?.node) return { stopped, removed };
  const node = state.node;
  removed.push(...(await unexposeApiserver(state)));
  await stopNodeProcesses(state, stopped, removed);
  const del = await httpsDelete(`${state.apiserver}/api/v1/nodes/${node.name}`, adminTls()).catch(
    () => 0,
  );
  if (del === 200) removed.push(`Node object ${node.name}`);
  if (existsSync(node.dir)) removed.push(...unmountUnder(node.dir));
  rmSync(node.dir, { recursive: true, force: true });
  state.components = state.components.filter(c => !NODE_COMPONENTS.includes(c.name));
  delete state.node;
  state.options.node = false;
  writeState(state);
  return { stopped, removed };
}

/** Stops the node's processes (newest first) and removes what the node made on the machine. */
async function stopNodeProcesses(
  state: ClusterState,
  stopped: string[],
  removed: string[],
): Promise<void> {
  if (!state.node) return;
  for (const c of [...state.components].reverse()) {
    if (!NODE_COMPONENTS.includes(c.name)) continue;
    const alive = isOurProcess(c.pid, state.binDir, c.exe);
    if (c.name === "containerd" && alive) removed.push(...removeContainers(state.node.socket));
    // the forwarder is plumbing, not a component of Kubernetes: listed with what was removed
    if (alive) (c.name === "apiserver-proxy" ? removed : stopped).push(`${c.name} (pid ${c.pid})`);
    await stopPid(c.pid, state.binDir, c.exe);
  }
  removed.push(...killShims(state.node.socket));
  removed.push(...removeNetwork());
  removed.push(...removeIptablesChains());
}

function httpsDelete(url: string, tls: TlsFiles): Promise<number> {
  return apiRequest("DELETE", url, tls).then(r => r.status);
}

/** One request to the apiserver; a body is sent as a server-side apply patch. */
function apiRequest(
  method: string,
  url: string,
  tls: TlsFiles,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request(url, {
      method,
      ca: readFileSync(tls.ca),
      cert: tls.cert ? readFileSync(tls.cert) : undefined,
      key: tls.key ? readFileSync(tls.key) : undefined,
      timeout: 5000,
      headers: body ? { "content-type": "application/apply-patch+yaml" } : {},
    });
    req.on("response", r => {
      let text = "";
      r.on("data", c => (text += c));
      r.on("end", () => res({ status: r.statusCode ?? 0, body: text }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", rej);
    req.end(body);
  });
}

export interface UpResult {
  alreadyUp: boolean;
  state: ClusterState;
  seconds: number;
}

/** A healthy cluster is up: adds the node when one is asked for and missing. */
async function upAlready(state: ClusterState, opts: UpOptions, t0: number): Promise<UpResult> {
  if (!opts.node || state.node) return { alreadyUp: true, state, seconds: 0 };
  opts.log("The local cluster is up without a node; adding one...");
  const withNode = await attachNode(opts.log);
  return { alreadyUp: false, state: withNode, seconds: (Date.now() - t0) / 1000 };
}

/** Brings the control plane up, or reports that it already is. Leaves nothing behind on failure. */
export async function up(opts: UpOptions = DEFAULT_UP_OPTIONS): Promise<UpResult> {
  const t0 = Date.now();
  const existing = await status();
  if (existing && existing.healthy) return upAlready(existing.state, opts, t0);
  if (existing) {
    opts.log("Found a stopped or unhealthy local cluster; cleaning it up first.");
    await down();
  }
  const ctx = freshContext(opts);
  try {
    opts.log("Starting etcd...");
    const etcd = await startEtcd(ctx);
    opts.log("Starting kube-apiserver...");
    if (opts.audit) opts.log(`Audit log of every write: ${AUDIT_LOG_PATH}`);
    await startApiserver(ctx, etcd, opts.audit ?? false);
    writeFileSync(KUBECONFIG_PATH, kubeconfigYaml(ctx.state.apiserver, ctx.pki), { mode: 0o600 });
    opts.log("Starting kube-controller-manager and kube-scheduler...");
    await startControllers(ctx, opts);
    if (opts.node) await startNode(ctx, opts);
  } catch (err) {
    await down();
    throw err;
  }
  return { alreadyUp: false, state: ctx.state, seconds: (Date.now() - t0) / 1000 };
}

/** An empty cluster directory with fresh PKI and a new state file. */
function freshContext(opts: UpOptions): Ctx {
  const binDir = ensureBinaries();
  rmSync(CLUSTER_DIR, { recursive: true, force: true });
  mkdirSync(join(CLUSTER_DIR, "logs"), { recursive: true });
  // the node IP is in the serving certificate even without a node: one may be attached later
  const pki = makePki(join(CLUSTER_DIR, "pki"), hostIps());
  const { log: _log, ...options } = opts;
  const state: ClusterState = {
    binDir,
    options,
    apiserver: "",
    startedAt: new Date().toISOString(),
    components: [],
  };
  writeState(state);
  return { binDir, pki, state };
}

// ---------- stop ----------

async function stopPid(pid: number, binDir: string, exe?: string): Promise<void> {
  if (!isOurProcess(pid, binDir, exe)) return;
  process.kill(pid, "SIGTERM");
  for (let i = 0; i < 40 && isOurProcess(pid, binDir, exe); i++) await sleep(250);
  if (isOurProcess(pid, binDir, exe)) process.kill(pid, "SIGKILL");
}

/**
 * Stops exactly the recorded processes (newest first) and removes the state directory.
 * With a node, containerd's tasks and containers go before containerd itself, and then its
 * network namespaces, veths, bridge, iptables chains and mounts; `removed` lists them.
 */
export async function down(): Promise<string[]> {
  return (await downDetailed()).stopped;
}

export async function downDetailed(): Promise<{ stopped: string[]; removed: string[] }> {
  const state = readState();
  const stopped: string[] = [];
  const removed: string[] = [];
  if (state) {
    await stopNodeProcesses(state, stopped, removed);
    for (const c of [...state.components].reverse()) {
      if (NODE_COMPONENTS.includes(c.name)) continue;
      if (isOurProcess(c.pid, state.binDir, c.exe)) stopped.push(`${c.name} (pid ${c.pid})`);
      await stopPid(c.pid, state.binDir, c.exe);
    }
  }
  // never delete through a mount (a pod's hostPath, a container's rootfs)
  if (existsSync(CLUSTER_DIR)) removed.push(...unmountUnder(CLUSTER_DIR));
  rmSync(CLUSTER_DIR, { recursive: true, force: true });
  return { stopped, removed };
}

// ---------- status ----------

export interface ComponentStatus extends Component {
  running: boolean;
  healthy: boolean;
}

export interface ClusterStatus {
  state: ClusterState;
  components: ComponentStatus[];
  healthy: boolean;
  /** the real Node's Ready condition as the apiserver sees it ("True", "False", "Unknown") */
  nodeReady?: string;
}

async function probe(state: ClusterState, c: Component): Promise<boolean> {
  const ca = join(CLUSTER_DIR, "pki", "ca.crt");
  if (c.name === "etcd") return (await fetch(`http://127.0.0.1:${c.port}/health`)).ok;
  if (c.name === "containerd") return state.node ? socketAnswers(state.node.socket) : false;
  if (c.name === "apiserver-proxy") return state.node ? tcpAnswers(state.node.ip, c.port) : false;
  if (c.name === "kubelet" || c.name === "kube-proxy") {
    return httpOk(`http://127.0.0.1:${c.port}/healthz`);
  }
  const path = c.name === "kube-apiserver" ? "readyz" : "healthz";
  return (await httpsGet(`https://127.0.0.1:${c.port}/${path}`, { ca })).status === 200;
}

/** What runs, on which ports, healthy or not; undefined when no cluster was started. */
export async function status(): Promise<ClusterStatus | undefined> {
  const state = readState();
  if (!state) return undefined;
  const components = await Promise.all(
    state.components.map(async c => {
      const running = isOurProcess(c.pid, state.binDir, c.exe);
      const healthy = running && (await probe(state, c).catch(() => false));
      return { ...c, running, healthy };
    }),
  );
  const expected = state.node ? 8 : 4;
  const healthy =
    components.length === expected &&
    components.every(c => c.healthy) &&
    existsSync(KUBECONFIG_PATH);
  const apiUp = components.find(c => c.name === "kube-apiserver")?.healthy ?? false;
  const nodeReady = state.node && apiUp ? await nodeReadyCondition(state) : undefined;
  return { state, components, healthy, nodeReady };
}

/** The real Node's Ready condition as the apiserver has it. */
async function nodeReadyCondition(state: ClusterState): Promise<string> {
  const url = `${state.apiserver}/api/v1/nodes/${state.node?.name}`;
  const res = await httpsGet(url, adminTls()).catch(() => undefined);
  if (res?.status !== 200) return "not registered";
  const n = JSON.parse(res.body) as {
    status?: { conditions?: { type: string; status: string }[] };
  };
  return n.status?.conditions?.find(c => c.type === "Ready")?.status ?? "Unknown";
}

function adminTls(): TlsFiles {
  const pki = join(CLUSTER_DIR, "pki");
  return { ca: join(pki, "ca.crt"), cert: join(pki, "admin.crt"), key: join(pki, "admin.key") };
}
