/**
 * Reads a catalog out of a refreshed TUF client: every targets role in TUF's preorder (top-level,
 * then each delegation in order), each verified by the client against its delegator and the
 * snapshot; the newest version of each app, its files downloaded (or found in the cache) and checked
 * by length, SHA-256 and BLAKE3 (anything else in its cache directory removed); its manifest parsed
 * like any other. The signed lengths and hashes stay with each app, to check its files at every use
 * (verify-files.ts).
 *
 * A delegated role that fails (its metadata does not verify, it signs outside what it was
 * delegated, or a target it signs does not match) hides what it signs and nothing else: TUF looks
 * each target up on its own, and a lookup only fails when its search reaches a failing role
 * (lookup.ts). The top-level role failing fails the read: that is the whole catalog.
 *
 * tuf-js's Updater looks targets up one path at a time and has no listing; a catalog needs every
 * target, so this module reads the Updater's verified metadata through its trusted set and loads
 * delegated roles through the Updater's own loader (same verification, same persistence). tuf-js
 * is pinned to an exact version; `internals` fails loudly if that shape ever changes.
 */
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp } from "@tufjs/models";
import type { DelegatedRole } from "@tufjs/models/dist/role.js";
import type { Updater } from "tuf-js";
import { parseManifest } from "../../manifest/parse.ts";
import type { Manifest } from "../../manifest/schema.ts";
import { MANIFEST_TARGET, parseTargetPath } from "../layout.ts";
import { blake3Problem } from "../targets.ts";
import { explainFailure, NamespaceError, type RefreshFailure, TamperedTargetError } from "./failure.ts";
import { TooLargeError } from "./fetcher.ts";
import { lookUp } from "./lookup.ts";
import { holdsSignedFile } from "./verify-files.ts";

/** The signed files of an app version as the catalog's targets metadata lists them, by path. */
type SignedFiles = ReadonlyMap<string, TargetFile>;

type UpdaterInternals = {
  trustedSet: {
    root: Metadata<Root>;
    timestamp: Metadata<Timestamp> | undefined;
    snapshot: Metadata<Snapshot> | undefined;
    targets: Metadata<Targets> | undefined;
    checkFinalTimestamp(): void;
  };
  loadRoot(): Promise<void>;
  loadTimestamp(): Promise<void>;
  loadSnapshot(): Promise<void>;
  loadTargets(role: string, parent: string): Promise<Metadata<Targets> | undefined>;
};

