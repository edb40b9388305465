// The logging surface the core needs; Pepr's pino logger satisfies it, tests pass their own.
export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
