/**
 * The embedded store (node:sqlite, WAL): desired state of every app, the last observed state of its
 * containers, the operation journal and per-operation log lines. The only module that speaks SQL.
 *
 * Crash safety: every change of intent is one transaction; WAL with synchronous=FULL makes a
 * committed transaction survive a crash of the process or the machine.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import type { StoredEnvFile } from "../manifest/env-file.ts";
import { CURRENT_NAMING, type NamingScheme } from "../manifest/naming.ts";
import type { HookName } from "../manifest/schema.ts";
import type { Peer, PeerGrant } from "../peers/peers.ts";
import type { Approval, StoredApproval } from "./approvals.ts";
import {
  type DesiredState,
  endsWithGeneration,
  HOLDING_KINDS,
  type Operation,
  type OperationKind,
  type OperationLogLine,
  type OperationState,
  type Phase,
  type StoredContainer,
} from "./model.ts";
import type { UpdateOutcome, UpdateStage } from "./update.ts";

/** An app as stored; the manifest is its source text (see `AppRecord` for the parsed form). */
export type AppRow = {
  id: string;
  manifestText: string;
  manifestHash: string;
  version: string;
  source: string;
  /** Who signed it within its source (catalog apps: see catalog/node/read.ts); undefined for local apps. */
  publisher: string | undefined;
  desired: DesiredState;
  purge: boolean;
  generation: number;
  observedGeneration: number;
  restartRequestedAt: number | undefined;
  recreateRequestedAt: number | undefined;
  phase: Phase;
  reason: string | undefined;
  attempts: number;
  nextAttemptAt: number | undefined;
  installedAt: number;
  updatedAt: number;
  previousManifestText: string | undefined;
  /** A lifecycle hook due at the next matching moment (post_install once running, …). */
  pendingHook: HookName | undefined;
  /** How its resources are named (naming.ts): the scheme it was installed with, kept until it is removed. */
  naming: NamingScheme;
};

/** Schema migrations, applied in order; the version table records how far a database has come. */
const MIGRATIONS: string[] = [
  `CREATE TABLE apps (
     id TEXT PRIMARY KEY,
     manifest_text TEXT NOT NULL,
     manifest_hash TEXT NOT NULL,
     version TEXT NOT NULL,
     source TEXT NOT NULL,
     desired TEXT NOT NULL CHECK (desired IN ('running', 'stopped', 'absent')),
     purge INTEGER NOT NULL DEFAULT 0,
     generation INTEGER NOT NULL,
     observed_generation INTEGER NOT NULL DEFAULT 0,
     restart_requested_at INTEGER,
     recreate_requested_at INTEGER,
     phase TEXT NOT NULL,
     reason TEXT,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER,
     installed_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     previous_manifest_text TEXT
   );
   CREATE TABLE containers (
     app_id TEXT NOT NULL,
     key TEXT NOT NULL,
     name TEXT NOT NULL,
     container_id TEXT NOT NULL,
     state TEXT NOT NULL,
     health TEXT NOT NULL DEFAULT 'unknown',
     exit_code INTEGER NOT NULL DEFAULT 0,
     started_at INTEGER,
     backend TEXT NOT NULL,
     spec_hash TEXT,
     observed_at INTEGER NOT NULL,
     PRIMARY KEY (app_id, key)
   );
   CREATE TABLE operations (
     id TEXT PRIMARY KEY,
     app_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     generation INTEGER NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'failed')),
     created_at INTEGER NOT NULL,
     finished_at INTEGER,
     error TEXT
   );
   CREATE INDEX operations_by_app ON operations (app_id, state);
   CREATE TABLE operation_logs (
     operation_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     at INTEGER NOT NULL,
     level TEXT NOT NULL,
     message TEXT NOT NULL,
     PRIMARY KEY (operation_id, seq)
   );`,
  `CREATE TABLE operator (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     password_hash TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE sessions (
     token_hash TEXT PRIMARY KEY,
     csrf_token TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );`,
  `ALTER TABLE apps ADD COLUMN pending_hook TEXT;`,
  // An update in flight (one per app): where it stands, the version and manifest it came from, the
  // snapshot of the data taken before it, and the deadline of its window. See update.ts.
  `CREATE TABLE updates (
     app_id TEXT PRIMARY KEY,
     operation_id TEXT NOT NULL,
     from_version TEXT NOT NULL,
     to_version TEXT NOT NULL,
     from_manifest_text TEXT NOT NULL,
     from_manifest_hash TEXT NOT NULL,
     from_source TEXT NOT NULL,
     stage TEXT NOT NULL CHECK (stage IN ('pending', 'applying', 'rolling-back', 'restoring')),
     snapshot_path TEXT,
     snapshot_method TEXT,
     window_ms INTEGER,
     deadline INTEGER,
     outcome TEXT CHECK (outcome IN ('refused', 'rolled-back')),
     reason TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );`,
  // Stored manifests in their parsed form, by parser version and content hash: a daemon lists its
  // apps without parsing their YAML again (see manifest-cache.ts).
  `CREATE TABLE parsed_manifests (
     key TEXT PRIMARY KEY,
     json TEXT NOT NULL
   );`,
  // The naming scheme of each app's resources (naming.ts). Apps installed before it existed have
  // scheme 1's names on the node and keep them; new rows say which scheme they were installed with.
  `ALTER TABLE apps ADD COLUMN naming INTEGER NOT NULL DEFAULT 1 CHECK (naming IN (1, 2));`,
  // The operator's approvals of each app's permissions, by name and content (see approvals.ts).
  // Apps installed before approvals existed had their permissions granted by their manifest: the
  // note asks the daemon to record those as approved at its first start (orchestrator.ts).
  `CREATE TABLE approvals (
     app_id TEXT NOT NULL,
     name TEXT NOT NULL,
     content TEXT NOT NULL,
     approved_at INTEGER NOT NULL,
     approved_by TEXT NOT NULL CHECK (approved_by IN ('operator', 'upgrade')),
     PRIMARY KEY (app_id, name, content)
   );
   CREATE TABLE upgrade_notes (note TEXT PRIMARY KEY);
   INSERT INTO upgrade_notes (note) SELECT 'approve-installed-permissions' WHERE EXISTS (SELECT 1 FROM apps);`,
  // Who signed an app within its source, so that an update by someone else is never silent.
  `ALTER TABLE apps ADD COLUMN publisher TEXT;
   ALTER TABLE updates ADD COLUMN from_publisher TEXT;`,
  // The marketplace (src/marketplace/): the relays the operator chose, its settings (the operator's
  // own public key, the trust threshold), and the verified Nostr events learnt from relays, one
  // per address (`kind:pubkey:d` for replaceable events, the id for the others).
  `CREATE TABLE market_relays (
     url TEXT PRIMARY KEY,
     added_at INTEGER NOT NULL
   );
   CREATE TABLE market_settings (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL
   );
   CREATE TABLE market_events (
     id TEXT PRIMARY KEY,
     kind INTEGER NOT NULL,
     pubkey TEXT NOT NULL,
     address TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     received_at INTEGER NOT NULL,
     json TEXT NOT NULL
   );
   CREATE INDEX market_events_by_kind ON market_events (kind, pubkey);`,
  // How many times each container started again since it was created (restart-count.ts).
  `ALTER TABLE containers ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0;`,
  // The env_files of installed manifests (manifest/env-file.ts), read from the app directory at
  // install or update, by the hash of the manifest they were read with: rolling an update back to
  // the manifest it came from brings that manifest's files back with it.
  `CREATE TABLE env_files (
     app_id TEXT NOT NULL,
     manifest_hash TEXT NOT NULL,
     path TEXT NOT NULL,
     text TEXT NOT NULL,
     sha256 TEXT NOT NULL,
     PRIMARY KEY (app_id, manifest_hash, path)
   );`,
  // Peers (src/peers/): the nodes this one fetches from, with the token each gave it, and the
  // grants of who may fetch from this one, each token kept as its SHA-256 only.
  `CREATE TABLE peers (
     url TEXT PRIMARY KEY,
     token TEXT NOT NULL,
     added_at INTEGER NOT NULL
   );
   CREATE TABLE peer_grants (
     name TEXT PRIMARY KEY,
     token_sha256 TEXT NOT NULL UNIQUE,
     granted_at INTEGER NOT NULL
   );`,
];

