/**
 * Backup targets: where an app's snapshots go. Each target is one restic repository, encrypted with
 * a key the node generates (or the operator brings, to open a repository made by another node). The
 * node keeps each target under `<data>/backup/targets/<name>/`, a 0700 directory: `target.json`
 * (its location, 0600: a REST URL may carry a login), `key` and `credentials.json` (0600). Keys and
 * credentials are added to the daemon's secret mask, so they never reach a log, an event or a reply
 * other than the one that shows a new key, once.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { isAbsolute, join, normalize } from "node:path";
import { z } from "zod";
import type { Repository } from "./restic.ts";

/** Target names: short labels, safe as directory names. */
export const TARGET_NAME = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;

/** The remote kinds restic accepts, and the credentials each takes from the environment. */
export const REMOTE_KINDS = {
  sftp: [],
  rest: [],
  s3: ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"],
  b2: ["B2_ACCOUNT_ID", "B2_ACCOUNT_KEY"],
} as const satisfies Record<string, readonly string[]>;
export type TargetKind = "local" | keyof typeof REMOTE_KINDS;

/**
 * The credentials without which a remote kind cannot work: restic would only fail later, at `init`,
 * with the storage's own answer (or a connection error that hides the missing login).
 */
const REQUIRED_CREDENTIALS: Partial<Record<TargetKind, readonly string[]>> = {
  s3: ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
  b2: ["B2_ACCOUNT_ID", "B2_ACCOUNT_KEY"],
};

export class TargetError extends Error {
  override name = "TargetError";
  readonly code: "invalid" | "not-found" | "exists" | "unusable";
  constructor(code: TargetError["code"], message: string) {
    super(message);
    this.code = code;
  }
}

/** What the operator typed as a location, checked: an absolute directory, or a restic URL. */
export function parseLocation(input: string): { kind: TargetKind; location: string } {
  const text = input.trim();
  const scheme = /^([a-z0-9]+):/.exec(text)?.[1];
  if (scheme && scheme in REMOTE_KINDS) {
    if (text.length === scheme.length + 1)
      throw new TargetError(
        "invalid",
        `location: "${input}" names no ${scheme} repository after "${scheme}:"`,
      );
    return { kind: scheme as TargetKind, location: text };
  }
  if (scheme && !text.startsWith("/"))
    throw new TargetError(
      "invalid",
      `location: "${scheme}:" is not a kind of target this node supports; use an absolute directory (/mnt/backup/archy) or a URL starting with ${Object.keys(REMOTE_KINDS).join(":, ")}:`,
    );
  if (!isAbsolute(text))
    throw new TargetError(
      "invalid",
      `location: "${input}" is not an absolute directory path; give the full path, e.g. /mnt/backup/archy`,
    );
  // Canonical: no `..`, no trailing slash, so one directory has one spelling.
  const location = normalize(text).replace(/(.)\/+$/, "$1");
  if (location.split("/").includes("..") || location === "/")
    throw new TargetError("invalid", `location: "${input}" is not a directory of its own`);
  return { kind: "local", location };
}

/** A location as shown to the operator: a login inside a URL is masked. */
export function displayLocation(location: string): string {
  return location.replace(/\/\/([^/@:]+):([^/@]+)@/, "//$1:***@");
}

/** Credentials for a remote kind: only the names that kind takes, each non-empty. */
export function checkCredentials(
  kind: TargetKind,
  credentials: Record<string, string>,
): Record<string, string> {
  const allowed: readonly string[] = kind === "local" ? [] : REMOTE_KINDS[kind];
  for (const [name, value] of Object.entries(credentials)) {
    if (!allowed.includes(name))
      throw new TargetError(
        "invalid",
        `credentials: ${name} is not a credential of ${aTarget(kind)}; ${allowed.length > 0 ? `it takes ${allowed.join(", ")}` : "it takes none (an sftp target uses the daemon user's SSH keys; a rest URL carries its login)"}`,
      );
    if (value.length === 0 || value.length > 4096 || /[\0\n]/.test(value))
      throw new TargetError("invalid", `credentials: ${name} must be one line of 1 to 4096 characters`);
  }
  const missing = (REQUIRED_CREDENTIALS[kind] ?? []).filter((name) => !(name in credentials));
  if (missing.length > 0)
    throw new TargetError(
      "invalid",
      `credentials: ${aTarget(kind)} needs ${missing.join(" and ")}; give ${missing.length > 1 ? "them" : "it"} as NAME=VALUE lines in a file (archy backup targets add NAME ${kind}:… --credentials-file FILE)`,
    );
  return credentials;
}

