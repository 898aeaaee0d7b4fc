/**
 * Developer identities: Nostr key pairs (secp256k1, BIP-340 Schnorr, NIP-01), shown as `npub`
 * (NIP-19) and as a `did:key` (docs/marketplace.md says why that method), and the key file that
 * keeps the secret key (plain hex, or sealed with a passphrase: system/sealed-secret.ts). Pure:
 * key-file.ts reads and writes the file. Keys and signatures come from nostr-tools (noble), in
 * signing.ts (the developer's side).
 */
import { base58, bech32 } from "@scure/base";
import type { SealedSecret } from "../system/sealed-secret.ts";

export const KEY_FILE_FORMAT = "archipelago-nostr-key/1";
export const PASSPHRASE_VARIABLE = "ARCHY_DEV_PASSPHRASE";

/** A public key as Nostr writes it in events: 64 lowercase hex digits (x-only, BIP-340). */
export const HEX_KEY = /^[0-9a-f]{64}$/;

/**
 * NIP-19's bech32 with nostr-tools' length limit (bech32's own 90 is too short for its other
 * types): an npub is bech32 of the 32 key bytes, made here with @scure/base, which nostr-tools uses,
 * so that showing a key does not load nostr-tools' secp256k1.
 */
const BECH32_LIMIT = 5000;

/** A marketplace operation refused; the message names the input and the fix. */
export class MarketError extends Error {
  override name = "MarketError";
}

export type KeyFileContent = {
  format: typeof KEY_FILE_FORMAT;
  pubkey: string;
  npub: string;
  did: string;
  /** The NIP-05 handle the developer claims (name@domain), shown to nodes once verified. */
  nip05?: string;
  private: { encoding: "hex"; hex: string } | SealedSecret;
};

/** A key ready to sign events. Never serialised. */
/** A developer's key, open; `nip05` is the handle its file claims (published with each app). */
export type DevKey = { pubkey: string; secret: Uint8Array; nip05?: string };

/**
 * The `did:key` of a Nostr public key: the secp256k1 multicodec (0xe7, varint `e7 01`) before the
 * compressed point, multibase base58btc (`z`). A BIP-340 x-only key stands for the point with an
 * even y, so the compressed form is `02 || x`: the mapping is exact both ways.
 */
export function didKey(pubkey: string): string {
  const bytes = new Uint8Array(35);
  bytes.set([0xe7, 0x01, 0x02]);
  bytes.set(Buffer.from(pubkey, "hex"), 3);
  return `did:key:z${base58.encode(bytes)}`;
}

/** A public key from hex, an npub or a secp256k1 did:key; undefined when it is none of these. */
export function parsePublicKey(text: string): string | undefined {
  const value = text.trim();
  if (HEX_KEY.test(value)) return value;
  if (value.startsWith("npub1")) {
    try {
      const { prefix, words } = bech32.decode(value as `${string}1${string}`, BECH32_LIMIT);
      const bytes = bech32.fromWords(words);
      return prefix === "npub" && bytes.length === 32 ? Buffer.from(bytes).toString("hex") : undefined;
    } catch {
      return undefined;
    }
  }
  if (value.startsWith("did:key:z")) {
    try {
      const bytes = base58.decode(value.slice("did:key:z".length));
      if (bytes.length !== 35 || bytes[0] !== 0xe7 || bytes[1] !== 0x01 || bytes[2] !== 0x02)
        return undefined;
      return Buffer.from(bytes.subarray(3)).toString("hex");
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export function npub(pubkey: string): string {
  return bech32.encode("npub", bech32.toWords(Buffer.from(pubkey, "hex")), BECH32_LIMIT);
}

/** A NIP-05 handle: `name@domain` (the name `_` stands for the domain itself). */
export const NIP05 = /^[a-z0-9._-]{1,64}@[a-z0-9.-]{1,253}\.[a-z]{2,63}$/;

/** The public part of a key file (`archy dev whoami`), checked against itself. */
export function parseKeyFile(text: string, origin: string): KeyFileContent {
  let content: Partial<KeyFileContent>;
  try {
    content = JSON.parse(text) as Partial<KeyFileContent>;
  } catch {
    throw new MarketError(`${origin} is not a developer key file (not JSON)`);
  }
  if (content?.format !== KEY_FILE_FORMAT || typeof content.pubkey !== "string" || !content.private)
    throw new MarketError(
      `${origin} is not a developer key file (format ${KEY_FILE_FORMAT}): create one with archy dev keygen`,
    );
  if (!HEX_KEY.test(content.pubkey) || content.npub !== npub(content.pubkey))
    throw new MarketError(`${origin}: its npub does not match its public key: the file was altered`);
  return { ...content, did: didKey(content.pubkey) } as KeyFileContent;
}
