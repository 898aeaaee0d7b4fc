/**
 * Snapshots of an app's data, for updates: `<dataRoot>/apps/<id>` is copied to
 * `<dataRoot>/snapshots/<id>/<version>-<time>/` — a reflink copy where the filesystem offers one
 * (instant, shares blocks until either side changes), else a plain copy; the note says which.
 *
 * App data belongs to the containers' uids (subordinate ids of the daemon user), so copying,
 * measuring and deleting it happen inside the user namespace (`podman unshare`) when rootless, as
 * for data directories. Every step is safe to repeat after a crash: copies are made under a
 * temporary name and renamed into place, and a restore never touches the snapshot it restores from.
 */
import { mkdir, readdir, rename, stat, statfs } from "node:fs/promises";
import { join } from "node:path";
import { type ExecResult, exec } from "../system/exec.ts";
import type { Note } from "./model.ts";
import { snapshotName } from "./update.ts";

export type CopyMethod = "reflink" | "copy" | "empty";

export type Snapshot = { path: string; method: CopyMethod };

/** What the reconciler needs from snapshots (a fake in tests that must not copy). */
export interface Snapshots {
  /** The disk space the app's data takes (0 when it has none). */
  dataBytes(appId: string): Promise<number>;
  /** Free space where the app's snapshots go, and that place. */
  freeBytes(appId: string): Promise<{ bytes: number; where: string }>;
  /** Copies the app's data (its containers are stopped) to a new snapshot. */
  take(appId: string, version: string, at: number, note: Note): Promise<Snapshot>;
  /** Replaces the app's data by the snapshot's content, exactly. Idempotent. */
  restore(appId: string, snapshotPath: string, note: Note): Promise<void>;
  /** Deletes the app's snapshots other than `keep`; returns what was deleted. */
  prune(appId: string, keep: string | undefined, note: Note): Promise<string[]>;
}

export type Run = (argv: string[], timeoutMs: number) => Promise<ExecResult>;

export type DataSnapshotsOptions = {
  dataRoot: string;
  /** Run copies and deletions inside the user namespace (default: when not root). */
  userNamespace?: boolean;
  /** How long one copy may take (default 6 h: a plain copy of a large data set is slow). */
  copyTimeoutMs?: number;
  /** Runs a program (tests inject failures); the user namespace prefix is added before. */
  run?: (file: string, args: string[], timeoutMs: number) => Promise<ExecResult>;
};

/** Where an app's snapshots are kept. */
export function snapshotsDir(dataRoot: string, appId: string): string {
  return join(dataRoot, "snapshots", appId);
}

/**
 * The working directories of a restore, beside the data (the same filesystem, so renames are
 * atomic); their names are never an app id (ids have no dot).
 */