/** A verified Nostr event as the marketplace keeps it (see src/marketplace/market.ts). */
export type MarketEventRow = {
  id: string;
  kind: number;
  pubkey: string;
  address: string;
  createdAt: number;
  json: string;
};

/** What the migration of approvals leaves for the daemon's first start (see `recordUpgradeApprovals`). */
const APPROVE_INSTALLED = "approve-installed-permissions";

/** An update in flight, as stored (see update.ts for its stages). */
export type UpdateRow = {
  appId: string;
  operationId: string;
  fromVersion: string;
  toVersion: string;
  fromManifest: ManifestRecord;
  stage: UpdateStage;
  snapshotPath: string | undefined;
  snapshotMethod: string | undefined;
  windowMs: number | undefined;
  deadline: number | undefined;
  outcome: UpdateOutcome | undefined;
  reason: string | undefined;
  createdAt: number;
  updatedAt: number;
};

type Row = Record<string, SQLInputValue>;

/**
 * How long a confirmed observation's time may stay in memory only. A pass over converged apps
 * changes nothing but when they were last seen: rewriting that every pass (every ~10 s, per app)
 * is what wears an SD card out; losing up to a minute of it in a crash costs nothing.
 */
export const OBSERVED_AT_FLUSH_MS = 60_000;

const optional = <T>(value: unknown): T | undefined =>
  value === null || value === undefined ? undefined : (value as T);

function toApp(row: Row): AppRow {
  return {
    id: row.id as string,
    manifestText: row.manifest_text as string,
    manifestHash: row.manifest_hash as string,
    version: row.version as string,
    source: row.source as string,
    publisher: optional<string>(row.publisher),
    desired: row.desired as DesiredState,
    purge: row.purge === 1,
    generation: Number(row.generation),
    observedGeneration: Number(row.observed_generation),
    restartRequestedAt: optional<number>(row.restart_requested_at),
    recreateRequestedAt: optional<number>(row.recreate_requested_at),
    phase: row.phase as Phase,
    reason: optional<string>(row.reason),
    attempts: Number(row.attempts),
    nextAttemptAt: optional<number>(row.next_attempt_at),
    installedAt: Number(row.installed_at),
    updatedAt: Number(row.updated_at),
    previousManifestText: optional<string>(row.previous_manifest_text),
    pendingHook: optional<HookName>(row.pending_hook),
    naming: Number(row.naming) as NamingScheme,
  };
}

