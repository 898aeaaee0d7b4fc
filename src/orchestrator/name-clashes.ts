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
} from "../render/resources.ts";
import type { ManifestCache } from "./manifest-cache.ts";
import type { AppRow, Store } from "./store.ts";

/** Names an app shares with another installed app (`with`), or with the platform itself (`with: undefined`). */
export type NameClash = { with: string | undefined; resources: Resource[] };

/** One app's names as installed, or as an install would make them. */
export type AppNames = { id: string; resources: Resource[] };

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
  #indexed: { revision: number; index: NameIndex } | undefined;

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
    return this.#index().clashesOf(this.of(app));
  }

  /** The clashes `manifest` would have installed as `app` (its scheme), or as a new app (the current one). */
  clashesIfInstalled(manifest: Manifest, app: AppRow | undefined): NameClash[] {
    const resources = appResources(manifest, app?.naming ?? CURRENT_NAMING);
    return this.#index().clashesOf({ id: manifest.id, resources });
  }

  /**
   * The installed apps' names, indexed; read again only when the store has moved (its `writeRevision`):
   * a pass asks for every app's clashes, and reading and comparing every other app's names each
   * time made an idle daemon's pass quadratic in its apps. The cache keeps only the manifests
   * installed now.
   */
  #index(): NameIndex {
    if (this.#indexed?.revision === this.#store.writeRevision) return this.#indexed.index;
    const apps = this.#store.listAppHeads();
    const index = new NameIndex(apps.map((app) => this.of(app)));
    const current = new Set(apps.map(cacheKey));
    for (const key of this.#cache.keys()) if (!current.has(key)) this.#cache.delete(key);
    // The revision after reading: a manifest parsed for the first time is kept in the store (a
    // write), and nothing else runs in between (synchronous).
    this.#indexed = { revision: this.#store.writeRevision, index };
    return index;
  }
}

/** Installed apps' names by name: an app's clashes are found from its own names alone. */
export class NameIndex {
  /** resourceKey -> the apps that have the name, in the order the apps were given. */
  readonly #owners = new Map<string, number[]>();
  readonly #apps: readonly AppNames[];

  constructor(apps: readonly AppNames[]) {
    this.#apps = apps;
    apps.forEach((app, position) => {
      for (const r of app.resources) {
        const key = resourceKey(r.kind, r.name);
        const owners = this.#owners.get(key);
        if (owners) owners.push(position);
        else this.#owners.set(key, [position]);
      }
    });
  }

  /**
   * The names `app` shares with each of the apps (itself excluded, in their order) and with the
   * platform, found through the index rather than by comparing `app` with every app.
   */
  clashesOf(app: AppNames): NameClash[] {
    const shared = new Map<number, Resource[]>();
    for (const r of app.resources)
      for (const position of this.#owners.get(resourceKey(r.kind, r.name)) ?? []) {
        if (this.#apps[position]?.id === app.id) continue;
        const resources = shared.get(position);
        if (resources) resources.push(r);
        else shared.set(position, [r]);
      }
    const clashes: NameClash[] = [];
    const platform = platformResources(app.resources);
    if (platform.length > 0) clashes.push({ with: undefined, resources: platform });
    for (const position of [...shared.keys()].sort((a, b) => a - b))
      clashes.push({ with: this.#apps[position]?.id, resources: shared.get(position) ?? [] });
    return clashes;
  }
}
