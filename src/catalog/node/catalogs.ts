/**
 * The catalog sources of a daemon: each serves its last good catalog from the start (kept on disk),
 * refreshes in the background at start and then periodically, or when asked. A failing source keeps
 * serving its last good catalog, and its status says why it fails.
 */
import type { AppTree } from "../../manifest/app-files.ts";
import type { SourceListing } from "../../sources/local.ts";
import { type Conflict, catalogSource, type MergedListing, mergeSources } from "../merge.ts";
import type { RejectedCatalogApp } from "./read.ts";
import { CatalogSource, type SourceConfig, type SourceStatus } from "./source.ts";
import { unsignedCopyProblem } from "./verify-files.ts";

export type CatalogsOptions = {
  sources: SourceConfig[];
  stateDir: string;
  refreshMs: number;
  log: { info: (message: string) => void; warn: (message: string) => void };
  clock?: () => number;
};

export class Catalogs {
  readonly sources: CatalogSource[];
  readonly #options: CatalogsOptions;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: CatalogsOptions) {
    this.#options = options;
    this.sources = options.sources.map(
      (config) => new CatalogSource(config, { stateDir: options.stateDir, clock: options.clock }),
    );
  }

  /** Loads the last good catalogs, then refreshes in the background, now and every `refreshMs`. */
  async start(): Promise<void> {
    await Promise.all(this.sources.map((source) => source.load()));
    if (this.sources.length === 0) return;
    void this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.#options.refreshMs);
    this.#timer.unref();
  }

  /** Stops refreshing; waits for a refresh in flight (bounded by the fetch time limit). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all(this.sources.map((source) => source.idle()));
  }

  /** Refreshes every source (or the one named); resolves with their statuses, never rejects. */
  async refresh(name?: string): Promise<SourceStatus[]> {
    const chosen = this.sources.filter((s) => name === undefined || s.config.name === name);
    return Promise.all(
      chosen.map(async (source) => {
        const status = await source.refresh();
        if (status.error)
          this.#options.log.warn(
            `catalog ${source.config.name}: refresh failed (${status.error.kind}): ${status.error.message}; serving the last good catalog (${status.apps} apps); fix: ${status.error.fix}`,
          );
        else {
          this.#options.log.info(`catalog ${source.config.name}: ${status.apps} apps`);
          for (const failed of status.failedRoles)
            this.#options.log.warn(
              `catalog ${source.config.name}: the apps of namespace ${failed.role} are hidden (${failed.kind}): ${failed.message}; fix: ${failed.fix}`,
            );
        }
        return status;
      }),
    );
  }

  statuses(): SourceStatus[] {
    return this.sources.map((s) => s.status);
  }

  /** Whether a catalog offers this id (to flag installed apps that run from a local manifest instead). */
  offers(id: string): boolean {
    return this.sources.some((s) => s.listing?.apps.some((a) => a.id === id));
  }

  /** Apps a later source offers too (the first source's is offered). */
  conflicts(): Conflict[] {
    return this.merge({ apps: [], rejected: [] }).conflicts;
  }

  /** Signed apps this node cannot use, by source. */
  rejected(): Array<RejectedCatalogApp & { source: string }> {
    return this.sources.flatMap((s) =>
      (s.listing?.rejected ?? []).map((r) => ({ source: s.config.name, ...r })),
    );
  }

  /**
   * The package of an installed catalog app, while its source still offers that version: the
   * node's verified copy of its files, and the check every copy from it passes at the moment of use
   * (verify-files.ts). A copy that fails it is refused, and the source refreshed: the refresh
   * downloads the damaged files again (and removes unsigned ones).
   */
  packageOf(app: {
    id: string;
    source: string;
    version: string;
  }): { dir: string; verifyCopy: (from: string, tree: AppTree) => string | undefined } | undefined {
    const source = this.sources.find((s) => catalogSource(s.config.name) === app.source);
    const offered = source?.listing?.apps.find((a) => a.id === app.id && a.version === app.version);
    if (!source || !offered) return undefined;
    const name = source.config.name;
    return {
      dir: offered.dir,
      verifyCopy: (from, tree) => {
        const problem = unsignedCopyProblem(offered.files, from, tree);
        if (!problem) return undefined;
        this.#options.log.warn(
          `catalog ${name}: the node's copy of ${app.id} ${app.version} changed on disk: ${problem}; downloading the catalog again`,
        );
        source.distrust(app.id);
        void this.refresh(name);
        return `the node's copy of ${app.id} ${app.version} (catalog ${name}) is not what the catalog signed: ${problem}: refused; the catalog is being downloaded again, retry once it is (archy retry ${app.id})`;
      },
    };
  }

  /** The catalogs' apps merged with the local ones, in the configured order of the sources. */
  merge(local: SourceListing): MergedListing {
    return mergeSources(
      this.sources.map((s) => ({ source: s.config.name, apps: s.listing?.apps ?? [] })),
      local,
    );
  }
}
