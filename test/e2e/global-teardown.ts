import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CLUSTER_DIR, down } from "../../hack/cluster/cluster";

export default async function globalTeardown(): Promise<void> {
  const marker = join(CLUSTER_DIR, "started-by-tests");
  if (existsSync(marker) && readFileSync(marker, "utf8") === "yes") {
    await down();
    process.stderr.write("[e2e teardown] stopped the cluster the tests had started\n");
  }
}
