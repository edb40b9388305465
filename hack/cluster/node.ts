// One real worker Node for the local cluster (`npm run cluster:up -- --node`): containerd and
// runc from Debian's packages, Debian's CNI plugins on a bridge, and kubelet + kube-proxy from
// the same multi-call binary as the control plane. See docs/adr/0009-*.md for the choices.
// Everything the node creates outside .cluster/ (network namespaces, veths, the bridge, iptables
// chains, containerd tasks and their mounts) is removed again by cleanNode() and listed.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { hostname, networkInterfaces } from "node:os";
import { join } from "node:path";

/** The one-line setup step for a machine that has never run the node (Debian/Ubuntu, as root). */
export const NODE_SETUP =
  "apt-get update && apt-get install -y --no-install-recommends containerd runc containernetworking-plugins iptables";

/** Pod CIDR of the node's bridge: a benchmarking range (RFC 2544), never routed off this machine. */
export const POD_CIDR = "198.18.0.0/24";
export const BRIDGE = "kl-cni0";
export const CNI_BIN_DIR = "/usr/lib/cni";
/** The sandbox image containerd asks for; `npm run image` builds it, nothing pulls it. */
export const PAUSE_IMAGE = "registry.k8s.io/pause:3.10";
/** Images `npm run image` leaves here are imported into every node that comes up. */
export const IMAGE_CACHE =
  process.env.KUBE_LOCAL_IMAGES ??
  join(
    process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? "/root", ".cache"),
    "koupleless-pepr",
    "images",
  );
const NETNS_DIR = "/var/run/netns";

// ip, iptables, umount and runc live in sbin, which a non-login root shell may not have on PATH
const path = (process.env.PATH ?? "").split(":").filter(Boolean);
process.env.PATH = [...path, ...["/usr/sbin", "/sbin"].filter(d => !path.includes(d))].join(":");

export interface NodeInfo {
  name: string;
  ip: string;
  dir: string;
  socket: string;
  kubeletPort: number;
  kubeletHealthzPort: number;
  proxyHealthzPort: number;
  proxyMetricsPort: number;
  serviceCidr: string;
}

/** Binaries the node needs from Debian's packages that are missing here (empty when ready). */
export function missingNodePackages(): string[] {
  const need: [string, string][] = [
    ["containerd", "/usr/bin/containerd"],
    ["containerd (ctr)", "/usr/bin/ctr"],
    ["containerd (shim)", "/usr/bin/containerd-shim-runc-v2"],
    ["runc", "/usr/sbin/runc"],
    ["containernetworking-plugins", join(CNI_BIN_DIR, "bridge")],
    ["iptables", "/usr/sbin/iptables"],
  ];
  return need.filter(([, p]) => !existsSync(p)).map(([n]) => n);
}

/** Why a node cannot run on this machine, or undefined when it can. */
export function nodeUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return "the node needs root (network namespaces, iptables, mounts)";
  const missing = missingNodePackages();
  if (missing.length) return `missing ${missing.join(", ")}; install with: ${NODE_SETUP}`;
  return undefined;
}

/** The machine's first non-loopback IPv4 address: kubelet refuses a loopback node IP. */
export function nodeIp(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  throw new Error("no non-loopback IPv4 address for the node (kubelet refuses 127.0.0.1)");
}

export function nodeName(): string {
  return hostname().toLowerCase();
}

function sh(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim() };
}

