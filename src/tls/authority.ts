/**
 * The node's own certificate authority (docs/app-access.md#https): made on first start, kept in the
 * daemon's state directory (`tls/ca.key`, 0600, in a 0700 directory; `tls/ca.crt`, the certificate
 * operators download and trust), never sent anywhere and never logged. An authority that is about
 * to expire is replaced, and the log says so: browsers must trust the new one.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  certificatePem,
  createAuthority,
  fingerprint,
  importPrivateKey,
  type KeyedCertificate,
  parseCertificate,
  privateKeyPem,
} from "./x509.ts";

/** An authority lives ten years. */
export const AUTHORITY_DAYS = 3650;
/** One with less than this left is replaced at start. */
export const AUTHORITY_RENEW_DAYS = 90;

export type NodeAuthority = KeyedCertificate & {
  /** The certificate in PEM, as served at /ca.crt. */
  pem: string;
  /** Its SHA-256 fingerprint, for the operator to compare with what a browser shows. */
  fingerprint: string;
  /** Whether it was made at this start. */
  created: boolean;
};

export const CA_CERT_FILE = "ca.crt";
export const CA_KEY_FILE = "ca.key";

/** Writes `content` to `path` with `mode`, atomically (a crash never leaves half a key). */
async function writeAtomically(path: string, content: string, mode: number): Promise<void> {
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
    const left = existing.certificate.notAfter.getTime() - now;
    if (left > AUTHORITY_RENEW_DAYS * 24 * 60 * 60 * 1000)
      return { ...existing, fingerprint: await fingerprint(existing.certificate), created: false };
    log(
      `the node's certificate authority expires on ${existing.certificate.notAfter.toISOString()}: a new one is made; browsers must trust it again (docs/app-access.md#https)`,
    );
  }
  // A name of its own per node, so that an operator who trusts several nodes tells them apart.
  const made = await createAuthority(
    `Archipelago node CA ${nodeName} ${randomBytes(4).toString("hex")}`,
    now,
    AUTHORITY_DAYS,
  );
  const pem = certificatePem(made.certificate);
  await writeAtomically(keyPath, await privateKeyPem(made.key), 0o600);
  await writeAtomically(certPath, pem, 0o644);
  return { ...made, pem, fingerprint: await fingerprint(made.certificate), created: true };
}

async function readExisting(
  certPath: string,
  keyPath: string,
): Promise<(KeyedCertificate & { pem: string }) | undefined> {
  let pem: string;
  let keyPem: string;
  try {
    [pem, keyPem] = await Promise.all([readFile(certPath, "utf8"), readFile(keyPath, "utf8")]);
  } catch {
    return undefined;
  }
  try {
    const certificate = parseCertificate(pem);
    await chmod(keyPath, 0o600);
    return { certificate, key: await importPrivateKey(keyPem), pem };
  } catch {
    return undefined; // damaged: made anew (the log says a new authority was made)
  }
}
