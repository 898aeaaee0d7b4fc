/**
 * The store on real SQLite in a temporary directory: migrations, reopening (also after a SIGKILL),
 * refusing a newer schema, atomic intents, ordered logs, observations.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, describe, test } from "node:test";
import { rewindStore } from "../../test/support/earlier-store.ts";
import { CURRENT_NAMING } from "../manifest/naming.ts";
import type { StoredContainer } from "./model.ts";
import { type IntentChange, Store } from "./store.ts";

const root = mkdtempSync(join(tmpdir(), "archy-store-test-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(root, `case-${++n}`, "state", "store.db");

/** The schema version this build migrates to (the migrations grow; the tests follow). */
const CURRENT = (() => {
  const store = new Store(freshPath());
  const version = store.schemaVersion;
  store.close();
  return version;
})();

const MANIFEST = { text: "manifest: 1\nid: alpha\n", hash: "h1", version: "1.0.0", source: "local" };

function install(store: Store, appId = "alpha", opId = `op-install-${appId}`, now = 1_000) {
  return store.recordIntent(
    {
      appId,
      operation: { id: opId, kind: "install" },
      desired: "running",
      phase: "installing",
      manifest: MANIFEST,
    },
    now,
  );
}

function container(key: string, extra: Partial<StoredContainer> = {}): StoredContainer {
  return {
    appId: "alpha",
    key,
    name: `alpha-${key}`,
    containerId: `id-${key}`,
    state: "running",
    health: "healthy",
    exitCode: 0,
    restarts: 0,
    startedAt: 5_000,
    backend: "podman",
    specHash: `hash-${key}`,
    observedAt: 6_000,
    ...extra,
  };
}

const versions = (db: DatabaseSync) =>
  (db.prepare("SELECT version FROM schema_version").all() as Array<{ version: number }>).map(
    (r) => r.version,
  );

/** Everything the store holds about one app, for before/after comparisons. */
function snapshot(store: Store, appId = "alpha") {
  const operations = store.listOperations(appId, 1000);
  return {
    apps: store.listApps(),
    containers: store.listContainers(),
    operations,
    logs: operations.map((o) => store.operationLogs(o.id)),
  };
}