export function restoreWorkDirs(dataRoot: string, appId: string): { aside: string; restoring: string } {
  return {
    aside: join(dataRoot, "apps", `.${appId}.aside`),
    restoring: join(dataRoot, "apps", `.${appId}.restoring`),
  };
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/**
 * Copies the tree `from` to `to` (which must not exist): a reflink copy, or when the filesystem
 * (or cp) refuses one, a plain `cp -a`. Returns which, and why there was no reflink.
 */
export async function copyTree(
  run: Run,
  from: string,
  to: string,
  timeoutMs: number,
): Promise<{ method: "reflink" | "copy"; noReflink?: string }> {
  const reflink = await run(["cp", "-a", "--reflink=always", "--", from, to], timeoutMs);
  if (reflink.code === 0) return { method: "reflink" };
  await removeTree(run, to);
  const plain = await run(["cp", "-a", "--", from, to], timeoutMs);
  if (plain.code !== 0) {
    await removeTree(run, to).catch(() => {});
    throw new Error(`could not copy ${from} to ${to}: ${plain.stderr.trim() || `exit ${plain.code}`}`);
  }
  const why = reflink.stderr.trim().split("\n").at(-1) ?? `exit ${reflink.code}`;
  return { method: "copy", noReflink: why };
}

async function removeTree(run: Run, path: string): Promise<void> {
  const result = await run(["rm", "-rf", "--one-file-system", "--", path], 600_000);
  if (result.code !== 0)
    throw new Error(`could not delete ${path}: ${result.stderr.trim() || `exit ${result.code}`}`);
}

export class DataSnapshots implements Snapshots {
  readonly #dataRoot: string;
  readonly #copyTimeoutMs: number;
  readonly #run: Run;

  constructor(options: DataSnapshotsOptions) {
    this.#dataRoot = options.dataRoot;
    this.#copyTimeoutMs = options.copyTimeoutMs ?? 6 * 3_600_000;
    const inNamespace = options.userNamespace ?? process.getuid?.() !== 0;
    const run = options.run ?? ((file, args, timeoutMs) => exec(file, args, { timeoutMs }));
    this.#run = (argv, timeoutMs) => {
      const [file, ...args] = inNamespace ? ["podman", "unshare", ...argv] : argv;
      return run(file as string, args, timeoutMs);
    };
  }

  dataDir(appId: string): string {
    return join(this.#dataRoot, "apps", appId);
  }

  snapshotsDir(appId: string): string {
    return snapshotsDir(this.#dataRoot, appId);
  }

  #aside(appId: string): string {
    return restoreWorkDirs(this.#dataRoot, appId).aside;
  }

  #restoring(appId: string): string {
    return restoreWorkDirs(this.#dataRoot, appId).restoring;
  }

  async dataBytes(appId: string): Promise<number> {
    const dir = this.dataDir(appId);
    if (!(await exists(dir))) return 0;
    const result = await this.#run(["du", "-s", "-B1", "--", dir], 600_000);
    const bytes = Number.parseInt(result.stdout.trim().split(/\s+/)[0] ?? "", 10);
    if (result.code !== 0 || Number.isNaN(bytes))
      throw new Error(`could not measure ${dir}: ${result.stderr.trim() || `exit ${result.code}`}`);
    return bytes;
  }

  async freeBytes(appId: string): Promise<{ bytes: number; where: string }> {
    const dir = this.snapshotsDir(appId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const fs = await statfs(dir);
    return { bytes: Number(fs.bavail) * Number(fs.bsize), where: dir };
  }

  async take(appId: string, version: string, at: number, note: Note): Promise<Snapshot> {
    const dir = this.snapshotsDir(appId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // Copies a crash interrupted: never a snapshot, always safe to delete.
    for (const name of await readdir(dir))
      if (name.endsWith(".partial")) await removeTree(this.#run, join(dir, name));
    let name = snapshotName(version, at);
    for (let n = 2; await exists(join(dir, name)); n++) name = `${snapshotName(version, at)}-${n}`;
    const path = join(dir, name);
    const partial = join(dir, `.${name}.partial`);
    const data = this.dataDir(appId);
    if (!(await exists(data))) {
      await mkdir(partial, { mode: 0o750 });
      await rename(partial, path);
      note("info", `snapshot ${path} taken: empty, the app has no data directory yet (${data})`);
      return { path, method: "empty" };
    }
    const copied = await copyTree(this.#run, data, partial, this.#copyTimeoutMs);
    await rename(partial, path);
    note(
      "info",
      copied.method === "reflink"
        ? `snapshot of ${data} taken at ${path} (reflink copy)`
        : `snapshot of ${data} taken at ${path} (plain copy: the filesystem offers no reflink copy here — ${copied.noReflink})`,
    );
    return { path, method: copied.method };
  }

  async restore(appId: string, snapshotPath: string, note: Note): Promise<void> {
    if (!(await exists(snapshotPath)))
      throw new Error(`the snapshot ${snapshotPath} is gone: the data cannot be restored from it`);
    const data = this.dataDir(appId);
    const aside = this.#aside(appId);
    const restoring = this.#restoring(appId);
    // The copy first, under a temporary name: the data is never half restored under its own name.
    await removeTree(this.#run, restoring);
    await mkdir(join(this.#dataRoot, "apps"), { recursive: true, mode: 0o750 });
    const copied = await copyTree(this.#run, snapshotPath, restoring, this.#copyTimeoutMs);
    note(
      "info",
      `copied snapshot ${snapshotPath} for the restore (${copied.method === "reflink" ? "reflink copy" : `plain copy: ${copied.noReflink}`})`,
    );
    if (await exists(data)) {
      // An earlier attempt's set-aside copy is the same discarded data: the snapshot is the truth.
      await removeTree(this.#run, aside);
      await rename(data, aside);
      note("info", `moved the current data aside to ${aside}`);
    }
    await rename(restoring, data);
    note("info", `restored ${data} from snapshot ${snapshotPath}`);
    if (await exists(aside)) {
      await removeTree(this.#run, aside);
      note("info", `deleted the set-aside data ${aside}`);
    }
  }

  async prune(appId: string, keep: string | undefined, note: Note): Promise<string[]> {
    const dir = this.snapshotsDir(appId);
    if (!(await exists(dir))) return [];
    const deleted: string[] = [];
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      if (path === keep) continue;
      await removeTree(this.#run, path);
      deleted.push(path);
      note("info", `deleted the older snapshot ${path}`);
    }
    return deleted;
  }
}
