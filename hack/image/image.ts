// Images without a registry: each image is a docker-archive tar (manifest.json, a config whose
// rootfs.diff_ids names the one layer's sha256, layer.tar) made with the machine's tar, kept in
// the image cache, and imported into the node's containerd (`ctr -n k8s.io images import`).
// Nothing is pulled: the pause image is a tiny static Go program built here, the controller
// image is this machine's Node.js runtime plus `npm ci --omit=dev` of this package.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { IMAGE_CACHE, PAUSE_IMAGE } from "../cluster/node";

const REPO_ROOT = resolve(__dirname, "..", "..");
/** Pepr 1.1.4's manifests name this image; ours keeps its contract (see docs/adr/0009-*.md). */
export function controllerImageTag(): string {
  const pepr = JSON.parse(
    readFileSync(join(REPO_ROOT, "node_modules", "pepr", "package.json"), "utf8"),
  ) as { version: string };
  return `ghcr.io/defenseunicorns/pepr/controller:v${pepr.version}`;
}

interface ImageConfig {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr || r.stdout}`);
  }
  return r.stdout;
}

function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Packs rootfs as a single-layer docker-archive tar at out, tagged tag. */
export function writeDockerArchive(rootfs: string, tag: string, cfg: ImageConfig, out: string) {
  const tmp = mkdtempSync(join(tmpdir(), "kube-local-image-"));
  try {
    run("tar", [
      "--numeric-owner",
      "--owner=0",
      "--group=0",
      "--sort=name",
      "--mtime=@0",
      "-C",
      rootfs,
      "-cf",
      join(tmp, "layer.tar"),
      ".",
    ]);
    const diffId = `sha256:${sha256File(join(tmp, "layer.tar"))}`;
    const config = JSON.stringify({
      architecture: "amd64",
      os: "linux",
      created: "1970-01-01T00:00:00Z",
      config: { ...cfg, Env: ["PATH=/usr/local/bin:/usr/bin:/bin", ...(cfg.Env ?? [])] },
      rootfs: { type: "layers", diff_ids: [diffId] },
      history: [{ created: "1970-01-01T00:00:00Z", created_by: "hack/image" }],
    });
    const configName = `${createHash("sha256").update(config).digest("hex")}.json`;
    writeFileSync(join(tmp, configName), config);
    writeFileSync(
      join(tmp, "manifest.json"),
      JSON.stringify([{ Config: configName, RepoTags: [tag], Layers: ["layer.tar"] }]),
    );
    mkdirSync(dirname(out), { recursive: true });
    run("tar", ["-C", tmp, "-cf", `${out}.part`, "manifest.json", configName, "layer.tar"]);
    renameSync(`${out}.part`, out);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function baseFiles(rootfs: string): void {
  for (const d of ["etc", "tmp", "proc", "sys", "dev", "var/run"]) {
    mkdirSync(join(rootfs, d), { recursive: true });
  }
  chmodSync(join(rootfs, "tmp"), 0o1777);
  writeFileSync(
    join(rootfs, "etc", "passwd"),
    "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
  );
  writeFileSync(join(rootfs, "etc", "group"), "root:x:0:\nnonroot:x:65532:\n");
}

/** The pause image's archive in the cache (built once, in seconds). */
export function ensurePauseImage(log: (l: string) => void = () => {}): string {
  const src = join(__dirname, "pause", "main.go");
  const key = createHash("sha256")
    .update(readFileSync(src))
    .update(process.version)
    .digest("hex")
    .slice(0, 12);
  const out = join(IMAGE_CACHE, `00-pause-${key}.tar`);
  if (existsSync(out)) return out;
  log(`Building the pause image ${PAUSE_IMAGE} from hack/image/pause...`);
  for (const f of existsSync(IMAGE_CACHE) ? readdirSync(IMAGE_CACHE) : []) {
    if (f.startsWith("00-pause-")) rmSync(join(IMAGE_CACHE, f), { force: true });
  }
  const rootfs = mkdtempSync(join(tmpdir(), "kube-local-pause-"));
  try {
    baseFiles(rootfs);
    run("go", ["build", "-trimpath", "-ldflags", "-s -w", "-o", join(rootfs, "pause"), src], {
      cwd: tmpdir(),
      env: { ...process.env, CGO_ENABLED: "0", GOTOOLCHAIN: "local", GOFLAGS: "" },
    });
    writeDockerArchive(rootfs, PAUSE_IMAGE, { Entrypoint: ["/pause"], User: "65535" }, out);
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
  return out;
}

/** Shared libraries an executable loads, as real paths on this machine (from ldd). */
function sharedLibs(exe: string): string[] {
  const out = run("ldd", [exe]);
  const libs: string[] = [];
  for (const line of out.split("\n")) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}

function copyInto(rootfs: string, path: string): void {
  const dest = join(rootfs, path);
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(realpathSync(path), dest);
  chmodSync(dest, 0o755);
}

/**
 * The controller image's archive in the cache: this machine's `node` with the libraries it
 * links, CA certificates, and /app with `npm ci --omit=dev` of package.json + package-lock.json,
 * so that Pepr's manifests (`node /app/node_modules/pepr/dist/controller.js <hash>`, the module
 * code mounted at /app/load) run unchanged. Rebuilt when the lock file or Node.js changes.
 */
export function ensureControllerImage(log: (l: string) => void = () => {}): string {
  const lock = readFileSync(join(REPO_ROOT, "package-lock.json"));
  const pkg = readFileSync(join(REPO_ROOT, "package.json"));
  const tag = controllerImageTag();
  const key = createHash("sha256")
    .update(lock)
    .update(pkg)
    .update(process.version)
    .update(tag)
    .update(readFileSync(__filename))
    .digest("hex")
    .slice(0, 12);
  const out = join(IMAGE_CACHE, `10-controller-${key}.tar`);
  if (existsSync(out)) return out;
  for (const f of existsSync(IMAGE_CACHE) ? readdirSync(IMAGE_CACHE) : []) {
    if (f.startsWith("10-controller-")) rmSync(join(IMAGE_CACHE, f), { force: true });
  }
  log(`Building ${tag} from Node.js ${process.version} and npm ci --omit=dev...`);
  const rootfs = mkdtempSync(join(tmpdir(), "kube-local-controller-"));
  try {
    nodeRuntime(rootfs);
    appFiles(join(rootfs, "app"), pkg, lock);
    const cfg = {
      Entrypoint: ["node"],
      WorkingDir: "/app",
      User: "65532",
      Env: ["NODE_ENV=production"],
    };
    writeDockerArchive(rootfs, tag, cfg, out);
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
  return out;
}

/** This machine's `node`, the libraries it links, and the CA certificates. */
function nodeRuntime(rootfs: string): void {
  const node = realpathSync(process.execPath);
  baseFiles(rootfs);
  mkdirSync(join(rootfs, "usr/bin"), { recursive: true });
  copyFileSync(node, join(rootfs, "usr/bin/node"));
  chmodSync(join(rootfs, "usr/bin/node"), 0o755);
  for (const lib of sharedLibs(node)) copyInto(rootfs, lib);
  const certs = "/etc/ssl/certs/ca-certificates.crt";
  if (existsSync(certs)) copyInto(rootfs, certs);
}

/** /app: the package's runtime dependencies, as `npm ci --omit=dev` installs them. */
function appFiles(app: string, pkg: Buffer, lock: Buffer): void {
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), pkg);
  writeFileSync(join(app, "package-lock.json"), lock);
  run(
    "npm",
    ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
    { cwd: app },
  );
  rmSync(join(app, "package-lock.json"));
  // Pepr's controller writes the unpacked module into /app as user 65532
  chmodSync(app, 0o777);
}
