// The suites start `npm run replica` through the same helper as the benchmarks.
export * from "../../hack/dev/replica";
