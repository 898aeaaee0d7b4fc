/**
 * What the marketplace offers, from the verified events a node keeps. Pure.
 *
 * - An app is its author's key plus its id (`32267:<pubkey>:<id>`): the same id under another key
 *   is another app, offered beside it, never in its place.
 * - Its offered release is the highest version its author signed that is not deleted and whose
 *   asset (the bundle's hashes) is signed by the same author — never the newest event: an older
 *   version published again later is not a way back (a rollback).
 * - A release its author deleted (NIP-09) is not offered; for an installed one it is a flag.
 */
import { compareAppVersions } from "../manifest/app-version.ts";
import type { AppRecord, AssetRecord, DeletionRecord, ReleaseRecord } from "./events.ts";
import { npub } from "./identity.ts";

export type Offer = {
  app: AppRecord;
  release: ReleaseRecord;
  asset: AssetRecord;
  /** `nostr:<npub>`: where the app comes from (its author), as installed apps record it. */
  source: string;
};

export const sourceOf = (pubkey: string) => `nostr:${npub(pubkey)}`;

/** Whether a deletion by the release's author covers it (by event id, or by address up to its time). */
export function isDeleted(release: ReleaseRecord, deletions: readonly DeletionRecord[]): boolean {
  return deletions.some(
    (d) =>
      d.pubkey === release.pubkey &&
      (d.ids.includes(release.event.id) ||
        (d.addresses.includes(release.address) && d.event.created_at >= release.event.created_at)),
  );
}

export type Records = {
  apps: readonly AppRecord[];
  releases: readonly ReleaseRecord[];
  assets: readonly AssetRecord[];
  deletions: readonly DeletionRecord[];
};

/** The releases of one app (by its author), each with its asset, highest version first. */
export function releasesOf(app: Pick<AppRecord, "pubkey" | "id">, records: Omit<Records, "apps">) {
  const assets = new Map(records.assets.map((a) => [a.event.id, a]));
  return records.releases
    .filter((r) => r.pubkey === app.pubkey && r.appId === app.id)
    .map((release) => {
      const asset = assets.get(release.assetId);
      const usable =
        asset &&
        asset.pubkey === release.pubkey &&
        asset.appId === release.appId &&
        asset.version === release.version;
      return { release, asset: usable ? asset : undefined, deleted: isDeleted(release, records.deletions) };
    })
    .sort((a, b) => compareAppVersions(b.release.version, a.release.version));
}

/** Every app with an installable release, and why the others are not offered. */
export function offersOf(records: Records): {
  offers: Offer[];
  unoffered: Array<{ address: string; reason: string }>;
} {
  const offers: Offer[] = [];
  const unoffered: Array<{ address: string; reason: string }> = [];
  for (const app of records.apps) {
    const releases = releasesOf(app, records);
    const chosen = releases.find((r) => r.asset && !r.deleted);
    if (!chosen?.asset) {
      unoffered.push({
        address: app.address,
        reason:
          releases.length === 0
            ? "no release of it was found"
            : "none of its releases can be installed (deleted, or without a bundle signed by its author)",
      });
      continue;
    }
    offers.push({ app, release: chosen.release, asset: chosen.asset, source: sourceOf(app.pubkey) });
  }
  return { offers, unoffered };
}
