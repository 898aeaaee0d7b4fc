/**
 * The publisher's operations on a catalog directory, behind `archy catalog …`: each reads what it
 * needs, computes the new repository with the pure functions of `repository.ts` (so a refusal
 * changes nothing), then writes. Signing is per role and only with the keys given or found, so root
 * and targets keys can stay offline while a machine holding only the timestamp key re-signs it.
 */
import { lstat, mkdir, readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import type { Key } from "@tufjs/models";
import { formatIssue } from "../manifest/issues.ts";
import { loadManifest, MANIFEST_FILE_NAMES } from "../manifest/load.ts";
import type { Manifest } from "../manifest/schema.ts";
import { CatalogError } from "./errors.ts";
import { createKeyFile, findSigningKeys, readSigningKey } from "./key-files.ts";
import { publicKey, type SigningKey } from "./keys.ts";
import { MANIFEST_TARGET, MAX_FILE_DEPTH, TOP_ROLES, type TopRole, targetPath } from "./layout.ts";
import { publish, publishPlan } from "./publish.ts";
import {
  type AppVersion,
  activeRoot,
  addApp,
  DEFAULT_LIFETIMES,
  delegate,
  initRepository,
  type Lifetimes,
  listApps,
  type Repository,
  type RoleStatus,
  removeApp,
  renewRole,
  roleKeys,
  rotateRoot,
  signRole,
  status,
} from "./repository.ts";
import { createWorkspace, keysDir, loadWorkspace, saveWorkspace } from "./workspace.ts";

/** An app directory's size limits: catalogs carry manifests and small files, not images. */
const MAX_APP_FILES = 200;
const MAX_APP_BYTES = 16 * 1024 * 1024;

export type InitOptions = {
  keys: Record<TopRole, number>;
  thresholds: Record<TopRole, number>;
  lifetimes?: Lifetimes;
  passphrase?: string;
  now: number;
};

/** A new catalog in `dir`: keys for every top-level role (in `dir/keys`), every role signed. */
export async function initCatalog(dir: string, options: InitOptions): Promise<{ keyFiles: string[] }> {
  for (const role of TOP_ROLES)
    if (!(options.thresholds[role] >= 1 && options.thresholds[role] <= options.keys[role]))
      throw new CatalogError(
        `${role}: threshold ${options.thresholds[role]} needs between 1 and ${options.keys[role]} keys (--keys ${role}=N --threshold ${role}=K)`,
      );
  const lifetimes = options.lifetimes ?? DEFAULT_LIFETIMES;
  await createWorkspace(dir, lifetimes);
  const keys = {} as Record<TopRole, Key[]>;
  const signing: SigningKey[] = [];
  const keyFiles: string[] = [];
  for (const role of TOP_ROLES) {
    keys[role] = [];
    for (let i = 0; i < options.keys[role]; i++) {
      const { file } = await createKeyFile(keysDir(dir), role, options.passphrase);
      const key = await readSigningKey(file, options.passphrase);
      keys[role].push(key.key);
      signing.push(key);
      keyFiles.push(file);
    }
  }
  let repo = initRepository({ keys, thresholds: options.thresholds, lifetimes, now: options.now });
  for (const role of TOP_ROLES) {
    const { keyIDs } = roleKeys(repo, role);
    repo = signRole(
      repo,
      role,
      signing.filter((k) => keyIDs.includes(k.key.keyID)),
      { now: options.now, lifetimes },
    );
  }
  await saveWorkspace(dir, undefined, repo);
  return { keyFiles };
}

/** Reads an app directory (or manifest file) as an app version: the validated manifest and its files. */
export async function readAppVersion(path: string): Promise<AppVersion & { manifest: Manifest }> {
  const loaded = await loadManifest(path);
  if (!loaded.ok)
    throw new CatalogError(
      `${loaded.issues.map(formatIssue).join("\n")}\nthe manifest is invalid: fix it (archy app validate ${path}); nothing was added`,
    );
  const files: AppVersion["files"] = [];
  let total = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      if (entry.name.startsWith(".")) continue;
      const full = join(dir, entry.name);
      const rel = relative(loaded.dir, full);
      const info = await lstat(full);
      if (info.isSymbolicLink())
        throw new CatalogError(
          `${full} is a symbolic link: catalogs carry plain files only; copy the file instead`,
        );
      if (info.isDirectory()) {
        if (depth >= MAX_FILE_DEPTH - 1)
          throw new CatalogError(
            `${full} is nested too deep: an app's files may be at most ${MAX_FILE_DEPTH} levels deep`,
          );
        await walk(full, depth + 1);
        continue;
      }
      if (!info.isFile()) continue;
      const isManifest = dir === loaded.dir && MANIFEST_FILE_NAMES.includes(entry.name);
      if (isManifest && full !== loaded.file) continue;
      total += info.size;
      if (files.length >= MAX_APP_FILES || total > MAX_APP_BYTES)
        throw new CatalogError(
          `${loaded.dir} has more than ${MAX_APP_FILES} files or ${MAX_APP_BYTES / 1024 / 1024} MiB: a catalog carries manifests and small files (images come from registries)`,
        );
      files.push({
        path: isManifest ? MANIFEST_TARGET : rel.split("\\").join("/"),
        bytes: await readFile(full),
      });
    }
  };
  await walk(loaded.dir, 0);
  const { manifest } = loaded;
  if (manifest.icon && !/^https:\/\//.test(manifest.icon) && !files.some((f) => f.path === manifest.icon))
    throw new CatalogError(
      `${loaded.file}: icon ${manifest.icon} is not a file in ${loaded.dir}: add the file or fix \`icon\``,
    );
  return { id: manifest.id, version: manifest.version, files, manifest };
}

