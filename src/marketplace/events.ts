/**
 * The marketplace's Nostr events: building them (developer side), and turning what relays send into
 * typed, verified records (node side). Pure. Events are hashed and signed by nostr-tools (BIP-340
 * Schnorr over secp256k1); nothing here hashes or signs by hand.
 *
 * Kinds (docs/marketplace.md says why): zapstore's, so other Nostr clients can read them —
 *   32267 app (addressable, `d` = the app id), 30063 release (addressable, `d` = `<id>@<version>`,
 *   pointing at its asset by event id), 3063 asset (the bundle: URLs, length, SHA-256 `x`, BLAKE3);
 * and for trust: 3 follows (NIP-02), 10000 mutes (NIP-51), 1984 reports (NIP-56), 1985 labels
 * (NIP-32), 5 deletions (NIP-09), 30382 trusted assertions (NIP-85).
 */

import type { Event, VerifiedEvent } from "nostr-tools/pure";
import { z } from "zod";
import { isAppVersion } from "../manifest/app-version.ts";
import { APP_ID } from "../manifest/schema.ts";
import { NIP05 } from "./identity.ts";

export const KINDS = {
  app: 32267,
  release: 30063,
  asset: 3063,
  contacts: 3,
  mutes: 10000,
  report: 1984,
  label: 1985,
  deletion: 5,
  assertion: 30382,
} as const;

/** The platform tag (`f`) of Archipelago apps, releases and assets: what nodes ask relays for. */
export const PLATFORM = "archipelago";
/** The media type of a bundle (asset `m`). */
export const BUNDLE_MIME = "application/vnd.archipelago.bundle+tar";
/** The NIP-32 namespace and value of an endorsement. */
export const ENDORSEMENT = { namespace: "archipelago", value: "endorsed" } as const;

/**
 * The largest event a node takes in, by kind (its JSON). Apps, releases and assets are small; a
 * follow or mute list names up to some thousands of keys.
 */
export const MAX_EVENT_BYTES = 16 * 1024;
export const MAX_LIST_EVENT_BYTES = 512 * 1024;
export const maxEventBytes = (kind: number) =>
  kind === KINDS.contacts || kind === KINDS.mutes ? MAX_LIST_EVENT_BYTES : MAX_EVENT_BYTES;

const hex = (length: number) => z.string().regex(new RegExp(`^[0-9a-f]{${length}}$`));

/** NIP-01's event shape; anything else is refused before its signature is checked. */
const RawEvent = z.strictObject({
  id: hex(64),
  pubkey: hex(64),
  created_at: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32),
  kind: z.number().int().min(0).max(65535),
  tags: z.array(z.array(z.string().max(4096)).max(16)).max(20_000),
  content: z.string().max(MAX_LIST_EVENT_BYTES),
  sig: hex(128),
});

export type SignedEvent = Event;

/**
 * Why a value a relay sent is not a valid signed event, or the event (a fresh object). `asked` (a
 * cheap check, before the signature's) refuses what was not asked for.
 */
export type CheckEvent = (
  value: unknown,
  asked?: (event: SignedEvent) => boolean,
) => { event: SignedEvent } | { problem: string };

let verifier: Promise<(event: Event) => event is VerifiedEvent> | undefined;

/**
 * The check of events (CheckEvent), once nostr-tools' verification (BIP-340 Schnorr over
 * secp256k1, with its hashes: ~70 KB of code) is loaded, at the first call: a node that reads no
 * events (no relays, no marketplace app) never loads it (test/daemon/idle-modules.test.ts).
 */
export async function eventChecker(): Promise<CheckEvent> {
  verifier ??= import("nostr-tools/pure").then((pure) => pure.verifyEvent);
  const verifyEvent = await verifier;
  return (value, asked) => {
    const parsed = RawEvent.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return { problem: `not a Nostr event: ${issue?.path.join(".") || "(event)"}: ${issue?.message}` };
    }
    const event = parsed.data as SignedEvent;
    const bytes = Buffer.byteLength(JSON.stringify(event));
    if (bytes > maxEventBytes(event.kind))
      return {
        problem: `kind ${event.kind} event of ${bytes} bytes, over the ${maxEventBytes(event.kind)} a node takes`,
      };
    if (asked && !asked(event))
      return { problem: `event ${event.id.slice(0, 12)}… (kind ${event.kind}) is not what was asked for` };
    // A fresh object (zod copies): nostr-tools caches a verification on the object it checked.
    if (!verifyEvent(event)) return { problem: `event ${event.id.slice(0, 12)}…: bad id or signature` };
    return { event };
  };
}

