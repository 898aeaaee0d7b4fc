/**
 * Signing keys of a catalog: Ed25519 key pairs, their TUF key ids, signers, and the key file format
 * (the private key in PKCS#8 PEM, or sealed with a passphrase: system/sealed-secret.ts). No I/O:
 * `key-files.ts` reads and writes the files.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
} from "node:crypto";
import { Key, Signature } from "@tufjs/models";
import { openSealedSecret, type SealedSecret, sealSecret } from "../system/sealed-secret.ts";
import { CatalogError } from "./errors.ts";

export const KEY_FILE_FORMAT = "archipelago-catalog-key/1";

type PlainPrivate = { encoding: "pkcs8-pem"; pem: string };

/** What a key file holds (JSON). `role` only says what the key was made for, as a reminder. */
export type KeyFileContent = {
  format: typeof KEY_FILE_FORMAT;
  role: string;
  keyid: string;
  keytype: "ed25519";
  scheme: "ed25519";
  public: string;
  private: PlainPrivate | SealedSecret;
};

/** A key ready to sign: its TUF public key and the private key. Never serialised as is. */
export type SigningKey = { key: Key; privateKey: KeyObject };

/** The TUF key id: the SHA-256 of the canonical JSON of the public key (its fields are hex strings). */
export function keyId(publicHex: string): string {
  const canonical = `{"keytype":"ed25519","keyval":{"public":"${publicHex}"},"scheme":"ed25519"}`;
  return createHash("sha256").update(canonical).digest("hex");
}

export function publicKey(publicHex: string): Key {
  return new Key({
    keyID: keyId(publicHex),
    keyType: "ed25519",
    scheme: "ed25519",
    keyVal: { public: publicHex },
  });
}

/** A new key pair, as key file content (sealed when a passphrase is given). */
export function generateKey(role: string, passphrase?: string): KeyFileContent {
  const { publicKey: pub, privateKey } = generateKeyPairSync("ed25519");
  // The raw 32-byte key is the tail of its SPKI encoding.
  const publicHex = pub.export({ format: "der", type: "spki" }).subarray(-32).toString("hex");
  const pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  return {
    format: KEY_FILE_FORMAT,
    role,
    keyid: keyId(publicHex),
    keytype: "ed25519",
    scheme: "ed25519",
    public: publicHex,
    private: passphrase === undefined ? { encoding: "pkcs8-pem", pem } : sealSecret(pem, passphrase),
  };
}

export function isSealed(content: KeyFileContent): boolean {
  return content.private.encoding === "scrypt-aes-256-gcm";
}

/**
 * Parses key file text; `origin` names the file in errors. Checks that the private key belongs to
 * the public key the file claims, so a mixed-up file fails here and not as a bad signature later.
 */
export function openKey(text: string, origin: string, passphrase?: string): SigningKey {
  const content = parseKeyFile(text, origin);
  let pem: string;
  if (content.private.encoding === "pkcs8-pem") pem = content.private.pem;
  else {
    if (passphrase === undefined)
      throw new CatalogError(
        `${origin} is encrypted: set its passphrase in the environment variable ARCHY_CATALOG_PASSPHRASE`,
      );
    const opened = openSealedSecret(content.private, passphrase);
    if (opened === undefined)
      throw new CatalogError(
        `${origin}: wrong passphrase (or a damaged file): check ARCHY_CATALOG_PASSPHRASE`,
      );
    pem = opened;
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new CatalogError(`${origin}: the private key cannot be read: the file is damaged`);
  }
  const derived = createPublicKey(privateKey).export({ format: "der", type: "spki" }).subarray(-32);
  if (derived.toString("hex") !== content.public)
    throw new CatalogError(`${origin}: the private key does not match the public key in the file`);
  return { key: publicKey(content.public), privateKey };
}

/** The public half of a key file (what a third-party publisher hands over for a delegation). */
export function parseKeyFile(text: string, origin: string): KeyFileContent {
  let content: Partial<KeyFileContent>;
  try {
    content = JSON.parse(text) as Partial<KeyFileContent>;
  } catch {
    throw new CatalogError(`${origin} is not a catalog key file (not JSON)`);
  }
  if (content?.format !== KEY_FILE_FORMAT || typeof content.public !== "string" || !content.private)
    throw new CatalogError(
      `${origin} is not a catalog key file (format ${KEY_FILE_FORMAT}): create keys with archy catalog init or delegate`,
    );
  if (!/^[0-9a-f]{64}$/.test(content.public) || content.keyid !== keyId(content.public))
    throw new CatalogError(`${origin}: its key id does not match its public key: the file was altered`);
  return content as KeyFileContent;
}

/** Signs TUF metadata bytes (the canonical JSON of `signed`) with one key. */
export function signer(signing: SigningKey): (data: Buffer) => Signature {
  return (data) =>
    new Signature({ keyID: signing.key.keyID, sig: sign(null, data, signing.privateKey).toString("hex") });
}
