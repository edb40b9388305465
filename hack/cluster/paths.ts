// Where the local cluster keeps its files. Apart from cluster.ts so that the status command's
// bundle (bin/status.cjs) can find the local kubeconfig without loading the cluster code.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

/** The nearest directory at or above `from` that holds a package.json (the repository). */
export function packageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) return from;
  }
}

export const REPO_ROOT = packageRoot(__dirname);
export const CLUSTER_DIR = process.env.KUBE_LOCAL_DIR ?? join(REPO_ROOT, ".cluster");
export const KUBECONFIG_PATH = join(CLUSTER_DIR, "kubeconfig");
