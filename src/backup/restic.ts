/**
 * The one module that talks to restic (Debian's `restic` package, installed by the doctor). What
 * restic reports is read from its `--json` output, checked with zod; its text output is never
 * parsed. The repository key reaches restic only through RESTIC_PASSWORD_FILE (a 0600 file of the
 * node), never on its command line; remote credentials only through its environment. restic's
 * cache lives under the node's data directory and is bounded (`boundCache`).
 *
 * App data belongs to the containers' uids (subordinate ids of the daemon user), so restic runs
 * inside the user namespace (`podman unshare`) when the daemon is not root: it reads every file,
 * and a restore gives each file its owner back.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Dirent } from "node:fs";
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { exec } from "../system/exec.ts";

/** A repository as restic opens it: where, the key file, and credentials for a remote one. */
export type Repository = {
  /** A directory path, or a restic URL (`sftp:`, `rest:`, `s3:`, …). */
  location: string;
  /** A 0600 file holding the repository key. */
  keyFile: string;
  /** Credentials for the remote kind, e.g. AWS_ACCESS_KEY_ID: passed in the environment only. */
  env?: Record<string, string>;
};

/** restic's progress while backing up (`message_type: status`). */
export const BackupStatus = z.looseObject({
  message_type: z.literal("status"),
  percent_done: z.number(),
  total_files: z.number().optional(),
  files_done: z.number().optional(),
  total_bytes: z.number().optional(),
  bytes_done: z.number().optional(),
  seconds_elapsed: z.number().optional(),
  seconds_remaining: z.number().optional(),
});
export type BackupStatus = z.infer<typeof BackupStatus>;

/** restic's last line of a backup (`message_type: summary`). */
export const BackupSummary = z.looseObject({
  message_type: z.literal("summary"),
  files_new: z.number(),
  files_changed: z.number(),
  files_unmodified: z.number(),
  data_added: z.number(),
  total_files_processed: z.number(),
  total_bytes_processed: z.number(),
  total_duration: z.number(),
  snapshot_id: z.string().min(1),
});
export type BackupSummary = z.infer<typeof BackupSummary>;

const BackupLine = z.discriminatedUnion("message_type", [
  BackupStatus,
  BackupSummary,
  z.looseObject({ message_type: z.literal("error"), error: z.unknown(), item: z.string().optional() }),
  z.looseObject({ message_type: z.literal("verbose_status") }),
]);

/** One snapshot as `restic snapshots --json` lists it. */
export const ResticSnapshot = z.looseObject({
  id: z.string().regex(/^[0-9a-f]{64}$/),
  short_id: z.string(),
  time: z.string(),
  paths: z.array(z.string()),
  hostname: z.string().optional(),
  tags: z.array(z.string()).nullish(),
});
export type ResticSnapshot = z.infer<typeof ResticSnapshot>;

/** restic said no: what it was asked to do and its own last words (which never hold the key). */
export class ResticError extends Error {
  override name = "ResticError";
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Progress a backup reports (files, bytes, time left), derived from restic's status lines. */
export type BackupProgress = {
  percent: number;
  filesDone: number;
  totalFiles: number;
  bytesDone: number;
  totalBytes: number;
  secondsRemaining: number | undefined;
};

export function progressOf(status: BackupStatus): BackupProgress {
  return {
    percent: Math.round(status.percent_done * 1000) / 10,
    filesDone: status.files_done ?? 0,
    totalFiles: status.total_files ?? 0,
    bytesDone: status.bytes_done ?? 0,
    totalBytes: status.total_bytes ?? 0,
    secondsRemaining: status.seconds_remaining,
  };
}

/** Parses one line of `restic backup --json`; a line that is not restic's JSON is an error. */
export function parseBackupLine(line: string): z.infer<typeof BackupLine> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new ResticError(`restic backup printed a line that is not JSON: ${line.slice(0, 200)}`, 0);
  }
  const parsed = BackupLine.safeParse(value);
  if (!parsed.success)
    throw new ResticError(`restic backup printed an unexpected message: ${line.slice(0, 200)}`, 0);
  return parsed.data;
}

export function parseSnapshots(stdout: string): ResticSnapshot[] {
  let value: unknown;
  try {
    value = JSON.parse(stdout.trim() || "[]");
  } catch {
    throw new ResticError("restic snapshots did not print JSON", 0);
  }
  const parsed = z.array(ResticSnapshot).nullable().safeParse(value);
  if (!parsed.success)
    throw new ResticError(
      `restic snapshots printed an unexpected list: ${parsed.error.issues[0]?.message}`,
      0,
    );
  return parsed.data ?? [];
}

