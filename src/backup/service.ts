/**
 * Backups and restores as daemon operations. Each is journaled in the store like an install (an
 * operation with its log) and holds its app while it runs: every other request for the app is
 * refused with `operation-in-progress` (lifecycle.ts), never queued, and a second backup of the app
 * gets the same refusal. A `stop` backup and a restore hold the app stopped through the reconciler
 * (`Orchestrator.holds`); the hold is lifted in a `finally`, and lives only in memory, so the app
 * runs again after a failed backup and after a daemon that died during one. The target is opened
 * (key, location) before the app is touched, so a wrong key or a missing target leaves it running.
 */
import { randomUUID } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { dirname, join } from "node:path";
import { parseManifest } from "../manifest/parse.ts";
import type { Manifest } from "../manifest/schema.ts";
import type { Note, OperationKind } from "../orchestrator/model.ts";
import type { Orchestrator } from "../orchestrator/orchestrator.ts";
import { formatBytes } from "../orchestrator/update.ts";
import { exec } from "../system/exec.ts";
import {
  AppFacts,
  appTag,
  type BackupDirs,
  backedUpVolumes,
  backupDirs,
  chooseSnapshot,
  metaPathOf,
  PRE_RESTORE_TAG,
  restoredPath,
} from "./layout.ts";
import { NOTHING_SAID, nextProgressLine } from "./progress-lines.ts";
import { type BackupProgress, type Repository, Restic, ResticError, type ResticSnapshot } from "./restic.ts";
import { RunLog } from "./runs.ts";
import {
  type Alert,
  appAlerts,
  checkAlerts,
  forgetArgs,
  formatSchedule,
  hasRetention,
  type Keep,
  parseSchedule,
  ScheduleError,
  storedSchedule,
} from "./schedule.ts";
import { targetFailureMessage } from "./target-failure.ts";
import { NO_PLAN, TargetError, type TargetPlan, Targets } from "./targets.ts";

/** A request the service refuses before recording anything; `code` maps to an RPC code. */
export class BackupError extends Error {
  override name = "BackupError";
  readonly code: "invalid" | "not-found" | "busy" | "unusable";
  constructor(code: BackupError["code"], message: string) {
    super(message);
    this.code = code;
  }
}

export type BackupAccepted = { operationId: string; appId: string; kind: OperationKind; existing: false };

export type BackupEvent =
  | {
      type: "operation";
      operationId: string;
      appId: string;
      kind?: OperationKind;
      state: "pending" | "running" | "succeeded" | "failed";
      error?: string;
    }
  | {
      type: "log";
      appId: string;
      line: {
        operationId: string;
        seq: number;
        at: number;
        level: "info" | "warn" | "error";
        message: string;
      };
    }
  | ({ type: "backup-progress"; operationId: string; appId: string } & BackupProgress);

export type SnapshotView = {
  id: string;
  shortId: string;
  time: string;
  appId: string;
  version: string | undefined;
  preRestore: boolean;
};

export type BackupsOptions = {
  orchestrator: Orchestrator;
  dataRoot: string;
  publish: (event: BackupEvent) => void;
  clock?: () => number;
  /** How long the app's containers may take to stop before the backup gives up (default 5 min). */
  stopWaitMs?: number;
  /** The shortest interval an `every` schedule may have (default 1 min). */
  minIntervalMs?: number;
};

/** A schedule change: a field given replaces it (null: no schedule), a field left out is kept. */
export type PlanChange = { backup?: string | null; check?: string | null; keep?: Keep };

const inNamespace = process.getuid?.() !== 0;

