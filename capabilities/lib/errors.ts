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

/**
 * An error status from the apiserver: what `apiRequest` throws. It keeps the shape
 * kubernetes-fluent-client throws (`status`, `statusText`, `data`), so the checks below read both.
 */
export class ApiError extends Error {
  readonly statusText: string;

  constructor(
    readonly status: number,
    reason: string,
    readonly data: unknown,
  ) {
    const msg = typeof data === "object" ? (data as { message?: string })?.message : data;
    super(`HTTP ${status} ${reason}: ${msg ?? ""}`.trim());
    this.name = "ApiError";
    this.statusText = reason;
  }
}

export const isNotFound = (err: unknown): boolean => httpStatus(err) === 404;
export const isConflict = (err: unknown): boolean => httpStatus(err) === 409;
export const isForbidden = (err: unknown): boolean => httpStatus(err) === 403;
