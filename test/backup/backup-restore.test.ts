/**
 * Backups end to end, as an operator does them (docs/backups.md): a real daemon as the test user
 * over the lab's Podman, real restic, every step an `archy …` command. Back up an app with data,
 * purge it, restore it: byte-identical data, the same generated secret, the app running. Restore
 * over the installed app and undo it. A wrong key and a missing target: clear errors, the app kept
 * running; a directory the daemon's user cannot write: the fix named. No key or secret in the daemon's output or the operation logs.
 */
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, test } from "node:test";
import { show } from "../support/daemon-process.ts";
import { eventually, Lab, type TestApp } from "../support/driver.ts";
import { BackupNode, testUserDir } from "./support.ts";

const FIXTURE = new URL("../fixtures/backup-app/", import.meta.url).pathname;
const DUMP_FIXTURE = new URL("../fixtures/backup-dump-app/", import.meta.url).pathname;

describe("real restic and Podman: back up, purge, restore, undo; faults leave the app running", () => {
  let lab: Lab;
  let node: BackupNode;
  let dataDir: string;
  let app: TestApp;
  let dumping: TestApp;
  let key = "";
  let password = "";
  const cli = (args: string[], timeoutMs?: number) => node.cli(args, timeoutMs);
  const container = () => app.names.web as string;

  /** The app's data, as its container sees it: each file with its hash and owner. */
  const fingerprint = () =>
    lab.exec(
      container(),
      "cd /data && find . -type f ! -name '*.tmp' | sort | xargs sha256sum && stat -c '%u %n' notes.txt",
    );

  async function running(): Promise<void> {
    await eventually(
      `${app.id} running and healthy`,
      async () => {
        const run = await cli(["status", app.id, "--json"]);
        if (run.code !== 0) return undefined;
        const view = JSON.parse(run.stdout) as { phase: string; containers: Array<{ health: string }> };
        return view.phase === "running" && view.containers.every((c) => c.health === "healthy")
          ? true
          : undefined;
      },
      120_000,
    );
  }

  before(async () => {
    lab = await Lab.create();
    app = await lab.app("backup-app", { source: FIXTURE });
    dumping = await lab.app("backup-dump-app", { source: DUMP_FIXTURE });
    node = await BackupNode.start(lab, "daemon");
    dataDir = node.dataDir;
  });

  after(async () => {
    await node?.close();
    await lab?.close();
  });

  test("install the app and write data into its volume (owned by the container's uid)", async () => {
    const install = await cli(["install", app.id]);
    assert.equal(install.code, 0, show(install));
    await running();
    await lab.exec(
      container(),
      "head -c 300000 /dev/urandom > /data/blob.bin && echo 'my notes' > /data/notes.txt && mkdir -p /data/deep/er && echo x > /data/deep/er/f && echo scratch > /data/skip.tmp",
    );
    const credentials = await cli(["credentials", app.id, "--json"]);
    assert.equal(credentials.code, 0, show(credentials));
    password = (JSON.parse(credentials.stdout) as Array<{ password: string }>)[0]?.password ?? "";
    assert.equal(password.length, 32);
  });

  test("targets add makes a repository and shows its key once; the node keeps it 0600", async () => {
    const repo = join(testUserDir(join(lab.root, "targets")), "usb");
    const add = await cli(["backup", "targets", "add", "usb", repo]);
    assert.equal(add.code, 0, show(add));
    key = /^ {2}([A-Za-z0-9_-]{43})$/m.exec(add.stdout)?.[1] ?? "";
    assert.ok(key, `the key is printed\n${show(add)}`);
    assert.match(add.stdout, /Save it now/);
    const keyFile = join(dataDir, "backup", "targets", "usb", "key");
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(readFileSync(keyFile, "utf8").trim(), key);
    assert.ok(existsSync(join(repo, "config")), "restic made the repository");
    const list = await cli(["backup", "targets"]);
    assert.doesNotMatch(list.stdout, new RegExp(key), "the key is never shown again");
    const check = await cli(["backup", "targets", "check", "usb"]);
    assert.equal(check.code, 0, show(check));
  });

  let original = "";
  let snapshot = "";
  test("backup: a snapshot, the app stopped meanwhile and running again after", async () => {
    original = await fingerprint();
    const backup = await cli(["backup", app.id]);
    assert.equal(backup.code, 0, show(backup));
    assert.match(backup.stdout, /stopping .*containers/, show(backup));
    assert.match(backup.stdout, /snapshot [0-9a-f]{8}: \d+ files/, show(backup));
    assert.match(backup.stdout, /starting .* again/, show(backup));
    await running();
    const listed = await cli(["backups", app.id, "--json"]);
    assert.equal(listed.code, 0, show(listed));
    const snapshots = (JSON.parse(listed.stdout) as { snapshots: Array<{ id: string; preRestore: boolean }> })
      .snapshots;
    assert.equal(snapshots.length, 1);
    snapshot = snapshots[0]?.id ?? "";
  });

  test("purge, then restore onto a node where it is not installed: same data, same secret, running", async () => {
    const purge = await cli(["uninstall", app.id, "--purge"]);
    assert.equal(purge.code, 0, show(purge));
    assert.equal(
      existsSync(join(dataDir, "state", "secrets", app.id)),
      false,
      "the purge deleted the secrets",
    );
    const restore = await cli(["restore", app.id]);
    assert.equal(restore.code, 0, show(restore));
    await running();
    assert.equal(await fingerprint(), original, "byte-identical data, same owner");
    assert.equal(
      await lab.exec(container(), "test -e /data/skip.tmp && echo there || echo excluded"),
      "excluded\n",
    );
    const credentials = await cli(["credentials", app.id, "--json"]);
    assert.equal((JSON.parse(credentials.stdout) as Array<{ password: string }>)[0]?.password, password);
    // The env_file stored with the manifest came back with it, though the node had forgotten the app.
    assert.equal(await lab.exec(container(), 'printf "%s" "$FROM_FILE"'), "kept by the backup");
  });

  test("restore over the installed app saves its data first; restoring that copy undoes it", async () => {
    await lab.exec(container(), "echo 'changed after the backup' > /data/notes.txt");
    const changed = await fingerprint();
    const restore = await cli(["restore", app.id, "--snapshot", snapshot.slice(0, 8)]);
    assert.equal(restore.code, 0, show(restore));
    const undo = /archy restore \S+ --snapshot ([0-9a-f]{8})/.exec(restore.stdout)?.[1];
    assert.ok(undo, `the restore says how to undo it\n${show(restore)}`);
    await running();
    assert.equal(await fingerprint(), original);
    const back = await cli(["restore", app.id, "--snapshot", undo]);
    assert.equal(back.code, 0, show(back));
    await running();
    assert.equal(await fingerprint(), changed, "the undo brought the changed data back");
  });

  test("a wrong key: a clear error naming the key, the app never stopped", async () => {
    const keyFile = join(dataDir, "backup", "targets", "usb", "key");
    const started = (await lab.inspect(container()))?.startedAt;
    writeFileSync(keyFile, "not-the-repository-key-at-all\n", { mode: 0o600 });
    try {
      const backup = await cli(["backup", app.id]);
      assert.notEqual(backup.code, 0, show(backup));
      assert.match(
        backup.stderr,
        /target usb: .*wrong password or no key found.*not the repository's key/,
        show(backup),
      );
      const facts = await lab.inspect(container());
      assert.equal(facts?.running, true);
      assert.equal(facts?.startedAt, started, "never stopped");
    } finally {
      writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
    }
  });

  test("a missing target: a clear error, the app never stopped", async () => {
    const gone = join(testUserDir(join(lab.root, "targets")), "gone");
    const add = await cli(["backup", "targets", "add", "gone", gone]);
    assert.equal(add.code, 0, show(add));
    rmSync(gone, { recursive: true, force: true });
    const started = (await lab.inspect(container()))?.startedAt;
    const backup = await cli(["backup", app.id, "--target", "gone"]);
    assert.notEqual(backup.code, 0, show(backup));
    assert.match(backup.stderr, /target gone: .*(is the disk mounted|no such file)/, show(backup));
    const facts = await lab.inspect(container());
    assert.equal(facts?.running, true);
    assert.equal(facts?.startedAt, started, "never stopped");
  });

  test("a directory the daemon's user cannot write: targets add names that user and how to give it the directory; nothing is added", async () => {
    // Not writable by its owner, and owned by root when the suite runs as root: the daemon's user cannot write in it.
    const closed = join(lab.root, "closed");
    mkdirSync(closed, { mode: 0o555 });
    chmodSync(closed, 0o555);
    const repo = join(closed, "archy");
    const add = await cli(["backup", "targets", "add", "closed", repo]);
    assert.equal(add.code, 1, show(add));
    assert.match(
      add.stderr,
      new RegExp(
        `target closed: .*permission denied \\(the daemon's user (\\S+) cannot write there: give it the directory, as root: mkdir -p ${repo} && chown -R \\1: ${repo}; then try again\\)`,
      ),
      show(add),
    );
    const list = await cli(["backup", "targets", "--json"]);
    assert.equal(list.code, 0, show(list));
    assert.doesNotMatch(list.stdout, /"closed"/, "the refused target is not kept");
  });

  test("consistency hooks: the app keeps running, its pre_backup dump is in the snapshot, post_backup cleans up", async () => {
    const install = await cli(["install", dumping.id]);
    assert.equal(install.code, 0, show(install));
    const db = dumping.names.db as string;
    await lab.exec(db, "echo 'row 1' > /data/live.db");
    const started = (await lab.inspect(db))?.startedAt;
    const backup = await cli(["backup", dumping.id, "--target", "usb"]);
    assert.equal(backup.code, 0, show(backup));
    assert.match(backup.stdout, /running the pre_backup hook/, show(backup));
    const facts = await lab.inspect(db);
    assert.equal(facts?.running, true);
    assert.equal(facts?.startedAt, started, "never stopped");
    assert.equal(
      await lab.exec(db, "test -e /data/dump.sql && echo there || echo gone"),
      "gone\n",
      "post_backup ran",
    );
    const purge = await cli(["uninstall", dumping.id, "--purge"]);
    assert.equal(purge.code, 0, show(purge));
    const restore = await cli(["restore", dumping.id, "--target", "usb"]);
    assert.equal(restore.code, 0, show(restore));
    await eventually("the restored app runs", async () =>
      (await lab.inspect(db))?.running === true ? true : undefined,
    );
    assert.equal(
      await lab.exec(db, "cat /data/dump.sql"),
      "row 1\n",
      "the dump the hook made is in the snapshot",
    );
  });

  test("SIGKILL of the daemon while a backup holds the app stopped: it runs again, a new backup succeeds, the repository checks", async () => {
    // Enough data that restic is still at work when the daemon is killed.
    await lab.exec(container(), "head -c 150000000 /dev/urandom > /data/big.bin");
    const started = await cli(["backup", app.id, "--target", "usb", "--no-wait"]);
    assert.equal(started.code, 0, show(started));
    const operationId = /operation (op-[0-9a-f-]+)/.exec(started.stdout)?.[1];
    assert.ok(operationId, show(started));
    await eventually("the app stopped for its backup", async () =>
      (await lab.inspect(container()))?.running === false ? true : undefined,
    );
    await node.kill();
    await node.startDaemon();
    await running();
    const operation = await cli(["status", app.id, "--json"]);
    const ops = (
      JSON.parse(operation.stdout) as { operations?: Array<{ id: string; state: string; error?: string }> }
    ).operations;
    const killed = ops?.find((o) => o.id === operationId);
    assert.ok(killed, `the backup is among the app's operations: ${operation.stdout}`);
    assert.equal(killed.state, "failed", JSON.stringify(killed));
    assert.match(killed.error ?? "", /interrupted: the daemon stopped during this backup/);
    const again = await cli(["backup", app.id, "--target", "usb"]);
    assert.equal(again.code, 0, show(again));
    await running();
    const check = await cli(["backup", "targets", "check", "usb"]);
    assert.equal(check.code, 0, show(check));
  });

  test("no repository key nor generated secret in the daemon's output or the operation logs", async () => {
    const db = new DatabaseSync(join(dataDir, "state", "store.db"), { readOnly: true });
    const logs = (db.prepare("SELECT message FROM operation_logs").all() as Array<{ message: string }>)
      .map((row) => row.message)
      .join("\n");
    const errors = (
      db.prepare("SELECT error FROM operations WHERE error IS NOT NULL").all() as Array<{ error: string }>
    )
      .map((row) => row.error)
      .join("\n");
    db.close();
    assert.match(logs, /snapshot [0-9a-f]{8}/, "the logs were read");
    for (const [what, value] of [
      ["repository key", key],
      ["generated secret", password],
    ] as const) {
      assert.ok(!node.output().includes(value), `the ${what} is not in the daemon's output`);
      assert.ok(!logs.includes(value), `the ${what} is not in the operation logs`);
      assert.ok(!errors.includes(value), `the ${what} is not in the operation errors`);
    }
  });
});
