// kubernetes-fluent-client throws its response object ({ status, statusText, data }) rather
// than an Error; turn either into one line a log reader can act on.
export function errText(err: unknown): string {
  if (err instanceof Error) return err.message;
  const e = err as
    | { status?: number; statusText?: string; data?: { message?: string } | string }
    | undefined;
  if (e && typeof e.status === "number") {
    const msg = typeof e.data === "object" ? e.data?.message : e.data;
    return `HTTP ${e.status} ${e.statusText ?? ""}: ${msg ?? ""}`.trim();
  }
  return String(err);
}

export const httpStatus = (err: unknown): number | undefined =>
  (err as { status?: number } | undefined)?.status;
