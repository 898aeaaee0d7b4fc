/**
 * The publisher's catalog as a value: TUF metadata for root (with its history), targets, the
 * namespace delegations, snapshot and timestamp, and pure functions that change it. A change never
 * signs: it leaves the role it touched unsigned (a new version when the old one carried signatures),
 * so that each role is signed where its keys are (root and targets offline, timestamp online).
 * Nothing here reads files or the clock; `now` is passed in.
 */

import { type Key, Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp } from "@tufjs/models";
// The package's index does not export the role and delegation classes its metadata is made of.
import { Delegations } from "@tufjs/models/dist/delegations.js";
import { DelegatedRole, Role } from "@tufjs/models/dist/role.js";
import { isNewerVersion } from "../manifest/app-version.ts";
import { CatalogError } from "./errors.ts";
import { type SigningKey, signer } from "./keys.ts";
import {
  isNamespace,
  MANIFEST_TARGET,
  namespaceOf,
  namespacePatterns,
  parseTargetPath,
  type TopRole,
  targetPath,
} from "./layout.ts";
import { blake3Hex, sha256Hex } from "./targets.ts";

/** How long a newly signed version of each role stays valid, in seconds. */
export type Lifetimes = Record<TopRole | "delegated", number>;

const DAY = 24 * 3600;
export const DEFAULT_LIFETIMES: Lifetimes = {
  root: 365 * DAY,
  targets: 90 * DAY,
  delegated: 90 * DAY,
  snapshot: 7 * DAY,
  timestamp: DAY,
};

export type Repository = {
  /** Every root version signed at threshold, oldest first: the chain nodes walk through. */
  roots: Metadata<Root>[];
  /** A root being prepared (first one, or a rotation) until its signatures are complete. */
  pendingRoot: Metadata<Root> | undefined;
  targets: Metadata<Targets>;
  /** Delegated targets roles, by name (the namespace they hold). */
  delegated: Record<string, Metadata<Targets>>;
  snapshot: Metadata<Snapshot>;
  timestamp: Metadata<Timestamp>;
};

/** The bytes of a metadata file as published: length and hashes in snapshot and timestamp bind them. */
export function metadataBytes(metadata: Metadata<Root | Targets | Snapshot | Timestamp>): Buffer {
  return Buffer.from(`${JSON.stringify(metadata.toJSON(), null, 1)}\n`);
}