/** Runs `argv` inside the user namespace (app data belongs to the containers' uids). */
async function inUserNamespace(argv: string[], what: string): Promise<void> {
  const [file, ...args] = inNamespace ? ["podman", "unshare", ...argv] : argv;
  const result = await exec(file as string, args, { timeoutMs: 3_600_000 });
  if (result.code !== 0)
    throw new Error(`could not ${what}: ${result.stderr.trim() || `exit ${result.code}`}`);
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

export class Backups {
  readonly targets: Targets;
  readonly dirs: BackupDirs;
  /** What became of each target's backups and checks (alerts, the schedules' place). */
  readonly runs: RunLog;
  /** Each target's plan, known in memory: alerts are read on every app list, without I/O. */
  readonly #plans = new Map<string, TargetPlan>();
  /** The target of each backup in flight, to record its outcome there. */
  readonly #backupTargets = new Map<string, string>();
  readonly #o: BackupsOptions;
  readonly #restic: Restic;
  readonly #clock: () => number;
  /** Apps with a backup or restore running in this daemon. */
  readonly #running = new Set<string>();
  /** The work of the operations in flight, for `stop`. */
  readonly #inFlight = new Set<Promise<void>>();
  #stopping = false;

  constructor(options: BackupsOptions) {
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
    this.dirs = backupDirs(options.dataRoot);
    const mask = options.orchestrator.secrets.mask;
    this.targets = new Targets(this.dirs.targets, (name, value) => mask.add(name, value));
    this.#restic = new Restic({ cacheDir: this.dirs.cache });
    this.runs = new RunLog(this.dirs.targets);
  }

  /**
   * At start, before the API serves: operations a dead daemon left running are failed (their apps
   * were held only in its memory, so they run again), and a restore cut short between moving a
   * volume aside and moving the snapshot's in gets the volume back.
   */
  async recover(): Promise<void> {
    const { store } = this.#o.orchestrator;
    for (const operation of store.activeOperations())
      if (operation.kind === "backup" || operation.kind === "restore") {
        const error = `interrupted: the daemon stopped during this ${operation.kind}; the app runs again as before${operation.kind === "restore" ? " (its data as it was, or as restored if the restore had finished moving it)" : ""}; run it again`;
        store.setOperationState(operation.id, "failed", this.#clock(), error);
      }
    const asideRoot = join(this.dirs.root, "aside");
    for (const appId of await readdir(asideRoot).catch(() => [] as string[]))
      for (const volume of await readdir(join(asideRoot, appId)).catch(() => [] as string[])) {
        const dest = this.#volumeDir(appId, volume);
        if (!(await exists(dest)))
          await inUserNamespace(["mv", "-T", "--", this.dirs.aside(appId, volume), dest], `put ${dest} back`);
        else
          await inUserNamespace(
            ["rm", "-rf", "--one-file-system", "--", this.dirs.aside(appId, volume)],
            "delete set-aside data",
          );
      }
    await inUserNamespace(
      ["rm", "-rf", "--one-file-system", "--", join(this.dirs.root, "work")],
      "delete restore work",
    );
    await this.targets.learnExisting();
    const targets = await this.targets.list();
    for (const target of targets) this.#plans.set(target.name, target.plan ?? NO_PLAN);
    await this.runs.load(targets.map((t) => t.name));
  }

  /**
   * The daemon stops: restic is ended and the operations in flight fail where they are (a restore
   * puts a volume it had set aside back first); what they left is failed at the next start.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#restic.stopAll();
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Runs an operation's work to its end, recorded; never a rejection left unhandled. */
  #track(operationId: string, appId: string, work: () => Promise<unknown>): Promise<void> {
    const done: Promise<void> = work()
      .then(
        () => this.#end(operationId, appId),
        (error: unknown) => this.#end(operationId, appId, error),
      )
      .catch(() => {
        // The store is closed (the daemon stopped): the next start fails the operation (recover).
      })
      .finally(() => this.#inFlight.delete(done));
    this.#inFlight.add(done);
    return done;
  }

  #volumeDir(appId: string, volume: string): string {
    return join(this.#o.dataRoot, "apps", appId, "volumes", volume);
  }

  #secretsDir(appId: string): string {
    return this.#o.orchestrator.secrets.dirOf(appId);
  }

  // ---- targets

  /** Adds a target and makes (or, with the operator's key, opens) its repository. */
  async addTarget(request: {
    name: string;
    location: string;
    key?: string;
    credentials?: Record<string, string>;
  }) {
    const added = await this.targets.add(request, this.#clock());
    try {
      const repository = await this.targets.repository(added.record.name);
      if (added.record.kind === "local")
        await requireParentDirectory(added.record.name, added.record.location);
      if (added.generated) await this.#restic.init(repository);
      else await this.#restic.snapshots(repository);
    } catch (error) {
      await this.targets.remove(added.record.name).catch(() => {});
      throw this.#targetFailure(added.record.name, added.record.location, error);
    }
    this.#plans.set(added.record.name, NO_PLAN);
    return added;
  }

  async removeTarget(name: string) {
    const removed = await this.targets.remove(name);
    this.#plans.delete(removed.name);
    this.runs.forgetTarget(removed.name);
    return removed;
  }

  /**
   * Sets a target's schedules and retention. A schedule that changes counts its slots from now;
   * bad input is refused naming the field, and nothing changes.
   */
  async setPlan(name: string, change: PlanChange) {
    const record = await this.targets.resolve(name).catch(asBackupError);
    const current = record.plan ?? NO_PLAN;
    const now = this.#clock();
    const setting = (field: "backup" | "check") => {
      const spec = change[field];
      if (spec === undefined) return current[field];
      if (spec === null) return null;
      try {
        const canonical = formatSchedule(
          // Named as the API names it: `schedule` (when to back up) and `check`.
          parseSchedule(spec, field === "backup" ? "schedule" : "check", this.#o.minIntervalMs ?? 60_000),
        );
        return current[field]?.spec === canonical ? current[field] : { spec: canonical, since: now };
      } catch (error) {
        if (error instanceof ScheduleError) throw new BackupError("invalid", error.message);
        throw error;
      }
    };
    const plan: TargetPlan = {
      backup: setting("backup"),
      check: setting("check"),
      keep: change.keep ?? current.keep,
    };
    const saved = await this.targets.setPlan(record.name, plan);
    this.#plans.set(record.name, plan);
    return saved;
  }

  /** Opens the target's repository with its key and checks its structure (`restic check`); the outcome is recorded. */
  async checkTarget(name: string): Promise<{ name: string; snapshots: number }> {
    const record = await this.targets.resolve(name);
    const repository = await this.targets.repository(record.name);
    try {
      await this.#restic.check(repository);
      const snapshots = (await this.#restic.snapshots(repository)).length;
      await this.runs.checked(record.name, { at: this.#clock() });
      return { name: record.name, snapshots };
    } catch (error) {
      const failure = this.#targetFailure(record.name, record.location, error);
      await this.runs.checked(record.name, {
        at: this.#clock(),
        error: this.#o.orchestrator.secrets.mask.apply(failure.message),
      });
      throw failure;
    }
  }

  /**
   * The alerts the operator sees: each of these apps' failed or overdue backups on each target,
   * and each target's failed check. Read from memory: the caller gives the apps (the app list
   * passes its kept rows, so a list reads the store no more for its alerts).
   */
  alerts(
    installed: ReadonlyArray<{ id: string; installedAt: number; desired: string }>,
    now = this.#clock(),
  ): Alert[] {
    const apps = installed.filter((app) => app.desired !== "absent");
    const alerts: Alert[] = [];
    for (const [target, plan] of [...this.#plans].sort(([a], [b]) => a.localeCompare(b))) {
      const stored = storedSchedule(plan.backup);
      const schedule = stored && plan.backup ? { schedule: stored, setting: plan.backup } : undefined;
      for (const app of apps)
        alerts.push(
          ...appAlerts({
            target,
            appId: app.id,
            installedAt: app.installedAt,
            schedule,
            record: this.runs.app(target, app.id),
            now,
          }),
        );
      alerts.push(...checkAlerts(target, this.runs.check(target)));
    }
    return alerts;
  }

  /** The plans the scheduler follows, by target. */
  plans(): ReadonlyMap<string, TargetPlan> {
    return this.#plans;
  }

  /** restic's failure on the target `name` at `location`, in words that say what to do. */
  #targetFailure(name: string, location: string, error: unknown): Error {
    if (error instanceof ResticError)
      return new BackupError(
        "unusable",
        targetFailureMessage(name, location, error.message, userInfo().username),
      );
    return error as Error;
  }

  // ---- listing

  async snapshots(
    appId: string | undefined,
    target: string | undefined,
  ): Promise<{ target: string; snapshots: SnapshotView[] }> {
    const record = await this.targets.resolve(target);
    const repository = await this.targets.repository(record.name);
    let list: ResticSnapshot[];
    try {
      list = await this.#restic.snapshots(repository, appId ? [appTag(appId)] : []);
    } catch (error) {
      throw this.#targetFailure(record.name, record.location, error);
    }
    return { target: record.name, snapshots: list.map(view).sort((a, b) => a.time.localeCompare(b.time)) };
  }

  // ---- operations

  #begin(appId: string, kind: "backup" | "restore"): string {
    const { store } = this.#o.orchestrator;
    if (this.#stopping) throw new BackupError("busy", "the daemon is stopping");
    if (this.#running.has(appId))
      throw new BackupError("busy", `${appId} has a backup or restore in progress; wait for it to finish`);
    const active = store.activeOperations(appId).at(-1);
    if (active)
      throw new BackupError(
        "busy",
        `${appId} has a ${active.kind} in progress (operation ${active.id}); wait for it to finish, then ${kind} again`,
      );
    const operationId = `op-${randomUUID()}`;
    store.recordHoldingOperation({ id: operationId, appId, kind }, this.#clock());
    this.#running.add(appId);
    this.#o.publish({ type: "operation", operationId, appId, kind, state: "pending" });
    this.#o.publish({ type: "operation", operationId, appId, state: "running" });
    return operationId;
  }

  #note(operationId: string, appId: string) {
    return (level: "info" | "warn" | "error", message: string) => {
      const line = this.#o.orchestrator.store.appendLog(operationId, level, message, this.#clock());
      this.#o.publish({ type: "log", appId, line });
    };
  }

  async #end(operationId: string, appId: string, error?: unknown): Promise<void> {
    this.#running.delete(appId);
    const state = error === undefined ? "succeeded" : "failed";
    const message = error === undefined ? undefined : (error as Error).message;
    this.#o.orchestrator.store.setOperationState(operationId, state, this.#clock(), message);
    const recorded = this.#o.orchestrator.store.getOperation(operationId)?.error;
    const target = this.#backupTargets.get(operationId);
    this.#backupTargets.delete(operationId);
    if (target !== undefined)
      await this.runs
        .backedUp(target, appId, {
          at: this.#clock(),
          error: state === "failed" ? (recorded ?? "failed") : undefined,
        })
        .catch(() => {});
    this.#o.publish({
      type: "operation",
      operationId,
      appId,
      state,
      ...(recorded ? { error: recorded } : {}),
    });
  }

  /** Starts a backup of an installed app; resolves once it is recorded (the work goes on). */
  async backup(appId: string, targetName: string | undefined): Promise<BackupAccepted> {
    return (await this.#startBackup(appId, targetName, {})).accepted;
  }

  /**
   * A backup the scheduler asked for, to its end: the schedule's place is recorded once it is
   * accepted, and after a snapshot the target's retention is applied (`restic forget --prune`).
   * `busy`: another operation holds the app; nothing was recorded (the next tick asks again).
   */
  async scheduledBackup(appId: string, target: string): Promise<"done" | "busy"> {
    const keep = this.#plans.get(target)?.keep ?? {};
    let started: { accepted: BackupAccepted; done: Promise<void> };
    try {
      started = await this.#startBackup(appId, target, { keep, scheduledAt: this.#clock() });
    } catch (error) {
      if (error instanceof BackupError && error.code === "busy") return "busy";
      const at = this.#clock();
      await this.runs.scheduled(target, appId, at);
      await this.runs.backedUp(target, appId, {
        at,
        error: this.#o.orchestrator.secrets.mask.apply((error as Error).message),
      });
      return "done";
    }
    await started.done;
    return "done";
  }

  async #startBackup(
    appId: string,
    targetName: string | undefined,
    options: { keep?: Keep; scheduledAt?: number },
  ): Promise<{ accepted: BackupAccepted; done: Promise<void> }> {
    const { store, manifests } = this.#o.orchestrator;
    const app = store.getApp(appId);
    if (!app || app.desired === "absent")
      throw new BackupError("not-found", `${appId} is not installed (archy ls lists the installed apps)`);
    const manifest = manifests.of(app).manifest;
    if (!manifest)
      throw new BackupError(
        "invalid",
        `${appId}'s stored manifest is no longer valid: reinstall or update it first`,
      );
    const target = await this.targets.resolve(targetName).catch(asBackupError);
    const operationId = this.#begin(appId, "backup");
    this.#backupTargets.set(operationId, target.name);
    if (options.scheduledAt !== undefined) await this.runs.scheduled(target.name, appId, options.scheduledAt);
    const note = this.#note(operationId, appId);
    if (options.scheduledAt !== undefined) note("info", `scheduled backup to ${target.name}`);
    const done = this.#track(operationId, appId, async () => {
      const snapshot = await this.#runBackup(operationId, appId, manifest, target.name, note);
      if (options.keep && hasRetention(options.keep))
        await this.#applyRetention(target.name, appId, options.keep, snapshot, note);
    });
    return { accepted: { operationId, appId, kind: "backup", existing: false }, done };
  }

  /** After a scheduled snapshot (the app running again): the target's retention, for this app. */
  async #applyRetention(
    target: string,
    appId: string,
    keep: Keep,
    snapshot: string,
    note: Note,
  ): Promise<void> {
    const repository = await this.targets.repository(target);
    try {
      const removed = await this.#restic.forget(repository, forgetArgs(appTag(appId), keep));
      note(
        "info",
        `retention applied: ${removed} older snapshot${removed === 1 ? "" : "s"} of ${appId} forgotten and pruned`,
      );
    } catch (error) {
      throw new Error(
        `snapshot ${snapshot.slice(0, 8)} was made, but applying the retention failed: ${(error as Error).message}`,
      );
    }
  }

  async #open(target: string, note: Note): Promise<Repository> {
    const repository = await this.targets.repository(target);
    try {
      await this.#restic.boundCache();
      await this.#restic.snapshots(repository);
      await this.#restic.unlockStale(repository);
    } catch (error) {
      throw this.#targetFailure(target, repository.location, error);
    }
    note("info", `target ${target} opened`);
    return repository;
  }

  async #runBackup(
    operationId: string,
    appId: string,
    manifest: Manifest,
    target: string,
    note: Note,
  ): Promise<string> {
    const repository = await this.#open(target, note);
    const paths = await this.#writeFacts(appId, manifest);
    const stop = manifest.backup.consistency === "stop";
    const { orchestrator } = this.#o;
    let failure: unknown;
    try {
      if (stop) await this.#holdStopped(appId, `stopped for a backup (operation ${operationId})`, note);
      else await orchestrator.reconciler.runBackupHook(appId, "pre_backup", manifest.backup.pre_backup, note);
      return await this.#resticBackup(target, repository, operationId, appId, manifest, paths, [], note);
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      if (stop) this.#release(appId, note);
      else
        await orchestrator.reconciler
          .runBackupHook(appId, "post_backup", manifest.backup.post_backup, note)
          .catch((error: unknown) => {
            note("error", `post_backup: ${(error as Error).message}`);
            if (failure === undefined) throw error;
          });
    }
  }

  async #resticBackup(
    target: string,
    repository: Repository,
    operationId: string,
    appId: string,
    manifest: Manifest,
    paths: string[],
    extraTags: string[],
    note: Note,
  ): Promise<string> {
    let said = NOTHING_SAID;
    const summary = await this.#restic
      .backup(
        repository,
        {
          paths,
          tags: [appTag(appId), `version:${manifest.version}`, ...extraTags],
          excludes: manifest.backup.exclude,
        },
        (progress) => {
          this.#o.publish({ type: "backup-progress", operationId, appId, ...progress });
          const next = nextProgressLine(progress, said);
          if (next === undefined) return;
          note("info", next.line);
          said = next.stage;
        },
      )
      .catch(async (error: unknown) => {
        throw await this.#fullTarget(target, repository, error);
      });
    note(
      "info",
      `snapshot ${summary.snapshot_id}: ${summary.total_files_processed} files, ${summary.total_bytes_processed} bytes, ${summary.data_added} bytes added`,
    );
    return summary.snapshot_id;
  }

  /**
   * A backup the target had no room for says so, with the room left where it could be read (a
   * directory target); restic removed what it had begun to write, so the repository stays whole.
   * A directory target is named full only when what restic could not write was in it (its cache,
   * on the node's own disk, can fill up too: then restic's own words stand).
   */
  async #fullTarget(target: string, repository: Repository, error: unknown): Promise<unknown> {
    if (!(error instanceof ResticError) || !/no space left on device/i.test(error.message)) return error;
    const local = (await this.targets.resolve(target)).kind === "local";
    if (local && !error.message.includes(`${repository.location}/`)) return error;
    const free = local ? await this.#restic.freeBytes(repository.location) : undefined;
    const room =
      free === undefined
        ? ""
        : ` (${formatBytes(free)} free at ${repository.location} once it removed its partial writes)`;
    return new Error(
      `target ${target} is full: restic ran out of space writing this backup${room}; nothing was saved. Free space there (or use a larger target) and back up again`,
    );
  }

  /** Writes the facts of the app for its snapshot; returns every path the snapshot holds. */
  async #writeFacts(appId: string, manifest: Manifest): Promise<string[]> {
    const { store } = this.#o.orchestrator;
    const app = store.getApp(appId);
    const meta = this.dirs.meta(appId);
    await mkdir(meta, { recursive: true, mode: 0o700 });
    const volumes: Record<string, string> = {};
    for (const volume of backedUpVolumes(manifest))
      if (await exists(this.#volumeDir(appId, volume))) volumes[volume] = this.#volumeDir(appId, volume);
    const secrets = (await exists(this.#secretsDir(appId))) ? this.#secretsDir(appId) : undefined;
    const facts: AppFacts = {
      appId,
      version: manifest.version,
      source: app?.source ?? "backup",
      ...(app?.publisher ? { publisher: app.publisher } : {}),
      volumes,
      ...(secrets ? { secrets } : {}),
      approvals: store.approvals(appId).map(({ name, content }) => ({ name, content })),
      ...(app ? { envFiles: store.envFiles(appId, app.manifestHash) } : {}),
    };
    await writeFile(join(meta, "manifest.yml"), app?.manifestText ?? "", { mode: 0o600 });
    await writeFile(join(meta, "app.json"), JSON.stringify(facts, null, 2), { mode: 0o600 });
    return [meta, ...Object.values(volumes), ...(secrets ? [secrets] : [])];
  }

  async #holdStopped(appId: string, reason: string, note: Note): Promise<void> {
    const { orchestrator } = this.#o;
    orchestrator.holds.set(appId, reason);
    note("info", `stopping ${appId}'s containers`);
    orchestrator.reconciler.enqueue(appId);
    const deadline = this.#clock() + (this.#o.stopWaitMs ?? 300_000);
    let seen: Array<{ name: string; state: string }> = [];
    while (this.#clock() < deadline && !this.#stopping) {
      seen = await orchestrator.reconciler.containersOf(appId);
      if (!seen.some((c) => c.state === "running" || c.state === "paused" || c.state === "stopping")) {
        note("info", `${appId} is stopped`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    if (this.#stopping) throw new Error("the daemon is stopping");
    throw new Error(
      `${appId}'s containers did not stop in time (${seen.map((c) => `${c.name}: ${c.state}`).join(", ")}); nothing was backed up`,
    );
  }

  #release(appId: string, note: Note): void {
    const { orchestrator } = this.#o;
    if (!orchestrator.holds.delete(appId)) return;
    const app = orchestrator.store.getApp(appId);
    if (app?.desired === "running") note("info", `starting ${appId} again`);
    orchestrator.reconciler.enqueue(appId);
  }

  /**
   * Starts a restore: over the installed app (its data is backed up first, tagged `pre-restore`, so
   * the restore can be undone), or of an app not installed here (data and secrets are put in
   * place, then it is installed from the manifest in the snapshot).
   */
  async restore(appId: string, options: { snapshot?: string; target?: string }): Promise<BackupAccepted> {
    const target = await this.targets.resolve(options.target).catch(asBackupError);
    const app = this.#o.orchestrator.store.getApp(appId);
    if (app?.desired === "absent")
      throw new BackupError("busy", `${appId} is being uninstalled; restore it once that has finished`);
    const repository = await this.targets.repository(target.name);
    let list: ResticSnapshot[];
    try {
      list = await this.#restic.snapshots(repository, [appTag(appId)]);
      await this.#restic.unlockStale(repository);
    } catch (error) {
      throw this.#targetFailure(target.name, target.location, error);
    }
    const chosen = chooseSnapshot(list, options.snapshot);
    if ("error" in chosen) throw new BackupError("not-found", `${chosen.error} (target ${target.name})`);
    const operationId = this.#begin(appId, "restore");
    const note = this.#note(operationId, appId);
    this.#track(operationId, appId, () =>
      this.#runRestore(operationId, appId, target.name, repository, chosen, note),
    );
    return { operationId, appId, kind: "restore", existing: false };
  }

  async #runRestore(
    operationId: string,
    appId: string,
    target: string,
    repository: Repository,
    snapshot: ResticSnapshot,
    note: Note,
  ): Promise<void> {
    const { orchestrator } = this.#o;
    const installed = orchestrator.store.getApp(appId);
    const work = this.dirs.work(appId);
    note("info", `restoring ${appId} from snapshot ${snapshot.short_id} of ${snapshot.time}`);
    try {
      if (installed) {
        await this.#holdStopped(appId, `stopped for a restore (operation ${operationId})`, note);
        const manifest = orchestrator.manifests.of(installed).manifest;
        if (manifest) {
          const paths = await this.#writeFacts(appId, manifest);
          const undo = await this.#resticBackup(
            target,
            repository,
            operationId,
            appId,
            manifest,
            paths,
            [PRE_RESTORE_TAG],
            note,
          );
          note(
            "info",
            `the data before this restore is snapshot ${undo}: archy restore ${appId} --snapshot ${undo} undoes it`,
          );
        }
      }
      await inUserNamespace(
        ["rm", "-rf", "--one-file-system", "--", work],
        "clear the restore's work directory",
      );
      await mkdir(dirname(work), { recursive: true, mode: 0o700 });
      try {
        await this.#restic.restore(repository, snapshot.id, work);
      } catch (error) {
        throw error instanceof ResticError
          ? new Error(`restic could not restore snapshot ${snapshot.short_id}: ${error.message}`)
          : error;
      }
      const metaPath = metaPathOf(snapshot.paths, appId);
      if (!metaPath)
        throw new Error(
          `snapshot ${snapshot.short_id} was not made by Archipelago for ${appId} (no facts directory)`,
        );
      const meta = restoredPath(work, metaPath);
      const facts = AppFacts.parse(JSON.parse(await readFile(join(meta, "app.json"), "utf8")));
      const manifestText = await readFile(join(meta, "manifest.yml"), "utf8");
      const parsed = parseManifest(manifestText, `${appId} (manifest in snapshot ${snapshot.short_id})`);
      if (!parsed.ok)
        throw new Error(
          `the manifest in snapshot ${snapshot.short_id} does not validate: ${parsed.issues[0]?.message}`,
        );
      if (installed && installed.version !== facts.version)
        note(
          "warn",
          `the snapshot was taken of ${facts.version}; ${installed.version} is installed: its data is restored as it was`,
        );
      for (const [volume, original] of Object.entries(facts.volumes)) {
        const dest = this.#volumeDir(appId, volume);
        const aside = this.dirs.aside(appId, volume);
        await mkdir(dirname(dest), { recursive: true, mode: 0o750 });
        await mkdir(dirname(aside), { recursive: true, mode: 0o700 });
        await inUserNamespace(["rm", "-rf", "--one-file-system", "--", aside], "clear set-aside data");
        if (await exists(dest)) await inUserNamespace(["mv", "-T", "--", dest, aside], `set ${dest} aside`);
        await inUserNamespace(
          ["mv", "-T", "--", restoredPath(work, original), dest],
          `move the restored ${volume} into place`,
        );
        await inUserNamespace(["rm", "-rf", "--one-file-system", "--", aside], "delete set-aside data");
        note("info", `volume ${volume} restored`);
      }
      if (facts.secrets) {
        const from = restoredPath(work, facts.secrets);
        const to = this.#secretsDir(appId);
        await mkdir(to, { recursive: true, mode: 0o700 });
        const names = (await readdir(from)).filter((name) => !name.includes(".tmp-"));
        for (const name of names) {
          await copyFile(join(from, name), join(to, `${name}.tmp-restore`));
          await rename(join(to, `${name}.tmp-restore`), join(to, name));
        }
        orchestrator.secrets.learnExisting();
        note("info", `${names.length} generated secret${names.length === 1 ? "" : "s"} restored`);
      }
      if (!installed) {
        const accepted = orchestrator.lifecycle.install(
          {
            text: manifestText,
            manifest: parsed.manifest,
            source: facts.source,
            ...(facts.publisher ? { publisher: facts.publisher } : {}),
            ...(facts.envFiles ? { envFiles: facts.envFiles } : {}),
          },
          { approve: facts.approvals },
        );
        note(
          "info",
          `installing ${appId} ${facts.version} from the snapshot's manifest (operation ${accepted.operationId})`,
        );
      }
    } finally {
      this.#release(appId, note);
      await inUserNamespace(
        ["rm", "-rf", "--one-file-system", "--", work],
        "delete the restore's work directory",
      ).catch(() => {});
      await rm(this.dirs.meta(appId), { recursive: true, force: true }).catch(() => {});
    }
  }
}

function view(snapshot: ResticSnapshot): SnapshotView {
  const tags = snapshot.tags ?? [];
  return {
    id: snapshot.id,
    shortId: snapshot.short_id,
    time: snapshot.time,
    appId: tags.find((t) => t.startsWith("app:"))?.slice(4) ?? "",
    version: tags.find((t) => t.startsWith("version:"))?.slice(8),
    preRestore: tags.includes(PRE_RESTORE_TAG),
  };
}

function asBackupError(error: unknown): never {
  if (error instanceof TargetError)
    throw new BackupError(error.code === "not-found" ? "not-found" : "invalid", error.message);
  throw error;
}

/**
 * A directory target goes inside a directory that is there. Making the missing ones (as restic
 * would) turns a target on a disk that is not mounted into a repository on the node's own disk,
 * filling it without a word: the operator mounts the disk or makes the directory instead.
 */
async function requireParentDirectory(name: string, location: string): Promise<void> {
  const parent = dirname(location);
  const isDirectory = await stat(parent).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDirectory)
    throw new BackupError(
      "unusable",
      `target ${name}: ${parent} is not a directory on this node: mount the disk it is on, or create it (mkdir -p ${parent}), then add the target again; nothing was added`,
    );
}
