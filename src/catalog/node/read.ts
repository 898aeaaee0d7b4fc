/**
 * Reads a catalog out of a refreshed TUF client: every targets role in TUF's preorder (top-level,
 * then each delegation in order), each verified by the client against its delegator and the
 * snapshot; the newest version of each app, its files downloaded (or found in the cache) and checked
 * by length, SHA-256 and BLAKE3 (anything else in its cache directory removed); its manifest parsed
 * like any other. The signed lengths and hashes stay with each app, to check its files at every use
 * (verify-files.ts).
 *
 * tuf-js's Updater looks targets up one path at a time and has no listing; a catalog needs every
 * target, so this module reads the Updater's verified metadata through its trusted set and loads
 * delegated roles through the Updater's own loader (same verification, same persistence). tuf-js
 * is pinned to an exact version; `internals` fails loudly if that shape ever changes.
 */
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { Metadata, TargetFile, Targets } from "@tufjs/models";
import type { DelegatedRole } from "@tufjs/models/dist/role.js";
import type { Updater } from "tuf-js";
import { parseManifest } from "../../manifest/parse.ts";
import type { Manifest } from "../../manifest/schema.ts";
import { MANIFEST_TARGET, parseTargetPath } from "../layout.ts";
import { blake3Problem } from "../targets.ts";
import { NamespaceError, TamperedTargetError } from "./failure.ts";
import { TooLargeError } from "./fetcher.ts";
import { holdsSignedFile } from "./verify-files.ts";

type UpdaterInternals = {
  trustedSet: { targets: Metadata<Targets> | undefined };
  loadTargets(role: string, parent: string): Promise<Metadata<Targets> | undefined>;
};

function internals(updater: Updater): UpdaterInternals {
  const inner = updater as unknown as Partial<UpdaterInternals>;
  if (typeof inner.loadTargets !== "function" || typeof inner.trustedSet !== "object")
    throw new Error(
      "this tuf-js version is not the one the catalog reader was written for (see package.json)",
    );
  return inner as UpdaterInternals;
}

export type TrustedRole = {
  name: string;
  metadata: Metadata<Targets>;
  /** The delegations leading to it (none for the top-level role): its targets must fit them all. */
  chain: DelegatedRole[];
};

/**
 * Where verified targets roles come from: the top-level one, and a loader that verifies a delegated
 * role against its delegator (the refreshed TUF client, or a saved catalog's metadata).
 */
export type RoleLoader = {
  top: Metadata<Targets>;
  load(role: string, delegator: string): Promise<Metadata<Targets> | undefined>;
};

/** The roles of a refreshed TUF client, loaded through the client's own loader. */
export function updaterRoles(updater: Updater): RoleLoader {
  const inner = internals(updater);
  const top = inner.trustedSet.targets;
  if (!top) throw new Error("the TUF client has no trusted targets metadata: refresh first");
  return { top, load: (role, delegator) => inner.loadTargets(role, delegator) };
}

/** Every targets role, verified, in TUF's preorder; a role that signs outside its delegation fails. */
export async function trustedRoles(loader: RoleLoader, maxRoles = 64): Promise<TrustedRole[]> {
  const roles: TrustedRole[] = [];
  const visit = async (name: string, metadata: Metadata<Targets>, chain: DelegatedRole[]) => {
    if (roles.some((r) => r.name === name)) return;
    if (roles.length >= maxRoles) throw new Error(`the catalog has more than ${maxRoles} roles`);
    for (const path of Object.keys(metadata.signed.targets)) {
      const outside = chain.find((delegation) => !delegation.isDelegatedPath(path));
      if (outside)
        throw new NamespaceError(
          `role ${name} signed ${path}, outside what ${outside.name} was delegated (${outside.paths?.[0] ?? "no paths"}…)`,
        );
    }
    roles.push({ name, metadata, chain });
    for (const delegation of Object.values(metadata.signed.delegations?.roles ?? {})) {
      const child = await loader.load(delegation.name, name);
      if (child) await visit(delegation.name, child, [...chain, delegation]);
    }
  };
  await visit("targets", loader.top, []);
  return roles;
}

/** The signed files of an app version, by their path in its directory (`manifest.yml`, `files/a`). */
export type SignedFiles = ReadonlyMap<string, TargetFile>;

export type SignedApp = { id: string; version: string; role: string; files: SignedFiles };

