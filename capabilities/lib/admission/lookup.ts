// Reading the namespace for each admitted pod must stay cheap and bounded: a burst of creates in
// one namespace costs one GET, concurrent callers share the request in flight, a failure is not
// remembered (the next pod tries again), and a slow apiserver cannot outlast the webhook timeout.

/** Wraps `read` so that each key is read at most once per `ttlMs` (failures are not kept). */
export function cachedFor<T>(
  read: (key: string) => Promise<T>,
  ttlMs: number,
  now: () => number = Date.now,
): (key: string) => Promise<T> {
  const entries = new Map<string, { at: number; value: Promise<T> }>();
  return key => {
    const t = now();
    const hit = entries.get(key);
    if (hit && t - hit.at < ttlMs) return hit.value;
    for (const [k, e] of entries) if (t - e.at >= ttlMs) entries.delete(k); // stays small
    const value = read(key);
    entries.set(key, { at: t, value });
    value.catch(() => {
      if (entries.get(key)?.value === value) entries.delete(key);
    });
    return value;
  };
}

/** Rejects with "<what> timed out after <ms> ms" when `p` takes longer than `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