/** Writes containerd, CNI, kubelet and kube-proxy configuration under dir. */
export function writeNodeConfig(
  node: NodeInfo,
  files: { kubeconfig: string; caCert: string },
): { containerdConfig: string; kubeletConfig: string; proxyConfig: string } {
  const d = (...p: string[]) => join(node.dir, ...p);
  for (const sub of ["containerd/root", "containerd/state", "cni/net.d", "cni/ipam", "kubelet"]) {
    mkdirSync(d(sub), { recursive: true });
  }
  const containerdConfig = d("containerd.toml");
  writeFileSync(
    containerdConfig,
    [
      "version = 2",
      `root = "${d("containerd/root")}"`,
      `state = "${d("containerd/state")}"`,
      "[grpc]",
      `  address = "${node.socket}"`,
      "[ttrpc]",
      `  address = "${node.socket}.ttrpc"`,
      '[plugins."io.containerd.grpc.v1.cri"]',
      `  sandbox_image = "${PAUSE_IMAGE}"`,
      // without it every sandbox fails here: writing /proc/self/oom_score_adj is not allowed
      "  restrict_oom_score_adj = true",
      '  [plugins."io.containerd.grpc.v1.cri".containerd]',
      '    snapshotter = "overlayfs"',
      '    default_runtime_name = "runc"',
      '    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
      '      runtime_type = "io.containerd.runc.v2"',
      '      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
      "        SystemdCgroup = false",
      '  [plugins."io.containerd.grpc.v1.cri".cni]',
      `    bin_dir = "${CNI_BIN_DIR}"`,
      `    conf_dir = "${d("cni/net.d")}"`,
      "",
    ].join("\n"),
  );
  writeFileSync(
    d("cni/net.d/10-kube-local.conflist"),
    JSON.stringify(
      {
        cniVersion: "0.4.0",
        name: "kube-local",
        plugins: [
          {
            type: "bridge",
            bridge: BRIDGE,
            isGateway: true,
            ipMasq: false,
            hairpinMode: true,
            ipam: {
              type: "host-local",
              ranges: [[{ subnet: POD_CIDR }]],
              routes: [{ dst: "0.0.0.0/0" }],
              dataDir: d("cni/ipam"),
            },
          },
          { type: "portmap", capabilities: { portMappings: true } },
        ],
      },
      null,
      2,
    ),
  );
  const kubeletConfig = d("kubelet.yaml");
  writeFileSync(
    kubeletConfig,
    [
      "apiVersion: kubelet.config.k8s.io/v1beta1",
      "kind: KubeletConfiguration",
      `address: ${node.ip}`,
      `port: ${node.kubeletPort}`,
      "readOnlyPort: 0",
      "healthzBindAddress: 127.0.0.1",
      `healthzPort: ${node.kubeletHealthzPort}`,
      "authentication:",
      "  anonymous: {enabled: false}",
      "  webhook: {enabled: true}",
      `  x509: {clientCAFile: ${files.caCert}}`,
      "authorization: {mode: Webhook}",
      `containerRuntimeEndpoint: unix://${node.socket}`,
      "cgroupDriver: cgroupfs",
      // this machine kind mounts cgroup v1 (plus an empty v2 hierarchy): kubelet must accept it
      "failCgroupV1: false",
      "failSwapOn: false",
      "enforceNodeAllocatable: []",
      "localStorageCapacityIsolation: false",
      'resolvConf: ""',
      "clusterDomain: cluster.local",
      "serializeImagePulls: false",
      "rotateCertificates: false",
      "",
    ].join("\n"),
  );
  const proxyConfig = d("kube-proxy.yaml");
  writeFileSync(
    proxyConfig,
    [
      "apiVersion: kubeproxy.config.k8s.io/v1alpha1",
      "kind: KubeProxyConfiguration",
      `clientConnection: {kubeconfig: ${files.kubeconfig}}`,
      `hostnameOverride: ${node.name}`,
      "mode: iptables",
      `clusterCIDR: ${POD_CIDR}`,
      `healthzBindAddress: 127.0.0.1:${node.proxyHealthzPort}`,
      `metricsBindAddress: 127.0.0.1:${node.proxyMetricsPort}`,
      // leave the machine's conntrack sysctls alone (not writable in every sandbox)
      "conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}",
      "iptables: {localhostNodePorts: false}",
      "",
    ].join("\n"),
  );
  return { containerdConfig, kubeletConfig, proxyConfig };
}

/**
 * Creates the pods' bridge up front (the CNI bridge plugin adopts it) and routes the Service
 * range to it: a ClusterIP packet that kube-proxy has not (yet) translated then stays on this
 * machine instead of following the default route (this kernel has no dummy devices).
 */
export function addServiceRoute(cidr: string): void {
  if (!sh("ip", ["link", "show", BRIDGE]).ok) {
    const add = sh("ip", ["link", "add", BRIDGE, "type", "bridge"]);
    if (!add.ok) throw new Error(`ip link add ${BRIDGE} type bridge: ${add.out}`);
  }
  sh("ip", ["link", "set", BRIDGE, "up"]);
  const r = sh("ip", ["route", "replace", cidr, "dev", BRIDGE]);
  if (!r.ok) throw new Error(`ip route replace ${cidr} dev ${BRIDGE}: ${r.out}`);
}

