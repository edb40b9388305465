// What loading a package costs a Node process before it does anything:
//   node --expose-gc hack/bench/import-cost.mjs [package|none] (V8 flags before the script)
const what = process.argv[2] ?? "none";
if (what !== "none") await import(what);
const gc = globalThis.gc ?? (() => undefined);
gc();
await new Promise(resolve => setTimeout(resolve, 500));
gc();
const m = process.memoryUsage();
const mib = x => Math.round(x / 2 ** 20);
console.log(
  `${what}: rss ${mib(m.rss)} MiB, heap total ${mib(m.heapTotal)} / used ${mib(m.heapUsed)} MiB, external ${mib(m.external)} MiB`,
);
