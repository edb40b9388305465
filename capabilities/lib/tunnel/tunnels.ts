// Both tunnels at once: a base speaks one of them (its BaseRef says which), and every command
// goes to that one. Composed by controller.ts from the config.
import { ArkletUnreachable, BizRequest } from "../arklet/client";
import type { BaseCommands, BaseRef, HeartbeatSink, Tunnel } from "./seam";

const HTTP = "http";

export class Tunnels implements Tunnel {
  readonly kind: string;

  constructor(private byKind: Map<string, Tunnel>) {
    this.kind = [...byKind.keys()].join("+");
  }

  /** The tunnel the base speaks, if this controller runs it. */
  private find(base: BaseRef): Tunnel | undefined {
    return this.byKind.get(base.tunnel ?? HTTP);
  }

  private of(base: BaseRef): Tunnel {
    const kind = base.tunnel ?? HTTP;
    const t = this.find(base);
    if (!t)
      throw new ArkletUnreachable(
        `${base.identity} speaks the ${kind} tunnel, which this controller does not run`,
      );
    return t;
  }

  async listen(sink: HeartbeatSink): Promise<void> {
    for (const t of this.byKind.values()) await t.listen(sink);
  }

  async stopListening(): Promise<void> {
    for (const t of this.byKind.values()) await t.stopListening();
  }

  async close(): Promise<void> {
    for (const t of this.byKind.values()) await t.close();
  }

  async health(base: BaseRef, timeoutMs: number): ReturnType<BaseCommands["health"]> {
    return this.of(base).health(base, timeoutMs);
  }

  async queryAllBiz(base: BaseRef, timeoutMs: number): ReturnType<BaseCommands["queryAllBiz"]> {
    return this.of(base).queryAllBiz(base, timeoutMs);
  }

  async installBiz(base: BaseRef, biz: BizRequest, timeoutMs: number) {
    return this.of(base).installBiz(base, biz, timeoutMs);
  }

  async uninstallBiz(base: BaseRef, biz: BizRequest, timeoutMs: number) {
    return this.of(base).uninstallBiz(base, biz, timeoutMs);
  }

  release(base: BaseRef): void {
    this.find(base)?.release(base);
  }

  sightSince(base: BaseRef): number | undefined {
    // a base on a tunnel we do not run: we hear nothing, and judge nothing
    return this.find(base)?.sightSince(base);
  }
}