export const firstTag = (event: Pick<Event, "tags">, name: string): string | undefined =>
  event.tags.find((tag) => tag[0] === name)?.[1];
export const allTags = (event: Pick<Event, "tags">, name: string): string[][] =>
  event.tags.filter((tag) => tag[0] === name && tag[1] !== undefined);

export const appAddress = (pubkey: string, id: string) => `${KINDS.app}:${pubkey}:${id}`;
export const releaseAddress = (pubkey: string, id: string, version: string) =>
  `${KINDS.release}:${pubkey}:${id}@${version}`;

/** NIP-01's order of replaceable events: the newer wins, and at equal times the lower id. */
export function newer(a: Pick<Event, "created_at" | "id">, b: Pick<Event, "created_at" | "id">): boolean {
  return a.created_at !== b.created_at ? a.created_at > b.created_at : a.id < b.id;
}

// ——— developer side: the events of a publication ———

export type AppMetadata = {
  id: string;
  name: string;
  description: string;
  category: string;
  license?: string | undefined;
  website?: string | undefined;
};

export type BundleDigest = { size: number; sha256: string; blake3: string };

export type Publication = { app: SignedEvent; release: SignedEvent; asset: SignedEvent };

// ——— node side: typed records of verified events ———

export type AppRecord = {
  kind: "app";
  event: SignedEvent;
  pubkey: string;
  id: string;
  address: string;
  name: string;
  description: string;
  category: string;
  license: string | undefined;
  /** The NIP-05 handle its publisher claims (name@domain): a claim until a node verified it. */
  nip05: string | undefined;
};

export type ReleaseRecord = {
  kind: "release";
  event: SignedEvent;
  pubkey: string;
  appId: string;
  version: string;
  address: string;
  assetId: string;
  notes: string;
};

export type AssetRecord = {
  kind: "asset";
  event: SignedEvent;
  pubkey: string;
  appId: string;
  version: string;
  bundle: BundleDigest;
  urls: string[];
};

export type DeletionRecord = {
  kind: "deletion";
  event: SignedEvent;
  pubkey: string;
  ids: string[];
  addresses: string[];
};
export type ReportRecord = {
  kind: "report";
  event: SignedEvent;
  pubkey: string;
  /** What is reported: event ids, addresses and public keys, each with the report's type. */
  targets: Array<{ type: "event" | "address" | "pubkey"; value: string; reason: string }>;
};
export type LabelRecord = {
  kind: "label";
  event: SignedEvent;
  pubkey: string;
  endorses: Array<{ type: "event" | "address" | "pubkey"; value: string }>;
};
export type ListRecord = { kind: "contacts" | "mutes"; event: SignedEvent; pubkey: string; keys: string[] };
export type AssertionRecord = {
  kind: "assertion";
  event: SignedEvent;
  pubkey: string;
  subject: string;
  rank: number;
};

export type MarketRecord =
  | AppRecord
  | ReleaseRecord
  | AssetRecord
  | DeletionRecord
  | ReportRecord
  | LabelRecord
  | ListRecord
  | AssertionRecord;

const HEX64 = /^[0-9a-f]{64}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const MAX_URLS = 8;
const MAX_URL_LENGTH = 2048;

function httpUrl(text: string): boolean {
  if (text.length > MAX_URL_LENGTH) return false;
  try {
    const url = new URL(text);
    return (
      (url.protocol === "http:" || url.protocol === "https:") && url.username === "" && url.password === ""
    );
  } catch {
    return false;
  }
}

const validVersion = (version: string | undefined): version is string =>
  version !== undefined && version.length <= 64 && isAppVersion(version);