/** "an s3 target", "a b2 target": the kind as it is read aloud. */
const aTarget = (kind: TargetKind) => `${kind.startsWith("s") ? "an" : "a"} ${kind} target`;

/** Writes a 0600 file under a temporary name and renames it over `path`: a crash leaves the old or the new. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const partial = `${path}.partial`;
  await writeFile(partial, text, { mode: 0o600 });
  await rename(partial, path);
}

/** A new repository key: 32 random bytes, base64url (43 characters). */
export function generateKey(): string {
  return randomBytes(32).toString("base64url");
}

const ScheduleSettingRecord = z.strictObject({ spec: z.string().min(1), since: z.number() });
const KeepCount = z.number().int().min(0).max(10_000).optional();

/** A target's schedules (scheduler.ts) and the retention applied after each scheduled backup. */
export const TargetPlan = z.strictObject({
  backup: ScheduleSettingRecord.nullable(),
  check: ScheduleSettingRecord.nullable(),
  keep: z.strictObject({ last: KeepCount, daily: KeepCount, weekly: KeepCount, monthly: KeepCount }),
});
export type TargetPlan = z.infer<typeof TargetPlan>;
export const NO_PLAN: TargetPlan = { backup: null, check: null, keep: {} };

const TargetRecord = z.strictObject({
  name: z.string().regex(TARGET_NAME),
  kind: z.enum(["local", ...(Object.keys(REMOTE_KINDS) as Array<keyof typeof REMOTE_KINDS>)]),
  location: z.string().min(1),
  createdAt: z.number(),
  plan: TargetPlan.optional(),
});
export type TargetRecord = z.infer<typeof TargetRecord>;
export type TargetView = Omit<TargetRecord, "location"> & { location: string };

export class Targets {
  readonly root: string;
  /** Learns each key and credential, so the daemon masks them wherever it writes text. */
  readonly #learn: (name: string, value: string) => void;

  constructor(root: string, learn: (name: string, value: string) => void) {
    this.root = root;
    this.#learn = learn;
  }