describe("store: schema and migrations", () => {
  test("an empty database is migrated to the current schema, in WAL mode, in a 0700 directory", () => {
    const path = freshPath();
    const store = new Store(path);
    assert.ok(CURRENT >= 1);
    assert.equal(store.schemaVersion, CURRENT);
    assert.deepEqual(store.listApps(), []);
    assert.deepEqual(store.listContainers(), []);
    assert.deepEqual(store.activeOperations(), []);
    store.close();
    assert.equal(statSync(join(path, "..")).mode & 0o777, 0o700);
    const raw = new DatabaseSync(path);
    assert.equal((raw.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode, "wal");
    const tables = (
      raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{
        name: string;
      }>
    ).map((r) => r.name);
    for (const table of ["apps", "containers", "operation_logs", "operations", "schema_version"])
      assert.ok(tables.includes(table), `table ${table} exists`);
    assert.deepEqual(versions(raw), [CURRENT]);
    raw.close();
  });

  test("reopening a migrated database neither re-runs migrations nor loses anything", () => {
    const path = freshPath();
    const first = new Store(path);
    install(first);
    first.close();
    const second = new Store(path);
    assert.equal(second.schemaVersion, CURRENT);
    assert.equal(second.listApps().length, 1);
    second.close();
    const raw = new DatabaseSync(path);
    assert.equal((raw.prepare("SELECT COUNT(*) AS n FROM schema_version").get() as { n: number }).n, 1);
    raw.close();
  });

  test("apps installed before naming schemes were recorded keep scheme 1, their names on the node; new installs get the current one", () => {
    const path = freshPath();
    const before = new Store(path);
    install(before);
    before.close();
    // The database as the release before the naming column left it.
    const raw = new DatabaseSync(path);
    rewindStore(path, 5); // before the naming column
    raw.close();
    const store = new Store(path);
    assert.equal(store.schemaVersion, CURRENT);
    assert.equal(store.getApp("alpha")?.naming, 1);
    install(store, "beta");
    assert.equal(store.getApp("beta")?.naming, CURRENT_NAMING);
    assert.equal(CURRENT_NAMING, 2);
    // A change of intent or of manifest never renames: the scheme stays until the app is removed.
    store.recordIntent(
      {
        appId: "alpha",
        operation: { id: "op-update", kind: "update" },
        desired: "running",
        phase: "starting",
        manifest: { ...MANIFEST, hash: "h2", version: "2.0.0" },
        recreateRequestedAt: 2_000,
        update: true,
      },
      2_000,
    );
    assert.equal(store.getApp("alpha")?.naming, 1);
    store.forgetApp("alpha", store.getApp("alpha")?.generation ?? 0, 3_000);
    install(store, "alpha", "op-install-again");
    assert.equal(store.getApp("alpha")?.naming, CURRENT_NAMING, "installed again: the current naming");
    store.close();
  });

  test("a database with a newer schema is refused with a clear message, and left as it was", () => {
    const path = freshPath();
    const store = new Store(path);
    install(store);
    store.close();
    const raw = new DatabaseSync(path);
    const newer = CURRENT + 1;
    raw.exec(`UPDATE schema_version SET version = ${newer}`);
    raw.close();
    assert.throws(
      () => new Store(path),
      (error: Error) => {
        assert.ok(
          error.message.includes(
            `schema version ${newer}, newer than this Archipelago (${CURRENT}); upgrade Archipelago`,
          ),
          error.message,
        );
        assert.ok(error.message.includes(path), "the message names the store");
        return true;
      },
    );
    const check = new DatabaseSync(path);
    assert.deepEqual(versions(check), [newer]);
    assert.equal((check.prepare("SELECT COUNT(*) AS n FROM apps").get() as { n: number }).n, 1);
    check.close();
  });
});

describe("store: crash safety", () => {
  test("everything written survives closing and reopening", () => {
    const path = freshPath();
    const store = new Store(path);
    install(store);
    store.updateStatus(
      "alpha",
      { phase: "starting", reason: "creating web", attempts: 2, nextAttemptAt: 9_000 },
      2_000,
    );
    store.saveObservation("alpha", [
      container("web"),
      container("db", { state: "exited", startedAt: undefined }),
    ]);
    store.setOperationState("op-install-alpha", "running", 2_500);
    store.appendLog("op-install-alpha", "info", "creating web", 2_600);
    store.appendLog("op-install-alpha", "warn", "slow", 2_700);
    const before = snapshot(store);
    store.close();
    const reopened = new Store(path);
    assert.deepEqual(snapshot(reopened), before);
    const app = reopened.getApp("alpha");
    assert.equal(app?.phase, "starting");
    assert.equal(app?.attempts, 2);
    assert.equal(app?.nextAttemptAt, 9_000);
    reopened.close();
  });

  test("a process killed (SIGKILL) right after a write loses nothing it committed", () => {
    const path = freshPath();
    const storeModule = new URL("./store.ts", import.meta.url).pathname;
    const script = `
      import { Store } from ${JSON.stringify(storeModule)};
      const store = new Store(${JSON.stringify(path)});
      store.recordIntent({ appId: "alpha", operation: { id: "op-1", kind: "install" }, desired: "running",
        phase: "installing", manifest: { text: "t", hash: "h", version: "1.0.0", source: "s" } }, 1000);
      store.updateStatus("alpha", { phase: "starting" }, 1100);
      store.appendLog("op-1", "info", "in between", 1200);
      process.kill(process.pid, "SIGKILL");
    `;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    assert.equal(child.signal, "SIGKILL", child.stderr);
    const store = new Store(path);
    assert.equal(store.getApp("alpha")?.phase, "starting", "the in-between phase is there to resume from");
    assert.equal(store.getOperation("op-1")?.state, "pending");
    assert.deepEqual(
      store.operationLogs("op-1").map((l) => l.message),
      ["in between"],
    );
    store.close();
  });
});

describe("store: intents are atomic", () => {
  test("recordIntent writes the app and its operation together", () => {
    const store = new Store(freshPath());
    const app = install(store);
    assert.equal(app.generation, 1);
    assert.equal(app.desired, "running");
    assert.equal(app.phase, "installing");
    assert.deepEqual(
      store.activeOperations("alpha").map((o) => [o.id, o.kind, o.state, o.generation]),
      [["op-install-alpha", "install", "pending", 1]],
    );
    store.close();
  });

  test("a failure inside recordIntent rolls everything back (new app: no half-written app)", () => {
    const store = new Store(freshPath());
    install(store, "alpha", "op-dup");
    const before = snapshot(store, "beta");
    // The operation id collides: the app row is written first, then the operation insert fails.
    assert.throws(() => install(store, "beta", "op-dup"), /UNIQUE|constraint/i);
    assert.equal(store.getApp("beta"), undefined);
    assert.deepEqual(snapshot(store, "beta"), before);
    store.close();
  });

  test("a failure inside recordIntent rolls everything back (existing app: desired state and generation unchanged)", () => {
    const store = new Store(freshPath());
    install(store);
    store.setOperationState("op-install-alpha", "succeeded", 2_000);
    const before = snapshot(store);
    const stop: IntentChange = {
      appId: "alpha",
      operation: { id: "op-install-alpha", kind: "stop" },
      desired: "stopped",
      phase: "stopping",
      resetAttempts: true,
    };
    assert.throws(() => store.recordIntent(stop, 3_000), /UNIQUE|constraint/i);
    assert.deepEqual(snapshot(store), before);
    assert.equal(store.getApp("alpha")?.desired, "running");
    assert.equal(store.getApp("alpha")?.generation, 1);
    store.close();
  });

  test("recordIntent for an app that is not installed, without a manifest, writes nothing", () => {
    const store = new Store(freshPath());
    assert.throws(
      () =>
        store.recordIntent(
          { appId: "ghost", operation: { id: "op-x", kind: "start" }, desired: "running", phase: "starting" },
          1,
        ),
      /ghost is not installed/,
    );
    assert.deepEqual(store.listApps(), []);
    assert.equal(store.getOperation("op-x"), undefined);
    store.close();
  });

  test("transaction(): a throw inside leaves nothing behind; the store stays usable", () => {
    const store = new Store(freshPath());
    assert.throws(
      () =>
        store.transaction(() => {
          install(store);
          store.appendLog("op-install-alpha", "info", "half", 1);
          throw new Error("boom");
        }),
      /boom/,
    );
    assert.deepEqual(snapshot(store), { apps: [], containers: [], operations: [], logs: [] });
    install(store);
    assert.equal(store.listApps().length, 1);
    store.close();
  });

  test("transactions nest: an inner failure caught inside rolls back only the inner part", () => {
    const store = new Store(freshPath());
    store.transaction(() => {
      install(store, "alpha", "op-a");
      assert.throws(() =>
        store.transaction(() => {
          install(store, "beta", "op-b");
          throw new Error("inner");
        }),
      );
      store.appendLog("op-a", "info", "outer continues", 1);
    });
    assert.deepEqual(
      store.listApps().map((a) => a.id),
      ["alpha"],
    );
    assert.equal(store.getOperation("op-b"), undefined);
    assert.equal(store.operationLogs("op-a").length, 1);
    store.close();
  });

  test("a change of intent bumps the generation, keeps the previous manifest and resets the attempts", () => {
    const store = new Store(freshPath());
    install(store);
    store.updateStatus(
      "alpha",
      { phase: "retrying", reason: "boom", attempts: 3, nextAttemptAt: 50_000 },
      2_000,
    );
    const restarted = store.recordIntent(
      {
        appId: "alpha",
        operation: { id: "op-r", kind: "restart" },
        desired: "running",
        phase: "restarting",
        restartRequestedAt: 3_000,
      },
      3_000,
    );
    assert.equal(restarted.generation, 2);
    assert.equal(restarted.restartRequestedAt, 3_000);
    assert.equal(restarted.reason, undefined, "a new intent clears the old reason");
    assert.equal(restarted.attempts, 3, "attempts are kept unless reset");
    const updated = store.recordIntent(
      {
        appId: "alpha",
        operation: { id: "op-u", kind: "update" },
        desired: "running",
        phase: "starting",
        resetAttempts: true,
        manifest: { text: "v2", hash: "h2", version: "2.0.0", source: "local" },
      },
      4_000,
    );
    assert.equal(updated.generation, 3);
    assert.equal(updated.restartRequestedAt, 3_000, "earlier requests are kept");
    assert.equal(updated.attempts, 0);
    assert.equal(updated.nextAttemptAt, undefined);
    assert.equal(updated.version, "2.0.0");
    assert.equal(updated.manifestText, "v2");
    assert.equal(updated.previousManifestText, MANIFEST.text, "the pre-update manifest is kept for rollback");
    // Re-applying the same manifest keeps the real previous one.
    const again = store.recordIntent(
      {
        appId: "alpha",
        operation: { id: "op-u2", kind: "update" },
        desired: "running",
        phase: "starting",
        manifest: { text: "v2", hash: "h2", version: "2.0.0", source: "local" },
      },
      5_000,
    );
    assert.equal(again.previousManifestText, MANIFEST.text);
    store.close();
  });
});

describe("store: operations and logs", () => {
  test("secrets never reach the store: every free text it records passes its mask", () => {
    const store = new Store(freshPath(), { mask: (text) => text.replaceAll("s3cr3t", "[secret]") });
    install(store);
    const line = store.appendLog("op-install-alpha", "info", "hook said s3cr3t", 1);
    assert.equal(line.message, "hook said [secret]", "the line returned (and sent as an event)");
    store.updateStatus("alpha", { phase: "failed", reason: "exited: s3cr3t" }, 2);
    assert.equal(store.getApp("alpha")?.reason, "exited: [secret]");
    store.setOperationState("op-install-alpha", "failed", 3, "failed: s3cr3t");
    store.recordIntent(
      {
        appId: "alpha",
        operation: { id: "op-update", kind: "update" },
        phase: "updating",
        manifest: { ...MANIFEST, hash: "h2", version: "2.0.0" },
        update: true,
      },
      4,
    );
    store.updateRollingBack("alpha", "unhealthy: s3cr3t", 5);
    assert.equal(store.getUpdate("alpha")?.reason, "unhealthy: [secret]");
    store.restorePreviousManifest("alpha", 6, { reason: "refused: s3cr3t" });
    const db = new DatabaseSync(store.path, { readOnly: true });
    const stored = (
      db
        .prepare(
          `SELECT message AS text FROM operation_logs UNION ALL SELECT error FROM operations
             UNION ALL SELECT reason FROM apps UNION ALL SELECT reason FROM updates`,
        )
        .all() as Array<{ text: string | null }>
    ).map((r) => r.text);
    db.close();
    assert.ok(
      stored.includes("hook said [secret]") && stored.includes("failed: [secret]"),
      stored.join("\n"),
    );
    assert.ok(stored.includes("refused: [secret]"), stored.join("\n"));
    assert.deepEqual(
      stored.filter((text) => text?.includes("s3cr3t")),
      [],
    );
    store.close();
  });

  test("log lines are numbered per operation, in order, and can be read from a position", () => {
    const store = new Store(freshPath());
    install(store);
    install(store, "beta");
    for (let i = 1; i <= 5; i++) store.appendLog("op-install-alpha", "info", `alpha ${i}`, 100 - i);
    store.appendLog("op-install-beta", "error", "beta 1", 1);
    const lines = store.operationLogs("op-install-alpha");
    assert.deepEqual(
      lines.map((l) => [l.seq, l.message]),
      [
        [1, "alpha 1"],
        [2, "alpha 2"],
        [3, "alpha 3"],
        [4, "alpha 4"],
        [5, "alpha 5"],
      ],
      "ordered by sequence, not by clock",
    );
    assert.deepEqual(
      store.operationLogs("op-install-alpha", 3).map((l) => l.seq),
      [4, 5],
    );
    assert.deepEqual(
      store.operationLogs("op-install-beta").map((l) => [l.seq, l.level]),
      [[1, "error"]],
    );
    store.close();
  });

  test("operations: active oldest first, listed newest first, finished with time and error", () => {
    const store = new Store(freshPath());
    install(store, "alpha", "op-1", 1_000);
    store.recordIntent(
      { appId: "alpha", operation: { id: "op-2", kind: "stop" }, desired: "stopped", phase: "stopping" },
      2_000,
    );
    assert.deepEqual(
      store.activeOperations("alpha").map((o) => o.id),
      ["op-1", "op-2"],
    );
    assert.deepEqual(
      store.listOperations("alpha").map((o) => o.id),
      ["op-2", "op-1"],
    );
    store.setOperationState("op-1", "running", 2_500);
    assert.equal(store.getOperation("op-1")?.finishedAt, undefined, "running is not finished");
    store.setOperationState("op-1", "failed", 3_000, "boom");
    store.setOperationState("op-2", "succeeded", 3_100);
    assert.deepEqual(store.activeOperations("alpha"), []);
    assert.deepEqual(
      [
        store.getOperation("op-1")?.state,
        store.getOperation("op-1")?.finishedAt,
        store.getOperation("op-1")?.error,
      ],
      ["failed", 3_000, "boom"],
    );
    assert.equal(store.getOperation("op-2")?.error, undefined);
    store.close();
  });

  test("updateStatus: nextAttemptAt is kept when not given and cleared with null", () => {
    const store = new Store(freshPath());
    install(store);
    store.updateStatus("alpha", { phase: "retrying", reason: "boom", attempts: 1, nextAttemptAt: 9_000 }, 1);
    store.updateStatus("alpha", { phase: "retrying", reason: "boom" }, 2);
    assert.equal(store.getApp("alpha")?.nextAttemptAt, 9_000);
    assert.equal(store.getApp("alpha")?.attempts, 1);
    store.updateStatus(
      "alpha",
      { phase: "running", observedGeneration: 1, attempts: 0, nextAttemptAt: null },
      3,
    );
    const app = store.getApp("alpha");
    assert.deepEqual(
      [app?.phase, app?.reason, app?.nextAttemptAt, app?.attempts, app?.observedGeneration, app?.updatedAt],
      ["running", undefined, undefined, 0, 1, 3],
    );
    store.close();
  });

  test("updateStatus: a status equal to the stored one writes nothing (an SD card is not rewritten every pass)", () => {
    const store = new Store(freshPath());
    install(store);
    const status = {
      phase: "running",
      reason: "ok",
      observedGeneration: 1,
      attempts: 0,
      nextAttemptAt: null,
    } as const;
    assert.equal(store.updateStatus("alpha", status, 2), true);
    const writes = store.writes;
    for (let now = 3; now < 10; now++) assert.equal(store.updateStatus("alpha", status, now), false);
    assert.equal(store.updateStatus("alpha", { phase: "running", reason: "ok" }, 10), false);
    assert.equal(store.writes, writes, "statements that write, for statuses equal to the stored one");
    assert.equal(store.getApp("alpha")?.updatedAt, 2, "the status last changed at 2");
    assert.equal(store.updateStatus("alpha", { ...status, reason: "other" }, 11), true);
    assert.equal(store.writes, writes + 1);
    assert.equal(store.getApp("alpha")?.reason, "other");
    store.close();
  });

  test("forgetApp forgets the app and its observation, ends its removal, and keeps its journal", () => {
    const store = new Store(freshPath());
    install(store);
    store.saveObservation("alpha", [container("web")]);
    store.appendLog("op-install-alpha", "info", "x", 1);
    const removing = store.recordIntent(
      {
        appId: "alpha",
        operation: { id: "op-uninstall", kind: "uninstall" },
        desired: "absent",
        phase: "removing",
      },
      2_000,
    );
    const ended = store.forgetApp("alpha", removing.generation, 3_000);
    assert.deepEqual(
      ended?.map((o) => o.id),
      ["op-install-alpha", "op-uninstall"],
    );
    assert.equal(store.getApp("alpha"), undefined);
    assert.deepEqual(store.listContainers("alpha"), []);
    assert.deepEqual(store.activeOperations("alpha"), [], "nothing of alpha is left in flight");
    assert.equal(store.getOperation("op-uninstall")?.state, "succeeded");
    assert.equal(store.getOperation("op-uninstall")?.finishedAt, 3_000);
    assert.equal(store.getOperation("op-install-alpha")?.kind, "install");
    assert.equal(store.operationLogs("op-install-alpha").length, 1);
    store.close();
  });

  test("forgetApp changes nothing once the intent moved on (a purge recorded during the removal)", () => {
    const store = new Store(freshPath());
    install(store);
    const removing = store.recordIntent(
      {
        appId: "alpha",
        operation: { id: "op-uninstall", kind: "uninstall" },
        desired: "absent",
        phase: "removing",
        supersede: ["op-install-alpha"],
      },
      2_000,
    );
    store.recordIntent(
      {
        appId: "alpha",
        operation: { id: "op-purge", kind: "purge" },
        desired: "absent",
        purge: true,
        phase: "removing",
        supersede: ["op-uninstall"],
      },
      2_500,
    );
    assert.equal(store.forgetApp("alpha", removing.generation, 3_000), undefined);
    assert.equal(store.getApp("alpha")?.purge, true, "the purge is still to be carried out");
    assert.deepEqual(
      store.activeOperations("alpha").map((o) => o.id),
      ["op-purge"],
    );
    store.close();
  });

  test("operations left in flight for an app that is gone end, whatever their kind but backups, once", () => {
    const path = freshPath();
    const store = new Store(path);
    install(store);
    // A store as an earlier daemon left it, killed between forgetting the app and ending its
    // removal: the uninstall still running, and a backup of the app interrupted too.
    store.recordIntent(
      {
        appId: "alpha",
        operation: { id: "op-uninstall", kind: "uninstall" },
        desired: "absent",
        phase: "removing",
      },
      2_000,
    );
    store.recordHoldingOperation({ id: "op-backup", appId: "alpha", kind: "backup" }, 2_100);
    const raw = new DatabaseSync(path);
    raw.exec("DELETE FROM apps WHERE id = 'alpha'");
    raw.close();
    assert.deepEqual(
      store.endOperationsOfRemovedApps(4_000).map((o) => o.id),
      ["op-install-alpha", "op-uninstall"],
    );
    assert.equal(store.getOperation("op-uninstall")?.state, "succeeded");
    assert.match(
      store.operationLogs("op-uninstall").at(-1)?.message ?? "",
      /alpha was removed; this uninstall ended with it/,
    );
    assert.equal(store.getOperation("op-backup")?.state, "running", "the backup service's to end");
    assert.deepEqual(store.endOperationsOfRemovedApps(5_000), [], "once");
    // Installing the id again is a fresh install: nothing of the old one stands in its way.
    install(store, "alpha", "op-install-again", 6_000);
    assert.deepEqual(
      store.activeOperations("alpha").map((o) => o.id),
      ["op-backup", "op-install-again"],
    );
    store.close();
  });
});

describe("store: observations", () => {
  test("saveObservation replaces an app's containers; other apps are untouched", () => {
    const store = new Store(freshPath());
    store.saveObservation("alpha", [container("web"), container("db")]);
    store.saveObservation("beta", [container("web", { appId: "beta", name: "beta" })]);
    assert.deepEqual(
      store.listContainers("alpha").map((c) => c.key),
      ["db", "web"],
    );
    store.saveObservation("alpha", [
      container("web", { state: "exited", exitCode: 137, startedAt: undefined, restarts: 2 }),
    ]);
    assert.deepEqual(store.listContainers("alpha"), [
      container("web", { state: "exited", exitCode: 137, startedAt: undefined, restarts: 2 }),
    ]);
    assert.deepEqual(
      store.listContainers().map((c) => `${c.appId}/${c.key}`),
      ["alpha/web", "beta/web"],
    );
    store.saveObservation("alpha", []);
    assert.deepEqual(store.listContainers("alpha"), []);
    assert.equal(store.listContainers("beta").length, 1);
    store.close();
  });

  test("containers observed before restarts were counted are read with 0 restarts after the upgrade", () => {
    const path = freshPath();
    const before = new Store(path);
    before.saveObservation("alpha", [container("web")]);
    before.close();
    rewindStore(path, 9); // before the restarts column
    const store = new Store(path);
    assert.equal(store.schemaVersion, CURRENT);
    assert.deepEqual(store.listContainers("alpha"), [container("web", { restarts: 0 })]);
    store.close();
  });

  test("touchObservation only moves the observation time", () => {
    const store = new Store(freshPath());
    store.saveObservation("alpha", [container("web"), container("db")]);
    store.saveObservation("beta", [container("web", { appId: "beta" })]);
    store.touchObservation("alpha", 99_000);
    assert.deepEqual(store.listContainers("alpha"), [
      container("db", { observedAt: 99_000 }),
      container("web", { observedAt: 99_000 }),
    ]);
    assert.equal(store.listContainers("beta")[0]?.observedAt, 6_000);
    store.close();
  });

  test("confirmed observation times are kept in memory, written a minute later in one statement, and at close", () => {
    const path = freshPath();
    const store = new Store(path);
    store.saveObservation("alpha", [container("web"), container("db")]);
    store.saveObservation("beta", [container("web", { appId: "beta" })]);
    const writes = store.writes;
    // Passes every 10 s for 50 s: nothing is written, and readers see the times all the same.
    for (let at = 10_000; at <= 60_000; at += 10_000) {
      store.touchObservation("alpha", at);
      store.touchObservation("beta", at);
    }
    assert.equal(store.writes, writes, "statements that write within the first minute");
    assert.deepEqual(
      store.listContainers().map((c) => c.observedAt),
      [60_000, 60_000, 60_000],
    );
    const onDisk = () => {
      const db = new DatabaseSync(path, { readOnly: true });
      const rows = db.prepare("SELECT observed_at FROM containers ORDER BY app_id, key").all();
      db.close();
      return rows.map((r) => Number(r.observed_at));
    };
    assert.deepEqual(onDisk(), [6_000, 6_000, 6_000]);
    // A minute after the first unwritten confirmation: both apps' times go in one statement.
    store.touchObservation("alpha", 70_000);
    store.touchObservation("beta", 70_000);
    assert.equal(store.writes, writes + 1, "the previous pass's time, for both apps");
    assert.deepEqual(onDisk(), [60_000, 60_000, 60_000]);
    assert.deepEqual(
      store.listContainers().map((c) => c.observedAt),
      [70_000, 70_000, 70_000],
    );
    // A change is written at once and replaces the time kept in memory.
    store.saveObservation("beta", [container("web", { appId: "beta", state: "exited", observedAt: 80_000 })]);
    store.touchObservation("alpha", 80_000);
    assert.deepEqual(onDisk(), [60_000, 60_000, 80_000]);
    store.close();
    assert.deepEqual(onDisk(), [80_000, 80_000, 80_000], "closing writes what memory held");
  });

  test("a legacy container without spec hash is stored and read back as such", () => {
    const store = new Store(freshPath());
    store.saveObservation("alpha", [container("web", { specHash: undefined })]);
    assert.equal(store.listContainers("alpha")[0]?.specHash, undefined);
    store.close();
  });
});

describe("store: parsed manifests", () => {
  test("kept by key; a put drops the forms no app or update refers to any more", () => {
    const store = new Store(freshPath());
    install(store); // manifest hash h1
    store.putParsedManifest("1.abc:h1", '{"id":"alpha"}');
    store.putParsedManifest("1.abc:gone", '{"id":"gone"}');
    assert.equal(store.getParsedManifest("1.abc:h1"), '{"id":"alpha"}');
    assert.equal(store.getParsedManifest("1.abc:gone"), '{"id":"gone"}', "the form just put stays");
    store.putParsedManifest("2.def:h1", '{"id":"alpha","v":2}');
    assert.equal(store.getParsedManifest("1.abc:gone"), undefined, "no app has that manifest");
    assert.equal(store.getParsedManifest("1.abc:h1"), '{"id":"alpha"}', "an app still has it");
    assert.equal(store.getParsedManifest("2.def:h1"), '{"id":"alpha","v":2}');
    store.close();
  });
});

describe("env_files", () => {
  const file = (text: string) => ({ text, sha256: `digest of ${text}` });

  test("an update keeps the files of the manifest it came from, a rollback finds them, a later update drops them, forgetting drops all", () => {
    const store = new Store(freshPath());
    const update = (hash: string, version: string, text: string, now: number) =>
      store.recordIntent(
        {
          appId: "alpha",
          operation: { id: `op-update-${hash}`, kind: "update" },
          desired: "running",
          phase: "starting",
          manifest: { ...MANIFEST, hash, version, envFiles: { "web.env": file(text) } },
          update: true,
        },
        now,
      );
    store.recordIntent(
      {
        appId: "alpha",
        operation: { id: "op-install", kind: "install" },
        desired: "running",
        phase: "installing",
        manifest: { ...MANIFEST, envFiles: { "web.env": file("A=1\n") } },
      },
      1,
    );
    update("h2", "2.0.0", "A=2\n", 2);
    assert.deepEqual(store.envFiles("alpha", "h1"), { "web.env": file("A=1\n") });
    assert.deepEqual(store.envFiles("alpha", "h2"), { "web.env": file("A=2\n") });
    store.restorePreviousManifest("alpha", 3);
    assert.equal(store.getApp("alpha")?.manifestHash, "h1");
    assert.deepEqual(
      store.envFiles("alpha", "h1"),
      { "web.env": file("A=1\n") },
      "the rollback lost its files",
    );
    store.deleteUpdate("alpha");
    update("h3", "3.0.0", "A=3\n", 4);
    assert.deepEqual(
      store.envFiles("alpha", "h2"),
      {},
      "a manifest neither current nor replaced keeps its files",
    );
    assert.deepEqual(Object.keys(store.envFiles("alpha", "h1")), ["web.env"]);
    store.forgetApp("alpha", store.getApp("alpha")?.generation ?? 0, 5);
    assert.deepEqual(store.envFiles("alpha", "h1"), {});
    assert.deepEqual(store.envFiles("alpha", "h3"), {});
    store.close();
  });
});
