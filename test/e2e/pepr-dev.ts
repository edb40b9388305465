// The suites start `npm run dev` through the same helper as the demo.
export * from "../../hack/dev/pepr-dev";
