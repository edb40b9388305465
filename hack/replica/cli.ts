// npm run replica -- --id <name> [--tunnel-port N] [--pepr-port N] [--metrics-port N]
// One more controller replica against the current cluster: the same module code (pepr.ts) in
// Pepr's watch mode, with its own identity and ports. Admission stays with `npm run dev`.
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { K8s, kind } from "kubernetes-fluent-client";
import { CLUSTER_DIR, KUBECONFIG_PATH, readState } from "../cluster/cluster";
import { makeServingCert } from "../cluster/pki";
import { MODULE_NAMESPACE } from "../../capabilities/lib/contract";
import { PEPR_STORE_CRD } from "./crd";
import { isForbidden } from "../../capabilities/lib/errors";

const USAGE =
  "usage: npm run replica -- --id <name> [--tunnel-port N] [--pepr-port N] [--metrics-port N]";

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

async function port(raw: string | undefined): Promise<number> {
  if (raw === undefined) return freePort();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`not a port: ${raw}\n${USAGE}`);
  return n;
}

/**
 * What a replica needs that `pepr dev` or `pepr deploy` would otherwise have made. A replica
 * running with the module's scoped RBAC may not create them: then they must already exist.
 */
async function ensureModuleNamespace(): Promise<void> {
  try {
    await K8s(kind.Namespace).Apply({ metadata: { name: MODULE_NAMESPACE } }, { force: true });
    await K8s(kind.CustomResourceDefinition).Apply(PEPR_STORE_CRD, { force: true });
  } catch (err) {
    if (!isForbidden(err)) throw err;
    console.log(
      `not allowed to create ${MODULE_NAMESPACE} or the PeprStore CRD: using them as they are`,
    );
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      id: { type: "string" },
      "tunnel-port": { type: "string" },
      "pepr-port": { type: "string" },
      "metrics-port": { type: "string" },
    },
  });
  if (!values.id) throw new Error(`--id is required\n${USAGE}`);
  if (!process.env.KUBECONFIG) {
    if (!readState()) throw new Error("No local cluster. Start one with: npm run cluster:up");
    process.env.KUBECONFIG = KUBECONFIG_PATH;
  }
  const tunnelPort = await port(values["tunnel-port"]);
  const peprPort = await port(values["pepr-port"]);
  const metricsPort = await port(values["metrics-port"]);
  const pki = join(CLUSTER_DIR, "pki");
  const tls = existsSync(join(pki, "server.crt"))
    ? { cert: join(pki, "server.crt"), key: join(pki, "server.key") }
    : makeServingCert(join(CLUSTER_DIR, "replica-tls"));
  await ensureModuleNamespace();
  Object.assign(process.env, {
    PEPR_WATCH_MODE: "true",
    KOUPLELESS_REPLICA_ID: values.id,
    KOUPLELESS_TUNNEL_PORT: String(tunnelPort),
    KOUPLELESS_PEPR_PORT: String(peprPort),
    KOUPLELESS_METRICS_PORT: String(metricsPort),
    SSL_CERT_PATH: tls.cert,
    SSL_KEY_PATH: tls.key,
  });
  // a local apiserver restart must not make the watcher give up and exit (pepr-notes §5)
  process.env.PEPR_RESYNC_FAILURE_MAX ??= "30";
  console.log(
    `replica ${values.id} against ${process.env.KUBECONFIG}: heartbeats to http://127.0.0.1:${tunnelPort}/heartbeat, ` +
      `metrics on http://127.0.0.1:${metricsPort}/metrics, Pepr on https://localhost:${peprPort}/healthz. ` +
      "Ctrl-C hands its VNodes to the other replicas.",
  );
  await import("../../pepr");
}

main().catch(err => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
