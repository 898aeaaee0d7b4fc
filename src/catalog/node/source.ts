/**
 * One catalog source of a node: a URL (http, https, or a local directory) and the root pinned for it.
 * A refresh runs the TUF client workflow (tuf-js's Updater: root rotation, timestamp, snapshot,
 * targets, delegations; byte caps on every file), then reads the apps; when the fresh timestamp
 * names the snapshot the catalog in use was read under, it stops after the timestamp. Only a refresh that completes
 * replaces the catalog the node uses; any failure keeps the last good one and records why.
 *
 * State, under `<stateDir>/<name>/`: `metadata/` (the TUF client's trusted metadata, starting from
 * the pinned root), `apps/<id>/<version>/` (verified app files, checked again at every use:
 * verify-files.ts), `last-good.json` (the last complete catalog with the metadata that verified it,
 * so a restarted node serves it before its first refresh: last-good.ts) and `pinned-root.sha256` (a
 * new pinned root in the configuration restarts trust from it).
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rm } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { writeFileAtomic } from "../files.ts";
import { METADATA_DIR, TARGETS_DIR } from "../layout.ts";
import { explainFailure, type RefreshFailure, savedCatalogFailure } from "./failure.ts";
import { CatalogFetcher, type Transfer } from "./fetcher.ts";
import { type CatalogListing, loadLastGood, saveLastGood } from "./last-good.ts";
import { MAX_DELEGATIONS } from "./lookup.ts";
import {
  type FailedRole,
  readApps,
  refreshFromTimestamp,
  refreshToTimestamp,
  type TimestampView,
} from "./read.ts";
import { tufJs } from "./tuf.ts";

export type SourceConfig = {
  /** A short name: the source of its apps is `catalog:<name>`. */
  name: string;
  /** http(s) URL or local directory of the published catalog (the directory holding metadata/ and targets/). */
  url: string;
  /** The root.json to trust first (obtained from the publisher out of band). */
  root: string;
};

/** Byte caps per metadata file (targets are capped at their signed length). */
export const LIMITS = {
  rootMaxLength: 512 * 1024,
  timestampMaxLength: 16 * 1024,
  snapshotMaxLength: 4 * 1024 * 1024,
  targetsMaxLength: 16 * 1024 * 1024,
  maxRootRotations: 32,
  maxDelegations: MAX_DELEGATIONS,
};

export type { CatalogListing };

export type SourceStatus = {
  name: string;
  url: string;
  /**
   * `ok`: the last refresh completed; `partial`: it completed without the namespaces in
   * `failedRoles`, whose apps are hidden; `failing`: it did not (the last good catalog is served).
   */
  state: "ok" | "partial" | "failing" | "never-refreshed";
  lastAttemptAt: number | null;
  lastSuccessAt: number | null;
  apps: number;
  error: RefreshFailure | null;
  /** The delegated roles of the catalog served that failed, each with why. */
  failedRoles: FailedRole[];
  /** What the last refresh downloaded. */
  transferred: { requests: number; bytes: number; files: Transfer[] };
};

export class CatalogSource {
  readonly config: SourceConfig;
  readonly #dir: string;
  readonly #clock: () => number;
  readonly #timeoutMs: number;
  #listing: CatalogListing | undefined;
  /**
   * The root and snapshot the listing was read under, and when the first metadata it rests on
   * expires. A refresh whose fresh timestamp names the same snapshot, under the same root, before
   * then, has nothing new to read and stops there: the snapshot names the version of every targets
   * role, and those sign every app file by length and hashes.
   */
  #readUnder: { rootVersion: number; snapshot: TimestampView["snapshot"]; expires: number } | undefined;
  /** Apps whose copy on disk was found changed: the next refresh reads them again from the catalog. */
  readonly #distrusted = new Set<string>();
  #status: SourceStatus;
  #running: Promise<SourceStatus> | undefined;