function internals(updater: Updater): UpdaterInternals {
  const inner = updater as unknown as Partial<UpdaterInternals>;
  const steps = [inner.loadRoot, inner.loadTimestamp, inner.loadSnapshot, inner.loadTargets];
  if (
    steps.some((step) => typeof step !== "function") ||
    typeof inner.trustedSet?.checkFinalTimestamp !== "function"
  )
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

/** What a fresh timestamp says: the root it verified under, and the snapshot it names. */
export type TimestampView = { rootVersion: number; snapshot: MetaFile; expires: number };

/**
 * The TUF client workflow up to the timestamp (Updater.refresh's first steps: every newer root,
 * then the timestamp, each verified). What it says decides whether the rest is needed.
 */
export async function refreshToTimestamp(updater: Updater): Promise<TimestampView> {
  const inner = internals(updater);
  await inner.loadRoot();
  await inner.loadTimestamp();
  // A timestamp equal to the trusted one is kept without a check; the full workflow checks its
  // expiry at the snapshot step, which a refresh that stops here never reaches (a freeze attack).
  inner.trustedSet.checkFinalTimestamp();
  const timestamp = inner.trustedSet.timestamp;
  if (!timestamp) throw new Error("the TUF client has no trusted timestamp after loading it");
  return {
    rootVersion: inner.trustedSet.root.signed.version,
    snapshot: timestamp.signed.snapshotMeta,
    expires: Date.parse(inner.trustedSet.root.signed.expires),
  };
}

/** The rest of Updater.refresh after `refreshToTimestamp`: the snapshot, then the top-level targets. */
export async function refreshFromTimestamp(updater: Updater): Promise<{ expires: number }> {
  const inner = internals(updater);
  await inner.loadSnapshot();
  await inner.loadTargets("targets", "root");
  const snapshot = inner.trustedSet.snapshot;
  if (!snapshot) throw new Error("the TUF client has no trusted snapshot after loading it");
  return { expires: Date.parse(snapshot.signed.expires) };
}

/** The roles of a refreshed TUF client, loaded through the client's own loader. */
export function updaterRoles(updater: Updater): RoleLoader {
  const inner = internals(updater);
  const top = inner.trustedSet.targets;
  if (!top) throw new Error("the TUF client has no trusted targets metadata: refresh first");
  return { top, load: (role, delegator) => inner.loadTargets(role, delegator) };
}

/** A delegated role whose apps are hidden, and why (the same words as a failed refresh). */
export type FailedRole = { role: string } & RefreshFailure;

function failedRole(role: string, error: unknown, stage: "metadata" | "targets"): FailedRole {
  const failure = explainFailure(error, stage);
  return { role, ...failure, message: `namespace ${role}: ${failure.message}` };
}

/** The roles of a catalog: those that verify, and the delegated ones that do not. */
export type CatalogRoles = { roles: TrustedRole[]; failed: FailedRole[] };

/**
 * Every targets role in TUF's preorder: those that verify, and the delegated ones that do not (a
 * role that signs outside its delegation is one of those; what it delegates is not visited).
 */
export async function trustedRoles(loader: RoleLoader, maxRoles = 64): Promise<CatalogRoles> {
  const roles: TrustedRole[] = [];
  const failed: FailedRole[] = [];
  const known = (name: string) => roles.some((r) => r.name === name) || failed.some((f) => f.role === name);
  const visit = async (name: string, metadata: Metadata<Targets>, chain: DelegatedRole[]) => {
    if (roles.length + failed.length >= maxRoles)
      throw new Error(`the catalog has more than ${maxRoles} roles`);
    for (const path of Object.keys(metadata.signed.targets)) {
      const outside = chain.find((delegation) => !delegation.isDelegatedPath(path));
      if (outside) {
        const error = new NamespaceError(
          `role ${name} signed ${path}, outside what ${outside.name} was delegated (${outside.paths?.[0] ?? "no paths"}…)`,
        );
        failed.push(failedRole(name, error, "metadata"));
        return;
      }
    }
    roles.push({ name, metadata, chain });
    for (const delegation of Object.values(metadata.signed.delegations?.roles ?? {})) {
      if (known(delegation.name)) continue;
      let child: Metadata<Targets> | undefined;
      try {
        child = await loader.load(delegation.name, name);
      } catch (error) {
        failed.push(failedRole(delegation.name, error, "metadata"));
        continue;
      }
      if (child) await visit(delegation.name, child, [...chain, delegation]);
    }
  };
  await visit("targets", loader.top, []);
  return { roles, failed };
}

/**
 * Who signs an app within its catalog: the top-level role (whose keys only a root rotation
 * changes, which the node follows under TUF's rules), or a delegated role with its threshold and
 * keys, so that an update signed by other keys is told apart (sources/provenance.ts).
 */
function publisherOf(role: TrustedRole): string {
  const delegation = role.chain.at(-1);
  if (!delegation) return "targets";
  const keys = [...delegation.keyIDs].sort();
  return `${role.name} (${delegation.threshold} of keys ${keys.join(", ")})`;
}

export type SignedApp = {
  id: string;
  version: string;
  role: string;
  /** The role as `publisherOf` names it. */
  publisher: string;
  files: SignedFiles;
};

/**
 * The app versions the roles sign: for each id, the first role in preorder that has it answers, as
 * TUF resolves a path, and only with the paths TUF's lookup gives it (never beyond a failed role).
 */
export function signedApps({ roles, failed }: CatalogRoles): Map<string, SignedApp> {
  const signed = new Map(roles.map((r) => [r.name, r.metadata.signed]));
  const failedNames = new Set(failed.map((f) => f.role));
  const apps = new Map<string, SignedApp>();
  for (const role of roles) {
    const seen = new Map<string, { version: string; files: Map<string, TargetFile> }>();
    for (const [path, file] of Object.entries(role.metadata.signed.targets)) {
      const parsed = parseTargetPath(path);
      if (!parsed || apps.has(parsed.appId)) continue;
      const answer = lookUp(path, signed, failedNames);
      if (!answer || !("role" in answer) || answer.role !== role.name) continue;
      const entry = seen.get(parsed.appId) ?? { version: parsed.version, files: new Map() };
      if (entry.version === parsed.version) entry.files.set(parsed.file, file);
      seen.set(parsed.appId, entry);
    }
    for (const [id, entry] of seen)
      apps.set(id, { id, ...entry, role: role.name, publisher: publisherOf(role) });
  }
  return apps;
}

export type CatalogApp = {
  id: string;
  version: string;
  /** The TUF role that signed it: `targets`, or the namespace's delegated role. */
  role: string;
  /** That role as `publisherOf` names it. */
  publisher: string;
  text: string;
  manifest: Manifest;
  /** The verified files of this version, as an app directory. */
  dir: string;
  /** What its metadata signs for each file: the bytes of `dir` are checked against it at every use. */
  files: SignedFiles;
};

export type RejectedCatalogApp = { id: string; version: string; role: string; reason: string };

/** Whether two signed apps are the same files signed the same way (same bytes, by hashes and lengths). */
function sameSigned(a: SignedApp, b: CatalogApp): boolean {
  if (a.version !== b.version || a.role !== b.role || a.publisher !== b.publisher) return false;
  if (a.files.size !== b.files.size) return false;
  for (const [name, file] of a.files) {
    const other = b.files.get(name);
    if (!other || !file.equals(other)) return false;
  }
  return true;
}

/**
 * The apps of a catalog, their files in `cacheDir/<id>/<version>/`. A file that does not match its
 * signed hashes fails the whole read when the top-level role signs it (an attack on the catalog, or
 * damage), and hides the apps of the delegated role that signs it otherwise; a signed manifest that
 * this node cannot use (invalid for it, or not matching its path) only rejects that app. `roles`:
 * the roles that verified (their metadata is what the last good catalog is saved with); `expires`:
 * when the first of them expires.
 *
 * `known`: the apps of the previous read. An app whose files the metadata still signs with the same
 * lengths and hashes is those bytes again: it is kept as read then (its files were verified then,
 * and are verified again at every use), so that a manifest is checked and parsed once per version,
 * not at every refresh.
 */
export async function readApps(
  updater: Updater,
  cacheDir: string,
  known: readonly CatalogApp[] = [],
  concurrency = 8,
): Promise<{
  apps: CatalogApp[];
  rejected: RejectedCatalogApp[];
  roles: string[];
  failed: FailedRole[];
  expires: number;
}> {
  const catalog = await trustedRoles(updaterRoles(updater));
  const previous = new Map(known.map((app) => [app.id, app]));
  const apps: CatalogApp[] = [];
  const rejected: RejectedCatalogApp[] = [];
  /** Delegated roles whose targets failed, by name: the first failure says why. */
  const targetFailures = new Map<string, FailedRole>();
  const queue = [...signedApps(catalog).values()].sort((a, b) => a.id.localeCompare(b.id));
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const { id, version, role, files } = next;
      const same = previous.get(id);
      if (same && sameSigned(next, same)) {
        apps.push(same);
        continue;
      }
      const dir = join(cacheDir, id, version);
      await pruneUnsigned(dir, files);
      let text: string | undefined;
      try {
        for (const [name, target] of files) {
          const bytes = await fetchTarget(updater, target, join(dir, ...name.split("/")));
          if (name === MANIFEST_TARGET) text = bytes.toString("utf8");
        }
      } catch (error) {
        if (role === "targets") throw error;
        if (!targetFailures.has(role)) targetFailures.set(role, failedRole(role, error, "targets"));
        continue;
      }
      const app = appOf(next, text, dir);
      if ("reason" in app) rejected.push(app);
      else apps.push(app);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
  const usable = (entry: { role: string }) => !targetFailures.has(entry.role);
  return {
    apps: apps.filter(usable).sort((a, b) => a.id.localeCompare(b.id)),
    rejected: rejected.filter(usable),
    roles: catalog.roles.map((r) => r.name),
    failed: [...catalog.failed, ...targetFailures.values()].sort((a, b) => a.role.localeCompare(b.role)),
    expires: Math.min(...catalog.roles.map((r) => Date.parse(r.metadata.signed.expires))),
  };
}

/** A signed app version with its manifest's text: offered, or rejected with the reason. */
export function appOf(
  signed: SignedApp,
  text: string | undefined,
  dir: string,
): CatalogApp | RejectedCatalogApp {
  const { id, version, role, publisher, files } = signed;
  const reason = (why: string) => ({ id, version, role, reason: why });
  if (text === undefined) return reason(`no ${MANIFEST_TARGET} among its files`);
  const parsed = parseManifest(text, `${id}/${version}/${MANIFEST_TARGET}`);
  if (!parsed.ok) return reason(`invalid manifest: ${parsed.issues[0]?.path}: ${parsed.issues[0]?.message}`);
  if (parsed.manifest.id !== id || parsed.manifest.version !== version)
    return reason(
      `its manifest says ${parsed.manifest.id} ${parsed.manifest.version}, its path ${id} ${version}`,
    );
  return { id, version, role, publisher, text, manifest: parsed.manifest, dir, files };
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
