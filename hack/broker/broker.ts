// A real MQTT broker for development and tests: Mosquitto from Debian's packages, on free
// loopback ports, with a username and password and a TLS listener (a throwaway CA). Started
// and stopped by `npm run broker` and by the MQTT e2e suites; never a system service.
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { freePort } from "../cluster/cluster";
import { makePki } from "../cluster/pki";

export interface BrokerOptions {
  dir: string;
  username?: string;
  password?: string;
}

export interface BrokerInfo {
  /** mqtt://127.0.0.1:<port> and mqtts://127.0.0.1:<port> */
  url: string;
  tlsUrl: string;
  host: string;
  port: number;
  tlsPort: number;
  username: string;
  password: string;
  /** The CA that signed the broker's certificate (PEM file). */
  caPath: string;
  dir: string;
}

const CANDIDATES = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"];

/** The mosquitto binary, or an error that says how to get it. */
export function mosquittoBinary(exists: (p: string) => boolean = existsSync): string {
  const found = CANDIDATES.find(exists);
  if (found) return found;
  throw new Error(
    "mosquitto is not installed: apt-get install mosquitto (Debian's package; .ci/run installs it)",
  );
}

/** mosquitto_passwd, which Debian ships beside the broker in /usr/bin. */
function passwdBinary(exists: (p: string) => boolean = existsSync): string {
  const found = ["/usr/bin/mosquitto_passwd", "/usr/sbin/mosquitto_passwd"].find(exists);
  if (found) return found;
  throw new Error("mosquitto_passwd is not installed: apt-get install mosquitto");
}

/** The broker's configuration: no anonymous clients, a plain and a TLS listener on loopback. */
export function mosquittoConfig(b: BrokerInfo, certs: { cert: string; key: string }): string {
  return [
    "# written by hack/broker/broker.ts",
    "per_listener_settings false",
    "allow_anonymous false",
    `password_file ${join(b.dir, "passwd")}`,
    "persistence false",
    // started as root here: do not switch to a mosquitto user that cannot read our files
    "user root",
    `log_dest file ${join(b.dir, "mosquitto.log")}`,
    `listener ${b.port} ${b.host}`,
    `listener ${b.tlsPort} ${b.host}`,
    `cafile ${b.caPath}`,
    `certfile ${certs.cert}`,
    `keyfile ${certs.key}`,
    "",
  ].join("\n");
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise(res => {
    const s = connect(port, host);
    s.once("connect", () => {
      s.destroy();
      res(true);
    });
    s.once("error", () => res(false));
  });
}

export class Broker {
  private proc?: ChildProcess;

  private constructor(
    readonly info: BrokerInfo,
    private conf: string,
  ) {}

  /** Writes the config, password file and certificates into opts.dir and starts mosquitto. */
  static async start(opts: BrokerOptions): Promise<Broker> {
    mosquittoBinary(); // fails first, with how to install it
    mkdirSync(opts.dir, { recursive: true });
    const pki = makePki(join(opts.dir, "pki"));
    const host = "127.0.0.1";
    const [port, tlsPort] = [await freePort(), await freePort()];
    const info: BrokerInfo = {
      url: `mqtt://${host}:${port}`,
      tlsUrl: `mqtts://${host}:${tlsPort}`,
      host,
      port,
      tlsPort,
      username: opts.username ?? "koupleless",
      password: opts.password ?? "koupleless-local",
      caPath: pki.caCert,
      dir: opts.dir,
    };
    const passwd = join(opts.dir, "passwd");
    writeFileSync(passwd, "", { mode: 0o600 });
    execFileSync(passwdBinary(), ["-b", passwd, info.username, info.password]);
    const conf = join(opts.dir, "mosquitto.conf");
    writeFileSync(conf, mosquittoConfig(info, { cert: pki.serverCert, key: pki.serverKey }));
    const broker = new Broker(info, conf);
    await broker.run();
    return broker;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts mosquitto on the same ports and waits until it takes connections. */
  async run(): Promise<void> {
    const out = openSync(join(this.info.dir, "mosquitto.out"), "a");
    this.proc = spawn(mosquittoBinary(), ["-c", this.conf], { stdio: ["ignore", out, out] });
    for (let i = 0; i < 100; i++) {
      if (await portOpen(this.info.host, this.info.port)) return;
      if (this.proc.exitCode !== null) break;
      await new Promise(r => setTimeout(r, 100));
    }
    throw new Error(`mosquitto did not start: see ${join(this.info.dir, "mosquitto.log")}`);
  }

  /** Stops mosquitto (every client loses its connection). */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>(res => {
      p.once("exit", () => res());
      p.kill("SIGTERM");
    });
  }

  /** A broker restart: the same ports, every session gone. */
  async restart(): Promise<void> {
    await this.stop();
    await this.run();
  }
}