  #dir(name: string): string {
    return join(this.root, name);
  }

  /** Reads every target and teaches the mask their keys and credentials (at start). */
  async learnExisting(): Promise<void> {
    for (const target of await this.list()) await this.repository(target.name);
  }

  async list(): Promise<TargetRecord[]> {
    let names: string[];
    try {
      names = (await readdir(this.root)).filter((name) => TARGET_NAME.test(name));
    } catch {
      return [];
    }
    const records: TargetRecord[] = [];
    for (const name of names.sort()) {
      const record = await this.#record(name).catch(() => undefined);
      if (record) records.push(record);
    }
    return records;
  }

  async #record(name: string): Promise<TargetRecord> {
    let text: string;
    try {
      text = await readFile(join(this.#dir(name), "target.json"), "utf8");
    } catch {
      throw new TargetError("not-found", `no backup target named ${name} (archy backup targets lists them)`);
    }
    const record = TargetRecord.parse(JSON.parse(text));
    this.#learnLocation(record.location);
    return record;
  }

  #learnLocation(location: string): void {
    const login = /\/\/[^/@:]+:([^/@]+)@/.exec(location)?.[1];
    if (login) this.#learn("backup-target-login", login);
  }

  /** The target named `name`, or the only one when no name is given. */
  async resolve(name: string | undefined): Promise<TargetRecord> {
    if (name !== undefined) {
      if (!TARGET_NAME.test(name))
        throw new TargetError("invalid", `target: "${name}" is not a target name (a-z, 0-9, '-')`);
      return this.#record(name);
    }
    const all = await this.list();
    if (all.length === 1) return all[0] as TargetRecord;
    throw new TargetError(
      all.length === 0 ? "not-found" : "invalid",
      all.length === 0
        ? "no backup target yet: add one with archy backup targets add NAME DIRECTORY"
        : `target: this node has ${all.length} targets (${all.map((t) => t.name).join(", ")}); name one with --target`,
    );
  }

  /** The repository restic opens for a target: its location, key file and credentials. */
  async repository(name: string): Promise<Repository> {
    const record = await this.#record(name);
    const dir = this.#dir(name);
    const key = await readFile(join(dir, "key"), "utf8").catch(() => {
      throw new TargetError("unusable", `the key file of target ${name} (${join(dir, "key")}) is missing`);
    });
    this.#learn(`backup-target/${name}`, key.trim());
    const credentials = JSON.parse(
      await readFile(join(dir, "credentials.json"), "utf8").catch(() => "{}"),
    ) as Record<string, string>;
    for (const [what, value] of Object.entries(credentials))
      this.#learn(`backup-target/${name}/${what}`, value);
    return { location: record.location, keyFile: join(dir, "key"), env: credentials };
  }

  /**
   * Records a target, written under a temporary name and renamed into place so that a crash never
   * leaves half a target. `key`: the operator's (an existing repository); else one is generated.
   * Returns the record and whether the key is new (then the operator must be shown it, once).
   */
  async add(
    request: { name: string; location: string; key?: string; credentials?: Record<string, string> },
    now: number,
  ): Promise<{ record: TargetRecord; key: string; generated: boolean }> {
    if (!TARGET_NAME.test(request.name))
      throw new TargetError(
        "invalid",
        `name: "${request.name}" is not a target name: 1 to 32 of a-z, 0-9 and '-', not starting or ending with '-'`,
      );
    const { kind, location } = parseLocation(request.location);
    const credentials = checkCredentials(kind, request.credentials ?? {});
    const existing = await this.list();
    if (existing.some((t) => t.name === request.name))
      throw new TargetError(
        "exists",
        `a backup target named ${request.name} exists already; remove it first or pick another name`,
      );
    const same = existing.find((t) => t.location === location);
    if (same)
      throw new TargetError("exists", `target ${same.name} already uses ${displayLocation(location)}`);
    const key = request.key?.trim() ?? generateKey();
    if (key.length < 8 || /[\n\0]/.test(key))
      throw new TargetError("invalid", "key: a repository key is one line of at least 8 characters");
    this.#learn(`backup-target/${request.name}`, key);
    for (const [what, value] of Object.entries(credentials))
      this.#learn(`backup-target/${request.name}/${what}`, value);
    this.#learnLocation(location);
    const record: TargetRecord = { name: request.name, kind, location, createdAt: now };
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const partial = join(this.root, `.${request.name}.partial`);
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial, { mode: 0o700 });
    await writeFile(join(partial, "key"), `${key}\n`, { mode: 0o600 });
    await writeFile(join(partial, "credentials.json"), JSON.stringify(credentials), { mode: 0o600 });
    await writeFile(join(partial, "target.json"), JSON.stringify(record), { mode: 0o600 });
    await rename(partial, this.#dir(request.name));
    return { record, key, generated: request.key === undefined };
  }

  /** Replaces a target's plan (schedules, retention): written aside and renamed over, never half. */
  async setPlan(name: string, plan: TargetPlan): Promise<TargetRecord> {
    const record = { ...(await this.resolve(name)), plan };
    await writeFileAtomic(join(this.#dir(record.name), "target.json"), JSON.stringify(record));
    return record;
  }

  /** Forgets a target (its repository and snapshots stay where they are). */
  async remove(name: string): Promise<TargetRecord> {
    const record = await this.resolve(name);
    await rm(this.#dir(name), { recursive: true, force: true });
    return record;
  }
}