/**
 * The containers of an app version whose image a node would pull by tag: what a registry says the
 * tag is at install time, not what was published. `localhost/` images are never pulled (built or
 * loaded on the node, for development and tests) and are not counted.
 */
export function unpinnedImages(manifest: Manifest): Array<{ key: string; image: string }> {
  return Object.entries(manifest.containers)
    .filter(([, c]) => !/@sha256:[0-9a-f]{64}$/.test(c.image) && !c.image.startsWith("localhost/"))
    .map(([key, c]) => ({ key, image: c.image }));
}

/** Why an app version may not be published as it is (images by tag), or undefined. */
export function unpinnedProblem(path: string, manifest: Manifest): string | undefined {
  const unpinned = unpinnedImages(manifest);
  if (unpinned.length === 0) return undefined;
  const one = unpinned.length === 1;
  return `${path}: ${unpinned.map((u) => `containers.${u.key}.image ${u.image}`).join(", ")} ${one ? "is" : "are"} not pinned by digest: pin ${one ? "it" : "them"} (image: NAME:TAG@sha256:<digest>, e.g. from \`skopeo inspect --format '{{.Digest}}' docker://NAME:TAG\`), or pass --allow-unpinned for development only`;
}

export async function addApps(
  dir: string,
  paths: string[],
  options: { role?: string; now: number; allowUnpinned?: boolean },
): Promise<Array<{ id: string; version: string; role: string; files: number }>> {
  const workspace = await loadWorkspace(dir);
  let repo = workspace.repo;
  const added = new Map<string, Uint8Array>();
  const report: Array<{ id: string; version: string; role: string; files: number }> = [];
  for (const path of paths) {
    const app = await readAppVersion(path);
    const unpinned = options.allowUnpinned ? undefined : unpinnedProblem(path, app.manifest);
    if (unpinned) throw new CatalogError(`${unpinned}; nothing was added`);
    repo = addApp(repo, app, { role: options.role, now: options.now, lifetimes: workspace.lifetimes });
    for (const file of app.files) added.set(targetPath(app.id, app.version, file.path), file.bytes);
    const role = listApps(repo).find((a) => a.id === app.id)?.role ?? "targets";
    report.push({ id: app.id, version: app.version, role, files: app.files.length });
  }
  await saveWorkspace(dir, workspace.repo, repo, added);
  return report;
}

export async function removeApps(dir: string, ids: string[], now: number): Promise<void> {
  const workspace = await loadWorkspace(dir);
  let repo = workspace.repo;
  for (const id of ids) repo = removeApp(repo, id, { now, lifetimes: workspace.lifetimes });
  await saveWorkspace(dir, workspace.repo, repo);
}

/** Roles in the order signing them makes sense: what the others describe comes first. */
function signingOrder(repo: Repository): string[] {
  return ["root", ...Object.keys(repo.delegated).sort(), "targets", "snapshot", "timestamp"];
}

export type SignOptions = {
  /** Roles to sign; none: every role that needs it, with the keys that can be found. */
  roles: string[];
  /** Key files to sign with; none: the keys of each role found in the key directory. */
  keyFiles: string[];
  keysDir?: string;
  /** Start a new version with a fresh expiry first (root, targets and namespaces). */
  renew: boolean;
  passphrase?: string;
  now: number;
};

export type SignReport = {
  signed: string[];
  skipped: Array<{ role: string; reason: string }>;
  status: RoleStatus[];
};

