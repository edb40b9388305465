// The one config module: every knob, typed, with its default, read once and validated at
// start-up. A bad value stops the controller with a message that names the variable.

export interface Config {
  /** Koupleless env: VNode name suffix, env label and env taint value (upstream ENV). */
  env: string;
}

export class ConfigError extends Error {}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Builds the config from an environment map (process.env in production, literals in tests). */
export function loadConfig(source: Record<string, string | undefined>): Config {
  const env = source.KOUPLELESS_ENV ?? "dev";
  if (!DNS_LABEL.test(env) || env.length > 63) {
    throw new ConfigError(
      `KOUPLELESS_ENV=${JSON.stringify(env)} is invalid: it becomes part of Node names and label values, so use lowercase letters, digits and '-' (max 63).`,
    );
  }
  return { env };
}
