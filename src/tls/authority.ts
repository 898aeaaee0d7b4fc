/**
 * The node's own certificate authority (docs/app-access.md#https): made on first start, kept in the
 * daemon's state directory (`tls/ca.key`, 0600, in a 0700 directory; `tls/ca.crt`, the certificate
 * operators download and trust), never sent anywhere and never logged. An authority that is about
 * to expire is replaced, and the log says so: browsers must trust the new one.
 *
 * An existing authority is read with `node:crypto` (its dates, fingerprint, and that its key is its
 * own); @peculiar/x509 (x509.ts, with its ASN.1 libraries and tsyringe: ~0.35 MB of code) is loaded
 * only to make one or to sign with it (`signer`), which a start that finds the node's certificate
 * on disk never does (contexts.ts).
 */
import { createPrivateKey, randomBytes, X509Certificate } from "node:crypto";
import { chmod, mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { KeyedCertificate } from "./x509.ts";

/** An authority lives ten years. */
export const AUTHORITY_DAYS = 3650;
/** One with less than this left is replaced at start. */
export const AUTHORITY_RENEW_DAYS = 90;

export type NodeAuthority = {
  /** The certificate in PEM, as served at /ca.crt. */
  pem: string;
  /** The certificate, as `node:crypto` reads it (to check what it issued). */
  certificate: X509Certificate;
  /** The certificate and its key for signing, loaded on first use. */
  signer: () => Promise<KeyedCertificate>;
  /** Its SHA-256 fingerprint, for the operator to compare with what a browser shows. */
  fingerprint: string;
  /** Whether it was made at this start. */
  created: boolean;
};

export const CA_CERT_FILE = "ca.crt";
export const CA_KEY_FILE = "ca.key";

/** Writes `content` to `path` with `mode`, atomically (a crash never leaves half a key). */
export async function writeAtomically(path: string, content: string, mode: number): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  await rm(temporary, { force: true });
  const handle = await open(temporary, "wx", mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
}

/** The authority in `dir` (`<state>/tls`), made there when it is missing, unreadable or about to expire. */
export async function loadAuthority(
  dir: string,
  nodeName: string,
  now: number,
  log: (message: string) => void,
): Promise<NodeAuthority> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const certPath = join(dir, CA_CERT_FILE);
  const keyPath = join(dir, CA_KEY_FILE);
  const existing = await readExisting(certPath, keyPath);
  if (existing) {
    const left = existing.certificate.validToDate.getTime() - now;
    if (left > AUTHORITY_RENEW_DAYS * 24 * 60 * 60 * 1000) return { ...existing, created: false };
    log(
      `the node's certificate authority expires on ${existing.certificate.validToDate.toISOString()}: a new one is made; browsers must trust it again (docs/app-access.md#https)`,
    );
  }
  const x509 = await import("./x509.ts");
  // A name of its own per node, so that an operator who trusts several nodes tells them apart.
  const made = await x509.createAuthority(
    `Archipelago node CA ${nodeName} ${randomBytes(4).toString("hex")}`,
    now,
    AUTHORITY_DAYS,
  );
  const pem = x509.certificatePem(made.certificate);
  await writeAtomically(keyPath, await x509.privateKeyPem(made.key), 0o600);
  await writeAtomically(certPath, pem, 0o644);
  const certificate = new X509Certificate(pem);
  return {
    pem,
    certificate,
    fingerprint: certificate.fingerprint256,
    signer: async () => made,
    created: true,
  };
}

/** The authority on disk, checked with `node:crypto`; undefined when missing or damaged. */
async function readExisting(
  certPath: string,
  keyPath: string,
): Promise<Omit<NodeAuthority, "created"> | undefined> {
  let pem: string;
  let keyPem: string;
  try {
    [pem, keyPem] = await Promise.all([readFile(certPath, "utf8"), readFile(keyPath, "utf8")]);
  } catch {
    return undefined;
  }
  try {
    const certificate = new X509Certificate(pem);
    if (!certificate.ca || !certificate.checkPrivateKey(createPrivateKey(keyPem))) return undefined;
    await chmod(keyPath, 0o600);
    let signing: Promise<KeyedCertificate> | undefined;
    const signer = () => {
      signing ??= import("./x509.ts").then(async (x509) => ({
        certificate: x509.parseCertificate(pem),
        key: await x509.importPrivateKey(keyPem),
      }));
      return signing;
    };
    return { pem, certificate, fingerprint: certificate.fingerprint256, signer };
  } catch {
    return undefined; // damaged: made anew (the log says a new authority was made)
  }
}
