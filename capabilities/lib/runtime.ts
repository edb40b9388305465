// Process-wide config, loaded once on first use from process.env.
import { Config, loadConfig } from "./config";

let cached: Config | undefined;

export function config(): Config {
  cached ??= loadConfig(process.env);
  return cached;
}
