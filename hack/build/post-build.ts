// npm run build = `pepr build`, then this: makes dist/ production-shaped (see productionize.ts).
// Usage: node --import tsx hack/build/post-build.ts [--watcher-replicas N] [--dist DIR]
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { parseAllDocuments, parse, stringify } from "yaml";
import pkg from "../../package.json";
import { BuildSettings, Doc, names, productionize, wildcardRules } from "./productionize";
import {
  addedFiles,
  chartMeta,
  chartSchema,
  chartValues,
  watcherTemplate,
  webhookTemplate,
} from "./chart";

const SECRET_LIMIT = 1024 * 1024;

function settings(argv: string[]): { s: BuildSettings; dist: string } {
  const { values } = parseArgs({
    args: argv,
    options: { "watcher-replicas": { type: "string" }, dist: { type: "string", default: "dist" } },
  });
  const raw = values["watcher-replicas"] ?? String(pkg.koupleless.watcherReplicas);
  const watcherReplicas = Number(raw);
  if (!Number.isInteger(watcherReplicas) || watcherReplicas < 1 || watcherReplicas > 100) {
    throw new Error(`--watcher-replicas ${raw}: expected a whole number from 1 to 100`);
  }
  return {
    s: {
      uuid: pkg.pepr.uuid,
      watcherReplicas,
      tunnelPort: 7777,
      metricsPort: 9464,
      terminationGraceSeconds: 45,
    },
    dist: values.dist ?? "dist",
  };
}

/** The module Secret's size as the apiserver will store it (its data, base64). */
export function secretBytes(docs: Doc[], uuid: string): number {
  const secret = docs.find(
    d => d.kind === "Secret" && d.metadata?.name === names(uuid).moduleSecret,
  );
  return Object.values<string>(secret?.data ?? {}).reduce((n, v) => n + v.length, 0);
}

function shapeManifest(dist: string, s: BuildSettings): Doc[] {
  const file = join(dist, `pepr-module-${s.uuid}.yaml`);
  if (!existsSync(file)) throw new Error(`${file} not found: run \`npx pepr build\` first`);
  const docs = parseAllDocuments(readFileSync(file, "utf8")).map(d => d.toJS() as Doc);
  const out = productionize(docs, s);
  writeFileSync(file, out.map(d => stringify(d, { lineWidth: 0 })).join("---\n"));
  return out;
}

function shapeChart(dist: string, s: BuildSettings): void {
  const chart = join(dist, `${s.uuid}-chart`);
  const valuesFile = join(chart, "values.yaml");
  writeFileSync(valuesFile, stringify(chartValues(parse(readFileSync(valuesFile, "utf8")), s)));
  const schemaFile = join(chart, "values.schema.json");
  const schema = chartSchema(JSON.parse(readFileSync(schemaFile, "utf8")));
  writeFileSync(schemaFile, JSON.stringify(schema, null, 2) + "\n");
  const meta = join(chart, "Chart.yaml");
  writeFileSync(meta, chartMeta(readFileSync(meta, "utf8"), pkg.version));
  const watcher = join(chart, "templates", "watcher-deployment.yaml");
  writeFileSync(watcher, watcherTemplate(readFileSync(watcher, "utf8"), s));
  for (const [name, validating] of [
    ["mutation-webhook.yaml", false],
    ["validation-webhook.yaml", true],
  ] as const) {
    const file = join(chart, "templates", name);
    writeFileSync(file, webhookTemplate(readFileSync(file, "utf8"), validating));
  }
  for (const [rel, text] of Object.entries(addedFiles(s))) {
    mkdirSync(dirname(join(chart, rel)), { recursive: true });
    writeFileSync(join(chart, rel), text);
  }
}

function main(): void {
  const { s, dist } = settings(process.argv.slice(2));
  const docs = shapeManifest(dist, s);
  shapeChart(dist, s);
  const wild = wildcardRules(docs);
  if (wild.length > 0) throw new Error(`RBAC still has wildcards: ${JSON.stringify(wild)}`);
  const kib = (secretBytes(docs, s.uuid) / 1024).toFixed(0);
  if (secretBytes(docs, s.uuid) >= SECRET_LIMIT)
    throw new Error(`module Secret is ${kib} KiB: over 1 MiB`);
  console.log(
    `dist/ made production-shaped: ${s.watcherReplicas} watcher replicas (id = pod name), ` +
      `Service ${names(s.uuid).tunnel}:${s.tunnelPort} for heartbeats (metrics on :${s.metricsPort}), scoped RBAC, ` +
      `webhooks that only module pods depend on, ` +
      `PeprStore CRD, PodDisruptionBudget; module Secret ${kib} KiB.\n` +
      `Deploy it: kubectl apply --server-side -f dist/pepr-module-${s.uuid}.yaml   (or: helm install koupleless-pepr dist/${s.uuid}-chart)`,
  );
}

if (require.main === module) {
  try {
    main();
  } catch (err) {
    console.error(`post-build: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