/** What a verified event means to the marketplace, or why it means nothing (a clear reason). */
export function recordOf(event: SignedEvent): MarketRecord | { problem: string } {
  const pubkey = event.pubkey;
  const problem = (why: string) => ({
    problem: `kind ${event.kind} event ${event.id.slice(0, 12)}…: ${why}`,
  });
  switch (event.kind) {
    case KINDS.app: {
      const id = firstTag(event, "d");
      if (!id || !APP_ID.test(id)) return problem(`its d tag ${JSON.stringify(id)} is not an app id`);
      return {
        kind: "app",
        event,
        pubkey,
        id,
        address: appAddress(pubkey, id),
        name: (firstTag(event, "name") ?? id).slice(0, 100),
        description: event.content.slice(0, 2000),
        category: (firstTag(event, "t") ?? "other").slice(0, 40),
        license: firstTag(event, "license")?.slice(0, 100),
        nip05: ((handle) => (handle && NIP05.test(handle) ? handle : undefined))(
          firstTag(event, "nip05")?.toLowerCase(),
        ),
      };
    }
    case KINDS.release: {
      const appId = firstTag(event, "i");
      const version = firstTag(event, "version");
      const assetId = firstTag(event, "e");
      if (!appId || !APP_ID.test(appId)) return problem("no app id (i tag)");
      if (!validVersion(version))
        return problem(
          `its version ${JSON.stringify(version)} is not an app version (semver, optionally with a packaging revision such as 1.2.3-r2)`,
        );
      if (firstTag(event, "d") !== `${appId}@${version}`)
        return problem(`its d tag is not ${appId}@${version}`);
      if (firstTag(event, "a") !== appAddress(pubkey, appId))
        return problem("its a tag does not point at its author's app");
      if (!assetId || !HEX64.test(assetId)) return problem("no asset (e tag)");
      return {
        kind: "release",
        event,
        pubkey,
        appId,
        version,
        address: releaseAddress(pubkey, appId, version),
        assetId,
        notes: event.content.slice(0, 4000),
      };
    }
    case KINDS.asset: {
      const appId = firstTag(event, "i");
      const version = firstTag(event, "version");
      const sha256 = firstTag(event, "x");
      const blake3 = firstTag(event, "blake3");
      const size = Number(firstTag(event, "size"));
      const urls = allTags(event, "url").map((tag) => tag[1] as string);
      if (!appId || !APP_ID.test(appId) || !validVersion(version)) return problem("no app id or version");
      if (firstTag(event, "m") !== BUNDLE_MIME)
        return problem(`not an Archipelago bundle (m is not ${BUNDLE_MIME})`);
      if (!sha256 || !SHA256.test(sha256) || !blake3 || !SHA256.test(blake3))
        return problem("no SHA-256 (x) or BLAKE3 of its bundle");
      if (!Number.isSafeInteger(size) || size <= 0) return problem("no size of its bundle");
      const usable = urls.filter(httpUrl).slice(0, MAX_URLS);
      if (usable.length === 0) return problem("no http(s) URL of its bundle");
      return { kind: "asset", event, pubkey, appId, version, bundle: { size, sha256, blake3 }, urls: usable };
    }
    case KINDS.deletion:
      return {
        kind: "deletion",
        event,
        pubkey,
        ids: allTags(event, "e")
          .map((t) => t[1] as string)
          .filter((v) => HEX64.test(v)),
        addresses: allTags(event, "a").map((t) => t[1] as string),
      };
    case KINDS.report: {
      const targets: ReportRecord["targets"] = [];
      for (const [name, value, reason] of event.tags) {
        if (value === undefined) continue;
        const type = name === "e" ? "event" : name === "a" ? "address" : name === "p" ? "pubkey" : undefined;
        if (type) targets.push({ type, value, reason: (reason || "other").slice(0, 40) });
      }
      return targets.length > 0 ? { kind: "report", event, pubkey, targets } : problem("reports nothing");
    }
    case KINDS.label: {
      const endorses = event.tags.some(
        (t) => t[0] === "l" && t[1] === ENDORSEMENT.value && t[2] === ENDORSEMENT.namespace,
      );
      if (!endorses) return problem("not an endorsement");
      const targets: LabelRecord["endorses"] = [];
      for (const [name, value] of event.tags) {
        if (value === undefined) continue;
        if (name === "e") targets.push({ type: "event", value });
        if (name === "a") targets.push({ type: "address", value });
        if (name === "p") targets.push({ type: "pubkey", value });
      }
      return { kind: "label", event, pubkey, endorses: targets };
    }
    case KINDS.contacts:
    case KINDS.mutes:
      return {
        kind: event.kind === KINDS.contacts ? "contacts" : "mutes",
        event,
        pubkey,
        keys: [
          ...new Set(
            allTags(event, "p")
              .map((t) => t[1] as string)
              .filter((v) => HEX64.test(v)),
          ),
        ],
      };
    case KINDS.assertion: {
      const subject = firstTag(event, "d");
      const rank = Number(firstTag(event, "rank"));
      if (!subject || !HEX64.test(subject) || !Number.isFinite(rank) || rank < 0 || rank > 100)
        return problem("not a NIP-85 rank of a public key");
      return { kind: "assertion", event, pubkey, subject, rank };
    }
    default:
      return problem("not a kind the marketplace reads");
  }
}
