// `npm run build` makes dist/ production-shaped: it applies to the real apiserver (server-side
// dry run), the module Secret fits, the RBAC has no wildcard, and that RBAC is enough: a
// replica running as the module's ServiceAccount drives a base and a module pod end to end.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { K8s, kind } from "kubernetes-fluent-client";
import { parse, parseAllDocuments, stringify } from "yaml";
import { CLUSTER_DIR, readState, REPO_ROOT } from "../../hack/cluster/cluster";
import { FakeBase } from "../../hack/fake-base/fake-base";
import { Doc, wildcardRules } from "../../hack/build/productionize";
import { ANNOTATION_MUTATED } from "../../capabilities/lib/contract";
import {
  foreignWebhookName,
  workloadWebhookName,
  moduleWebhookName,
} from "../../capabilities/lib/webhooks";
import { createNamespace, kubectl, sleep, waitFor } from "./kube";
import { Replica, replicaLog, startReplica, stopReplica } from "./replica";

const MANIFEST = join(REPO_ROOT, "dist", "pepr-module-koupleless-pepr.yaml");
const CHART = join(REPO_ROOT, "dist", "koupleless-pepr-chart");
const RBAC_KINDS = ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"];
const ENV = "rbac"; // our own env, so no other suite's VNodes are in play
let docs: Doc[] = [];

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise(res => {
    execFile(cmd, args, { cwd: REPO_ROOT, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      res({ code: err ? 1 : 0, out: `${stdout}${stderr}` }),
    );
  });
}

const find = (k: string, name: string) => docs.find(d => d.kind === k && d.metadata?.name === name);

describe("npm run build", () => {
  beforeAll(async () => {
    const res = await run("npm", ["run", "build", "--", "--watcher-replicas", "3"]);
    if (res.code !== 0) throw new Error(`npm run build failed:\n${res.out.slice(-3000)}`);
    docs = parseAllDocuments(readFileSync(MANIFEST, "utf8")).map(d => d.toJS() as Doc);
    // the module namespace must exist for a dry run of the objects in it
    await K8s(kind.Namespace).Apply({ metadata: { name: "pepr-system" } }, { force: true });
  }, 300_000);

  it("applies to the real apiserver (server-side dry run)", async () => {
    const res = await kubectl(["apply", "--server-side", "--dry-run=server", "-f", MANIFEST]);
    expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: "" });
    expect(res.stdout).toContain(
      "deployment.apps/pepr-koupleless-pepr-watcher serverside-applied (server dry run)",
    );
    expect(res.stdout).toContain(
      "service/pepr-koupleless-pepr-tunnel serverside-applied (server dry run)",
    );
  });

  it("keeps the module Secret under 1 MiB", () => {
    const secret = find("Secret", "pepr-koupleless-pepr-module");
    const bytes = Object.values<string>(secret?.data ?? {}).reduce((n, v) => n + v.length, 0);
    console.log(`[build] module Secret: ${(bytes / 1024).toFixed(0)} KiB`);
    expect(bytes).toBeGreaterThan(10_000); // the module is really in it
    expect(bytes).toBeLessThan(1024 * 1024);
  });

  it("has no wildcard in any RBAC rule, in the manifests or the chart values", () => {
    expect(
      docs.filter(d => ["Role", "ClusterRole"].includes(d.kind)).length,
    ).toBeGreaterThanOrEqual(3);
    expect(wildcardRules(docs)).toEqual([]);
    const values = parse(readFileSync(join(CHART, "values.yaml"), "utf8"));
    expect(wildcardRules([{ kind: "ClusterRole", rules: values.rbac }])).toEqual([]);
    expect(values.watcher.replicas).toBe(3);
  });

  it("makes only module pods depend on the controller, in the manifests and the chart", () => {
    const name = "pepr-koupleless-pepr";
    const policies = (k: string) =>
      (find(k, name)?.webhooks ?? []).map((w: Doc) => [
        w.name,
        w.failurePolicy,
        w.objectSelector?.matchExpressions?.[0]?.operator,
      ]);
    expect(policies("MutatingWebhookConfiguration")).toEqual([
      [moduleWebhookName(name), "Fail", "In"],
    ]);
    expect(policies("ValidatingWebhookConfiguration")).toEqual([
      [moduleWebhookName(name), "Fail", "In"],
      [foreignWebhookName(name), "Ignore", "NotIn"],
      [workloadWebhookName(name), "Ignore", undefined],
    ]);
    const chart = readFileSync(join(CHART, "templates", "validation-webhook.yaml"), "utf8");
    expect(chart.match(/objectSelector:/g)).toHaveLength(3);
    expect(chart).toContain("name: foreign-pods.{{ .Values.uuid }}.pepr.dev");
    expect(chart).toContain("name: workloads.{{ .Values.uuid }}.pepr.dev");
  });

  it("runs the watcher replicas it was built with, each with its pod name as id", () => {
    const w = find("Deployment", "pepr-koupleless-pepr-watcher");
    expect(w?.spec.replicas).toBe(3);
    expect(w?.spec.template.spec.containers[0].env).toContainEqual({
      name: "KOUPLELESS_REPLICA_ID",
      valueFrom: { fieldRef: { fieldPath: "metadata.name" } },
    });
  });
});

