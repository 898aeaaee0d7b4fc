/**
 * A secret sealed with a passphrase: scrypt derives the key, AES-256-GCM seals the secret. The one
 * way the platform keeps a private key under a passphrase (catalog keys, developer keys). Pure:
 * the passphrase comes from the caller (who reads it from the environment, never argv).
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from "node:crypto";

/** scrypt cost: ~0.1 s and 32 MiB per unlock, so guessing passphrases is slow. */
const SCRYPT = { N: 2 ** 15, r: 8, p: 1 };
const SCRYPT_MAXMEM = 64 * 1024 * 1024;

export type SealedSecret = {
  encoding: "scrypt-aes-256-gcm";
  salt: string;
  N: number;
  r: number;
  p: number;
  iv: string;
  tag: string;
  data: string;
};

export function sealSecret(secret: string, passphrase: string): SealedSecret {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const key = scryptSync(passphrase, salt, 32, { ...SCRYPT, maxmem: SCRYPT_MAXMEM });
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const data = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
  return {
    encoding: "scrypt-aes-256-gcm",
    salt: salt.toString("base64"),
    ...SCRYPT,
    iv: iv.toString("base64"),
    tag: cipher.getAuthTag().toString("base64"),
    data: data.toString("base64"),
  };
}

/** The secret, or undefined when the passphrase is wrong or the sealed data was altered. */
export function openSealedSecret(sealed: SealedSecret, passphrase: string): string | undefined {
  try {
    const key = scryptSync(passphrase, Buffer.from(sealed.salt, "base64"), 32, {
      N: sealed.N,
      r: sealed.r,
      p: sealed.p,
      maxmem: SCRYPT_MAXMEM,
    });
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(sealed.iv, "base64"));
    decipher.setAuthTag(Buffer.from(sealed.tag, "base64"));
    return Buffer.concat([decipher.update(Buffer.from(sealed.data, "base64")), decipher.final()]).toString(
      "utf8",
    );
  } catch {
    return undefined;
  }
}
