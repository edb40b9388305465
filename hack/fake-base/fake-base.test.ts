// The fake base must answer like the real Arklet (contract §5), through our real Arklet client.
import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { ArkletClient, ArkletUnreachable, BaseAddress } from "../../capabilities/lib/arklet/client";
import { FakeBase, FakeBaseOptions, habitOptions } from "./fake-base";

const biz = { bizName: "biz1", bizVersion: "0.0.1", bizUrl: "file:///tmp/biz1.jar" };

describe("FakeBase", () => {
  let base: FakeBase;
  let addr: BaseAddress;
  const client = new ArkletClient("koupleless-pepr/test-replica");
  const call = (cmd: string, body: object = {}) =>
    client.call<Record<string, unknown>>(addr, cmd, body, 2000);

  beforeEach(async () => {
    base = new FakeBase({ host: "127.0.0.1", port: 0, failingBizzes: ["bad"] });
    await base.start();
    addr = { ip: "127.0.0.1", port: base.port };
  });
  afterEach(() => base.stop());

  it("installs, then answers REPEAT_BIZ for the same name:version", async () => {
    expect(await call("installBiz", biz)).toMatchObject({
      code: "SUCCESS",
      data: { code: "SUCCESS" },
      baseIdentity: "127.0.0.1",
    });
    expect(await call("installBiz", biz)).toMatchObject({
      code: "FAILED",
      message: "install biz not success!",
      data: { code: "REPEAT_BIZ" },
    });
    expect(base.count("installBiz")).toBe(2);
  });

  it("answers CMD_PROCESS_INTERNAL_ERROR with a stack trace for a failing start", async () => {
    const res = await call("installBiz", { ...biz, bizName: "bad" });
    expect(res.code).toBe("CMD_PROCESS_INTERNAL_ERROR");
    expect(res.message).toMatch(/^Internal Error: /);
    expect(res.errorStackTrace).toBeTruthy();
  });

  it("uninstalls, and answers NOT_FOUND_BIZ for a missing biz", async () => {
    await call("installBiz", biz);
    expect(await call("uninstallBiz", biz)).toMatchObject({ code: "SUCCESS" });
    expect(await call("uninstallBiz", biz)).toMatchObject({
      code: "FAILED",
      data: { code: "NOT_FOUND_BIZ" },
    });
  });

  it("lists bizzes with lowercase states and records, leaving the base biz out", async () => {
    await call("installBiz", biz);
    const res = await call("queryAllBiz");
    expect(res.data).toEqual([
      expect.objectContaining({
        bizName: "biz1",
        bizVersion: "0.0.1",
        bizState: "activated",
        bizStateRecords: expect.any(Array),
      }),
    ]);
  });

  it("reports health with metaspace in bytes and masterBizInfo", async () => {
    const res = await client.health(addr, 2000);
    const h = res.data?.healthData;
    expect(h?.jvm?.["java max metaspace"]).toBe(-1); // the JVM default
    expect(h?.masterBizInfo).toMatchObject({ bizName: "base", bizState: "ACTIVATED" });
  });

  it("switches the active version", async () => {
    await call("installBiz", biz);
    await call("installBiz", { ...biz, bizVersion: "0.0.2", bizUrl: "file:///tmp/biz1-0.0.2.jar" });
    await call("switchBiz", biz);
    const states = (
      (await call("queryAllBiz")).data as unknown as Array<{ bizVersion: string; bizState: string }>
    ).map(b => `${b.bizVersion}=${b.bizState}`);
    expect(states.sort()).toEqual(["0.0.1=activated", "0.0.2=deactivated"]);
  });

  it("batch-installs and maps results by URL", async () => {
    const res = await call("batchInstallBiz", {
      bizList: [biz, { ...biz, bizName: "bad", bizUrl: "file:///bad.jar" }],
    });
    expect(res).toMatchObject({
      code: "FAILED",
      data: {
        bizUrlToResponse: {
          "file:///tmp/biz1.jar": { code: "SUCCESS" },
          "file:///bad.jar": { code: "CMD_PROCESS_INTERNAL_ERROR" },
        },
      },
    });
  });

  it("refuses a second operation on a biz while one runs", async () => {
    base.opts.installMs = 300;
    const [a, b] = await Promise.all([call("installBiz", biz), call("installBiz", biz)]);
    expect([a.code, b.code].sort()).toEqual(["CMD_PROCESS_INTERNAL_ERROR", "SUCCESS"]);
  });

  it("answers CMD_NOT_FOUND for an unknown command and validates input", async () => {
    expect(await call("nope")).toMatchObject({
      code: "CMD_NOT_FOUND",
      message: "please follow the doc",
    });
    expect((await call("installBiz", { bizName: "x", bizVersion: "1" })).code).toBe(
      "CMD_PROCESS_INTERNAL_ERROR",
    );
    expect(await call("help")).toMatchObject({
      code: "SUCCESS",
      data: expect.arrayContaining([{ id: "installBiz", desc: expect.any(String) }]),
    });
  });

  it("allows only POST", async () => {
    const res = await fetch(`http://127.0.0.1:${base.port}/health`);
    expect(res.status).toBe(500);
    expect(await res.text()).toBe("POST http request only supported by arklet");
  });

  it("logs who called", async () => {
    await call("health");
    expect(base.log[0]).toMatchObject({
      command: "health",
      userAgent: "koupleless-pepr/test-replica",
      code: "SUCCESS",
    });
  });

  it("can be made unreachable, and restarted empty", async () => {
    await call("installBiz", biz);
    base.setReachable(false);
    await expect(call("health")).rejects.toBeInstanceOf(ArkletUnreachable);
    base.setReachable(true);
    await base.restartEmpty();
    addr = { ip: "127.0.0.1", port: base.port };
    expect((await call("queryAllBiz")).data).toEqual([]);
  });
});