describe("the scoped RBAC is enough to run the controller", () => {
  let replica: Replica | undefined;
  let base: FakeBase | undefined;
  let ns = "";
  const vnode = `vnode.127.0.0.90.${ENV}`;

  beforeAll(async () => {
    const rbac = docs.filter(d => RBAC_KINDS.includes(d.kind));
    const applied = await kubectl(
      ["apply", "--server-side", "--force-conflicts", "-f", "-"],
      rbac.map(d => stringify(d)).join("---\n"),
    );
    if (applied.code !== 0) throw new Error(applied.stderr);
    const token = await kubectl(["create", "token", "pepr-koupleless-pepr", "-n", "pepr-system"]);
    const state = readState();
    const kubeconfig = join(CLUSTER_DIR, "sa-kubeconfig");
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
          {
            name: "local",
            cluster: {
              server: state?.apiserver,
              "certificate-authority": join(CLUSTER_DIR, "pki", "ca.crt"),
            },
          },
        ],
        users: [{ name: "module", user: { token: token.stdout.trim() } }],
        contexts: [{ name: "module", context: { cluster: "local", user: "module" } }],
        "current-context": "module",
      }),
      { mode: 0o600 },
    );
    ns = await createNamespace("e2e-rbac");
    replica = await startReplica("rbac-check", 7811, {
      KUBECONFIG: kubeconfig,
      KOUPLELESS_ENV: ENV,
      KOUPLELESS_HEALTH_POLL_SECONDS: "2",
      KOUPLELESS_BIZ_POLL_SECONDS: "2",
    });
    base = new FakeBase({
      host: "127.0.0.90",
      controller: "http://127.0.0.1:7811",
      heartbeatMs: 2000,
    });
    await base.start();
  }, 300_000);

  afterAll(async () => {
    await base?.stop(true);
    await sleep(1000);
    await stopReplica(replica, "SIGTERM");
    await K8s(kind.Namespace).Delete(ns);
  });

  it("creates the VNode, installs a module, writes status and Events, uninstalls, and leaves", async () => {
    await waitFor(`${vnode} Ready`, async () => {
      const n = await K8s(kind.Node).Get(vnode);
      return n.status?.conditions?.some(c => c.type === "Ready" && c.status === "True");
    });
    const image = "file:///opt/biz/rbac-biz-1.0.0-ark-biz.jar";
    await K8s(kind.Pod).Apply({
      metadata: {
        name: "rbac-biz",
        namespace: ns,
        labels: { "virtual-kubelet.koupleless.io/component": "module" },
        // no admission runs here: stand in for it, or the controller would not install the pod
        annotations: { [ANNOTATION_MUTATED]: "" },
      },
      spec: {
        nodeName: vnode, // no scheduler, no admission webhook: only the controller is under test
        tolerations: [
          { key: "schedule.koupleless.io/virtual-node", operator: "Exists", effect: "NoExecute" },
          { key: "schedule.koupleless.io/node-env", operator: "Exists", effect: "NoExecute" },
        ],
        containers: [{ name: "rbac-biz", image, env: [{ name: "BIZ_VERSION", value: "1.0.0" }] }],
      },
    });
    await waitFor("the module pod Ready", async () => {
      const p = await K8s(kind.Pod).InNamespace(ns).Get("rbac-biz");
      return p.status?.conditions?.some(c => c.type === "Ready" && c.status === "True");
    });
    const events = await K8s(kind.CoreEvent).InNamespace(ns).Get();
    expect(events.items.map(e => e.reason)).toContain("Installed");

    await K8s(kind.Pod).InNamespace(ns).Delete("rbac-biz");
    await waitFor("the module pod gone after its uninstall", async () => {
      const left = await K8s(kind.Pod).InNamespace(ns).Get();
      return left.items.length === 0;
    });
    expect(
      base?.log.filter(e => e.command === "uninstallBiz" && e.code === "SUCCESS"),
    ).toHaveLength(1);

    await base?.stop(true); // DEACTIVATED: the replica deletes Node and Lease
    base = undefined;
    await waitFor("the VNode deleted", async () => {
      const nodes = await K8s(kind.Node).Get();
      return !nodes.items.some(n => n.metadata?.name === vnode);
    });
    await stopReplica(replica, "SIGTERM");
    const log = replicaLog(replica as Replica);
    replica = undefined;
    expect(log).toContain("left the replica set");
    expect(log.match(/.*(forbidden|Forbidden|403).*/g) ?? []).toEqual([]);
  });
});