export async function signCatalog(dir: string, options: SignOptions): Promise<SignReport> {
  const workspace = await loadWorkspace(dir);
  const settings = { now: options.now, lifetimes: workspace.lifetimes };
  const given = await Promise.all(options.keyFiles.map((file) => readSigningKey(file, options.passphrase)));
  let repo = workspace.repo;
  const known = new Set(signingOrder(repo));
  for (const role of options.roles)
    if (!known.has(role)) throw new CatalogError(`no role ${role}: the roles are ${[...known].join(", ")}`);
  const explicit = options.roles.length > 0;
  const signed: string[] = [];
  const skipped: SignReport["skipped"] = [];
  for (const role of signingOrder(repo)) {
    if (explicit && !options.roles.includes(role)) continue;
    if (options.renew && role !== "snapshot" && role !== "timestamp") repo = renewRole(repo, role, settings);
    const needed = status(repo, options.now).find((s) => s.role === role)?.problem !== undefined;
    if (!explicit && !needed) continue;
    const allowed = role === "root" ? rootSigners(repo) : roleKeys(repo, role).keyIDs;
    let keys = given.filter((k) => allowed.includes(k.key.keyID));
    if (options.keyFiles.length === 0) {
      const found = await findSigningKeys(options.keysDir ?? keysDir(dir), allowed, options.passphrase);
      keys = found.keys;
      if (keys.length === 0 && found.sealed.length > 0) {
        skipped.push({
          role,
          reason: `its keys are encrypted (${found.sealed.join(", ")}): set ARCHY_CATALOG_PASSPHRASE`,
        });
        continue;
      }
    }
    if (keys.length === 0) {
      if (explicit)
        throw new CatalogError(
          options.keyFiles.length > 0
            ? `none of the given --key files is a ${role} key; nothing was signed`
            : `no ${role} key in ${options.keysDir ?? keysDir(dir)}: pass --key FILE; nothing was signed`,
        );
      skipped.push({
        role,
        reason: "no key for it here (sign it where its keys are, with --role and --key)",
      });
      continue;
    }
    repo = signRole(repo, role, keys, settings);
    signed.push(role);
  }
  await saveWorkspace(dir, workspace.repo, repo);
  return { signed, skipped, status: status(repo, options.now) };
}

/** Keys that may sign a pending root: those of the root before it and its own. */
function rootSigners(repo: Repository): string[] {
  return [
    ...new Set([
      ...(repo.roots.at(-1)?.signed.roles.root?.keyIDs ?? []),
      ...((repo.pendingRoot ?? activeRoot(repo)).signed.roles.root?.keyIDs ?? []),
    ]),
  ];
}

export async function publishCatalog(
  dir: string,
  out: string,
  now: number,
): Promise<{ files: number; written: number }> {
  const { repo } = await loadWorkspace(dir);
  const plan = await publishPlan(dir, repo, now);
  return { files: plan.length, written: await publish(out, plan) };
}

/** Keys for a role: public keys made elsewhere, plus keys generated here. */
export type NewKeys = {
  /** How many keys to generate (in the key directory). */
  generate: number;
  /** Public keys (hex) of keys made elsewhere, e.g. by a namespace's owner. */
  addPublic: string[];
  keysDir?: string;
  passphrase?: string;
};

/**
 * Runs `apply` with the new keys. It runs first with stand-ins for the keys to generate, so that a
 * refusal happens before any key file is made; then with the real keys.
 */
async function withNewKeys<T>(
  dir: string,
  role: string,
  options: NewKeys,
  apply: (keys: Key[]) => T,
): Promise<{ result: T; keyFiles: string[] }> {
  const given = options.addPublic.map((hex) => {
    if (!/^[0-9a-f]{64}$/.test(hex))
      throw new CatalogError(`--add-key ${hex} is not an Ed25519 public key (64 hex digits)`);
    return publicKey(hex);
  });
  apply([
    ...given,
    ...Array.from({ length: options.generate }, (_, i) => publicKey(i.toString(16).padStart(64, "0"))),
  ]);
  const keyFiles: string[] = [];
  const dirForKeys = options.keysDir ?? keysDir(dir);
  await mkdir(dirForKeys, { recursive: true, mode: 0o700 });
  for (let i = 0; i < options.generate; i++) {
    const { file, content } = await createKeyFile(dirForKeys, role, options.passphrase);
    keyFiles.push(file);
    given.push(publicKey(content.public));
  }
  return { result: apply(given), keyFiles };
}

/** Prepares the next root version (to be signed by old and new root keys: sign --role root). */
export async function rotateCatalogRoot(
  dir: string,
  role: TopRole,
  options: NewKeys & { remove: string[]; threshold?: number; now: number },
): Promise<{ keyFiles: string[]; version: number }> {
  const workspace = await loadWorkspace(dir);
  const { result: repo, keyFiles } = await withNewKeys(dir, role, options, (add) =>
    rotateRoot(workspace.repo, [{ role, add, remove: options.remove, threshold: options.threshold }], {
      now: options.now,
      lifetimes: workspace.lifetimes,
    }),
  );
  await saveWorkspace(dir, workspace.repo, repo);
  return { keyFiles, version: repo.pendingRoot?.signed.version ?? 0 };
}

/** Delegates a namespace to its own keys (generated here, or public keys of its owner). */
export async function delegateNamespace(
  dir: string,
  namespace: string,
  options: NewKeys & { threshold: number; now: number },
): Promise<{ keyFiles: string[] }> {
  const workspace = await loadWorkspace(dir);
  const { result: repo, keyFiles } = await withNewKeys(dir, namespace, options, (keys) =>
    delegate(workspace.repo, namespace, keys, options.threshold, {
      now: options.now,
      lifetimes: workspace.lifetimes,
    }),
  );
  await saveWorkspace(dir, workspace.repo, repo);
  return { keyFiles };
}