/** TUF wants `YYYY-MM-DDTHH:MM:SSZ`. */
export function expiresAt(now: number, seconds: number): string {
  return new Date(now + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * The root the other roles are signed and checked against: the newest one in the chain. A rotation
 * in progress changes nothing until it is complete (the online timestamp keeps working meanwhile);
 * only a new catalog, whose first root is not signed yet, uses its pending root.
 */
export function activeRoot(repo: Repository): Metadata<Root> {
  const root = repo.roots.at(-1) ?? repo.pendingRoot;
  if (!root) throw new CatalogError("the catalog has no root: create it with archy catalog init");
  return root;
}

export type InitOptions = {
  keys: Record<TopRole, Key[]>;
  thresholds: Record<TopRole, number>;
  lifetimes: Lifetimes;
  now: number;
};

/** A new catalog: version 1 of every role, nothing signed yet. */
export function initRepository(options: InitOptions): Repository {
  const { keys, thresholds, lifetimes, now } = options;
  const allKeys: Record<string, Key> = {};
  const roles: Record<string, Role> = {};
  for (const role of ["root", "targets", "snapshot", "timestamp"] as const) {
    if (thresholds[role] < 1 || thresholds[role] > keys[role].length)
      throw new CatalogError(
        `${role}: threshold ${thresholds[role]} needs between 1 and ${keys[role].length} keys (--keys ${role}=N, --threshold ${role}=K)`,
      );
    for (const key of keys[role]) allKeys[key.keyID] = key;
    roles[role] = new Role({ keyIDs: keys[role].map((k) => k.keyID), threshold: thresholds[role] });
  }
  const common = (role: TopRole) => ({
    version: 1,
    specVersion: "1.0.31",
    expires: expiresAt(now, lifetimes[role]),
  });
  return {
    roots: [],
    pendingRoot: new Metadata(
      new Root({ ...common("root"), keys: allKeys, roles, consistentSnapshot: true }),
    ),
    targets: new Metadata(new Targets({ ...common("targets"), targets: {} })),
    delegated: {},
    snapshot: new Metadata(new Snapshot({ ...common("snapshot"), meta: {} })),
    timestamp: new Metadata(new Timestamp({ ...common("timestamp") })),
  };
}

// ---------------------------------------------------------------- targets roles

/** The role (`targets` or a namespace) that signs an app: its namespace's delegation, if any. */
export function roleForApp(repo: Repository, appId: string): string {
  const namespace = namespaceOf(appId);
  return namespace !== undefined && repo.delegated[namespace] ? namespace : "targets";
}

function targetsRole(repo: Repository, role: string): Metadata<Targets> {
  const metadata = role === "targets" ? repo.targets : repo.delegated[role];
  if (!metadata)
    throw new CatalogError(
      `no role ${role} in this catalog: roles are targets${Object.keys(repo.delegated)
        .map((d) => `, ${d}`)
        .join("")} (add one with archy catalog delegate)`,
    );
  return metadata;
}

function withTargetsRole(repo: Repository, role: string, metadata: Metadata<Targets>): Repository {
  return role === "targets"
    ? { ...repo, targets: metadata }
    : { ...repo, delegated: { ...repo.delegated, [role]: metadata } };
}

/**
 * The next unsigned edition of a role's metadata: the same version while nobody signed it yet
 * (several changes go into one version), the next one once it carries signatures.
 */
function nextVersion(metadata: Metadata<Root | Targets>, now: number, lifetime: number) {
  const signed = Object.keys(metadata.signatures).length > 0;
  return {
    version: signed ? metadata.signed.version + 1 : metadata.signed.version,
    specVersion: metadata.signed.specVersion,
    expires: expiresAt(now, lifetime),
  };
}

function editTargets(
  repo: Repository,
  role: string,
  now: number,
  lifetimes: Lifetimes,
  edit: (
    targets: Record<string, TargetFile>,
    delegations: Delegations | undefined,
  ) => Delegations | undefined,
): Repository {
  const current = targetsRole(repo, role);
  const targets = { ...current.signed.targets };
  const delegations = edit(targets, current.signed.delegations);
  const lifetime = role === "targets" ? lifetimes.targets : lifetimes.delegated;
  const next = new Metadata(
    new Targets({ ...nextVersion(current, now, lifetime), targets, ...(delegations ? { delegations } : {}) }),
  );
  return withTargetsRole(repo, role, next);
}

/** The app versions in one targets role, by app id. */
export function appsInRole(metadata: Metadata<Targets>): Map<string, string> {
  const apps = new Map<string, string>();
  for (const path of Object.keys(metadata.signed.targets)) {
    const parsed = parseTargetPath(path);
    if (parsed) apps.set(parsed.appId, parsed.version);
  }
  return apps;
}

/** Every app version in the catalog with the role that signs it. */
export function listApps(repo: Repository): Array<{ id: string; version: string; role: string }> {
  const roles: Array<[string, Metadata<Targets>]> = [
    ["targets", repo.targets],
    ...Object.entries(repo.delegated),
  ];
  return roles
    .flatMap(([role, metadata]) => [...appsInRole(metadata)].map(([id, version]) => ({ id, version, role })))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** An app version to add: the manifest's id and version, and every file (the manifest among them). */
export type AppVersion = { id: string; version: string; files: Array<{ path: string; bytes: Uint8Array }> };

/**
 * Adds an app version, replacing the version the catalog had: a node offers the newest, and the one
 * it runs is in its own store. A version that is not newer is refused, so nodes always see updates
 * as updates.
 */
export function addApp(
  repo: Repository,
  app: AppVersion,
  options: { role?: string; now: number; lifetimes: Lifetimes },
): Repository {
  const role = options.role ?? roleForApp(repo, app.id);
  checkRoleMayHold(repo, role, app.id);
  if (!app.files.some((f) => f.path === MANIFEST_TARGET))
    throw new CatalogError(`${app.id}: no ${MANIFEST_TARGET} among the files of the app`);
  for (const listed of listApps(repo)) {
    if (listed.id !== app.id) continue;
    if (listed.role !== role)
      throw new CatalogError(
        `${app.id} is signed by role ${listed.role}: remove it there first (archy catalog remove) to move it to ${role}`,
      );
    if (!isNewerVersion(app.version, listed.version))
      throw new CatalogError(
        `${app.id} ${app.version} is not newer than ${listed.version}, which the catalog has: raise \`version\` in its manifest.yml`,
      );
  }
  return editTargets(repo, role, options.now, options.lifetimes, (targets, delegations) => {
    dropApp(targets, app.id);
    for (const file of app.files) {
      const path = targetPath(app.id, app.version, file.path);
      if (!parseTargetPath(path))
        throw new CatalogError(`${app.id}: file ${file.path} cannot be published (too deep, or a bad name)`);
      targets[path] = targetFile(path, file.bytes);
    }
    return delegations;
  });
}

/** A namespace's role signs only apps of that namespace; the top-level role leaves delegated ones alone. */
function checkRoleMayHold(repo: Repository, role: string, appId: string): void {
  const namespace = namespaceOf(appId);
  if (role === "targets") {
    if (namespace !== undefined && repo.delegated[namespace])
      throw new CatalogError(
        `${appId} is in namespace ${namespace}, which is delegated: add it with --role ${namespace} (signed with that namespace's keys)`,
      );
    return;
  }
  targetsRole(repo, role);
  if (namespace !== role)
    throw new CatalogError(
      `role ${role} may only sign apps ${role}.*, not ${appId}: rename the app (id: ${role}.…) or add it to its own role`,
    );
}

/** A file of an app version as a target: its length and SHA-256, its BLAKE3 in `custom`. */
export function targetFile(path: string, bytes: Uint8Array): TargetFile {
  return new TargetFile({
    path,
    length: bytes.length,
    hashes: { sha256: sha256Hex(bytes) },
    unrecognizedFields: { custom: { blake3: blake3Hex(bytes) } },
  });
}

function dropApp(targets: Record<string, TargetFile>, appId: string, version?: string): number {
  let dropped = 0;
  for (const path of Object.keys(targets)) {
    const parsed = parseTargetPath(path);
    if (parsed?.appId === appId && (version === undefined || parsed.version === version)) {
      delete targets[path];
      dropped++;
    }
  }
  return dropped;
}

export function removeApp(
  repo: Repository,
  appId: string,
  options: { now: number; lifetimes: Lifetimes },
): Repository {
  const listed = listApps(repo).find((a) => a.id === appId);
  if (!listed)
    throw new CatalogError(
      `${appId} is not in the catalog (see archy catalog verify, or the apps listed by sign)`,
    );
  return editTargets(repo, listed.role, options.now, options.lifetimes, (targets, delegations) => {
    dropApp(targets, appId);
    return delegations;
  });
}

/**
 * Gives a namespace its own keys: a delegated role that may sign only `<namespace>.*` apps, and
 * that nodes stop at (terminating), so no other role can answer for that namespace. Delegating an
 * existing namespace again replaces its keys (its metadata then needs the new keys' signatures).
 */
export function delegate(
  repo: Repository,
  namespace: string,
  keys: Key[],
  threshold: number,
  options: { now: number; lifetimes: Lifetimes },
): Repository {
  if (!isNamespace(namespace))
    throw new CatalogError(
      `"${namespace}" is not a namespace: use a DNS label such as community (not a role name like targets)`,
    );
  if (threshold < 1 || threshold > keys.length)
    throw new CatalogError(`threshold ${threshold} needs between 1 and ${keys.length} keys`);
  const inTop = [...appsInRole(repo.targets).keys()].filter((id) => namespaceOf(id) === namespace);
  if (inTop.length > 0)
    throw new CatalogError(
      `the top-level targets role signs ${inTop.join(", ")} in namespace ${namespace}: remove them first, then add them to the delegated role`,
    );
  let next = editTargets(repo, "targets", options.now, options.lifetimes, (_targets, delegations) => {
    const keysById: Record<string, Key> = { ...(delegations?.keys ?? {}) };
    for (const key of keys) keysById[key.keyID] = key;
    const roles = { ...(delegations?.roles ?? {}) };
    roles[namespace] = new DelegatedRole({
      name: namespace,
      keyIDs: keys.map((k) => k.keyID),
      threshold,
      terminating: true,
      paths: namespacePatterns(namespace),
    });
    return new Delegations({ keys: pruneKeys(keysById, Object.values(roles)), roles });
  });
  const existing = repo.delegated[namespace];
  next = existing
    ? editTargets(next, namespace, options.now, options.lifetimes, (_t, d) => d)
    : {
        ...next,
        delegated: {
          ...next.delegated,
          [namespace]: new Metadata(
            new Targets({
              version: 1,
              specVersion: "1.0.31",
              expires: expiresAt(options.now, options.lifetimes.delegated),
              targets: {},
            }),
          ),
        },
      };
  return next;
}

/** Keeps only the keys some role still uses (a key dropped from every role must not linger). */
function pruneKeys(keys: Record<string, Key>, roles: Array<{ keyIDs: string[] }>): Record<string, Key> {
  const used = new Set(roles.flatMap((r) => r.keyIDs));
  return Object.fromEntries(Object.entries(keys).filter(([id]) => used.has(id)));
}

// ---------------------------------------------------------------- root rotation

export type RootChange = { role: TopRole; add: Key[]; remove: string[]; threshold?: number };

/**
 * Prepares the next root: keys added to or removed from top-level roles, thresholds changed, a new
 * expiry. It becomes part of the chain once signed by a threshold of the previous root's keys and of
 * its own, so a node that trusts the old root can follow it.
 */
export function rotateRoot(
  repo: Repository,
  changes: RootChange[],
  options: { now: number; lifetimes: Lifetimes },
): Repository {
  const base = repo.pendingRoot ?? activeRoot(repo);
  const keys: Record<string, Key> = { ...base.signed.keys };
  const roles: Record<string, Role> = {};
  for (const [name, role] of Object.entries(base.signed.roles)) {
    const change = changes.filter((c) => c.role === name);
    let keyIDs = role.keyIDs;
    let threshold = role.threshold;
    for (const c of change) {
      for (const id of c.remove)
        if (!keyIDs.includes(id))
          throw new CatalogError(`key ${id} is not a ${name} key: the ${name} keys are ${keyIDs.join(", ")}`);
      keyIDs = [...keyIDs.filter((id) => !c.remove.includes(id)), ...c.add.map((k) => k.keyID)];
      for (const key of c.add) keys[key.keyID] = key;
      threshold = c.threshold ?? threshold;
    }
    if (threshold < 1 || threshold > keyIDs.length)
      throw new CatalogError(
        `${name}: threshold ${threshold} with ${keyIDs.length} key(s) could never be met: keep at least ${threshold} keys or lower --threshold`,
      );
    roles[name] = new Role({ keyIDs, threshold });
  }
  const pending = repo.pendingRoot;
  const version = pending ? pending.signed.version : base.signed.version + 1;
  const root = new Metadata(
    new Root({
      version,
      specVersion: base.signed.specVersion,
      expires: expiresAt(options.now, options.lifetimes.root),
      keys: pruneKeys(keys, Object.values(roles)),
      roles,
      consistentSnapshot: true,
    }),
  );
  return { ...repo, pendingRoot: root };
}

// ---------------------------------------------------------------- signing

/** Whether `metadata` carries a threshold of valid signatures of `role` as `delegator` defines it. */
function meetsThreshold(
  delegator: Metadata<Root | Targets>,
  role: string,
  metadata: Metadata<Root | Targets | Snapshot | Timestamp>,
): boolean {
  try {
    delegator.verifyDelegate(role, metadata);
    return true;
  } catch {
    return false;
  }
}

/** The keys and threshold a role is signed with, as its delegator defines them. */
export function roleKeys(repo: Repository, role: string): { keyIDs: string[]; threshold: number } {
  if (role === "root" || role === "targets" || role === "snapshot" || role === "timestamp") {
    const definition = activeRoot(repo).signed.roles[role];
    if (!definition) throw new CatalogError(`the root defines no ${role} role`);
    return definition;
  }
  const definition = repo.targets.signed.delegations?.roles?.[role];
  if (!definition) throw new CatalogError(`no delegated role ${role}: add it with archy catalog delegate`);
  return definition;
}

function sign<T extends Root | Targets | Snapshot | Timestamp>(
  metadata: Metadata<T>,
  role: string,
  allowed: string[],
  keys: SigningKey[],
): Metadata<T> {
  const copy = new Metadata(metadata.signed, { ...metadata.signatures });
  for (const key of keys) {
    if (!allowed.includes(key.key.keyID))
      throw new CatalogError(
        `key ${key.key.keyID} is not a ${role} key (the ${role} keys are ${allowed.join(", ") || "none"}): pick the key file made for ${role}`,
      );
    copy.sign(signer(key));
  }
  return copy;
}

/**
 * Signs a role with the given keys. Root and targets roles collect signatures over several runs
 * (k-of-n, each key holder on their own machine). Snapshot and timestamp are made anew from what
 * they describe at each signing, and need their threshold in that one run: they are the online roles.
 */
export function signRole(
  repo: Repository,
  role: string,
  keys: SigningKey[],
  options: { now: number; lifetimes: Lifetimes },
): Repository {
  if (keys.length === 0) throw new CatalogError(`no key to sign ${role} with: pass --key FILE`);
  if (role === "root") {
    const pending = repo.pendingRoot;
    if (!pending)
      throw new CatalogError(
        "root has no pending version to sign: archy catalog rotate-root prepares one (also to renew its expiry)",
      );
    const previous = repo.roots.at(-1);
    const allowed = [
      ...new Set([
        ...(previous?.signed.roles.root?.keyIDs ?? []),
        ...(pending.signed.roles.root?.keyIDs ?? []),
      ]),
    ];
    const signed = sign(pending, "root", allowed, keys);
    const complete =
      meetsThreshold(signed, "root", signed) && (!previous || meetsThreshold(previous, "root", signed));
    return complete
      ? { ...repo, roots: [...repo.roots, signed], pendingRoot: undefined }
      : { ...repo, pendingRoot: signed };
  }
  if (role === "snapshot" || role === "timestamp") {
    const made =
      role === "snapshot"
        ? makeSnapshot(repo, options.now, options.lifetimes)
        : makeTimestamp(repo, options.now, options.lifetimes);
    const signed = sign(made as Metadata<Snapshot | Timestamp>, role, roleKeys(repo, role).keyIDs, keys);
    if (!meetsThreshold(activeRoot(repo), role, signed)) {
      const { threshold } = roleKeys(repo, role);
      throw new CatalogError(
        `${role} needs ${threshold} signatures in one run and got ${keys.length}: pass ${threshold} --key files`,
      );
    }
    return role === "snapshot"
      ? { ...repo, snapshot: signed as Metadata<Snapshot> }
      : { ...repo, timestamp: signed as Metadata<Timestamp> };
  }
  const metadata = targetsRole(repo, role);
  return withTargetsRole(repo, role, sign(metadata, role, roleKeys(repo, role).keyIDs, keys));
}

/** Renews a role's expiry without other change (snapshot and timestamp are renewed by signing them). */
export function renewRole(
  repo: Repository,
  role: string,
  options: { now: number; lifetimes: Lifetimes },
): Repository {
  if (role === "root") return rotateRoot(repo, [], options);
  if (role === "snapshot" || role === "timestamp")
    throw new CatalogError(`${role} is renewed by signing it: archy catalog sign --role ${role}`);
  return editTargets(repo, role, options.now, options.lifetimes, (_targets, delegations) => delegations);
}

function targetsRoles(repo: Repository): Array<[string, Metadata<Targets>]> {
  return [
    ["targets", repo.targets],
    ...Object.entries(repo.delegated).sort(([a], [b]) => a.localeCompare(b)),
  ];
}

function makeSnapshot(repo: Repository, now: number, lifetimes: Lifetimes): Metadata<Snapshot> {
  const meta: Record<string, MetaFile> = {};
  for (const [role, metadata] of targetsRoles(repo)) {
    const delegator = role === "targets" ? activeRoot(repo) : repo.targets;
    if (!meetsThreshold(delegator, role, metadata))
      throw new CatalogError(
        `${role}.json (version ${metadata.signed.version}) is not signed by enough ${role} keys yet: archy catalog sign --role ${role} first`,
      );
    const bytes = metadataBytes(metadata);
    meta[`${role}.json`] = new MetaFile({
      version: metadata.signed.version,
      length: bytes.length,
      hashes: { sha256: sha256Hex(bytes) },
    });
  }
  return new Metadata(
    new Snapshot({
      version: repo.snapshot.signed.version + (Object.keys(repo.snapshot.signatures).length > 0 ? 1 : 0),
      specVersion: repo.snapshot.signed.specVersion,
      expires: expiresAt(now, lifetimes.snapshot),
      meta,
    }),
  );
}

function makeTimestamp(repo: Repository, now: number, lifetimes: Lifetimes): Metadata<Timestamp> {
  if (!meetsThreshold(activeRoot(repo), "snapshot", repo.snapshot) || !snapshotIsCurrent(repo))
    throw new CatalogError(
      "snapshot.json does not describe the current targets: archy catalog sign --role snapshot first",
    );
  const bytes = metadataBytes(repo.snapshot);
  return new Metadata(
    new Timestamp({
      version: repo.timestamp.signed.version + (Object.keys(repo.timestamp.signatures).length > 0 ? 1 : 0),
      specVersion: repo.timestamp.signed.specVersion,
      expires: expiresAt(now, lifetimes.timestamp),
      snapshotMeta: new MetaFile({
        version: repo.snapshot.signed.version,
        length: bytes.length,
        hashes: { sha256: sha256Hex(bytes) },
      }),
    }),
  );
}

function snapshotIsCurrent(repo: Repository): boolean {
  const meta = repo.snapshot.signed.meta;
  const roles = targetsRoles(repo);
  return (
    Object.keys(meta).length === roles.length &&
    roles.every(([role, metadata]) => {
      const recorded = meta[`${role}.json`];
      const bytes = metadataBytes(metadata);
      return recorded?.version === metadata.signed.version && recorded.hashes?.sha256 === sha256Hex(bytes);
    })
  );
}

// ---------------------------------------------------------------- status

export type RoleStatus = {
  role: string;
  version: number;
  expires: string;
  signatures: number;
  threshold: number;
  /** What stops this role from being published, with the fix; undefined when it is ready. */
  problem: string | undefined;
};

/** Each role's state and what keeps the catalog from being published. */
export function status(repo: Repository, now: number): RoleStatus[] {
  const root = activeRoot(repo);
  const expired = (metadata: Metadata<Root | Targets | Snapshot | Timestamp>) =>
    metadata.signed.isExpired(new Date(now));
  const entry = (
    role: string,
    metadata: Metadata<Root | Targets | Snapshot | Timestamp>,
    delegator: Metadata<Root | Targets>,
    problem: string | undefined,
  ): RoleStatus => {
    const { threshold } = roleKeys(repo, role);
    const valid = meetsThreshold(delegator, role, metadata);
    return {
      role,
      version: metadata.signed.version,
      expires: metadata.signed.expires,
      signatures: Object.keys(metadata.signatures).length,
      threshold,
      problem: !valid
        ? `needs ${threshold} valid signature(s): archy catalog sign --role ${role} --key FILE`
        : expired(metadata)
          ? `expired ${metadata.signed.expires}: renew it (archy catalog sign --role ${role}${role === "snapshot" || role === "timestamp" ? "" : " --renew"})`
          : problem,
    };
  };
  const previous = repo.roots.at(-1);
  const rootProblem = repo.pendingRoot
    ? `version ${root.signed.version} is not signed by enough keys of ${previous ? `version ${previous.signed.version} and ` : ""}itself yet: archy catalog sign --role root --key FILE`
    : undefined;
  const rootRow = entry("root", repo.pendingRoot ?? root, repo.pendingRoot ?? root, undefined);
  const rows: RoleStatus[] = [{ ...rootRow, problem: rootProblem ?? rootRow.problem }];
  for (const [role, metadata] of targetsRoles(repo))
    rows.push(entry(role, metadata, role === "targets" ? root : repo.targets, undefined));
  rows.push(
    entry(
      "snapshot",
      repo.snapshot,
      root,
      snapshotIsCurrent(repo) ? undefined : "describes older targets: archy catalog sign --role snapshot",
    ),
  );
  const timestampCurrent =
    repo.timestamp.signed.snapshotMeta.version === repo.snapshot.signed.version &&
    repo.timestamp.signed.snapshotMeta.hashes?.sha256 === sha256Hex(metadataBytes(repo.snapshot));
  rows.push(
    entry(
      "timestamp",
      repo.timestamp,
      root,
      timestampCurrent ? undefined : "describes an older snapshot: archy catalog sign --role timestamp",
    ),
  );
  return rows;
}
