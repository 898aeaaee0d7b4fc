/**
 * The publisher's working directory, the I/O edge of `repository.ts`:
 *
 *   catalog.json                  settings: the lifetime of each role
 *   metadata/root/<N>.root.json   the root chain (every version signed at threshold)
 *   metadata/root.pending.json    a root being signed (first one, or a rotation)
 *   metadata/targets.json, metadata/delegated/<namespace>.json, snapshot.json, timestamp.json
 *   targets/apps/<id>/<version>/… the files of each app version, as added
 *   keys/                         key files (0600), unless kept elsewhere (--keys DIR)
 *
 * A command computes the whole new repository first (any refusal happens before anything is
 * written), then writes each changed file atomically: target files first, metadata after them.
 */
import { mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  Metadata,
  MetadataKind,
  type Root,
  type Snapshot,
  type Targets,
  type Timestamp,
} from "@tufjs/models";
import { z } from "zod";
import { CatalogError } from "./errors.ts";
import { writeFileAtomic } from "./files.ts";
import { DEFAULT_LIFETIMES, type Lifetimes, metadataBytes, type Repository } from "./repository.ts";
import { sha256Hex } from "./targets.ts";

const SETTINGS_FILE = "catalog.json";
const SETTINGS_FORMAT = "archipelago-catalog/1";

const Settings = z.strictObject({
  format: z.literal(SETTINGS_FORMAT),
  lifetimes: z.strictObject({
    root: z.number().positive(),
    targets: z.number().positive(),
    delegated: z.number().positive(),
    snapshot: z.number().positive(),
    timestamp: z.number().positive(),
  }),
});

export type Workspace = { dir: string; lifetimes: Lifetimes; repo: Repository };

export function keysDir(dir: string): string {
  return join(dir, "keys");
}

type AnyMetadata = Metadata<Root | Targets | Snapshot | Timestamp>;

async function readMetadata<K extends MetadataKind>(
  file: string,
  kind: K,
): Promise<
  K extends MetadataKind.Root
    ? Metadata<Root>
    : K extends MetadataKind.Targets
      ? Metadata<Targets>
      : K extends MetadataKind.Snapshot
        ? Metadata<Snapshot>
        : Metadata<Timestamp>
> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new CatalogError(`${file} is missing: is this a catalog directory (made by archy catalog init)?`);
  }
  try {
    // biome-ignore lint/suspicious/noExplicitAny: fromJSON is overloaded per kind; K selects the overload.
    return Metadata.fromJSON(kind as any, JSON.parse(text)) as any;
  } catch (error) {
    throw new CatalogError(`${file} is not valid TUF ${kind} metadata: ${(error as Error).message}`);
  }
}

export async function isWorkspace(dir: string): Promise<boolean> {
  return stat(join(dir, SETTINGS_FILE)).then(
    () => true,
    () => false,
  );
}

export async function loadWorkspace(dir: string): Promise<Workspace> {
  let settings: z.infer<typeof Settings>;
  try {
    settings = Settings.parse(JSON.parse(await readFile(join(dir, SETTINGS_FILE), "utf8")));
  } catch (error) {
    throw new CatalogError(
      (error as NodeJS.ErrnoException).code === "ENOENT"
        ? `${dir} is not a catalog directory (no ${SETTINGS_FILE}): create one with archy catalog init ${dir}`
        : `${join(dir, SETTINGS_FILE)} is invalid: ${(error as Error).message}`,
    );
  }
  const metadata = join(dir, "metadata");
  const rootFiles = (await readdir(join(metadata, "root")).catch(() => [] as string[]))
    .map((name) => ({ name, version: Number.parseInt(name, 10) }))
    .filter((f) => /^\d+\.root\.json$/.test(f.name))
    .sort((a, b) => a.version - b.version);
  const roots = await Promise.all(
    rootFiles.map((f) => readMetadata(join(metadata, "root", f.name), MetadataKind.Root)),
  );
  const pendingFile = join(metadata, "root.pending.json");
  const pendingRoot = (await stat(pendingFile).catch(() => undefined))
    ? await readMetadata(pendingFile, MetadataKind.Root)
    : undefined;
  const delegated: Record<string, Metadata<Targets>> = {};
  for (const name of (await readdir(join(metadata, "delegated")).catch(() => [] as string[])).sort())
    if (name.endsWith(".json"))
      delegated[name.slice(0, -".json".length)] = await readMetadata(
        join(metadata, "delegated", name),
        MetadataKind.Targets,
      );
  return {
    dir,
    lifetimes: settings.lifetimes,
    repo: {
      roots,
      pendingRoot,
      targets: await readMetadata(join(metadata, "targets.json"), MetadataKind.Targets),
      delegated,
      snapshot: await readMetadata(join(metadata, "snapshot.json"), MetadataKind.Snapshot),
      timestamp: await readMetadata(join(metadata, "timestamp.json"), MetadataKind.Timestamp),
    },
  };
}