/** What `restic forget --json` says of each group: the snapshots it removed (the first line of its output). */
const ForgetGroups = z.array(z.looseObject({ remove: z.array(z.looseObject({ id: z.string() })).nullish() }));

/** How many snapshots `restic forget --json [--prune]` removed: its JSON is the first line; prune's text follows it. */
export function parseForget(stdout: string): number {
  const first = stdout.split("\n").find((line) => line.startsWith("["));
  let value: unknown;
  try {
    value = JSON.parse(first ?? "");
  } catch {
    throw new ResticError("restic forget did not print its JSON summary", 0);
  }
  const parsed = ForgetGroups.safeParse(value);
  if (!parsed.success) throw new ResticError("restic forget printed an unexpected summary", 0);
  return parsed.data.reduce((sum, group) => sum + (group.remove?.length ?? 0), 0);
}

/** The environment restic gets: the repository, its key file, the cache, credentials; never the key. */
export function resticEnv(repository: Repository, cacheDir: string): Record<string, string> {
  return {
    ...repository.env,
    RESTIC_REPOSITORY: repository.location,
    RESTIC_PASSWORD_FILE: repository.keyFile,
    RESTIC_CACHE_DIR: cacheDir,
    // restic must never stop to ask for anything: the daemon has no terminal.
    RESTIC_PROGRESS_FPS: "1",
  };
}

/** The argument vector of a backup: the paths, tags, excludes (globs, restic's syntax). */
export function backupArgs(options: {
  paths: readonly string[];
  tags: readonly string[];
  excludes: readonly string[];
  host: string;
}): string[] {
  return [
    "backup",
    "--json",
    "--host",
    options.host,
    ...options.tags.flatMap((tag) => ["--tag", tag]),
    ...options.excludes.flatMap((glob) => ["--exclude", glob]),
    "--",
    ...options.paths,
  ];
}

/** The last line restic wrote on stderr that says something: its reason for failing. */
export function lastWords(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("{"));
  const fatal = lines.find((line) => line.startsWith("Fatal:"));
  return (fatal ?? lines.at(-1) ?? "no message").replace(/^Fatal:\s*/, "").slice(0, 500);
}

/** The cache grows with the repositories' index; past this it is deleted (restic rebuilds it). */
export const DEFAULT_CACHE_LIMIT_BYTES = 1024 * 1024 * 1024;

export type ResticOptions = {
  cacheDir: string;
  cacheLimitBytes?: number;
  /** Run inside the user namespace (default: when not root). */
  userNamespace?: boolean;
  /** The hostname recorded in snapshots (default: "archipelago"): restores do not depend on it. */
  host?: string;
};

type RunResult = { code: number; stdout: string; stderr: string };

export class Restic {
  readonly #cacheDir: string;
  readonly #cacheLimit: number;
  readonly #inNamespace: boolean;
  readonly #host: string;
  /** restic processes running now, so that a daemon that stops ends them (`stopAll`). */
  readonly #children = new Set<ChildProcess>();

  constructor(options: ResticOptions) {
    this.#cacheDir = options.cacheDir;
    this.#cacheLimit = options.cacheLimitBytes ?? DEFAULT_CACHE_LIMIT_BYTES;
    this.#inNamespace = options.userNamespace ?? process.getuid?.() !== 0;
    this.#host = options.host ?? "archipelago";
  }

  /** Creates the repository (its key from the key file); fails if one is there already. */
  async init(repository: Repository): Promise<void> {
    await this.#ok(repository, "init", ["init"]);
  }

  /** Opens the repository with its key and verifies its structure (`restic check`). */
  async check(repository: Repository): Promise<void> {
    await this.#ok(repository, "check", ["check", "--no-lock"]);
  }

