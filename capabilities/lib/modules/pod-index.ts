// The one index of module pods, by the node they are bound to. The registry fills it from the
// watch; the worker of each VNode reads its pods from here and marks the ones it deleted for
// good, so a late watch event cannot bring them back (for this worker or the next owner's).
import type { V1Pod } from "@kubernetes/client-node";
import { podKey } from "./biz";

/** How long a pod deleted for good is remembered: far longer than any watch delivers late. */
const FINISHED_MEMORY_MS = 10 * 60_000;

const NONE: ReadonlyMap<string, V1Pod> = new Map();

export class PodIndex {
  private byNode = new Map<string, Map<string, V1Pod>>();
  /** UIDs of pods deleted for good, and when. */
  private finished = new Map<string, number>();

  /**
   * Records a watch event. False when it must be ignored: the pod is not bound, or it is a pod
   * deleted for good. Even its DELETED event is not a pod's last word: Pepr hands watch events
   * over asynchronously, so an older MODIFIED event can still come after it (seen with 3
   * replicas under a burst: a second uninstall 63-86 ms after the first).
   */
  apply(pod: V1Pod, deleted: boolean): boolean {
    const node = pod.spec?.nodeName;
    if (!node || this.isFinished(pod)) return false;
    const pods = this.byNode.get(node) ?? new Map<string, V1Pod>();
    if (deleted) pods.delete(podKey(pod));
    else pods.set(podKey(pod), pod);
    if (pods.size > 0) this.byNode.set(node, pods);
    else this.byNode.delete(node);
    return true;
  }

  /** The module pods bound to a node, by namespace/name (a live view: do not keep it). */
  on(node: string): ReadonlyMap<string, V1Pod> {
    return this.byNode.get(node) ?? NONE;
  }

  /** A pod was deleted for good: it leaves the index and its late events are ignored. */
  finish(pod: V1Pod, now: number): void {
    for (const [uid, t] of this.finished)
      if (now - t > FINISHED_MEMORY_MS) this.finished.delete(uid);
    const uid = pod.metadata?.uid;
    if (uid) this.finished.set(uid, now);
    this.remove(pod);
  }

  private remove(pod: V1Pod): void {
    const node = pod.spec?.nodeName ?? "";
    const pods = this.byNode.get(node);
    if (!pods) return;
    pods.delete(podKey(pod));
    if (pods.size === 0) this.byNode.delete(node);
  }

  /** A UID is never reused, so remembering it for a bounded time is enough. */
  isFinished(pod: V1Pod): boolean {
    const uid = pod.metadata?.uid;
    return uid !== undefined && this.finished.has(uid);
  }
}
