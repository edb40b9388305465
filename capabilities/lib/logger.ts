// The logging surface the core needs; Pepr's pino logger satisfies it, tests pass their own.
export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  /** pino's: a logger that adds these fields to every line. */
  child?(bindings: Record<string, string>): Logger;
}

/**
 * A logger that adds `bindings` (component, vnode) to every line: pino's child where the
 * logger has one (Pepr's Log), otherwise a wrapper that merges them (the tests' loggers).
 */
export function childOf(log: Logger, bindings: Record<string, string>): Logger {
  if (log.child) return log.child(bindings);
  return {
    info: (obj, msg) => log.info({ ...bindings, ...obj }, msg),
    warn: (obj, msg) => log.warn({ ...bindings, ...obj }, msg),
    error: (obj, msg) => log.error({ ...bindings, ...obj }, msg),
    child: more => childOf(log, { ...bindings, ...more }),
  };
}
