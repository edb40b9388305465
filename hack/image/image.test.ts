import { describe, expect, it } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeDockerArchive } from "./image";

interface Manifest {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

/** Unpacks the archive into dir/x and reads its manifest. */
function unpack(dir: string, archive: string): { x: string; manifest: Manifest } {
  const x = join(dir, "x");
  mkdirSync(x);
  execFileSync("tar", ["-C", x, "-xf", archive]);
  const [manifest] = JSON.parse(readFileSync(join(x, "manifest.json"), "utf8")) as Manifest[];
  return { x, manifest };
}

describe("writeDockerArchive", () => {
  it("writes a docker-archive whose config names the layer's sha256 and whose manifest carries the tag", () => {
    const dir = mkdtempSync(join(tmpdir(), "image-test-"));
    try {
      const rootfs = join(dir, "rootfs");
      mkdirSync(join(rootfs, "bin"), { recursive: true });
      writeFileSync(join(rootfs, "bin", "hello"), "#!/bin/sh\necho hi\n");
      const out = join(dir, "img.tar");
      writeDockerArchive(rootfs, "example.test/hello:1", { Entrypoint: ["/bin/hello"] }, out);
      const { x, manifest } = unpack(dir, out);
      expect(manifest.RepoTags).toEqual(["example.test/hello:1"]);
      const config = JSON.parse(readFileSync(join(x, manifest.Config), "utf8")) as {
        config: { Entrypoint: string[]; Env: string[] };
        rootfs: { diff_ids: string[] };
      };
      const layer = readFileSync(join(x, manifest.Layers[0]));
      const sha = createHash("sha256").update(layer).digest("hex");
      expect(config.rootfs.diff_ids).toEqual([`sha256:${sha}`]);
      expect(config.config.Entrypoint).toEqual(["/bin/hello"]);
      expect(config.config.Env[0]).toMatch(/^PATH=/);
      const listing = execFileSync("tar", ["-tvf", join(x, manifest.Layers[0])], {
        encoding: "utf8",
      });
      expect(listing).toMatch(/0\/0 .* \.\/bin\/hello/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