  /** Applies a retention policy (`args`: schedule.ts's forgetArgs); returns how many snapshots went. */
  async forget(repository: Repository, args: string[]): Promise<number> {
    return parseForget((await this.#ok(repository, "forget", args)).stdout);
  }

  /**
   * Removes the stale locks a killed restic left (`restic unlock` without `--remove-all`): restic
   * 0.14 lets them block every exclusive operation (prune, a locking check) until removed, and an
   * exclusive one blocks backups. restic removes only a lock whose process is gone from this host
   * (or that is older than 30 minutes), never the lock of a restic still running.
   */
  async unlockStale(repository: Repository): Promise<void> {
    await this.#ok(repository, "unlock", ["unlock"]);
  }

  /**
   * The bytes free where a directory repository lives, as restic sees it (inside the user namespace,
   * whose mounts can differ from the daemon's); undefined when that cannot be read.
   */
  async freeBytes(location: string): Promise<number | undefined> {
    const argv = ["stat", "--file-system", "--format", "%a %S", "--", location];
    const [file, ...args] = this.#inNamespace ? ["podman", "unshare", ...argv] : argv;
    const result = await exec(file as string, args, { timeoutMs: 60_000 });
    const [blocks, size] = result.stdout.trim().split(" ").map(Number);
    return result.code === 0 && Number.isSafeInteger(blocks) && Number.isSafeInteger(size)
      ? (blocks as number) * (size as number)
      : undefined;
  }

  /** Whether a repository exists at the location (its config file opens with the key). */
  async snapshots(repository: Repository, tags: readonly string[] = []): Promise<ResticSnapshot[]> {
    const tagArgs = tags.length > 0 ? ["--tag", tags.join(",")] : [];
    const result = await this.#ok(repository, "snapshots", ["snapshots", "--json", "--no-lock", ...tagArgs]);
    return parseSnapshots(result.stdout);
  }

  async backup(
    repository: Repository,
    options: { paths: readonly string[]; tags: readonly string[]; excludes: readonly string[] },
    onProgress: (progress: BackupProgress) => void,
  ): Promise<BackupSummary> {
    let summary: BackupSummary | undefined;
    const errors: string[] = [];
    const result = await this.#run(repository, backupArgs({ ...options, host: this.#host }), (line) => {
      const message = parseBackupLine(line);
      if (message.message_type === "status") onProgress(progressOf(message));
      else if (message.message_type === "summary") summary = message;
      else if (message.message_type === "error")
        errors.push(`${message.item ?? ""}: ${JSON.stringify(message.error)}`.slice(0, 300));
    });
    // Exit 3: a snapshot was made but some files could not be read — not a backup to trust.
    if (result.code !== 0 || !summary)
      throw new ResticError(`restic backup failed: ${errors[0] ?? lastWords(result.stderr)}`, result.code);
    return summary;
  }

  /** Restores the snapshot under `target` (each path at its original absolute path below it). */
  async restore(repository: Repository, snapshotId: string, target: string): Promise<void> {
    await this.#ok(repository, "restore", ["restore", "--target", target, "--", snapshotId]);
  }

  /** Deletes the cache once it outgrows its bound; restic rebuilds what it needs. */
  async boundCache(): Promise<void> {
    if ((await treeBytes(this.#cacheDir)) > this.#cacheLimit)
      await rm(this.#cacheDir, { recursive: true, force: true });
  }

  /**
   * Ends every restic process (a daemon stopping). restic is interrupted safely: what it wrote is
   * never a snapshot until its last step, and its lock is stale once it is gone.
   */
  stopAll(): void {
    for (const child of this.#children) child.kill("SIGTERM");
  }

  async #ok(repository: Repository, what: string, args: string[]): Promise<RunResult> {
    const result = await this.#run(repository, args);
    if (result.code !== 0)
      throw new ResticError(`restic ${what} failed: ${lastWords(result.stderr)}`, result.code);
    return result;
  }

  #run(repository: Repository, args: string[], onLine?: (line: string) => void): Promise<RunResult> {
    const argv = this.#inNamespace ? ["podman", "unshare", "restic", ...args] : ["restic", ...args];
    const env = { ...process.env, ...resticEnv(repository, this.#cacheDir) };
    return new Promise((resolve) => {
      const child = spawn(argv[0] as string, argv.slice(1), {
        cwd: "/",
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      this.#children.add(child);
      child.on("close", () => this.#children.delete(child));
      let stdout = "";
      let stderr = "";
      let pending = "";
      let lineError: Error | undefined;
      child.stdout.on("data", (chunk: Buffer) => {
        if (!onLine) {
          stdout += chunk.toString();
          return;
        }
        pending += chunk.toString();
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines)
          if (line.trim())
            try {
              onLine(line);
            } catch (error) {
              lineError ??= error as Error;
            }
      });
      child.stderr.on("data", (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-20_000);
      });
      child.on("error", (error) => resolve({ code: 127, stdout, stderr: `${stderr}\n${error.message}` }));
      child.on("close", (code, signal) => {
        if (onLine && pending.trim())
          try {
            onLine(pending);
          } catch (error) {
            lineError ??= error as Error;
          }
        if (lineError) return resolve({ code: code || 1, stdout, stderr: `${stderr}\n${lineError.message}` });
        resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
      });
    });
  }
}

/** The bytes of the files under `dir` (0 when it is missing). */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await treeBytes(path);
    else if (entry.isFile()) total += (await stat(path)).size;
  }
  return total;
}
