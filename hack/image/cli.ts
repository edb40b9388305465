// npm run image [-- --pause-only]: builds the pause and controller images into the image cache
// and imports them into the local node's containerd when the node is up (no registry, no pulls).
import { readState } from "../cluster/cluster";
import { ctr, IMAGE_CACHE, importCachedImages, socketAnswers } from "../cluster/node";
import { controllerImageTag, ensureControllerImage, ensurePauseImage } from "./image";

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const log = (l: string) => console.log(l);
  const t0 = Date.now();
  ensurePauseImage(log);
  if (!args.includes("--pause-only")) ensureControllerImage(log);
  console.log(`Images in ${IMAGE_CACHE} (${((Date.now() - t0) / 1000).toFixed(1)}s).`);
  const node = readState()?.node;
  if (!node || !(await socketAnswers(node.socket))) {
    console.log("No local node is up: `npm run cluster:up -- --node` imports them when it starts.");
    return 0;
  }
  importCachedImages(node.socket, log);
  const listed = ctr(node.socket, ["images", "ls", "-q"]).out.split("\n");
  for (const want of [controllerImageTag()]) {
    if (!args.includes("--pause-only") && !listed.includes(want)) {
      console.error(`${want} is not in containerd's k8s.io namespace after the import`);
      return 1;
    }
  }
  console.log(`containerd (k8s.io) now has:\n  ${listed.filter(Boolean).join("\n  ")}`);
  return 0;
}

main().then(
  code => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
