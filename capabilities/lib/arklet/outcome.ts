// What an Arklet answer means for the controller (contract §3.5-3.9). Pure.
import type { ArkletEnvelope } from "./client";

export type Outcome = { ok: true } | { ok: false; reason: string; message: string };

function innerCode(env: ArkletEnvelope): string | undefined {
  const data = env.data as { code?: unknown } | undefined;
  return typeof data?.code === "string" ? data.code : undefined;
}

/**
 * installBiz, as the base answered it. Neither SUCCESS nor REPEAT_BIZ proves that the biz we
 * asked for runs: Arklet installs the name:version in the jar's manifest whatever was asked,
 * and REPEAT_BIZ names the jar's biz, which may be another module's (see modules/verify.ts).
 */
export type InstallAnswer =
  /** SUCCESS, with what `data.bizInfos` says was installed (empty when the base says nothing). */
  | { kind: "installed"; bizzes: Map<string, View> }
  /** REPEAT_BIZ: the jar's name:version (read from the message when it names it) is already there. */
  | { kind: "repeat"; identity?: string }
  | { kind: "failed"; reason: string; message: string };

const REPEAT_IDENTITY = /Biz: (\S+:\S+) has been installed/;

export function installAnswer(env: ArkletEnvelope): InstallAnswer {
  if (env.code === "SUCCESS") {
    const data = env.data as { bizInfos?: unknown } | undefined;
    return { kind: "installed", bizzes: bizViews(data?.bizInfos) };
  }
  const message = innerMessage(env);
  if (innerCode(env) === "REPEAT_BIZ")
    return { kind: "repeat", identity: REPEAT_IDENTITY.exec(message ?? "")?.[1] };
  return {
    kind: "failed",
    reason: innerCode(env) ?? env.code,
    message: message ?? env.message ?? "",
  };
}

function innerMessage(env: ArkletEnvelope): string | undefined {
  const data = env.data as { message?: unknown } | undefined;
  return typeof data?.message === "string" ? data.message : undefined;
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

/** One biz as the base reports it; changeTime is undefined when no state record has a time. */
export type View = { state: string; changeTime?: number; reason?: string; message?: string };

/**
 * The newest state record with a time, else the last record. sofa-ark before 3.1.9 / 2.2.16
 * serialises records as `{}` (no getters): then there is no time, and the caller keeps the
 * one it knew (a made-up "now" would move the pod's startedAt on every poll).
 */
function viewOf(b: BizInfo): View {
  const records = b.bizStateRecords ?? [];
  const timed = records.filter(r => typeof r?.changeTime === "number");
  const last = timed.sort((x, y) => (y.changeTime ?? 0) - (x.changeTime ?? 0))[0] ?? records.at(-1);
  return {
    state: b.bizState,
    changeTime: last?.changeTime,
    reason: last?.reason,
    message: last?.message,
  };
}

/** queryAllBiz data (or an install answer's bizInfos) → name:version → state and newest record. */
export function bizViews(data: unknown): Map<string, View> {
  const list = Array.isArray(data) ? (data as BizInfo[]) : [];
  const valid = list.filter(b => typeof b?.bizName === "string" && typeof b.bizState === "string");
  return new Map(valid.map(b => [`${b.bizName}:${b.bizVersion}`, viewOf(b)]));
}