  constructor(config: SourceConfig, options: { stateDir: string; clock?: () => number; timeoutMs?: number }) {
    this.config = config;
    this.#dir = join(options.stateDir, config.name);
    this.#clock = options.clock ?? Date.now;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#status = {
      name: config.name,
      url: config.url,
      state: "never-refreshed",
      lastAttemptAt: null,
      lastSuccessAt: null,
      apps: 0,
      error: null,
      failedRoles: [],
      transferred: { requests: 0, bytes: 0, files: [] },
    };
  }

  /** The catalog in use: the last one that refreshed completely (undefined before the first). */
  get listing(): CatalogListing | undefined {
    return this.#listing;
  }

  get status(): SourceStatus {
    return this.#status;
  }

  /**
   * Serves the last good catalog kept on disk, if any and if it verifies against the signed
   * metadata saved with it (before the first refresh of this process). One that does not is not
   * served: the status says why, and the next refresh (at once, in the daemon) downloads it again.
   */
  async load(): Promise<void> {
    const loaded = await loadLastGood(this.#dir, this.#metadataDir, this.#cacheDir);
    if (loaded.kind === "none") return;
    if (loaded.kind === "refused") {
      this.#status = {
        ...this.#status,
        state: "failing",
        error: savedCatalogFailure(loaded.file, loaded.problem),
      };
      return;
    }
    this.#listing = loaded.listing;
    this.#status = {
      ...this.#status,
      lastSuccessAt: loaded.listing.refreshedAt,
      apps: loaded.listing.apps.length,
      failedRoles: loaded.listing.failedRoles,
    };
  }

  get #metadataDir(): string {
    return join(this.#dir, "metadata");
  }

  get #cacheDir(): string {
    return join(this.#dir, "apps");
  }

  /**
   * The node's copy of this app's files changed on disk (found at a use): the next refresh reads the
   * catalog again, fetches its files anew and removes what is not signed.
   */
  distrust(appId: string): void {
    this.#distrusted.add(appId);
    this.#readUnder = undefined;
  }

  /** Resolves once no refresh is in flight. */
  async idle(): Promise<void> {
    await this.#running;
  }

  /** Refreshes once (concurrent calls share the refresh in flight). */
  refresh(): Promise<SourceStatus> {
    this.#running ??= this.#refresh().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #refresh(): Promise<SourceStatus> {
    const fetcher = new CatalogFetcher({ timeoutMs: this.#timeoutMs });
    const startedAt = this.#clock();
    let stage: "metadata" | "targets" = "metadata";
    try {
      const metadataDir = await this.#trustedMetadataDir();
      const base = baseUrl(this.config.url);
      const { Updater } = await tufJs();
      const updater = new Updater({
        metadataDir,
        metadataBaseUrl: new URL(`${METADATA_DIR}/`, base).href,
        targetBaseUrl: new URL(`${TARGETS_DIR}/`, base).href,
        targetDir: this.#cacheDir,
        fetcher,
        config: { ...LIMITS, fetchTimeout: this.#timeoutMs },
      });
      const timestamp = await refreshToTimestamp(updater);
      if (this.#listing && this.#unchanged(timestamp, startedAt)) {
        this.#status = {
          ...this.#status,
          state: this.#listing.failedRoles.length > 0 ? "partial" : "ok",
          lastAttemptAt: startedAt,
          lastSuccessAt: startedAt,
          error: null,
          transferred: summarize(fetcher.transfers),
        };
        return this.#status;
      }
      const snapshot = await refreshFromTimestamp(updater);
      stage = "targets";
      const distrusted = new Set(this.#distrusted);
      const { apps, rejected, roles, failed, expires } = await readApps(
        updater,
        this.#cacheDir,
        this.#listing?.apps.filter((app) => !distrusted.has(app.id)),
      );
      const listing: CatalogListing = {
        source: this.config.name,
        refreshedAt: startedAt,
        apps,
        rejected,
        failedRoles: failed,
      };
      await saveLastGood(this.#dir, metadataDir, listing, roles);
      this.#listing = listing;
      // A role that failed may work at the next try (a download cut short): only a complete read
      // is kept as the answer for an unchanged snapshot.
      this.#readUnder =
        failed.length === 0
          ? {
              rootVersion: timestamp.rootVersion,
              snapshot: timestamp.snapshot,
              expires: Math.min(expires, snapshot.expires, timestamp.expires),
            }
          : undefined;
      for (const id of distrusted) this.#distrusted.delete(id);
      this.#status = {
        ...this.#status,
        state: failed.length > 0 ? "partial" : "ok",
        lastAttemptAt: startedAt,
        lastSuccessAt: startedAt,
        apps: apps.length,
        error: null,
        failedRoles: failed,
        transferred: summarize(fetcher.transfers),
      };
    } catch (error) {
      this.#status = {
        ...this.#status,
        state: "failing",
        lastAttemptAt: startedAt,
        error: explainFailure(error, stage),
        transferred: summarize(fetcher.transfers),
      };
    }
    return this.#status;
  }

  /** Whether the listing was read under this root and snapshot, and nothing it rests on has expired. */
  #unchanged(timestamp: TimestampView, now: number): boolean {
    const read = this.#readUnder;
    return (
      read !== undefined &&
      read.rootVersion === timestamp.rootVersion &&
      read.snapshot.equals(timestamp.snapshot) &&
      now < read.expires
    );
  }

  /**
   * The TUF client's metadata directory, holding the root it trusts: the pinned one at first, the
   * rotated ones after. Pinning another root in the configuration starts trust over from it.
   */
  async #trustedMetadataDir(): Promise<string> {
    const dir = this.#metadataDir;
    const pinned = await readFile(this.config.root).catch((error: NodeJS.ErrnoException) => {
      throw new Error(`the pinned root ${this.config.root} cannot be read: ${error.code ?? error.message}`);
    });
    const digest = createHash("sha256").update(pinned).digest("hex");
    const recordFile = join(this.#dir, "pinned-root.sha256");
    const recorded = await readFile(recordFile, "utf8").catch(() => undefined);
    if (recorded?.trim() !== digest) {
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      await writeFileAtomic(join(dir, "root.json"), pinned);
      await writeFileAtomic(recordFile, `${digest}\n`);
    }
    return dir;
  }
}

/** A source URL as the base of its files: http(s) as given, a directory as a file: URL. */
export function baseUrl(url: string): URL {
  if (/^https?:\/\//.test(url)) return new URL(url.endsWith("/") ? url : `${url}/`);
  if (url.startsWith("file:")) return new URL(url.endsWith("/") ? url : `${url}/`);
  const path = isAbsolute(url) ? url : resolve(url);
  return pathToFileURL(path.endsWith("/") ? path : `${path}/`);
}

function summarize(files: Transfer[]): SourceStatus["transferred"] {
  return { requests: files.length, bytes: files.reduce((sum, f) => sum + f.bytes, 0), files };
}
