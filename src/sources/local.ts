/**
 * Local app sources: a directory of app directories (`--apps-dir`), each with a `manifest.yml`.
 * Every manifest is validated on load; invalid ones are reported, never offered for install.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { ManifestIssue } from "../manifest/issues.ts";
import { loadManifest, MANIFEST_FILE_NAMES } from "../manifest/load.ts";
import type { Manifest } from "../manifest/schema.ts";

export type SourcedApp = {
  id: string;
  text: string;
  manifest: Manifest;
  source: string;
  /** Who signed it in its catalog (see catalog/node/read.ts); undefined for a local manifest. */
  publisher?: string;
  dir: string;
  /** Set on a catalog app when a local manifest of the same id was set aside for it (its source). */
  localOverride?: string;
};
export type RejectedApp = { dir: string; issues: ManifestIssue[] };
export type SourceListing = { apps: SourcedApp[]; rejected: RejectedApp[] };

export async function loadAppsDir(dir: string): Promise<SourceListing> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    throw error;
  });
  const apps: SourcedApp[] = [];
  const rejected: RejectedApp[] = [];
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const appDir = join(dir, entry.name);
    const names = await readdir(appDir).catch(() => [] as string[]);
    if (!names.some((name) => MANIFEST_FILE_NAMES.includes(name))) continue;
    const loaded = await loadManifest(appDir, dir);
    if (!loaded.ok) {
      rejected.push({ dir: appDir, issues: loaded.issues });
      continue;
    }
    apps.push({
      id: loaded.manifest.id,
      text: loaded.text,
      manifest: loaded.manifest,
      source: `local:${loaded.dir}`,
      dir: loaded.dir,
    });
  }
  return { apps, rejected };
}
