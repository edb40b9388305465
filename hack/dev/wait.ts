// Polling helpers shared by the demo, the benchmarks and the e2e suites.
export const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** Polls fn until it returns a truthy value; fails with `what` and the last value seen. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false | "">,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last as T;
    } catch (err) {
      last = err;
    }
    await sleep(500);
  }
  throw new Error(
    `timed out after ${timeoutMs / 1000}s waiting for ${what}; last: ${JSON.stringify(last)}`,
  );
}
