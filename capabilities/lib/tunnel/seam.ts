// The tunnel seam: everything the registry and the workers need from the way bases talk to us.
// Bases are discovered and report liveness through heartbeats (HeartbeatSink), and receive
// health, biz-list, install and uninstall commands (BaseCommands) whose answers are Arklet
// envelopes. HTTP (tunnel/http.ts) is the first implementation; MQTT is meant to be a second
// one behind the same two interfaces, without touching the worker or the registry.
import type { ArkletEnvelope, BaseAddress, BizRequest, HealthData } from "../arklet/client";
import type { BaseStatus } from "./heartbeat";

/** A base as commands address it: by identity (topics) and by address (HTTP). */
export interface BaseRef extends BaseAddress {
  identity: string;
  /** The tunnel it speaks when not HTTP ("mqtt"). */
  tunnel?: string;
}

/**
 * Commands to one base. An answer is the Arklet envelope (its code says what happened); a base
 * that gives no answer in time, or no envelope, rejects with ArkletUnreachable (transient).
 */
export interface BaseCommands {
  health(base: BaseRef, timeoutMs: number): Promise<ArkletEnvelope<HealthData>>;
  queryAllBiz(base: BaseRef, timeoutMs: number): Promise<ArkletEnvelope<unknown>>;
  installBiz(base: BaseRef, biz: BizRequest, timeoutMs: number): Promise<ArkletEnvelope<unknown>>;
  uninstallBiz(base: BaseRef, biz: BizRequest, timeoutMs: number): Promise<ArkletEnvelope<unknown>>;
  /** This replica stops commanding the base (a handover, its VNode gone): free what it held. */
  release(base: BaseRef): void;
  /**
   * Since when the tunnel could have heard from the base without a break; undefined while it
   * cannot hear anything (a broker down): silence then says nothing about the base.
   */
  sightSince(base: BaseRef): number | undefined;
}

/** Where a tunnel delivers what bases say of themselves. */
export interface HeartbeatSink {
  /** An accepted heartbeat (already validated); must not wait on the API server. */
  onHeartbeat(status: BaseStatus, activated: boolean): void;
  /** What a base should run, for a base that asks on connect (the MQTT baseline). */
  baselineOf(identity: string): BizRequest[] | undefined;
}

export interface Tunnel extends BaseCommands {
  readonly kind: string;
  /** Starts hearing bases; resolves once it does. */
  listen(sink: HeartbeatSink): Promise<void>;
  /** Stops hearing bases; commands keep working (a handover still talks to them). */
  stopListening(): Promise<void>;
  /** Releases everything (after the last command). */
  close(): Promise<void>;
}