/** True when containerd answers on its socket. */
export function socketAnswers(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise(res => {
    const s = connect(path);
    const t = setTimeout(() => (s.destroy(), res(false)), timeoutMs);
    s.once("connect", () => (clearTimeout(t), s.destroy(), res(true)));
    s.once("error", () => (clearTimeout(t), res(false)));
  });
}

export function ctr(socket: string, args: string[]): { ok: boolean; out: string } {
  return sh("ctr", ["--address", socket, "--namespace", "k8s.io", ...args]);
}

/** Imports every image archive in the image cache into the node's containerd. */
export function importCachedImages(socket: string, log: (l: string) => void): string[] {
  if (!existsSync(IMAGE_CACHE)) return [];
  const done: string[] = [];
  for (const f of readdirSync(IMAGE_CACHE)
    .filter(n => n.endsWith(".tar"))
    .sort()) {
    const r = ctr(socket, ["images", "import", "--no-unpack=false", join(IMAGE_CACHE, f)]);
    if (!r.ok) throw new Error(`ctr images import ${f} failed: ${r.out}`);
    done.push(f);
  }
  if (done.length) log(`Imported ${done.length} cached image(s): ${done.join(", ")}`);
  return done;
}

// ---------- clean-up ----------

/** Stops and removes every containerd task and container of the node (containerd must run). */
export function removeContainers(socket: string): string[] {
  const removed: string[] = [];
  const tasks = ctr(socket, ["tasks", "ls", "-q"]);
  const taskIds = tasks.ok ? tasks.out.split("\n").filter(Boolean) : [];
  for (const id of taskIds) ctr(socket, ["tasks", "kill", "-s", "SIGKILL", id]);
  // containerd's CRI plugin deletes a killed task by itself; delete what it has not yet
  for (let i = 0; i < 40; i++) {
    const left = ctr(socket, ["tasks", "ls", "-q"]).out.split("\n").filter(Boolean);
    if (!left.length) break;
    for (const id of left) ctr(socket, ["tasks", "delete", "--force", id]);
    spawnSync("sleep", ["0.25"]);
  }
  if (taskIds.length) removed.push(`${taskIds.length} containerd task(s)`);
  const cs = ctr(socket, ["containers", "ls", "-q"]);
  const ids = cs.ok ? cs.out.split("\n").filter(Boolean) : [];
  for (const id of ids) ctr(socket, ["containers", "delete", id]);
  if (ids.length) removed.push(`${ids.length} container(s)`);
  return removed;
}

/** Ends leftover runc shims of our containerd (matched by our socket in their command line). */
export function killShims(socket: string): string[] {
  const out: string[] = [];
  for (const p of readdirSync("/proc").filter(n => /^\d+$/.test(n))) {
    let cmd = "";
    try {
      cmd = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").join(" ");
    } catch {
      continue;
    }
    if (cmd.includes("containerd-shim") && cmd.includes(socket)) {
      try {
        process.kill(Number(p), "SIGKILL");
        out.push(`shim pid ${p}`);
      } catch {
        // gone already
      }
    }
  }
  return out;
}

/** Removes the CNI network namespaces, veths on our bridge, the bridge and the Service route. */
export function removeNetwork(): string[] {
  const removed: string[] = [];
  const netns = existsSync(NETNS_DIR)
    ? readdirSync(NETNS_DIR).filter(n => n.startsWith("cni-"))
    : [];
  for (const n of netns) {
    sh("ip", ["netns", "delete", n]);
    sh("umount", [join(NETNS_DIR, n)]);
  }
  if (netns.length) removed.push(`network namespaces ${netns.join(", ")}`);
  const veths = sh("ip", ["-o", "link", "show", "master", BRIDGE]);
  const names = veths.ok
    ? veths.out
        .split("\n")
        .map(l => /^\d+:\s+([^@:]+)/.exec(l)?.[1])
        .filter((n): n is string => Boolean(n))
    : [];
  for (const v of names) sh("ip", ["link", "delete", v]);
  if (names.length) removed.push(`veths ${names.join(", ")}`);
  if (sh("ip", ["link", "show", BRIDGE]).ok) {
    sh("ip", ["link", "delete", BRIDGE]);
    removed.push(`bridge ${BRIDGE} (and its route to the Service range)`);
  }
  return removed;
}

