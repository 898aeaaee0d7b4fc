/**
 * Scheduled backups end to end (docs/backups.md#schedules): a real daemon as the test user over the
 * lab's Podman, real restic, every step an `archy …` command. The node allows 1 s schedules here
 * (`backupMinIntervalSeconds: 1` in its config file), so schedules of seconds stand in for days:
 * a scheduled backup happens without being asked and its retention forgets the older snapshots; a
 * target that goes missing raises alerts (a failed backup, a failed check) in `archy ls`, `archy
 * status` and the API, and the next success clears them; a daemon restart keeps the schedules.
 */
import assert from "node:assert/strict";
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, test } from "node:test";
import { show } from "../support/daemon-process.ts";
import { eventually, Lab, type TestApp } from "../support/driver.ts";
import { BackupNode, testUserDir } from "./support.ts";

const FIXTURE = new URL("../fixtures/backup-dump-app/", import.meta.url).pathname;

type Alert = { kind: string; target: string; appId: string | null; message: string };

describe("real restic and Podman: scheduled backups, retention, alerts raised and cleared", () => {
  let lab: Lab;
  let node: BackupNode;
  let dataDir: string;
  let app: TestApp;
  /** Puts the unplugged repository back (the next test does too, should the one that unplugged it fail). */
  let plugBack = () => {};
  const cli = (args: string[], timeoutMs?: number) => node.cli(args, timeoutMs);

  /** The operation log lines of the app's scheduled backups, from the daemon's store. */
  function scheduledRuns(): { succeeded: number; retention: string[] } {
    const db = new DatabaseSync(join(dataDir, "state", "store.db"), { readOnly: true });
    try {
      const ops = db
        .prepare(
          `SELECT o.id, o.state FROM operations o WHERE o.app_id = ? AND o.kind = 'backup'
             AND EXISTS (SELECT 1 FROM operation_logs l WHERE l.operation_id = o.id AND l.message LIKE 'scheduled backup to %')`,
        )
        .all(app.id) as Array<{ id: string; state: string }>;
      const retention = (
        db
          .prepare("SELECT message FROM operation_logs WHERE message LIKE 'retention applied:%'")
          .all() as Array<{ message: string }>
      ).map((row) => row.message);
      return { succeeded: ops.filter((o) => o.state === "succeeded").length, retention };
    } finally {
      db.close();
    }
  }

  async function snapshotsOn(target: string): Promise<number> {
    const listed = await cli(["backups", app.id, "--target", target, "--json"]);
    assert.equal(listed.code, 0, show(listed));
    return (JSON.parse(listed.stdout) as { snapshots: unknown[] }).snapshots.length;
  }

  before(async () => {
    lab = await Lab.create();
    app = await lab.app("backup-dump-app", { source: FIXTURE });
    const configFile = join(lab.root, "daemon.yml");
    writeFileSync(configFile, "backupMinIntervalSeconds: 1\n", { mode: 0o644 });
    node = await BackupNode.start(lab, "daemon", ["--config", configFile]);
    dataDir = node.dataDir;
    const install = await cli(["install", app.id]);
    assert.equal(install.code, 0, show(install));
    await lab.exec(app.names.db as string, "echo 'row 1' > /data/live.db");
  });

  after(async () => {
    await node?.close();
    await lab?.close();
  });

  test("a scheduled backup happens unasked; retention then forgets and prunes the older snapshots", async () => {
    const repo = join(testUserDir(join(lab.root, "targets")), "nightly");
    const add = await cli(["backup", "targets", "add", "nightly", repo]);
    assert.equal(add.code, 0, show(add));
    const set = await cli([
      "backup",
      "targets",
      "schedule",
      "nightly",
      "--every",
      "every 2s",
      "--keep-last",
      "1",
    ]);
    assert.equal(set.code, 0, show(set));
    assert.match(set.stdout, /target nightly: backups every 2s, keep 1 last, checks only on request/);
    const listed = await cli(["backup", "targets"]);
    assert.match(listed.stdout, /nightly +local +\S+ +every 2s +1 last +-/, show(listed));
    await eventually(
      "two scheduled backups succeeded and retention forgot a snapshot",
      async () => {
        const runs = scheduledRuns();
        return runs.succeeded >= 2 && runs.retention.some((line) => /: [1-9]\d* older snapshots? /.test(line))
          ? runs
          : undefined;
      },
      180_000,
    );
    const off = await cli(["backup", "targets", "schedule", "nightly", "--every", "off"]);
    assert.equal(off.code, 0, show(off));
    // A run the scheduler had started finishes with its retention: one snapshot is kept.
    await eventually("the app's last operation ended", async () => {
      const status = await cli(["status", app.id, "--json"]);
      const ops = (JSON.parse(status.stdout) as { operations?: Array<{ state: string }> }).operations ?? [];
      return ops.every((o) => o.state === "succeeded" || o.state === "failed") ? true : undefined;
    });
    assert.equal(await snapshotsOn("nightly"), 1, "keep-last 1 left one snapshot of the app");
  });

  test("a target gone missing: failed backup and failed check are alerts in ls, status and the API; the next success clears them", async () => {
    const repo = join(testUserDir(join(lab.root, "targets")), "flaky");
    const add = await cli(["backup", "targets", "add", "flaky", repo]);
    assert.equal(add.code, 0, show(add));
    renameSync(repo, `${repo}.unplugged`);
    plugBack = () => renameSync(`${repo}.unplugged`, repo);
    const set = await cli([
      "backup",
      "targets",
      "schedule",
      "flaky",
      "--every",
      "every 2s",
      "--check",
      "every 2s",
    ]);
    assert.equal(set.code, 0, show(set));
    // With no success for more than one period (2 s), the backup is overdue too.
    const ls = await eventually(
      "archy ls shows the failed backup, the overdue backup and the failed check",
      async () => {
        const run = await cli(["ls"]);
        return /ALERT .*the last backup to flaky failed/.test(run.stdout) &&
          /ALERT .*backup to flaky overdue: none has succeeded yet/.test(run.stdout) &&
          /ALERT target flaky: the last check of flaky failed/.test(run.stdout)
          ? run
          : undefined;
      },
      120_000,
    );
    assert.match(ls.stdout, /is the disk mounted/, show(ls));
    const status = await cli(["status", app.id]);
    assert.match(status.stdout, /ALERT: +the last backup to flaky failed/, show(status));
    const view = JSON.parse((await cli(["status", app.id, "--json"])).stdout) as { alerts: Alert[] };
    assert.deepEqual(
      view.alerts.map((a) => [a.kind, a.target, a.appId]),
      [
        ["backup-failed", "flaky", app.id],
        ["backup-overdue", "flaky", app.id],
      ],
      "package.get carries the app's alerts",
    );
    plugBack();
    plugBack = () => {};
    await eventually(
      "the next scheduled backup and check succeed and the alerts clear",
      async () => {
        const run = await cli(["ls"]);
        return run.code === 0 && !run.stdout.includes("ALERT") ? true : undefined;
      },
      120_000,
    );
    const cleared = JSON.parse((await cli(["status", app.id, "--json"])).stdout) as { alerts: Alert[] };
    assert.deepEqual(cleared.alerts, []);
  });

  test("a daemon restart keeps the schedules and the scheduler runs them again", async () => {
    plugBack();
    const before = scheduledRuns().succeeded;
    await node.daemon?.stop();
    await node.startDaemon();
    const listed = await cli(["backup", "targets", "--json"]);
    const targets = (
      JSON.parse(listed.stdout) as {
        targets: Array<{ name: string; schedule: string | null; check: string | null }>;
      }
    ).targets;
    assert.deepEqual(
      targets.map((t) => [t.name, t.schedule, t.check]),
      [
        ["flaky", "every 2s", "every 2s"],
        ["nightly", null, null],
      ],
    );
    await eventually(
      "a scheduled backup after the restart",
      async () => (scheduledRuns().succeeded > before ? true : undefined),
      120_000,
    );
    const off = await cli(["backup", "targets", "schedule", "flaky", "--every", "off", "--check", "off"]);
    assert.equal(off.code, 0, show(off));
  });
});