function toUpdate(row: Row): UpdateRow {
  return {
    appId: row.app_id as string,
    operationId: row.operation_id as string,
    fromVersion: row.from_version as string,
    toVersion: row.to_version as string,
    fromManifest: {
      text: row.from_manifest_text as string,
      hash: row.from_manifest_hash as string,
      version: row.from_version as string,
      source: row.from_source as string,
      publisher: optional<string>(row.from_publisher),
    },
    stage: row.stage as UpdateStage,
    snapshotPath: optional<string>(row.snapshot_path),
    snapshotMethod: optional<string>(row.snapshot_method),
    windowMs: optional<number>(row.window_ms),
    deadline: optional<number>(row.deadline),
    outcome: optional<UpdateOutcome>(row.outcome),
    reason: optional<string>(row.reason),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function toOperation(row: Row): Operation {
  return {
    id: row.id as string,
    appId: row.app_id as string,
    kind: row.kind as OperationKind,
    generation: Number(row.generation),
    state: row.state as OperationState,
    createdAt: Number(row.created_at),
    finishedAt: optional<number>(row.finished_at),
    error: optional<string>(row.error),
  };
}

function toContainer(row: Row): StoredContainer {
  return {
    appId: row.app_id as string,
    key: row.key as string,
    name: row.name as string,
    containerId: row.container_id as string,
    state: row.state as string,
    health: row.health as StoredContainer["health"],
    exitCode: Number(row.exit_code),
    startedAt: optional<number>(row.started_at),
    restarts: Number(row.restarts),
    backend: row.backend as string,
    specHash: optional<string>(row.spec_hash),
    observedAt: Number(row.observed_at),
  };
}

/** A manifest as an intent records it: its text, and where it came from. */
export type ManifestRecord = {
  text: string;
  hash: string;
  version: string;
  source: string;
  publisher?: string | undefined;
  /** Its env_files as read with it, by path (none: the manifest names none, or they were not read). */
  envFiles?: Record<string, StoredEnvFile>;
};

/** What a change of intent writes: the app's new desired state plus the operation that asked for it. */
export type IntentChange = {
  appId: string;
  operation: { id: string; kind: OperationKind };
  desired?: DesiredState;
  purge?: boolean;
  phase: Phase;
  restartRequestedAt?: number;
  recreateRequestedAt?: number;
  /** Replace the manifest (install of a new app, update); the old one is kept for rollback. */
  manifest?: ManifestRecord;
  /** Permissions the operator approves with this intent. */
  approve?: Approval[];
  /** A permission whose approval the operator withdraws with this intent (every content of that name). */
  revoke?: string;
  /** Reset the failure count and backoff (a retry, or a new intent). */
  resetAttempts?: boolean;
  /** The hook due once this intent is carried out (undefined: none). */
  pendingHook?: HookName;
  /** Operations in flight this one replaces: marked failed, in the same transaction. */
  supersede?: string[];
  /** An update: recorded (stage `pending`, from the manifest being replaced) in the same transaction. */
  update?: boolean;
};

export type StoreOptions = {
  /**
   * Masks secrets in the free text the store records (operation log lines, phase reasons, operation
   * errors, update reasons): what `operation.get`, `package.list` and the events read back.
   */
  mask?: (text: string) => string;
};

export class Store {
  readonly path: string;
  readonly #db: DatabaseSync;
  /** Prepared once, reused: preparing a statement cost more than running it (package.list). */
  readonly #statements = new Map<string, StatementSync>();
  #savepoints = 0;
  /** Statements run that write (INSERT, UPDATE, DELETE): `archy_store_writes_total`, benchmarks. */
  writes = 0;
  /** Applied to every free text the store records (log lines, reasons, errors): see StoreOptions. */
  readonly #recorded: (text: string) => string;
  /** Observations confirmed unchanged and not written yet: app id -> when last seen. */
  readonly #confirmed = new Map<string, number>();
  /** When the oldest of those was confirmed (undefined: none waiting). */
  #confirmedSince: number | undefined;
  /** Confirmations kept in memory: with `writes`, every change a reader could see (`revision`). */
  #confirmations = 0;
  /** Transactions rolled back: each undoes writes a reader may have seen inside it (`revision`). */
  #rollbacks = 0;

  constructor(path: string, options: StoreOptions = {}) {
    this.path = path;
    this.#recorded = options.mask ?? ((text) => text);
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.#db = new DatabaseSync(path);
    this.#db.exec(
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
    );
    try {
      this.#migrate();
    } catch (error) {
      // A refused (newer) or failed schema: do not keep the database open behind the error.
      this.#db.close();
      throw error;
    }
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      if (/^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i.test(sql)) {
        const run = statement.run.bind(statement);
        statement.run = ((...args: Parameters<typeof run>) => {
          this.writes++;
          return run(...args);
        }) as typeof run;
      }
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /**
   * Grows whenever what the store answers may have changed (a write, an observation's time
   * confirmed in memory): a view derived from the store is current while this has not moved.
   */
  get revision(): number {
    return this.writeRevision + this.#confirmations;
  }

  /**
   * Grows whenever a table may have changed (a write, a rollback), but not when an observation's
   * time is confirmed in memory (which every app's pass does): what is derived from the apps'
   * rows alone (their manifests, their names) is current while this has not moved.
   */
  get writeRevision(): number {
    return this.writes + this.#rollbacks;
  }

  close(): void {
    if (this.#db.isOpen) this.flushObservations();
    this.#db.close();
  }

  get schemaVersion(): number {
    const row = this.#statement("SELECT version FROM schema_version").get() as Row | undefined;
    return Number(row?.version ?? 0);
  }

  #migrate(): void {
    this.#db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    if (!this.#statement("SELECT version FROM schema_version").get())
      this.#db.exec("INSERT INTO schema_version (version) VALUES (0)");
    const current = this.schemaVersion;
    if (current > MIGRATIONS.length)
      throw new Error(
        `the store at ${this.path} has schema version ${current}, newer than this Archipelago (${MIGRATIONS.length}); upgrade Archipelago`,
      );
    for (let version = current; version < MIGRATIONS.length; version++) {
      this.transaction(() => {
        this.#db.exec(MIGRATIONS[version] as string);
        this.#statement("UPDATE schema_version SET version = ?").run(version + 1);
      });
    }
  }

  /**
   * Runs `work` in one transaction: all of it is committed, or none. Nests (as a savepoint), so
   * store methods that are transactions themselves can be composed inside one.
   */
  transaction<T>(work: () => T): T {
    const savepoint = this.#db.isTransaction ? `sp${++this.#savepoints}` : undefined;
    this.#db.exec(savepoint ? `SAVEPOINT ${savepoint}` : "BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#db.exec(savepoint ? `RELEASE ${savepoint}` : "COMMIT");
      return result;
    } catch (error) {
      this.#db.exec(savepoint ? `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}` : "ROLLBACK");
      this.#rollbacks++;
      throw error;
    }
  }

  // ---- apps

  listApps(): AppRow[] {
    return (this.#statement("SELECT * FROM apps ORDER BY id").all() as Row[]).map(toApp);
  }

  /** Every app's id, manifest hash and naming: what a pass over all apps needs, without the manifest texts. */
  listAppHeads(): Array<{ id: string; manifestHash: string; naming: NamingScheme }> {
    return (
      this.#statement("SELECT id, manifest_hash, naming FROM apps ORDER BY id").all() as Array<{
        id: string;
        manifest_hash: string;
        naming: number;
      }>
    ).map((row) => ({ id: row.id, manifestHash: row.manifest_hash, naming: row.naming as NamingScheme }));
  }

  getApp(id: string): AppRow | undefined {
    const row = this.#statement("SELECT * FROM apps WHERE id = ?").get(id) as Row | undefined;
    return row ? toApp(row) : undefined;
  }

  /** Records an intent: the app's desired state and the operation, atomically. */
  recordIntent(change: IntentChange, now: number): AppRow {
    return this.transaction(() => {
      const existing = this.getApp(change.appId);
      if (!existing) {
        const manifest = change.manifest;
        if (!manifest) throw new Error(`app ${change.appId} is not installed`);
        this.#statement(
          `INSERT INTO apps (id, manifest_text, manifest_hash, version, source, publisher, desired, purge, generation, phase, installed_at, updated_at, pending_hook, naming)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)`,
        ).run(
          change.appId,
          manifest.text,
          manifest.hash,
          manifest.version,
          manifest.source,
          manifest.publisher ?? null,
          change.desired ?? "running",
          change.purge ? 1 : 0,
          change.phase,
          now,
          now,
          change.pendingHook ?? null,
          CURRENT_NAMING,
        );
      } else {
        const manifest = change.manifest;
        if (change.update && manifest)
          this.#statement(
            `INSERT OR REPLACE INTO updates (app_id, operation_id, from_version, to_version, from_manifest_text,
                 from_manifest_hash, from_source, from_publisher, stage, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
          ).run(
            change.appId,
            change.operation.id,
            existing.version,
            manifest.version,
            existing.manifestText,
            existing.manifestHash,
            existing.source,
            existing.publisher ?? null,
            now,
            now,
          );
        this.#statement(
          `UPDATE apps SET
               desired = ?, purge = ?, generation = generation + 1, phase = ?, reason = NULL, updated_at = ?,
               restart_requested_at = COALESCE(?, restart_requested_at),
               recreate_requested_at = COALESCE(?, recreate_requested_at),
               attempts = CASE WHEN ? THEN 0 ELSE attempts END,
               next_attempt_at = CASE WHEN ? THEN NULL ELSE next_attempt_at END,
               previous_manifest_text = CASE WHEN ? IS NOT NULL AND ? != manifest_hash THEN manifest_text ELSE previous_manifest_text END,
               manifest_text = COALESCE(?, manifest_text), manifest_hash = COALESCE(?, manifest_hash),
               version = COALESCE(?, version), source = COALESCE(?, source),
               publisher = CASE WHEN ? IS NOT NULL THEN ? ELSE publisher END,
               pending_hook = ?
             WHERE id = ?`,
        ).run(
          change.desired ?? existing.desired,
          (change.purge ?? existing.purge) ? 1 : 0,
          change.phase,
          now,
          change.restartRequestedAt ?? null,
          change.recreateRequestedAt ?? null,
          change.resetAttempts ? 1 : 0,
          change.resetAttempts ? 1 : 0,
          manifest?.hash ?? null,
          manifest?.hash ?? null,
          manifest?.text ?? null,
          manifest?.hash ?? null,
          manifest?.version ?? null,
          manifest?.source ?? null,
          manifest ? 1 : null,
          manifest?.publisher ?? null,
          change.pendingHook ?? null,
          change.appId,
        );
      }
      if (change.manifest) this.#recordEnvFiles(change.appId, change.manifest, existing?.manifestHash);
      if (change.revoke !== undefined)
        this.#statement("DELETE FROM approvals WHERE app_id = ? AND name = ?").run(
          change.appId,
          change.revoke,
        );
      for (const approval of change.approve ?? [])
        this.#statement(
          `INSERT OR IGNORE INTO approvals (app_id, name, content, approved_at, approved_by)
             VALUES (?, ?, ?, ?, 'operator')`,
        ).run(change.appId, approval.name, approval.content, now);
      const app = this.getApp(change.appId) as AppRow;
      for (const id of change.supersede ?? [])
        this.#statement(
          "UPDATE operations SET state = 'failed', finished_at = ?, error = ? WHERE id = ? AND state IN ('pending', 'running')",
        ).run(now, `superseded by ${change.operation.kind} (operation ${change.operation.id})`, id);
      this.#statement(
        "INSERT INTO operations (id, app_id, kind, generation, state, created_at) VALUES (?, ?, ?, ?, 'pending', ?)",
      ).run(change.operation.id, change.appId, change.operation.kind, app.generation, now);
      return app;
    });
  }

  /** What the reconciler learnt about an app: its phase, why, and which generation has converged. */
  /** Records an app's status; a status equal to the stored one writes nothing. Whether it changed. */
  updateStatus(
    id: string,
    status: {
      phase: Phase;
      reason?: string;
      observedGeneration?: number;
      attempts?: number;
      nextAttemptAt?: number | null;
    },
    now: number,
  ): boolean {
    const reason = status.reason === undefined ? null : this.#recorded(status.reason);
    const current = this.#statement(
      "SELECT phase, reason, observed_generation, attempts, next_attempt_at FROM apps WHERE id = ?",
    ).get(id) as Row | undefined;
    if (
      !current ||
      (current.phase === status.phase &&
        current.reason === reason &&
        (status.observedGeneration === undefined ||
          Number(current.observed_generation) === status.observedGeneration) &&
        (status.attempts === undefined || Number(current.attempts) === status.attempts) &&
        (status.nextAttemptAt === undefined ||
          (optional<number>(current.next_attempt_at) ?? null) === status.nextAttemptAt))
    )
      return false;
    this.#statement(
      `UPDATE apps SET phase = ?, reason = ?, updated_at = ?,
           observed_generation = COALESCE(?, observed_generation),
           attempts = COALESCE(?, attempts),
           next_attempt_at = CASE WHEN ? THEN ? ELSE next_attempt_at END
         WHERE id = ?`,
    ).run(
      status.phase,
      reason,
      now,
      status.observedGeneration ?? null,
      status.attempts ?? null,
      status.nextAttemptAt !== undefined ? 1 : 0,
      status.nextAttemptAt ?? null,
      id,
    );
    return true;
  }

  /** A manifest's parsed form as JSON, by `<parser version>:<content hash>`. */
  getParsedManifest(key: string): string | undefined {
    const row = this.#statement("SELECT json FROM parsed_manifests WHERE key = ?").get(key) as
      | { json: string }
      | undefined;
    return row?.json;
  }

  /** Keeps a parsed form, and drops those of manifests no app or update refers to any more. */
  putParsedManifest(key: string, json: string): void {
    this.transaction(() => {
      this.#statement("INSERT OR REPLACE INTO parsed_manifests (key, json) VALUES (?, ?)").run(key, json);
      this.#statement(
        `DELETE FROM parsed_manifests WHERE substr(key, instr(key, ':') + 1) NOT IN
           (SELECT manifest_hash FROM apps UNION SELECT from_manifest_hash FROM updates) AND key != ?`,
      ).run(key);
    });
  }

  /**
   * Forgets an app once it is removed (its journal stays) and ends the operations that asked for
   * the removal, in one transaction: a crash between the two once left an uninstall running for an
   * app that was gone, and every later request for that id was refused as `operation-in-progress`.
   * Nothing happens if the app's intent changed since `generation` (a purge recorded meanwhile):
   * returns undefined, and the caller plans again. Else the operations it ended, for their events.
   */
  forgetApp(id: string, generation: number, now: number): Operation[] | undefined {
    const ended = this.transaction(() => {
      if (
        this.#statement("DELETE FROM apps WHERE id = ? AND generation = ?").run(id, generation).changes === 0
      )
        return undefined;
      this.#statement("DELETE FROM containers WHERE app_id = ?").run(id);
      this.#statement("DELETE FROM updates WHERE app_id = ?").run(id);
      this.#statement("DELETE FROM approvals WHERE app_id = ?").run(id);
      this.#statement("DELETE FROM env_files WHERE app_id = ?").run(id);
      const finished = this.activeOperations(id).filter((operation) =>
        endsWithGeneration(operation, generation),
      );
      for (const operation of finished) this.setOperationState(operation.id, "succeeded", now);
      return finished;
    });
    // Its observation's time kept in memory goes with it; an app still there keeps it.
    if (ended) this.#forgetConfirmed(id);
    return ended;
  }

  /**
   * Ends the operations left in flight for apps that are gone (a store written before `forgetApp`
   * ended them in the same transaction): they ended with the app's removal. Backups and restores
   * are the backup service's to end. Returns them.
   */
  endOperationsOfRemovedApps(now: number): Operation[] {
    return this.transaction(() => {
      const orphans = (
        this.#statement(
          `SELECT * FROM operations WHERE state IN ('pending', 'running')
             AND app_id NOT IN (SELECT id FROM apps) ORDER BY created_at, id`,
        ).all() as Row[]
      )
        .map(toOperation)
        .filter((operation) => !HOLDING_KINDS.has(operation.kind));
      for (const operation of orphans) {
        this.setOperationState(operation.id, "succeeded", now);
        this.appendLog(
          operation.id,
          "info",
          `${operation.appId} was removed; this ${operation.kind} ended with it`,
          now,
        );
      }
      return orphans;
    });
  }

  // ---- approvals of permissions

  approvals(appId: string): StoredApproval[] {
    return (
      this.#statement("SELECT * FROM approvals WHERE app_id = ? ORDER BY name, approved_at").all(
        appId,
      ) as Row[]
    ).map((row) => ({
      name: row.name as string,
      content: row.content as string,
      approvedAt: Number(row.approved_at),
      approvedBy: row.approved_by as StoredApproval["approvedBy"],
    }));
  }

  /** Forgets the approvals of what the app's manifest no longer requests (an update is over). */
  keepApprovals(appId: string, keep: readonly Approval[]): void {
    this.transaction(() => {
      for (const approval of this.approvals(appId))
        if (!keep.some((k) => k.name === approval.name && k.content === approval.content))
          this.#statement("DELETE FROM approvals WHERE app_id = ? AND name = ? AND content = ?").run(
            appId,
            approval.name,
            approval.content,
          );
    });
  }

  /** Whether this store was migrated over installed apps whose permissions are still to be recorded. */
  get installedPermissionsToApprove(): boolean {
    return this.#statement("SELECT 1 FROM upgrade_notes WHERE note = ?").get(APPROVE_INSTALLED) !== undefined;
  }

  /**
   * Records the permissions apps were installed with before approvals existed as approved (by the
   * upgrade), each with a finished `approve` operation whose log line says so, and clears the note:
   * all in one transaction, so a crash leaves it to be done again, never half done.
   */
  recordUpgradeApprovals(
    apps: ReadonlyArray<{ appId: string; approvals: Approval[]; operationId: string; message: string }>,
    now: number,
  ): void {
    this.transaction(() => {
      for (const { appId, approvals, operationId, message } of apps) {
        const app = this.getApp(appId);
        if (!app) continue;
        for (const approval of approvals)
          this.#statement(
            `INSERT OR IGNORE INTO approvals (app_id, name, content, approved_at, approved_by)
               VALUES (?, ?, ?, ?, 'upgrade')`,
          ).run(appId, approval.name, approval.content, now);
        this.#statement(
          `INSERT INTO operations (id, app_id, kind, generation, state, created_at, finished_at)
             VALUES (?, ?, 'approve', ?, 'succeeded', ?, ?)`,
        ).run(operationId, appId, app.generation, now, now);
        this.appendLog(operationId, "info", message, now);
      }
      this.#statement("DELETE FROM upgrade_notes WHERE note = ?").run(APPROVE_INSTALLED);
    });
  }

  /** Marks a hook as due (or, with undefined, as done). */
  setPendingHook(id: string, hook: HookName | undefined): void {
    this.#statement("UPDATE apps SET pending_hook = ? WHERE id = ?").run(hook ?? null, id);
  }

  // ---- updates in flight

  getUpdate(appId: string): UpdateRow | undefined {
    const row = this.#statement("SELECT * FROM updates WHERE app_id = ?").get(appId) as Row | undefined;
    return row ? toUpdate(row) : undefined;
  }

  /** The snapshot is taken: the new version may start, and must be healthy by `deadline`. */
  updateApplying(
    appId: string,
    applying: { snapshotPath: string; snapshotMethod: string; windowMs: number; deadline: number },
    now: number,
  ): void {
    this.#statement(
      `UPDATE updates SET stage = 'applying', snapshot_path = ?, snapshot_method = ?, window_ms = ?, deadline = ?,
           updated_at = ? WHERE app_id = ? AND stage = 'pending'`,
    ).run(applying.snapshotPath, applying.snapshotMethod, applying.windowMs, applying.deadline, now, appId);
  }

  /** The window of an update in progress moves (its jobs ran: update.ts, `deadlineAfterJobs`). */
  setUpdateDeadline(appId: string, deadline: number, now: number): void {
    this.#statement(
      "UPDATE updates SET deadline = ?, updated_at = ? WHERE app_id = ? AND stage = 'applying'",
    ).run(deadline, now, appId);
  }

  /** The update failed: roll back (remove the new containers, restore the data, then the manifest). */
  updateRollingBack(appId: string, reason: string, now: number): void {
    this.#statement(
      `UPDATE updates SET stage = 'rolling-back', outcome = 'rolled-back', reason = ?, updated_at = ?
         WHERE app_id = ? AND stage IN ('pending', 'applying')`,
    ).run(this.#recorded(reason), now, appId);
  }

  /**
   * Keeps the env_files read with a manifest being recorded, and drops those of any manifest but
   * it and the one it replaces (which an update may go back to).
   */
  #recordEnvFiles(appId: string, manifest: ManifestRecord, replaced: string | undefined): void {
    this.#statement("DELETE FROM env_files WHERE app_id = ? AND manifest_hash NOT IN (?, ?)").run(
      appId,
      manifest.hash,
      replaced ?? manifest.hash,
    );
    // A manifest recorded without its files (restored from a backup) keeps those stored with it.
    if (!manifest.envFiles) return;
    this.#statement("DELETE FROM env_files WHERE app_id = ? AND manifest_hash = ?").run(appId, manifest.hash);
    for (const [path, file] of Object.entries(manifest.envFiles))
      this.#statement(
        "INSERT INTO env_files (app_id, manifest_hash, path, text, sha256) VALUES (?, ?, ?, ?, ?)",
      ).run(appId, manifest.hash, path, file.text, file.sha256);
  }

  /** The env_files stored with an app's manifest, by path (checked against their digest at use). */
  envFiles(appId: string, manifestHash: string): Record<string, StoredEnvFile> {
    const rows = this.#statement(
      "SELECT path, text, sha256 FROM env_files WHERE app_id = ? AND manifest_hash = ? ORDER BY path",
    ).all(appId, manifestHash) as Array<{ path: string; text: string; sha256: string }>;
    return Object.fromEntries(rows.map((row) => [row.path, { text: row.text, sha256: row.sha256 }]));
  }

  /**
   * Puts the manifest the update came from back in force (and drops the post_update hook it made
   * due), in one transaction with the update's move to `restoring`. A refused update comes here
   * straight from `pending`, with its reason.
   */
  restorePreviousManifest(appId: string, now: number, refused?: { reason: string }): void {
    this.transaction(() => {
      const update = this.getUpdate(appId);
      if (!update || update.stage === "restoring") return;
      const from = update.fromManifest;
      this.#statement(
        `UPDATE apps SET previous_manifest_text = CASE WHEN manifest_hash != ? THEN manifest_text ELSE previous_manifest_text END,
             manifest_text = ?, manifest_hash = ?, version = ?, source = ?, publisher = ?, updated_at = ?,
             pending_hook = CASE WHEN pending_hook = 'post_update' THEN NULL ELSE pending_hook END
           WHERE id = ?`,
      ).run(from.hash, from.text, from.hash, from.version, from.source, from.publisher ?? null, now, appId);
      this.#statement(
        `UPDATE updates SET stage = 'restoring', outcome = COALESCE(?, outcome), reason = COALESCE(?, reason),
             updated_at = ? WHERE app_id = ?`,
      ).run(refused ? "refused" : null, refused ? this.#recorded(refused.reason) : null, now, appId);
    });
  }

  /** The update is over (committed, or undone and reported). */
  deleteUpdate(appId: string): void {
    this.#statement("DELETE FROM updates WHERE app_id = ?").run(appId);
  }

  // ---- operator credentials and sessions

  operatorPasswordHash(): string | undefined {
    const row = this.#statement("SELECT password_hash FROM operator WHERE id = 1").get() as Row | undefined;
    return optional<string>(row?.password_hash);
  }

  /** Sets the first password; returns false (and changes nothing) when one is already set. */
  setOperatorPassword(hash: string, now: number): boolean {
    const result = this.#statement(
      "INSERT OR IGNORE INTO operator (id, password_hash, created_at) VALUES (1, ?, ?)",
    ).run(hash, now);
    return Number(result.changes) === 1;
  }

  /** Replaces the password if it still is `expected`; returns false (and changes nothing) otherwise. */
  replaceOperatorPassword(expected: string, hash: string): boolean {
    const result = this.#statement(
      "UPDATE operator SET password_hash = ? WHERE id = 1 AND password_hash = ?",
    ).run(hash, expected);
    return Number(result.changes) === 1;
  }

  /** Revokes every session; returns how many there were (expired ones included). */
  deleteAllSessions(): number {
    return Number(this.#statement("DELETE FROM sessions").run().changes);
  }

  createSession(tokenHash: string, csrfToken: string, now: number, expiresAt: number): void {
    this.#statement("DELETE FROM sessions WHERE expires_at <= ?").run(now);
    this.#statement(
      "INSERT INTO sessions (token_hash, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?)",
    ).run(tokenHash, csrfToken, now, expiresAt);
  }

  findSession(tokenHash: string, now: number): { csrfToken: string; expiresAt: number } | undefined {
    const row = this.#statement(
      "SELECT csrf_token, expires_at FROM sessions WHERE token_hash = ? AND expires_at > ?",
    ).get(tokenHash, now) as Row | undefined;
    return row ? { csrfToken: row.csrf_token as string, expiresAt: Number(row.expires_at) } : undefined;
  }

  deleteSession(tokenHash: string): void {
    this.#statement("DELETE FROM sessions WHERE token_hash = ?").run(tokenHash);
  }

  // ---- observed containers

  /** Replaces the stored observation of an app's containers (only when it changed). */
  saveObservation(appId: string, containers: StoredContainer[]): void {
    this.#forgetConfirmed(appId);
    this.transaction(() => {
      this.#statement("DELETE FROM containers WHERE app_id = ?").run(appId);
      const insert = this.#statement(
        `INSERT INTO containers (app_id, key, name, container_id, state, health, exit_code, started_at, restarts, backend, spec_hash, observed_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const c of containers)
        insert.run(
          c.appId,
          c.key,
          c.name,
          c.containerId,
          c.state,
          c.health,
          c.exitCode,
          c.startedAt ?? null,
          c.restarts,
          c.backend,
          c.specHash ?? null,
          c.observedAt,
        );
    });
  }

  /**
   * Marks when the stored observation was last confirmed unchanged: kept in memory (what
   * `listContainers` reads) and written with the others once the oldest has waited
   * OBSERVED_AT_FLUSH_MS (by the observations' clock), or when the store closes: at most a
   * minute of them is lost in a crash, which shows the app observed that much earlier.
   */
  touchObservation(appId: string, observedAt: number): void {
    // Written before this one is kept: the earlier pass's times, typically one time for every app.
    if (this.#confirmedSince !== undefined && observedAt - this.#confirmedSince >= OBSERVED_AT_FLUSH_MS)
      this.flushObservations();
    this.#confirmed.set(appId, observedAt);
    this.#confirmedSince ??= observedAt;
    this.#confirmations++;
  }

  /** An app's confirmed time, superseded by a write (or its removal). */
  #forgetConfirmed(appId: string): void {
    this.#confirmed.delete(appId);
    if (this.#confirmed.size === 0) this.#confirmedSince = undefined;
  }

  /** Writes the confirmed times kept in memory: one statement per distinct time (a pass shares one). */
  flushObservations(): void {
    if (this.#confirmed.size === 0) return;
    const byTime = new Map<number, string[]>();
    for (const [appId, at] of this.#confirmed) byTime.set(at, [...(byTime.get(at) ?? []), appId]);
    this.transaction(() => {
      for (const [at, appIds] of byTime)
        this.#statement(
          "UPDATE containers SET observed_at = ? WHERE app_id IN (SELECT value FROM json_each(?))",
        ).run(at, JSON.stringify(appIds));
    });
    this.#confirmed.clear();
    this.#confirmedSince = undefined;
  }

  listContainers(appId?: string): StoredContainer[] {
    const rows = appId
      ? this.#statement("SELECT * FROM containers WHERE app_id = ? ORDER BY key").all(appId)
      : this.#statement("SELECT * FROM containers ORDER BY app_id, key").all();
    return (rows as Row[]).map((row) => {
      const container = toContainer(row);
      const confirmed = this.#confirmed.get(container.appId);
      return confirmed === undefined ? container : { ...container, observedAt: confirmed };
    });
  }

  // ---- operations

  getOperation(id: string): Operation | undefined {
    const row = this.#statement("SELECT * FROM operations WHERE id = ?").get(id) as Row | undefined;
    return row ? toOperation(row) : undefined;
  }

  /** Operations of an app still pending or running, oldest first. */
  activeOperations(appId?: string): Operation[] {
    const rows = appId
      ? this.#statement(
          "SELECT * FROM operations WHERE app_id = ? AND state IN ('pending', 'running') ORDER BY created_at, id",
        ).all(appId)
      : this.#statement(
          "SELECT * FROM operations WHERE state IN ('pending', 'running') ORDER BY created_at, id",
        ).all();
    return (rows as Row[]).map(toOperation);
  }

  /**
   * Records an operation that changes no intent (a backup, a restore): running at once, run by its
   * own service. `holdStopped`: the reconciler keeps the app stopped while it is in flight.
   */
  recordHoldingOperation(operation: { id: string; appId: string; kind: OperationKind }, now: number): void {
    const app = this.getApp(operation.appId);
    this.#statement(
      "INSERT INTO operations (id, app_id, kind, generation, state, created_at) VALUES (?, ?, ?, ?, 'running', ?)",
    ).run(operation.id, operation.appId, operation.kind, app?.generation ?? 0, now);
  }

  listOperations(appId: string, limit = 50): Operation[] {
    return (
      this.#statement(
        "SELECT * FROM operations WHERE app_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
      ).all(appId, limit) as Row[]
    ).map(toOperation);
  }

  setOperationState(id: string, state: OperationState, now: number, error?: string): void {
    const finished = state === "succeeded" || state === "failed";
    this.#statement(
      "UPDATE operations SET state = ?, finished_at = CASE WHEN ? THEN ? ELSE finished_at END, error = COALESCE(?, error) WHERE id = ?",
    ).run(state, finished ? 1 : 0, now, error === undefined ? null : this.#recorded(error), id);
  }

  appendLog(
    operationId: string,
    level: OperationLogLine["level"],
    message: string,
    now: number,
  ): OperationLogLine {
    const row = this.#statement(
      "SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM operation_logs WHERE operation_id = ?",
    ).get(operationId) as Row;
    const seq = Number(row.seq);
    const recorded = this.#recorded(message);
    this.#statement(
      "INSERT INTO operation_logs (operation_id, seq, at, level, message) VALUES (?, ?, ?, ?, ?)",
    ).run(operationId, seq, now, level, recorded);
    return { operationId, seq, at: now, level, message: recorded };
  }

  operationLogs(operationId: string, afterSeq = 0): OperationLogLine[] {
    return (
      this.#statement("SELECT * FROM operation_logs WHERE operation_id = ? AND seq > ? ORDER BY seq").all(
        operationId,
        afterSeq,
      ) as Row[]
    ).map((row) => ({
      operationId: row.operation_id as string,
      seq: Number(row.seq),
      at: Number(row.at),
      level: row.level as OperationLogLine["level"],
      message: row.message as string,
    }));
  }

  // ---- peers: the nodes this one fetches from, and who may fetch from it

  peers(): Peer[] {
    return (
      this.#statement("SELECT url, token, added_at FROM peers ORDER BY added_at, url").all() as Row[]
    ).map((row) => ({ url: row.url as string, token: row.token as string, addedAt: Number(row.added_at) }));
  }

  /** Adds a peer, or gives a known one its new token; false when it was known. */
  putPeer(url: string, token: string, now: number): boolean {
    const known = this.#statement("SELECT 1 FROM peers WHERE url = ?").get(url) !== undefined;
    this.#statement(
      "INSERT INTO peers (url, token, added_at) VALUES (?, ?, ?) ON CONFLICT (url) DO UPDATE SET token = excluded.token",
    ).run(url, token, now);
    return !known;
  }

  removePeer(url: string): boolean {
    return Number(this.#statement("DELETE FROM peers WHERE url = ?").run(url).changes) === 1;
  }

  peerGrants(): PeerGrant[] {
    return (
      this.#statement("SELECT name, granted_at FROM peer_grants ORDER BY granted_at, name").all() as Row[]
    ).map((row) => ({ name: row.name as string, grantedAt: Number(row.granted_at) }));
  }

  /** Records a grant; false (and nothing changed) when that name has one already. */
  addPeerGrant(name: string, tokenSha256: string, now: number): boolean {
    return (
      Number(
        this.#statement(
          "INSERT OR IGNORE INTO peer_grants (name, token_sha256, granted_at) VALUES (?, ?, ?)",
        ).run(name, tokenSha256, now).changes,
      ) === 1
    );
  }

  removePeerGrant(name: string): boolean {
    return Number(this.#statement("DELETE FROM peer_grants WHERE name = ?").run(name).changes) === 1;
  }

  /** The name of the grant whose token has this SHA-256, if any. */
  peerGrantOf(tokenSha256: string): string | undefined {
    const row = this.#statement("SELECT name FROM peer_grants WHERE token_sha256 = ?").get(tokenSha256) as
      | Row
      | undefined;
    return optional<string>(row?.name);
  }

  // ---- marketplace: relays, settings, verified events

  marketRelays(): string[] {
    return (this.#statement("SELECT url FROM market_relays ORDER BY added_at, url").all() as Row[]).map(
      (row) => row.url as string,
    );
  }

  /** Adds a relay; false when it was there already. */
  addMarketRelay(url: string, now: number): boolean {
    return (
      Number(
        this.#statement("INSERT OR IGNORE INTO market_relays (url, added_at) VALUES (?, ?)").run(url, now)
          .changes,
      ) === 1
    );
  }

  /** Removes a relay; false when it was not there. */
  removeMarketRelay(url: string): boolean {
    return Number(this.#statement("DELETE FROM market_relays WHERE url = ?").run(url).changes) === 1;
  }

  marketSetting(key: string): string | undefined {
    const row = this.#statement("SELECT value FROM market_settings WHERE key = ?").get(key) as
      | Row
      | undefined;
    return optional<string>(row?.value);
  }

  setMarketSetting(key: string, value: string | undefined): void {
    if (value === undefined) this.#statement("DELETE FROM market_settings WHERE key = ?").run(key);
    else
      this.#statement(
        "INSERT INTO market_settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ).run(key, value);
  }

  /**
   * Keeps verified events, in one transaction. `replace` says, per event, whether a newer event at
   * the same address replaces the one kept (NIP-01's newest wins: later, or as old with the lower
   * id); otherwise the first one kept stays. Returns the events that were written.
   */
  putMarketEvents(
    rows: readonly MarketEventRow[],
    replace: (row: MarketEventRow) => boolean,
    now: number,
  ): MarketEventRow[] {
    const written: MarketEventRow[] = [];
    this.transaction(() => {
      const existing = this.#statement("SELECT id, created_at FROM market_events WHERE address = ?");
      const remove = this.#statement("DELETE FROM market_events WHERE address = ?");
      const insert = this.#statement(
        `INSERT OR IGNORE INTO market_events (id, kind, pubkey, address, created_at, received_at, json)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const row of rows) {
        const kept = existing.get(row.address) as Row | undefined;
        if (kept) {
          const newer =
            row.createdAt !== Number(kept.created_at)
              ? row.createdAt > Number(kept.created_at)
              : row.id < (kept.id as string);
          if (kept.id === row.id || !replace(row) || !newer) continue;
          remove.run(row.address);
        }
        if (
          Number(
            insert.run(row.id, row.kind, row.pubkey, row.address, row.createdAt, now, row.json).changes,
          ) === 1
        )
          written.push(row);
      }
    });
    return written;
  }

  /** The kept event at an address. */
  marketEventAt(address: string): MarketEventRow | undefined {
    const row = this.#statement("SELECT * FROM market_events WHERE address = ?").get(address) as
      | Row
      | undefined;
    return row ? toMarketEvent(row) : undefined;
  }

  /** Kept events of some kinds (and authors), newest first, at most `limit`. */
  marketEvents(
    kinds: readonly number[],
    options: { pubkeys?: readonly string[]; limit?: number } = {},
  ): MarketEventRow[] {
    const rows = options.pubkeys
      ? this.#statement(
          `SELECT * FROM market_events WHERE kind IN (SELECT value FROM json_each(?))
             AND pubkey IN (SELECT value FROM json_each(?)) ORDER BY created_at DESC, id LIMIT ?`,
        ).all(JSON.stringify(kinds), JSON.stringify(options.pubkeys), options.limit ?? -1)
      : this.#statement(
          `SELECT * FROM market_events WHERE kind IN (SELECT value FROM json_each(?))
             ORDER BY created_at DESC, id LIMIT ?`,
        ).all(JSON.stringify(kinds), options.limit ?? -1);
    return (rows as Row[]).map(toMarketEvent);
  }

  /** Kept events one at a time (follow lists can be large: they are never all in memory). */
  *iterateMarketEvents(kind: number, pubkeys: readonly string[]): Generator<MarketEventRow> {
    const statement = this.#db.prepare(
      "SELECT * FROM market_events WHERE kind = ? AND pubkey IN (SELECT value FROM json_each(?))",
    );
    for (const row of statement.iterate(kind, JSON.stringify(pubkeys))) yield toMarketEvent(row as Row);
  }

  /**
   * Bounds what strangers cost: of the events whose author is not in `keep`, only the `max` most
   * recently received stay. Returns how many were removed.
   */
  pruneMarketEvents(keep: readonly string[], max: number): number {
    return Number(
      this.#statement(
        `DELETE FROM market_events WHERE id IN (
           SELECT id FROM market_events WHERE pubkey NOT IN (SELECT value FROM json_each(?))
             ORDER BY received_at DESC, created_at DESC LIMIT -1 OFFSET ?)`,
      ).run(JSON.stringify(keep), max).changes,
    );
  }

  marketEventCount(): number {
    return Number((this.#statement("SELECT COUNT(*) AS n FROM market_events").get() as Row).n);
  }
}

function toMarketEvent(row: Row): MarketEventRow {
  return {
    id: row.id as string,
    kind: Number(row.kind),
    pubkey: row.pubkey as string,
    address: row.address as string,
    createdAt: Number(row.created_at),
    json: row.json as string,
  };
}
