/**
 * Local app sources: a directory of app directories (`--apps-dir`), each with a `manifest.yml`.
 * Every manifest is validated on load; invalid ones are reported, never offered for install. Each
 * app is read within a time limit, so one bad app directory (a slow or hung file system) never
 * keeps the others from being offered.
 */
import type { Dirent } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { ManifestIssue } from "../manifest/issues.ts";
import { fileIssue, loadManifest, MANIFEST_FILE_NAMES } from "../manifest/load.ts";
import type { Manifest } from "../manifest/schema.ts";
import { fileProblem } from "../system/fs-errors.ts";

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

/** How long reading one app directory may take (its files are bounded: see APP_TREE_LIMITS). */
export const APP_READ_LIMIT_MS = 10_000;

export type LoadAppsOptions = {
  timeLimitMs?: number;
  /** Reads one app (default `loadManifest`); fault injection in tests. */
  load?: typeof loadManifest;
};

export async function loadAppsDir(dir: string, options: LoadAppsOptions = {}): Promise<SourceListing> {
  const limit = options.timeLimitMs ?? APP_READ_LIMIT_MS;
  const load = options.load ?? loadManifest;
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { apps: [], rejected: [] };
    const issue = fileIssue(
      dir,
      `cannot read the apps directory: ${fileProblem(error, dir)}`,
      "make it readable by the daemon's user, or point --apps-dir at another directory",
    );
    return { apps: [], rejected: [{ dir, issues: [issue] }] };
  }
  const apps: SourcedApp[] = [];
  const rejected: RejectedApp[] = [];
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const appDir = join(dir, entry.name);
    const names = await readdir(appDir).catch(() => [] as string[]);
    if (!names.some((name) => MANIFEST_FILE_NAMES.includes(name))) continue;
    const stop = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), limit);
    });
    const loaded = await Promise.race([load(appDir, dir, { signal: stop.signal }), late]).finally(() =>
      clearTimeout(timer),
    );
    if (loaded === "late") {
      stop.abort(); // what it still reads stops at its next file
      rejected.push({
        dir: appDir,
        issues: [
          fileIssue(
            appDir,
            `reading the app directory took longer than ${limit / 1000} s: it was left out so the other apps are offered`,
            "check the directory (a hung network file system, files that cannot be read); it is read again at the next listing",
          ),
        ],
      });
      continue;
    }
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

/** How long a listing of the apps directory is reused: a busy web UI asks for it often. */
const LISTING_MAX_AGE_MS = 3_000;
/** File systems with coarse timestamps (1–2 s) may stamp a change made during a read as before it. */
const MTIME_SLACK_MS = 2_000;

/**
 * The apps directory as the daemon offers it. A listing may be a few seconds old; what an install
 * or update acts on is never older than its manifest: `current(id)` reads the directory again
 * unless the app was in the last read and its manifest has not changed since that read began (one
 * `stat`, where a read of 200 apps takes 100–400 ms). A manifest dropped in or edited a moment ago
 * is what the next install gets.
 */
export class AppsDirListing {
  readonly #dir: string;
  readonly #clock: () => number;
  readonly #onRead: (listing: SourceListing) => void;
  readonly #mtimeSlackMs: number;
  #last: { at: number; startedAt: number; listing: SourceListing } | undefined;

  constructor(
    dir: string,
    options: {
      clock?: () => number;
      onRead?: (listing: SourceListing) => void;
      /** How much earlier than a read's start a manifest must have changed to count as read by it. */
      mtimeSlackMs?: number;
    } = {},
  ) {
    this.#dir = dir;
    this.#clock = options.clock ?? Date.now;
    this.#onRead = options.onRead ?? (() => {});
    this.#mtimeSlackMs = options.mtimeSlackMs ?? MTIME_SLACK_MS;
  }

  /** The listing, read again when the last read is older than a few seconds. */
  async list(): Promise<SourceListing> {
    const last = this.#last;
    if (last && this.#clock() - last.at < LISTING_MAX_AGE_MS) return last.listing;
    return this.#read();
  }

  /** The listing, with app `id` as its manifest is now. */
  async current(id: string): Promise<SourceListing> {
    const last = this.#last;
    const app = last?.listing.apps.find((a) => a.id === id);
    if (last && app && (await unchangedSince(app.dir, last.startedAt - this.#mtimeSlackMs)))
      return last.listing;
    return this.#read();
  }

  async #read(): Promise<SourceListing> {
    const startedAt = Date.now();
    const listing = await loadAppsDir(this.#dir);
    this.#onRead(listing);
    this.#last = { at: this.#clock(), startedAt, listing };
    return listing;
  }
}

/** Whether the app directory's manifest exists and was last changed before `time` (wall clock ms). */
async function unchangedSince(appDir: string, time: number): Promise<boolean> {
  for (const name of MANIFEST_FILE_NAMES) {
    const info = await stat(join(appDir, name)).catch(() => undefined);
    if (info) return info.mtimeMs < time && info.ctimeMs < time;
  }
  return false;
}