/** The app versions the roles sign: for each id, the first role in preorder that has it answers, as TUF resolves a path. */
export function signedApps(roles: readonly TrustedRole[]): Map<string, SignedApp> {
  const apps = new Map<string, SignedApp>();
  for (const role of roles) {
    const seen = new Map<string, { version: string; files: Map<string, TargetFile> }>();
    for (const [path, file] of Object.entries(role.metadata.signed.targets)) {
      const parsed = parseTargetPath(path);
      if (!parsed || apps.has(parsed.appId)) continue;
      const entry = seen.get(parsed.appId) ?? { version: parsed.version, files: new Map() };
      if (entry.version === parsed.version) entry.files.set(parsed.file, file);
      seen.set(parsed.appId, entry);
    }
    for (const [id, entry] of seen) apps.set(id, { id, ...entry, role: role.name });
  }
  return apps;
}

export type CatalogApp = {
  id: string;
  version: string;
  /** The TUF role that signed it: `targets`, or the namespace's delegated role. */
  role: string;
  text: string;
  manifest: Manifest;
  /** The verified files of this version, as an app directory. */
  dir: string;
  /** What its metadata signs for each file: the bytes of `dir` are checked against it at every use. */
  files: SignedFiles;
};

export type RejectedCatalogApp = { id: string; version: string; role: string; reason: string };

/**
 * The apps of a catalog, their files in `cacheDir/<id>/<version>/`. A file that does not match its
 * signed hashes fails the whole read (it is an attack or damage); a signed manifest that this node
 * cannot use (invalid for it, or not matching its path) only rejects that app.
 */
export async function readApps(
  updater: Updater,
  cacheDir: string,
  concurrency = 8,
): Promise<{ apps: CatalogApp[]; rejected: RejectedCatalogApp[]; roles: string[] }> {
  const roles = await trustedRoles(updaterRoles(updater));
  const apps: CatalogApp[] = [];
  const rejected: RejectedCatalogApp[] = [];
  const queue = [...signedApps(roles).values()].sort((a, b) => a.id.localeCompare(b.id));
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const { id, version, role, files } = next;
      const dir = join(cacheDir, id, version);
      await pruneUnsigned(dir, files);
      let text: string | undefined;
      for (const [name, target] of files) {
        const bytes = await fetchTarget(updater, target, join(dir, ...name.split("/")));
        if (name === MANIFEST_TARGET) text = bytes.toString("utf8");
      }
      const app = appOf({ id, version, role, files }, text, dir);
      if ("reason" in app) rejected.push(app);
      else apps.push(app);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
  apps.sort((a, b) => a.id.localeCompare(b.id));
  return { apps, rejected, roles: roles.map((r) => r.name) };
}

/** A signed app version with its manifest's text: offered, or rejected with the reason. */
export function appOf(
  signed: SignedApp,
  text: string | undefined,
  dir: string,
): CatalogApp | RejectedCatalogApp {
  const { id, version, role, files } = signed;
  const reason = (why: string) => ({ id, version, role, reason: why });
  if (text === undefined) return reason(`no ${MANIFEST_TARGET} among its files`);
  const parsed = parseManifest(text, `${id}/${version}/${MANIFEST_TARGET}`);
  if (!parsed.ok) return reason(`invalid manifest: ${parsed.issues[0]?.path}: ${parsed.issues[0]?.message}`);
  if (parsed.manifest.id !== id || parsed.manifest.version !== version)
    return reason(
      `its manifest says ${parsed.manifest.id} ${parsed.manifest.version}, its path ${id} ${version}`,
    );
  return { id, version, role, text, manifest: parsed.manifest, dir, files };
}

/**
 * Removes from an app version's cache directory whatever is not one of its signed files (a file
 * added there, a link, a special file), so that a refresh repairs the copy hooks use
 * (verify-files.ts refuses anything unsigned).
 */
async function pruneUnsigned(dir: string, files: SignedFiles): Promise<void> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const path = join(entry.parentPath, entry.name);
    const name = relative(dir, path).split(sep).join("/");
    const signed = entry.isDirectory() ? holdsSignedFile(files, name) : entry.isFile() && files.has(name);
    if (!signed) await rm(path, { recursive: true, force: true });
  }
}

/** A target from the cache if it is there and intact, else downloaded; checked either way. */
async function fetchTarget(updater: Updater, target: TargetFile, file: string): Promise<Buffer> {
  await mkdir(join(file, ".."), { recursive: true });
  try {
    const path =
      (await updater.findCachedTarget(target, file)) ?? (await updater.downloadTarget(target, file));
    const bytes = await readFile(path);
    const problem = blake3Problem(target, bytes);
    if (problem) throw new TamperedTargetError(problem);
    return bytes;
  } catch (error) {
    if (error instanceof TamperedTargetError) throw error;
    // More bytes than the target's signed length: the file is not the one signed, whoever serves it.
    if (error instanceof TooLargeError)
      throw new TamperedTargetError(
        `target ${target.path}: longer than its signed length of ${target.length} bytes (${error.message})`,
      );
    throw new Error(`target ${target.path}: ${(error as Error).message}`);
  }
}
