/**
 * Names two installed apps would share (see render/resources.ts). Under naming scheme 2 only an
 * explicit `container_name` or a legacy name to adopt can be another app's name, and an install or
 * update that would take one is refused. Apps installed under scheme 1 may already share volumes,
 * secrets or containers: they are refused work (not run) until the operator separates them.
 */
import { CURRENT_NAMING } from "../manifest/naming.ts";
import type { Manifest } from "../manifest/schema.ts";
import {
  appResources,
  describeResource,
  platformResources,
  type Resource,
  resourceKey,
  sharedResources,
} from "../render/resources.ts";
import type { ManifestCache } from "./manifest-cache.ts";
import type { AppRow, Store } from "./store.ts";

/** Names an app shares with another installed app (`with`), or with the platform itself (`with: undefined`). */
export type NameClash = { with: string | undefined; resources: Resource[] };

/** One app's names as installed, or as an install would make them. */
export type AppNames = { id: string; resources: Resource[] };

/** The clashes of `app` with each of `others` (itself excluded) and with the platform. Pure. */
export function nameClashes(app: AppNames, others: readonly AppNames[]): NameClash[] {
  const clashes: NameClash[] = [];
  const platform = platformResources(app.resources);
  if (platform.length > 0) clashes.push({ with: undefined, resources: platform });
  for (const other of others) {
    if (other.id === app.id) continue;
    const shared = sharedResources(app.resources, other.resources);
    if (shared.length > 0) clashes.push({ with: other.id, resources: shared });
  }
  return clashes;
}

/** The clashes in words: `its Podman volume archy-a-b is also app a's`. */
export function describeClashes(clashes: readonly NameClash[]): string {
  return clashes
    .map(
      (c) =>
        `${c.resources.map(describeResource).join(", ")} ${c.resources.length === 1 ? "is" : "are"} ${
          c.with === undefined ? "the platform's own" : `also app ${c.with}'s`
        }`,
    )
    .join("; ");
}

/** An installed app (named under scheme 1) shares names with another: it is not run. Terminal. */
export class NameClashError extends Error {
  override name = "NameClashError";
  constructor(appId: string, clashes: readonly NameClash[]) {
    const others = clashes.flatMap((c) => (c.with === undefined ? [] : [c.with]));
    super(
      `${appId} has names another app has too (the naming of earlier versions let them clash): ${describeClashes(clashes)}. ` +
        "What such a name holds is shared (a shared volume is bound to the data directory of the app that made it first), " +
        `so ${appId} is not run. Move the apps to the current naming, which never clashes: uninstall ${[appId, ...others].join(" and ")} ` +
        "and install each again (data, secrets and credentials are kept), then check each app's data",
    );
  }
}

/** Every name in `clashes` (`resourceKey`s): what must never be removed with the app. */
export function clashingNames(clashes: readonly NameClash[]): Set<string> {
  return new Set(clashes.flatMap((c) => c.resources.map((r) => resourceKey(r.kind, r.name))));
}

type AppHead = Pick<AppRow, "id" | "naming" | "manifestHash">;
const cacheKey = (app: AppHead) => `${app.naming}:${app.manifestHash}`;

/** The names of installed apps, from the store (parsed once per manifest and scheme). */
export class InstalledNames {
  readonly #store: Store;
  readonly #manifests: ManifestCache;
  readonly #cache = new Map<string, Resource[]>();

  constructor(store: Store, manifests: ManifestCache) {
    this.#store = store;
    this.#manifests = manifests;
  }

  /** The names of an installed app (none while its stored manifest does not parse). */
  of(app: AppHead | AppRow): AppNames {
    const cached = this.#cache.get(cacheKey(app));
    if (cached) return { id: app.id, resources: cached };
    // Only a manifest not seen yet needs its text: passes over many apps read ids and hashes.
    const row = "manifestText" in app ? app : this.#store.getApp(app.id);
    if (!row) return { id: app.id, resources: [] };
    const { manifest } = this.#manifests.of(row);
    const resources = manifest ? appResources(manifest, row.naming) : [];
    this.#cache.set(cacheKey(row), resources);
    return { id: app.id, resources };
  }

  /** The clashes of an installed app with the other installed apps. */
  clashesOf(app: AppRow): NameClash[] {
    return nameClashes(this.of(app), this.#others(app.id));
  }

  /** The clashes `manifest` would have installed as `app` (its scheme), or as a new app (the current one). */
  clashesIfInstalled(manifest: Manifest, app: AppRow | undefined): NameClash[] {
    const resources = appResources(manifest, app?.naming ?? CURRENT_NAMING);
    return nameClashes({ id: manifest.id, resources }, this.#others(manifest.id));
  }

  /** The other installed apps' names; the cache keeps only the manifests installed now. */
  #others(appId: string): AppNames[] {
    const apps = this.#store.listAppHeads();
    const names = apps.map((app) => this.of(app));
    const current = new Set(apps.map(cacheKey));
    for (const key of this.#cache.keys()) if (!current.has(key)) this.#cache.delete(key);
    return names.filter((n) => n.id !== appId);
  }
}
