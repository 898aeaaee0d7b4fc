/**
 * Where backups keep things on the node, and what a snapshot holds: pure. A snapshot of app `id`
 * holds the app's volume directories, its generated secrets and a small directory of facts (the
 * installed manifest and `app.json`), each at the absolute path it had on the node that made it;
 * `app.json` says which path was what, so a node with another data directory restores it too.
 */
import { join } from "node:path";
import { z } from "zod";
import type { Manifest } from "../manifest/schema.ts";

export type BackupDirs = {
  root: string;
  targets: string;
  cache: string;
  /** The facts of app `id` written before each backup: `meta/<id>/`. */
  meta: (appId: string) => string;
  /** Where a snapshot is restored before its parts are moved into place: `work/<id>/`. */
  work: (appId: string) => string;
  /** A volume's data set aside while a restore moves the snapshot's in: `aside/<id>/<volume>`. */
  aside: (appId: string, volume: string) => string;
};

export function backupDirs(dataRoot: string): BackupDirs {
  const root = join(dataRoot, "backup");
  return {
    root,
    targets: join(root, "targets"),
    cache: join(root, "cache"),
    meta: (appId) => join(root, "meta", appId),
    work: (appId) => join(root, "work", appId),
    aside: (appId, volume) => join(root, "aside", appId, volume),
  };
}

/** The facts a snapshot carries about its app (`app.json`). */
export const AppFacts = z.strictObject({
  appId: z.string(),
  version: z.string(),
  source: z.string(),
  publisher: z.string().optional(),
  /** Each volume backed up, and the absolute path it had. */
  volumes: z.record(z.string(), z.string()),
  /** The directory of the app's generated secrets, when it had any. */
  secrets: z.string().optional(),
  approvals: z.array(z.object({ name: z.string(), content: z.string() })),
  /** The env_files stored with its manifest (manifest/env-file.ts), by path. */
  envFiles: z.record(z.string(), z.object({ text: z.string(), sha256: z.string() })).optional(),
});
export type AppFacts = z.infer<typeof AppFacts>;

/** The names of the app's volumes a backup covers: the manifest's `backup.volumes`, else all. */
export function backedUpVolumes(manifest: Manifest): string[] {
  const all = [
    ...new Set(
      Object.values(manifest.containers).flatMap((c) =>
        c.volumes.flatMap((v) => (v.name !== undefined ? [v.name] : [])),
      ),
    ),
  ].sort();
  return manifest.backup.volumes ? all.filter((name) => manifest.backup.volumes?.includes(name)) : all;
}

/** Tags of an app's snapshots: the app, and for the copy a restore takes first, `pre-restore`. */
export const appTag = (appId: string) => `app:${appId}`;
export const PRE_RESTORE_TAG = "pre-restore";

/** The snapshot a restore uses: the one asked for (a full id or a prefix of 8+), else the newest not taken by a restore. */
export function chooseSnapshot<T extends { id: string; time: string; tags?: string[] | null | undefined }>(
  snapshots: readonly T[],
  wanted: string | undefined,
): T | { error: string } {
  if (wanted !== undefined) {
    if (!/^[0-9a-f]{8,64}$/.test(wanted))
      return {
        error: `snapshot: "${wanted}" is not a snapshot id (8 to 64 hex digits, as archy backups shows)`,
      };
    const found = snapshots.filter((s) => s.id.startsWith(wanted));
    if (found.length === 1) return found[0] as T;
    return {
      error:
        found.length === 0
          ? `snapshot: no snapshot ${wanted} of this app on the target (archy backups APP lists them)`
          : `snapshot: ${wanted} matches ${found.length} snapshots; give more digits`,
    };
  }
  const usable = snapshots.filter((s) => !s.tags?.includes(PRE_RESTORE_TAG));
  const newest = [...usable].sort((a, b) => Date.parse(b.time) - Date.parse(a.time))[0];
  return newest ?? { error: "no backup of this app on the target yet: back it up first (archy backup APP)" };
}

/** Where a path of a snapshot lands once restored under `target`. */
export const restoredPath = (target: string, original: string) => join(target, original);

/** The facts directory among a snapshot's paths. */
export function metaPathOf(paths: readonly string[], appId: string): string | undefined {
  return paths.find((path) => path.endsWith(`/backup/meta/${appId}`));
}