const OUR_CHAIN = /^(KUBE-|CNI-)/;

/** An iptables-save table without the KUBE-/CNI- chains, their rules and the jumps to them. */
export function withoutOurChains(save: string): { kept: string[]; chains: string[] } {
  const chains: string[] = [];
  const kept = save.split("\n").filter(line => {
    const chain = /^:(\S+)/.exec(line)?.[1];
    if (chain && OUR_CHAIN.test(chain)) return !chains.push(chain);
    if (line.startsWith("-A ")) {
      const [, owner] = line.split(" ");
      const target = /(?:-j|-g) (\S+)/.exec(line)?.[1] ?? "";
      return !OUR_CHAIN.test(owner) && !OUR_CHAIN.test(target);
    }
    return true;
  });
  return { kept, chains };
}

/** Removes kubelet's, kube-proxy's and the CNI plugins' iptables chains (IPv4 and IPv6). */
export function removeIptablesChains(): string[] {
  const removed: string[] = [];
  for (const [save, restore, family] of [
    ["iptables-save", "iptables-restore", "IPv4"],
    ["ip6tables-save", "ip6tables-restore", "IPv6"],
  ]) {
    for (const table of ["filter", "nat", "mangle"]) {
      const cur = sh(save, ["-t", table]);
      if (!cur.ok) continue;
      const { kept, chains } = withoutOurChains(cur.out);
      if (!chains.length) continue;
      const r = spawnSync(restore, ["-w"], { input: `${kept.join("\n")}\n`, encoding: "utf8" });
      if (r.status !== 0) throw new Error(`${restore} (${table}) failed: ${r.stderr}`);
      removed.push(`${family} ${table}: ${chains.length} chain(s)`);
    }
  }
  return removed;
}

/** Mount points at or below dir, deepest first. */
export function mountsUnder(dir: string): string[] {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map(l => l.split(" ")[4])
    .filter((m): m is string => Boolean(m) && (m === dir || m.startsWith(`${dir}/`)));
  return [...new Set(mounts)].sort((a, b) => b.length - a.length);
}

/** Unmounts everything under dir; throws if something stays mounted (never rm through a mount). */
export function unmountUnder(dir: string): string[] {
  const found = mountsUnder(dir);
  for (const m of found) {
    if (!sh("umount", [m]).ok) sh("umount", ["-l", m]);
  }
  const left = mountsUnder(dir);
  if (left.length) throw new Error(`still mounted after umount: ${left.join(", ")}`);
  return found.length ? [`${found.length} mount(s) under ${dir}`] : [];
}

/** What a node would have left on this machine: empty after a clean `cluster:down`. */
export function nodeLeftovers(dir: string, socket: string): string[] {
  const left = networkLeftovers();
  for (const save of ["iptables-save", "ip6tables-save"]) {
    const chains = sh(save, [])
      .out.split("\n")
      .filter(l => /^:(KUBE-|CNI-)/.test(l));
    if (chains.length) left.push(`${save}: ${chains.map(c => c.split(" ")[0]).join(" ")}`);
  }
  const mounts = mountsUnder(dir);
  if (mounts.length) left.push(`mounts: ${mounts.join(", ")}`);
  const shims = killShimsDryRun(socket);
  if (shims.length) left.push(`containerd shims: ${shims.join(", ")}`);
  if (existsSync(dir)) left.push(`directory ${dir}`);
  return left;
}

function networkLeftovers(): string[] {
  const left: string[] = [];
  const netns = existsSync(NETNS_DIR)
    ? readdirSync(NETNS_DIR).filter(n => n.startsWith("cni-"))
    : [];
  if (netns.length) left.push(`network namespaces: ${netns.join(", ")}`);
  if (sh("ip", ["link", "show", BRIDGE]).ok) left.push(`bridge ${BRIDGE}`);
  const veths = sh("ip", ["-o", "link", "show", "type", "veth"]);
  if (veths.ok && veths.out) left.push(`veths: ${veths.out.split("\n").length}`);
  return left;
}

function killShimsDryRun(socket: string): string[] {
  return readdirSync("/proc")
    .filter(n => /^\d+$/.test(n) && Number(n) !== process.pid)
    .filter(p => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8");
        return cmd.includes("containerd") && cmd.includes(socket);
      } catch {
        return false;
      }
    });
}
