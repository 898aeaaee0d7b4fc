/**
 * The developer's side of Nostr: key pairs made and opened, the events of a publication signed
 * (BIP-340 Schnorr over secp256k1, by nostr-tools). Only the CLI's developer commands import this
 * module; a node only verifies, and loads the verifier on first use (events.ts' `eventChecker`).
 */
import { type EventTemplate, finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure";
import { openSealedSecret, sealSecret } from "../system/sealed-secret.ts";
import {
  type AppMetadata,
  appAddress,
  BUNDLE_MIME,
  type BundleDigest,
  KINDS,
  PLATFORM,
  type Publication,
  releaseAddress,
} from "./events.ts";
import {
  type DevKey,
  didKey,
  HEX_KEY,
  KEY_FILE_FORMAT,
  type KeyFileContent,
  MarketError,
  npub,
  PASSPHRASE_VARIABLE,
  parseKeyFile,
} from "./identity.ts";

export function generateKeyFile(options: { passphrase?: string; nip05?: string } = {}): KeyFileContent {
  const secret = generateSecretKey();
  const pubkey = getPublicKey(secret);
  const hex = Buffer.from(secret).toString("hex");
  return {
    format: KEY_FILE_FORMAT,
    pubkey,
    npub: npub(pubkey),
    did: didKey(pubkey),
    ...(options.nip05 ? { nip05: options.nip05 } : {}),
    private:
      options.passphrase === undefined ? { encoding: "hex", hex } : sealSecret(hex, options.passphrase),
  };
}

/** The signing key of a key file; a sealed one needs its passphrase. */
export function openKeyFile(text: string, origin: string, passphrase?: string): DevKey {
  const content = parseKeyFile(text, origin);
  let hex: string;
  if (content.private.encoding === "hex") hex = content.private.hex;
  else {
    if (passphrase === undefined)
      throw new MarketError(
        `${origin} is sealed: set its passphrase in the environment variable ${PASSPHRASE_VARIABLE}`,
      );
    const opened = openSealedSecret(content.private, passphrase);
    if (opened === undefined)
      throw new MarketError(`${origin}: wrong passphrase (or a damaged file): check ${PASSPHRASE_VARIABLE}`);
    hex = opened;
  }
  if (!HEX_KEY.test(hex))
    throw new MarketError(`${origin}: the secret key cannot be read: the file is damaged`);
  const secret = Uint8Array.from(Buffer.from(hex, "hex"));
  if (getPublicKey(secret) !== content.pubkey)
    throw new MarketError(`${origin}: the secret key does not match the public key in the file`);
  return { pubkey: content.pubkey, secret, ...(content.nip05 ? { nip05: content.nip05 } : {}) };
}

/**
 * The three events of a release, signed: the asset (the bundle, by hashes and URLs), the release
 * pointing at it by event id (an event id covers every byte of the asset event), and the app
 * pointing at its newest release.
 */
export function buildPublication(
  key: DevKey,
  app: AppMetadata,
  release: { version: string; notes: string; bundle: BundleDigest; urls: string[] },
  now: number,
): Publication {
  const at = Math.floor(now / 1000);
  const sign = (template: EventTemplate) => finalizeEvent(template, key.secret);
  const asset = sign({
    kind: KINDS.asset,
    created_at: at,
    content: `${app.id}@${release.version}`,
    tags: [
      ["i", app.id],
      ["version", release.version],
      ["m", BUNDLE_MIME],
      ["x", release.bundle.sha256],
      ["blake3", release.bundle.blake3],
      ["size", String(release.bundle.size)],
      ...release.urls.map((url) => ["url", url]),
      ["f", PLATFORM],
    ],
  });
  const releaseEvent = sign({
    kind: KINDS.release,
    created_at: at,
    content: release.notes,
    tags: [
      ["d", `${app.id}@${release.version}`],
      ["i", app.id],
      ["version", release.version],
      ["a", appAddress(key.pubkey, app.id)],
      ["e", asset.id],
      ["f", PLATFORM],
    ],
  });
  const appEvent = sign({
    kind: KINDS.app,
    created_at: at,
    content: app.description,
    tags: [
      ["d", app.id],
      ["name", app.name],
      ["t", app.category],
      ...(app.license ? [["license", app.license]] : []),
      ...(app.website ? [["url", app.website]] : []),
      ...(key.nip05 ? [["nip05", key.nip05]] : []),
      ["a", releaseAddress(key.pubkey, app.id, release.version)],
      ["f", PLATFORM],
    ],
  });
  return { app: appEvent, release: releaseEvent, asset };
}
