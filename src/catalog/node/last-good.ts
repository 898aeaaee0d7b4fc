/**
 * A source's last good catalog, kept on disk (`<source dir>/last-good.json`) so that a restarted
 * node serves it before its first refresh. The file is not trusted for being the node's own: it
 * carries the signed metadata that verified it (root, timestamp, snapshot, targets and delegated
 * roles, as published), and at load that metadata is verified again — the root must be the one the
 * node's TUF client trusts (`metadata/root.json`), every other role signed under it as TUF requires —
 * and every app the file lists must be a version those roles sign, its manifest matching the signed
 * length and hashes. What the node then knows of each app (its role, its files' lengths and hashes,
 * its directory) comes from that metadata, never from the file.
 *
 * Expiry is not checked at load: a last good catalog is served until a refresh succeeds, whatever
 * its age (refusing stale metadata is the refresh's job). The metadata is saved with the catalog,
 * rather than read from the TUF client's directory, because a refresh that fails after updating the
 * client's metadata (a tampered app file on the server) leaves the last good catalog in force.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { TrustedMetadataStore } from "tuf-js/dist/store.js";
import { writeFileAtomic } from "../files.ts";
import { MANIFEST_TARGET } from "../layout.ts";
import { signedProblem } from "../targets.ts";
import {
  appOf,
  type CatalogApp,
  type FailedRole,
  type RejectedCatalogApp,
  signedApps,
  trustedRoles,
} from "./read.ts";
import { tufJs } from "./tuf.ts";

export const LAST_GOOD_FILE = "last-good.json";

export type CatalogListing = {
  source: string;
  refreshedAt: number;
  apps: CatalogApp[];
  rejected: RejectedCatalogApp[];
  /** Delegated roles (namespaces) that failed: their apps are left out, the rest is served. */
  failedRoles: FailedRole[];
};

/** The file: the listing's facts that are not in the metadata, and the metadata, as published. */
type Saved = {
  source: string;
  refreshedAt: number;
  apps: Array<{ id: string; version: string; text: string }>;
  rejected: RejectedCatalogApp[];
  /** Why namespaces were hidden (what the operator is told; trust comes from `metadata` alone). */
  failedRoles?: FailedRole[];
  /** Role name → the metadata file's text. */
  metadata: Record<string, string>;
};

/** Where the TUF client keeps a role's metadata (tuf-js names the file after the role). */
const roleFile = (metadataDir: string, role: string) => join(metadataDir, `${encodeURIComponent(role)}.json`);

/**
 * Saves a listing just read from a refreshed TUF client, with the metadata the client verified it
 * with: the top-level roles and the targets roles `roles` (as readApps returns them).
 */
export async function saveLastGood(
  dir: string,
  metadataDir: string,
  listing: CatalogListing,
  roles: readonly string[],
): Promise<void> {
  const metadata: Record<string, string> = {};
  for (const role of ["root", "timestamp", "snapshot", ...roles])
    metadata[role] = await readFile(roleFile(metadataDir, role), "utf8");
  const saved: Saved = {
    source: listing.source,
    refreshedAt: listing.refreshedAt,
    apps: listing.apps.map(({ id, version, text }) => ({ id, version, text })),
    rejected: listing.rejected,
    failedRoles: listing.failedRoles,
    metadata,
  };
  await writeFileAtomic(join(dir, LAST_GOOD_FILE), JSON.stringify(saved));
}

function savedRole(metadata: Record<string, string>, name: string): Buffer {
  const text = metadata[name];
  if (typeof text !== "string") throw new Error(`the ${name} metadata is missing`);
  return Buffer.from(text);
}

/** A trust store over saved metadata, at the epoch: signatures and hashes checked, expiry not. */
async function savedTrust(metadata: Record<string, string>): Promise<TrustedMetadataStore> {
  const role = (name: string) => savedRole(metadata, name);
  const { TrustedMetadataStore } = await tufJs();
  const store = new TrustedMetadataStore(role("root"));
  const inner = store as unknown as { referenceTime: unknown };
  if (!(inner.referenceTime instanceof Date))
    throw new Error(
      "this tuf-js version is not the one the catalog reader was written for (see package.json)",
    );
  inner.referenceTime = new Date(0);
  store.updateTimestamp(role("timestamp"));
  store.updateSnapshot(role("snapshot")); // checked against the timestamp's length and hashes
  store.updateDelegatedTargets(role("targets"), "targets", "root");
  return store;
}

export type LoadedLastGood =
  | { kind: "none" }
  | { kind: "ok"; listing: CatalogListing }
  | { kind: "refused"; file: string; problem: string };

/**
 * The last good catalog of the source whose state is in `dir`, verified (see the module comment);
 * its apps' files are in `cacheDir/<id>/<version>/`.
 */
export async function loadLastGood(
  dir: string,
  metadataDir: string,
  cacheDir: string,
): Promise<LoadedLastGood> {
  const file = join(dir, LAST_GOOD_FILE);
  const text = await readFile(file, "utf8").catch(() => undefined);
  if (text === undefined) return { kind: "none" };
  const refused = (problem: string): LoadedLastGood => ({ kind: "refused", file, problem });
  try {
    const saved = JSON.parse(text) as Saved;
    const trustedRoot = await readFile(roleFile(metadataDir, "root"), "utf8").catch(() => undefined);
    if (saved.metadata?.root !== trustedRoot) return refused("its root is not the one the node trusts now");
    const trust = await savedTrust(saved.metadata);
    const top = trust.targets;
    if (!top) return refused("it has no targets metadata");
    // A namespace hidden at the refresh has no metadata saved: it fails here again, and stays hidden.
    const catalog = await trustedRoles({
      top,
      load: async (role, delegator) => {
        trust.updateDelegatedTargets(savedRole(saved.metadata, role), role, delegator);
        return trust.getRole(role);
      },
    });
    const signed = signedApps(catalog);
    const apps: CatalogApp[] = [];
    for (const { id, version, text: manifest } of saved.apps) {
      const app = signed.get(id);
      if (!app || app.version !== version)
        return refused(`it lists ${id} ${version}, which its metadata does not sign`);
      const target = app.files.get(MANIFEST_TARGET);
      const problem = target ? signedProblem(target, Buffer.from(manifest, "utf8")) : "it is not signed";
      if (problem) return refused(`the manifest of ${id} ${version}: ${problem}`);
      const offered = appOf(app, manifest, join(cacheDir, id, version));
      if ("reason" in offered) return refused(`${id} ${version}: ${offered.reason}`);
      apps.push(offered);
    }
    return {
      kind: "ok",
      listing: {
        source: saved.source,
        refreshedAt: saved.refreshedAt,
        apps,
        rejected: saved.rejected ?? [],
        failedRoles: saved.failedRoles ?? [],
      },
    };
  } catch (error) {
    return refused((error as Error).message);
  }
}
