import { describe, expect, it } from "@jest/globals";
import { ConfigError, loadConfig } from "./config";

describe("loadConfig", () => {
  it("defaults env to dev, like upstream", () => {
    expect(loadConfig({}).env).toBe("dev");
  });
  it("reads KOUPLELESS_ENV", () => {
    expect(loadConfig({ KOUPLELESS_ENV: "prod-1" }).env).toBe("prod-1");
  });
  it.each(["Prod", "a.b", "-x", "", "x".repeat(64)])(
    "rejects env %j with a message naming the variable",
    bad => {
      expect(() => loadConfig({ KOUPLELESS_ENV: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ KOUPLELESS_ENV: bad })).toThrow(/KOUPLELESS_ENV/);
    },
  );
});