/** The metadata files of a repository, by path in the working directory. */
function metadataFiles(repo: Repository): Map<string, AnyMetadata> {
  const files = new Map<string, AnyMetadata>();
  for (const root of repo.roots) files.set(`metadata/root/${root.signed.version}.root.json`, root);
  if (repo.pendingRoot) files.set("metadata/root.pending.json", repo.pendingRoot);
  files.set("metadata/targets.json", repo.targets);
  for (const [name, metadata] of Object.entries(repo.delegated))
    files.set(`metadata/delegated/${name}.json`, metadata);
  files.set("metadata/snapshot.json", repo.snapshot);
  files.set("metadata/timestamp.json", repo.timestamp);
  return files;
}

/** Where the bytes of a target are kept in the working directory. */
export function targetFilePath(dir: string, path: string): string {
  return join(dir, "targets", ...path.split("/"));
}

/** Every target path of every targets role. */
export function allTargets(repo: Repository): Map<string, { length: number; sha256: string }> {
  const all = new Map<string, { length: number; sha256: string }>();
  for (const metadata of [repo.targets, ...Object.values(repo.delegated)])
    for (const [path, file] of Object.entries(metadata.signed.targets))
      all.set(path, { length: file.length, sha256: file.hashes.sha256 ?? "" });
  return all;
}

/**
 * Writes what changed from `before` (nothing, for a new catalog) to `after`: new target files (their
 * bytes in `added`), then the metadata files whose bytes differ, then removes the target files and
 * the pending root that are no longer part of it.
 */
export async function saveWorkspace(
  dir: string,
  before: Repository | undefined,
  after: Repository,
  added: Map<string, Uint8Array> = new Map(),
): Promise<void> {
  for (const [path, bytes] of added) await writeFileAtomic(targetFilePath(dir, path), bytes);
  const previous = before ? metadataFiles(before) : new Map<string, AnyMetadata>();
  const next = metadataFiles(after);
  for (const [path, metadata] of next) {
    const bytes = metadataBytes(metadata);
    const old = previous.get(path);
    if (!old || !metadataBytes(old).equals(bytes)) await writeFileAtomic(join(dir, path), bytes);
  }
  for (const path of previous.keys()) if (!next.has(path)) await rm(join(dir, path), { force: true });
  if (!before) return;
  const kept = allTargets(after);
  for (const path of allTargets(before).keys())
    if (!kept.has(path)) await rm(targetFilePath(dir, path), { force: true });
}

export async function createWorkspace(dir: string, lifetimes: Lifetimes = DEFAULT_LIFETIMES): Promise<void> {
  if (await isWorkspace(dir))
    throw new CatalogError(`${dir} already holds a catalog: choose another directory`);
  await mkdir(join(dir, "metadata"), { recursive: true });
  await mkdir(keysDir(dir), { recursive: true, mode: 0o700 });
  await writeFileAtomic(
    join(dir, SETTINGS_FILE),
    `${JSON.stringify({ format: SETTINGS_FORMAT, lifetimes }, null, 2)}\n`,
  );
}

/** Reads a target's bytes back, checking them against the signed length and SHA-256. */
export async function readTarget(
  dir: string,
  path: string,
  expected: { length: number; sha256: string },
): Promise<Buffer> {
  const file = targetFilePath(dir, path);
  const bytes = await readFile(file).catch(() => {
    throw new CatalogError(`${file} is missing: add the app again (archy catalog add) or remove it`);
  });
  if (bytes.length !== expected.length || sha256Hex(bytes) !== expected.sha256)
    throw new CatalogError(
      `${file} changed since it was added (its hash no longer matches the signed one): add the app again with a new version`,
    );
  return bytes;
}
