// What an Arklet answer means for the controller (contract §3.5-3.9). Pure.
import type { ArkletEnvelope } from "./client";

export type Outcome = { ok: true } | { ok: false; reason: string; message: string };

function innerCode(env: ArkletEnvelope): string | undefined {
  const data = env.data as { code?: unknown } | undefined;
  return typeof data?.code === "string" ? data.code : undefined;
}

/** installBiz: SUCCESS, or REPEAT_BIZ (the base already runs that name:version), is success. */
export function installOutcome(env: ArkletEnvelope): Outcome {
  if (env.code === "SUCCESS" || innerCode(env) === "REPEAT_BIZ") return { ok: true };
  const inner = env.data as { message?: string } | undefined;
  return {
    ok: false,
    reason: innerCode(env) ?? env.code,
    message: inner?.message ?? env.message ?? "",
  };
}

/** uninstallBiz: SUCCESS, or NOT_FOUND_BIZ (already gone), is success. */
export function uninstallOutcome(env: ArkletEnvelope): Outcome {
  if (env.code === "SUCCESS" || innerCode(env) === "NOT_FOUND_BIZ") return { ok: true };
  return { ok: false, reason: innerCode(env) ?? env.code, message: env.message ?? "" };
}

export interface BizInfo {
  bizName: string;
  bizVersion: string;
  bizState: string;
  bizStateRecords?: Array<{
    changeTime?: number;
    state?: string;
    reason?: string;
    message?: string;
  }>;
}

type View = { state: string; changeTime: number; reason?: string; message?: string };

function viewOf(b: BizInfo): View {
  const records = [...(b.bizStateRecords ?? [])].sort(
    (x, y) => (y.changeTime ?? 0) - (x.changeTime ?? 0),
  );
  const last = records[0] ?? {};
  return {
    state: b.bizState,
    changeTime: last.changeTime ?? Date.now(),
    reason: last.reason,
    message: last.message,
  };
}

/** queryAllBiz data → name:version → state, with the newest state record's time and reason. */
export function bizViews(data: unknown): Map<string, View> {
  const list = Array.isArray(data) ? (data as BizInfo[]) : [];
  const valid = list.filter(b => typeof b?.bizName === "string" && typeof b.bizState === "string");
  return new Map(valid.map(b => [`${b.bizName}:${b.bizVersion}`, viewOf(b)]));
}
