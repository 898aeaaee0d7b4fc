/**
 * The catalog sources of a daemon: each serves its last good catalog from the start (kept on disk),
 * refreshes in the background at start and then periodically, or when asked. A failing source keeps
 * serving its last good catalog, and its status says why it fails. Besides the configuration file's
 * sources, the operator adds and removes sources at run time (added-sources.ts keeps them).
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { AppTree } from "../../manifest/app-files.ts";
import type { SourceListing } from "../../sources/local.ts";
import { writeFileAtomic } from "../files.ts";
import { type Conflict, catalogSource, type MergedListing, mergeSources } from "../merge.ts";
import { addedRootFile, forgetAddedRoot, readAddedSources, writeAddedSources } from "./added-sources.ts";
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

/** A source the operator asked to add or remove that cannot be: `field` names what to change. */
export class SourceChangeRefused extends Error {
  readonly field: "name" | "url" | "root";
  constructor(field: "name" | "url" | "root", message: string) {
    super(message);
    this.field = field;
  }
}

export class Catalogs {
  /** The configured sources first, in their order, then the added ones, in the order added. */
  readonly sources: CatalogSource[];
  readonly #options: CatalogsOptions;
  readonly #added = new Set<string>();
  /** Adds and removes one at a time (each reads and writes the list of added sources). */
  #changes: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: CatalogsOptions) {
    this.#options = options;
    this.sources = options.sources.map((config) => this.#source(config));
  }

  #source(config: SourceConfig): CatalogSource {
    return new CatalogSource(config, { stateDir: this.#options.stateDir, clock: this.#options.clock });
  }

  /** Loads the last good catalogs, then refreshes in the background, now and every `refreshMs`. */
  async start(): Promise<void> {
    for (const config of await readAddedSources(this.#options.stateDir)) {
      if (this.sources.some((s) => s.config.name === config.name)) {
        this.#options.log.warn(
          `catalog ${config.name}: the configuration file has a source of that name now; the one added through the API is set aside (remove it there: archy's catalog.sources.remove)`,
        );
        continue;
      }
      this.sources.push(this.#source(config));
      this.#added.add(config.name);
    }
    await Promise.all(this.sources.map((source) => source.load()));
    if (this.sources.length > 0) void this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.#options.refreshMs);
    this.#timer.unref();
  }

  /** Whether the operator added this source (and may remove it); configured ones are the file's. */
  added(name: string): boolean {
    return this.#added.has(name);
  }

  /**
   * Adds a source with the root the operator pinned for it (root.json's text), once a first refresh
   * under that root has verified its catalog: a source that does not verify is refused, and nothing
   * of it is kept.
   */
  add(name: string, url: string, rootText: string): Promise<SourceStatus> {
    return this.#serially(async () => {
      if (this.sources.some((s) => s.config.name === name))
        throw new SourceChangeRefused(
          "name",
          `there is a catalog source ${name} already: choose another name`,
        );
      const stateDir = this.#options.stateDir;
      const source = this.#source({ name, url, root: addedRootFile(stateDir, name) });
      // A source of this name removed earlier left nothing behind, but be sure: trust starts here.
      await rm(join(stateDir, name), { recursive: true, force: true });
      await writeFileAtomic(addedRootFile(stateDir, name), rootText);
      const status = await source.refresh();
      if (status.error) {
        await forgetAddedRoot(stateDir, name);
        await rm(join(stateDir, name), { recursive: true, force: true });
        throw new SourceChangeRefused(
          status.error.kind === "unreachable" ? "url" : "root",
          `catalog ${name} was not added: ${status.error.message}; fix: ${status.error.fix}`,
        );
      }
      this.sources.push(source);
      this.#added.add(name);
      await this.#saveAdded();
      this.#options.log.info(`catalog ${name}: added (${url}), ${status.apps} apps`);
      return status;
    });
  }

  /** Removes a source the operator added; its apps are no longer offered. */
  remove(name: string): Promise<void> {
    return this.#serially(async () => {
      const index = this.sources.findIndex((s) => s.config.name === name);
      const source = this.sources[index];
      if (!source)
        throw new SourceChangeRefused(
          "name",
          `no catalog source ${name}: see catalog.sources (archy sources ls)`,
        );
      if (!this.#added.has(name))
        throw new SourceChangeRefused(
          "name",
          `catalog ${name} comes from the daemon's configuration file: remove it there and restart the daemon`,
        );
      await source.idle();
      this.sources.splice(index, 1);
      this.#added.delete(name);
      await this.#saveAdded();
      await forgetAddedRoot(this.#options.stateDir, name);
      await rm(join(this.#options.stateDir, name), { recursive: true, force: true });
      this.#options.log.info(`catalog ${name}: removed`);
    });
  }

  #saveAdded(): Promise<void> {
    return writeAddedSources(
      this.#options.stateDir,
      this.sources.filter((s) => this.#added.has(s.config.name)).map((s) => s.config),
    );
  }

  #serially<T>(change: () => Promise<T>): Promise<T> {
    const run = this.#changes.then(change, change);
    this.#changes = run.catch(() => {});
    return run;
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