describe("FakeBase heartbeats", () => {
  it("POSTs the exact BaseStatus body", async () => {
    const received: unknown[] = [];
    const { createServer } = await import("node:http");
    const srv = createServer((req, res) => {
      let b = "";
      req.on("data", c => (b += c));
      req.on("end", () => {
        received.push({ path: req.url, type: req.headers["content-type"], body: JSON.parse(b) });
        res.end("SUCCESS");
      });
    });
    await new Promise<void>(r => srv.listen(0, "127.0.0.1", () => r()));
    const port = (srv.address() as { port: number }).port;
    const base = new FakeBase({
      host: "127.0.0.1",
      port: 0,
      controller: `http://127.0.0.1:${port}`,
      heartbeatMs: 60_000,
      hostName: "h1",
    });
    await base.start();
    const basePort = base.port;
    await base.stop(true);
    srv.close();
    expect(received).toEqual([
      {
        path: "/heartbeat",
        type: "application/json",
        body: {
          baseMetadata: {
            identity: "127.0.0.1",
            name: "TO_BE_IMPLEMENTED",
            version: "1.0.0",
            clusterName: "default",
          },
          localIP: "127.0.0.1",
          localHostName: "h1",
          port: basePort,
          state: "activated",
        },
      },
      expect.objectContaining({ body: expect.objectContaining({ state: "deactivated" }) }),
    ]);
  });
});

