// Throwaway PKI for the local control plane: one CA, a serving certificate for every
// component on loopback, an admin client certificate and the service-account key pair.
// node-forge (already a Pepr peer dependency) signs; Node's crypto makes the keys fast.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import forge from "node-forge";

export interface Pki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  saPub: string;
  saKey: string;
}

interface KeyPair {
  pem: string;
  forgeKey: forge.pki.rsa.PrivateKey;
  forgePub: forge.pki.rsa.PublicKey;
}

function newKey(): KeyPair {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { pem, forgeKey, forgePub: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e) };
}

interface CertSpec {
  subject: forge.pki.CertificateField[];
  extensions: object[];
  key: KeyPair;
  issuer?: { cert: forge.pki.Certificate; key: KeyPair };
}

function sign(spec: CertSpec): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = spec.key.forgePub;
  cert.serialNumber = "01" + randomBytes(8).toString("hex");
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 24 * 3600_000);
  cert.setSubject(spec.subject);
  cert.setIssuer(spec.issuer ? spec.issuer.cert.subject.attributes : spec.subject);
  cert.setExtensions(spec.extensions);
  cert.sign((spec.issuer ?? { key: spec.key }).key.forgeKey, forge.md.sha256.create());
  return cert;
}

const DNS = 2;
const IP = 7;
const SERVER_NAMES = [
  "localhost",
  "kubernetes",
  "kubernetes.default",
  "kubernetes.default.svc",
  "kubernetes.default.svc.cluster.local",
];

/**
 * Writes a fresh PKI into dir and returns the file paths. extraIps go into the serving
 * certificate's SANs (the node IP, on which pods reach the apiserver when a real Node runs).
 */
export function makePki(dir: string, extraIps: string[] = []): Pki {
  mkdirSync(dir, { recursive: true });
  const caKey = newKey();
  const ca = sign({
    subject: [{ name: "commonName", value: "koupleless-pepr-local-ca" }],
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      {
        name: "keyUsage",
        keyCertSign: true,
        cRLSign: true,
        digitalSignature: true,
        critical: true,
      },
    ],
    key: caKey,
  });
  const issuer = { cert: ca, key: caKey };
  const serverKey = newKey();
  const server = sign({
    subject: [{ name: "commonName", value: "kube-local" }],
    extensions: [
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          ...SERVER_NAMES.map(value => ({ type: DNS, value })),
          { type: IP, ip: "127.0.0.1" },
          { type: IP, ip: "10.0.0.1" },
          ...extraIps.map(ip => ({ type: IP, ip })),
        ],
      },
    ],
    key: serverKey,
    issuer,
  });
  const adminKey = newKey();
  const admin = sign({
    subject: [
      { name: "commonName", value: "admin" },
      { name: "organizationName", value: "system:masters" },
    ],
    extensions: [
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", clientAuth: true },
    ],
    key: adminKey,
    issuer,
  });
  const saKey = newKey();
  const files: Record<string, string> = {
    "ca.crt": forge.pki.certificateToPem(ca),
    "ca.key": caKey.pem,
    "server.crt": forge.pki.certificateToPem(server),
    "server.key": serverKey.pem,
    "admin.crt": forge.pki.certificateToPem(admin),
    "admin.key": adminKey.pem,
    "sa.key": saKey.pem,
    "sa.pub": forge.pki.publicKeyToPem(saKey.forgePub),
  };
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), content, { mode: 0o600 });
  }
  return pkiPaths(dir);
}

/** Where makePki put (or will put) each file of the PKI in dir. */
export function pkiPaths(dir: string): Pki {
  const p = (name: string) => join(dir, name);
  return {
    dir,
    caCert: p("ca.crt"),
    serverCert: p("server.crt"),
    serverKey: p("server.key"),
    adminCert: p("admin.crt"),
    adminKey: p("admin.key"),
    saPub: p("sa.pub"),
    saKey: p("sa.key"),
  };
}

/** A self-signed serving certificate for localhost (Pepr's HTTPS port on a local replica). */
export function makeServingCert(dir: string): { cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const key = newKey();
  const cert = sign({
    subject: [{ name: "commonName", value: "localhost" }],
    extensions: [
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: DNS, value: "localhost" },
          { type: IP, ip: "127.0.0.1" },
        ],
      },
    ],
    key,
  });
  const paths = { cert: join(dir, "tls.crt"), key: join(dir, "tls.key") };
  writeFileSync(paths.cert, forge.pki.certificateToPem(cert), { mode: 0o600 });
  writeFileSync(paths.key, key.pem, { mode: 0o600 });
  return paths;
}
