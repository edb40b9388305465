// Did the base install the biz the pod asked for? Arklet installs the name:version in the
// jar's manifest whatever bizName/bizVersion were asked and answers SUCCESS, and it answers
// REPEAT_BIZ when the jar's biz is already there, under whichever name. So an install counts
// only when the base shows the asked name:version; otherwise the pod says what runs instead. Pure.
import type { InstallAnswer } from "../arklet/outcome";
import type { BizSpec } from "./biz";
import { specKey } from "./biz";
import type { BizView, InstallFailure } from "./status";

export const VERSION_MISMATCH = "BizVersionMismatch";
export const NAME_MISMATCH = "BizNameMismatch";
export const NOT_INSTALLED = "BizNotInstalled";

export type Verdict = { ok: true } | { ok: false; failure: InstallFailure };

/**
 * The verdict on an install answer. `list` is the base's biz list, read after a REPEAT_BIZ
 * (that answer names the jar's biz, not ours). A SUCCESS without bizInfos is believed until
 * the next biz list, which then shows the truth.
 */
export function installVerdict(
  asked: BizSpec,
  answer: InstallAnswer,
  list: Map<string, BizView>,
): Verdict {
  const key = specKey(asked);
  if (answer.kind === "failed")
    return { ok: false, failure: { reason: answer.reason, message: answer.message } };
  if (answer.kind === "repeat") {
    // our own name:version already there (any state: the status mapping tells Ready or not)
    if (list.has(key)) return { ok: true };
    return { ok: false, failure: mismatch(asked, answer.identity, true) };
  }
  if (answer.bizzes.has(key) || answer.bizzes.size === 0) return { ok: true };
  return { ok: false, failure: mismatch(asked, [...answer.bizzes.keys()][0], false) };
}

/** The failure a pod shows when its jar holds another biz than it asks for. */
export function mismatch(
  asked: BizSpec,
  identity: string | undefined,
  already: boolean,
): InstallFailure {
  const key = specKey(asked);
  if (!identity)
    return {
      reason: NOT_INSTALLED,
      message: `the base answered REPEAT_BIZ for ${key} from ${asked.bizUrl} but does not run ${key}`,
    };
  const at = identity.lastIndexOf(":");
  const [name, version] = [identity.slice(0, at), identity.slice(at + 1)];
  const runs = already
    ? `the base already runs ${identity} from it`
    : `the base installed ${identity}`;
  if (name === asked.bizName)
    return {
      reason: VERSION_MISMATCH,
      stray: identity,
      message:
        `BIZ_VERSION is ${asked.bizVersion} but the jar ${asked.bizUrl} is version ${version} ` +
        `(its manifest's Ark-Biz-Version), so ${runs} instead of ${key}. ` +
        `Set BIZ_VERSION to ${version}, or use a jar built as ${asked.bizVersion}.`,
    };
  return {
    reason: NAME_MISMATCH,
    stray: identity,
    message:
      `the container is named ${asked.bizName} but the jar ${asked.bizUrl} holds the biz ${name} ` +
      `(its manifest's Ark-Biz-Name), so ${runs} instead of ${key}. ` +
      `Name the container ${name} (with BIZ_VERSION ${version}), or use a jar built as ${asked.bizName}.`,
  };
}