describe("FakeBase: the real base's habits (on by default, each can be turned off)", () => {
  const client = new ArkletClient("koupleless-pepr/test-replica");
  const JAR = "file:///opt/biz/skew-1.0.0-ark-biz.jar";
  let base: FakeBase | undefined;
  const start = async (opts: Partial<FakeBaseOptions> = {}) => {
    base = new FakeBase({ host: "127.0.0.1", port: 0, ...opts });
    await base.start();
    const addr = { ip: "127.0.0.1", port: base.port };
    return (cmd: string, body: object = {}) =>
      client.call<Record<string, unknown>>(addr, cmd, body, 2000);
  };
  afterEach(() => base?.stop());

  const jvm = async (call: Awaited<ReturnType<typeof start>>) =>
    ((await call("health")).data?.healthData as { jvm: Record<string, number> }).jvm;

  it.each([
    { breathingHeap: true, changes: true },
    { breathingHeap: false, changes: false },
  ])("heap usage changes on every /health: $breathingHeap", async ({ breathingHeap, changes }) => {
    const call = await start({ breathingHeap });
    const [a, b] = [await jvm(call), await jvm(call)];
    expect(a["free memory(M)"] !== b["free memory(M)"]).toBe(changes);
    expect(a["max memory(M)"]).toBe(b["max memory(M)"]);
  });

  it.each([
    { timelessRecords: true, records: [{}, {}] },
    {
      timelessRecords: false,
      records: [expect.objectContaining({ changeTime: expect.any(Number), reason: "Started" })],
    },
  ])("records without times: $timelessRecords", async ({ timelessRecords, records }) => {
    const call = await start({ timelessRecords });
    await call("installBiz", biz);
    const [info] = (await call("queryAllBiz")).data as unknown as Array<{
      bizStateRecords: unknown;
    }>;
    expect(info.bizStateRecords).toEqual(records);
  });

  it.each([
    { manifestWins: true, runs: "skew:1.0.0" },
    { manifestWins: false, runs: "skew:2.0.0" },
  ])("the manifest's version wins: $manifestWins", async ({ manifestWins, runs }) => {
    const call = await start({ manifestWins, manifests: { [JAR]: "skew:1.0.0" } });
    const res = await call("installBiz", { bizName: "skew", bizVersion: "2.0.0", bizUrl: JAR });
    expect(res).toMatchObject({
      code: "SUCCESS",
      data: { bizInfos: [expect.objectContaining({ bizVersion: runs.split(":")[1] })] },
    });
    expect(base?.installed().map(b => `${b.bizName}:${b.bizVersion}`)).toEqual([runs]);
  });

  it("answers REPEAT_BIZ for a jar already installed under another name, naming its biz", async () => {
    const call = await start();
    await call("installBiz", { bizName: "alpha", bizVersion: "1.0.0", bizUrl: JAR });
    expect(await call("installBiz", { bizName: "beta", bizVersion: "1.0.0", bizUrl: JAR })).toEqual(
      {
        code: "FAILED",
        message: "install biz not success!",
        data: { code: "REPEAT_BIZ", message: "Biz: alpha:1.0.0 has been installed or registered." },
        baseIdentity: "127.0.0.1",
      },
    );
  });

  it("installs the asked name:version of any jar when manifestWins is off", async () => {
    const call = await start({ manifestWins: false });
    await call("installBiz", { bizName: "alpha", bizVersion: "1.0.0", bizUrl: JAR });
    const res = await call("installBiz", { bizName: "beta", bizVersion: "1.0.0", bizUrl: JAR });
    expect(res.code).toBe("SUCCESS");
  });

  it("calls itself TO_BE_IMPLEMENTED unless told a name (no BaseMetadataHook)", async () => {
    await start();
    expect(base?.baseStatus()).toMatchObject({
      baseMetadata: { name: "TO_BE_IMPLEMENTED", version: "1.0.0", clusterName: "default" },
    });
  });

  it.each([
    { errorsWithoutIdentity: true, identity: undefined },
    { errorsWithoutIdentity: false, identity: "127.0.0.1" },
  ])(
    "error envelopes without baseIdentity: $errorsWithoutIdentity",
    async ({ errorsWithoutIdentity, identity }) => {
      const call = await start({ errorsWithoutIdentity });
      expect((await call("nope")).baseIdentity).toBe(identity);
      expect((await call("installBiz", { bizName: "x" })).baseIdentity).toBe(identity);
      expect((await call("health")).baseIdentity).toBe("127.0.0.1");
    },
  );
});

describe("habitOptions (the CLI's --without and --manifest)", () => {
  it.each([
    { without: "", manifests: [], want: {} },
    {
      without: "breathing-heap, manifest-wins",
      manifests: [],
      want: { breathingHeap: false, manifestWins: false },
    },
    {
      without: "all",
      manifests: [],
      want: {
        breathingHeap: false,
        timelessRecords: false,
        manifestWins: false,
        errorsWithoutIdentity: false,
      },
    },
    {
      without: "",
      manifests: ["file:///a.jar=alpha:1.0.0", "http://h/x=y.jar=x:2"],
      want: { manifests: { "file:///a.jar": "alpha:1.0.0", "http://h/x=y.jar": "x:2" } },
    },
  ])("--without $without --manifest $manifests", ({ without, manifests, want }) => {
    expect(habitOptions(without, manifests)).toEqual(want);
  });
  it.each([
    ["heap", []],
    ["", ["file:///a.jar"]],
    ["", ["file:///a.jar=alpha"]],
  ])("refuses --without %j --manifest %j", (without, manifests) => {
    expect(() => habitOptions(without as string, manifests as string[])).toThrow();
  });
});
