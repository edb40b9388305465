// Two projects: fast unit tests beside the code, and e2e suites against the real local
// control plane (started by the e2e global setup when it is not already up).
//
// kubernetes-fluent-client and @kubernetes/client-node ship only ES modules; Jest's module
// loader is CommonJS, so ts-jest also transpiles those packages (and their ESM dependencies).
const ESM_PACKAGES = [
  "kubernetes-fluent-client",
  "@kubernetes/client-node",
  "openid-client",
  "oauth4webapi",
  "jose",
  "jsonpath-plus",
];
const transform = {
  "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.all.json" }],
  "^.+\\.m?js$": [
    "ts-jest",
    { tsconfig: { allowJs: true, module: "commonjs", isolatedModules: true } },
  ],
};
const transformIgnorePatterns = [`/node_modules/(?!(${ESM_PACKAGES.join("|")})/)`];
// the local cluster's state (etcd keeps *.snap files) is no part of the code
const modulePathIgnorePatterns = ["<rootDir>/.cluster/"];
const common = {
  testEnvironment: "node",
  transform,
  transformIgnorePatterns,
  modulePathIgnorePatterns,
};

/** @type {import('jest').Config} */
module.exports = {
  reporters: ["default", "<rootDir>/test/summary-reporter.js"],
  // kubernetes-fluent-client keeps an idle keep-alive socket per API call for minutes;
  // do not let those hold the run open once every test has finished
  forceExit: true,
  projects: [
    {
      ...common,
      displayName: "unit",
      testMatch: ["<rootDir>/capabilities/**/*.test.ts", "<rootDir>/hack/**/*.test.ts"],
    },
    {
      ...common,
      displayName: "e2e",
      testMatch: ["<rootDir>/test/e2e/**/*.e2e.test.ts"],
      setupFiles: ["<rootDir>/test/e2e/env.ts"],
      setupFilesAfterEnv: ["<rootDir>/test/e2e/timeout.ts"],
      globalSetup: "<rootDir>/test/e2e/global-setup.ts",
      globalTeardown: "<rootDir>/test/e2e/global-teardown.ts",
    },
  ],
};
