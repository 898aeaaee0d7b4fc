/**
 * What a node offers for install, from several catalog sources and its local apps directory. Pure.
 *
 * - Each app id is offered once. Sources are in the operator's order of preference: when two
 *   catalogs offer the same id, the first one's is offered and the other is reported as a conflict
 *   (a second catalog cannot take over the apps of the first; namespaced ids keep third-party apps
 *   apart in the first place).
 * - A catalog app wins over a local manifest with the same id; the offered app is flagged
 *   `localOverride` so every listing shows that a local manifest was set aside for it.
 */
import { isAppVersion, isNewerVersion } from "../manifest/app-version.ts";
import type { SourcedApp, SourceListing } from "../sources/local.ts";
import { type Provenance, provenanceChange } from "../sources/provenance.ts";
import type { CatalogApp } from "./node/read.ts";

export type CatalogOffer = { source: string; apps: CatalogApp[] };

export type Conflict = { id: string; source: string; offeredBy: string };

export type MergedListing = SourceListing & { conflicts: Conflict[] };

export function catalogSource(name: string): string {
  return `catalog:${name}`;
}

export function mergeSources(catalogs: CatalogOffer[], local: SourceListing): MergedListing {
  const offered = new Map<string, SourcedApp>();
  const conflicts: Conflict[] = [];
  for (const catalog of catalogs)
    for (const app of catalog.apps) {
      const source = catalogSource(catalog.source);
      const first = offered.get(app.id);
      if (first) {
        conflicts.push({ id: app.id, source, offeredBy: first.source });
        continue;
      }
      offered.set(app.id, {
        id: app.id,
        text: app.text,
        manifest: app.manifest,
        source,
        publisher: app.publisher,
        dir: app.dir,
      });
    }
  for (const app of local.apps) {
    const catalogApp = offered.get(app.id);
    if (catalogApp) offered.set(app.id, { ...catalogApp, localOverride: app.source });
    else offered.set(app.id, app);
  }
  return {
    apps: [...offered.values()].sort((a, b) => a.id.localeCompare(b.id)),
    rejected: local.rejected,
    conflicts,
  };
}

export type OfferedUpdate = {
  id: string;
  installed: string;
  offered: string;
  source: string;
  /** What the update would change of the app's provenance; null: nothing. */
  sourceChange: string | null;
};

/** The installed apps whose offered version is newer: what `package.update` would move them to. */
export function updatesOffered(
  offered: readonly SourcedApp[],
  installed: ReadonlyArray<{ id: string; version: string } & Provenance>,
): OfferedUpdate[] {
  const byId = new Map(offered.map((app) => [app.id, app]));
  return installed.flatMap((app) => {
    const offer = byId.get(app.id);
    return offer && isAppVersion(app.version) && isNewerVersion(offer.manifest.version, app.version)
      ? [
          {
            id: app.id,
            installed: app.version,
            offered: offer.manifest.version,
            source: offer.source,
            sourceChange: provenanceChange(app, offer) ?? null,
          },
        ]
      : [];
  });
}
