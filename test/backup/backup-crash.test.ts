/**
 * Backups survive what happens to them (issue 21, safety), on real restic and real Podman:
 * - the daemon SIGKILLed at random points of backups and of restores (seeded, the seed printed:
 *   ARCHY_BACKUP_CRASH_SEED replays a sequence, ARCHY_BACKUP_CRASH_RUNS sets how many): each time the
 *   restarted daemon runs the app again with its data whole, a new backup succeeds and `restic check`
 *   run by hand passes;
 * - the stale-lock cleanup leaves the lock of a restic that is running;
 * - a restore onto a second node with a fresh data directory, from the saved key: the same data,
 *   the same generated secret, the app running;
 * - a full target (a small tmpfs mounted in the daemon user's namespace, no root needed): a clear
 *   error naming the target and its free space, the app running, the repository whole.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, readdirSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { show } from "../support/daemon-process.ts";
import { eventually, Lab, sleep, type TestApp } from "../support/driver.ts";
import { podman, runAsTestUser, testUser } from "../support/rootless.ts";
import { BackupNode, testUserDir } from "./support.ts";

const FIXTURE = new URL("../fixtures/backup-app/", import.meta.url).pathname;

/** A small seeded generator, so a failing sequence of kills can be replayed (as crash.test.ts does). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Operation = { id: string; kind: string; state: string; error?: string };

describe("real restic and Podman: backups and restores interrupted by SIGKILL, onto a fresh node, onto a full target", () => {
  let lab: Lab;
  let app: TestApp;
  let node: BackupNode;
  let repository: string;
  let key = "";
  const container = () => app.names.web as string;

  /** The app's data as its container sees it: each file's hash, and the owner of one. */
  const fingerprint = () =>
    lab.exec(
      container(),
      "cd /data && find . -type f ! -name '*.tmp' | sort | xargs sha256sum && stat -c '%u %n' notes.txt",
    );

  async function running(on: BackupNode): Promise<void> {
    await eventually(
      `${app.id} running and healthy`,
      async () => {
        const run = await on.cli(["status", app.id, "--json"]);
        if (run.code !== 0) return undefined;
        const view = JSON.parse(run.stdout) as { phase: string; containers: Array<{ health: string }> };
        return view.phase === "running" && view.containers.every((c) => c.health === "healthy")
          ? true
          : undefined;
      },
      180_000,
    );
  }

  async function operations(on: BackupNode): Promise<Operation[]> {
    const run = await on.cli(["status", app.id, "--json"]);
    assert.equal(run.code, 0, show(run));
    return (JSON.parse(run.stdout) as { operations?: Operation[] }).operations ?? [];
  }

  async function snapshots(
    on: BackupNode,
    target = "usb",
  ): Promise<Array<{ id: string; preRestore: boolean }>> {
    const listed = await on.cli(["backups", app.id, "--target", target, "--json"]);
    assert.equal(listed.code, 0, show(listed));
    return (JSON.parse(listed.stdout) as { snapshots: Array<{ id: string; preRestore: boolean }> }).snapshots;
  }

  before(async () => {
    lab = await Lab.create();
    app = await lab.app("backup-app", { source: FIXTURE });
    node = await BackupNode.start(lab, "node-a");
    const install = await node.cli(["install", app.id]);
    assert.equal(install.code, 0, show(install));
    await running(node);
    // Enough data that restic is at work for a while: the kills land inside its run.
    await lab.exec(
      container(),
      "head -c 60000000 /dev/urandom > /data/blob.bin && echo 'my notes' > /data/notes.txt && mkdir -p /data/deep && echo x > /data/deep/f",
    );
    repository = join(testUserDir(join(lab.root, "targets")), "usb");
    const add = await node.cli(["backup", "targets", "add", "usb", repository]);
    assert.equal(add.code, 0, show(add));
    key = /^ {2}([A-Za-z0-9_-]{43})$/m.exec(add.stdout)?.[1] ?? "";
    assert.ok(key, `the key is printed\n${show(add)}`);
  });

  after(async () => {
    await node?.close();
    await lab?.close();
  });

  test("SIGKILL at random points of backups and restores (seeded): each time the app runs again with its data whole, a new backup succeeds, restic check by hand passes", async () => {
    const seed = Number(process.env.ARCHY_BACKUP_CRASH_SEED ?? Date.now() % 100_000);
    const runs = Number(process.env.ARCHY_BACKUP_CRASH_RUNS ?? 6);
    const random = mulberry32(seed);
    process.stdout.write(`# backup crash series: seed ${seed} (ARCHY_BACKUP_CRASH_SEED), ${runs} runs\n`);
    const story: string[] = [];
    const context = () => `seed ${seed} (ARCHY_BACKUP_CRASH_SEED): ${story.join("; ")}`;

    // One of each, uninterrupted: the snapshot the restores bring back, and how long each takes
    // (the kills fall anywhere in that span).
    const original = await fingerprint();
    let began = Date.now();
    const first = await node.cli(["backup", app.id]);
    assert.equal(first.code, 0, show(first));
    const spans = { backup: Date.now() - began, restore: 0 };
    const base = (await snapshots(node))[0]?.id.slice(0, 8) ?? "";
    began = Date.now();
    const whole = await node.cli(["restore", app.id, "--snapshot", base]);
    assert.equal(whole.code, 0, show(whole));
    spans.restore = Date.now() - began;
    await running(node);
    story.push(`backup takes ${spans.backup} ms, restore ${spans.restore} ms`);

    // Each kind's kills are spread over its span: its k-th of n falls at a seeded random point of the
    // span's k-th n-th, so the 3 of each kind by default hit early, middle and late in every run (10
    // uniform draws, as before, could bunch up and cost two thirds more); each run draws a new seed.
    const kills = { backup: Math.ceil(runs / 2), restore: Math.floor(runs / 2) };
    const interrupted = { backup: 0, restore: 0 };
    for (let run = 0; run < runs; run++) {
      const kind = run % 2 === 0 ? "backup" : "restore";
      const stratum = Math.floor(run / 2);
      // Before a restore the data changes, so that either state after the kill is told apart.
      if (kind === "restore") await lab.exec(container(), `echo 'changed in run ${run}' > /data/notes.txt`);
      const before = await fingerprint();
      const allowed = kind === "restore" ? [before, original] : [before];
      const started = await node.cli(
        kind === "backup"
          ? ["backup", app.id, "--target", "usb", "--no-wait"]
          : ["restore", app.id, "--snapshot", base, "--target", "usb", "--no-wait"],
      );
      assert.equal(started.code, 0, `${show(started)}\n${context()}`);
      const operationId = /operation (op-[0-9a-f-]+)/.exec(started.stdout)?.[1];
      assert.ok(operationId, `${show(started)}\n${context()}`);
      const delay = Math.floor(((stratum + random()) / kills[kind]) * spans[kind]);
      await sleep(delay);
      await node.kill();
      await node.startDaemon();
      await running(node);
      const operation = (await operations(node)).find((o) => o.id === operationId);
      assert.ok(operation, `the ${kind} is among the app's operations\n${context()}`);
      assert.notEqual(operation.state, "running", `${JSON.stringify(operation)}\n${context()}`);
      if (operation.state === "failed") {
        assert.match(operation.error ?? "", /interrupted: the daemon stopped during this/, context());
        interrupted[kind]++;
      }
      story.push(`run ${run}: ${kind}, SIGKILL after ${delay} ms, ${operation.state}`);
      const data = await fingerprint();
      assert.ok(
        allowed.includes(data),
        `after the ${kind}'s kill the data is whole: as before it or as restored\n${data}\n${context()}`,
      );
      const again = await node.cli(["backup", app.id, "--target", "usb"]);
      assert.equal(again.code, 0, `a new backup succeeds: ${show(again)}\n${context()}`);
      await running(node);
      const check = await node.restic("usb", repository, ["check"]);
      assert.equal(check.code, 0, `restic check by hand passes: ${show(check)}\n${context()}`);
    }
    process.stdout.write(`# ${context()}\n`);
    assert.ok(
      interrupted.backup > 0 && interrupted.restore > 0,
      `some kills interrupted a backup and some a restore (${JSON.stringify(interrupted)})\n${context()}`,
    );
  });

  test("the stale-lock cleanup never removes the lock of a restic still running: a backup by hand keeps its lock through the daemon's backup, then completes", async () => {
    // restic by hand reading its data from a FIFO the test holds open: it runs, holding its lock,
    // until the test closes it.
    const fifo = join(testUserDir(join(lab.root, "fifo")), "in");
    execFileSync("mkfifo", ["-m", "0600", fifo]);
    if (process.getuid?.() === 0) chownSync(fifo, testUser.uid, testUser.gid);
    const locks = () => readdirSync(join(repository, "locks"));
    const before = new Set(locks());
    const byHand = runAsTestUser(
      [
        "sh",
        "-c",
        `exec env RESTIC_REPOSITORY="$1" RESTIC_PASSWORD_FILE="$2" restic --no-cache backup --stdin --stdin-filename by-hand.txt < "$3"`,
        "sh",
        repository,
        node.keyFile("usb"),
        fifo,
      ],
      { timeoutMs: 600_000 },
    );
    const writer = await open(fifo, "w");
    try {
      await writer.write("held open by the test\n");
      const live = await eventually("the restic by hand holds a lock", async () => {
        const fresh = locks().filter((name) => !before.has(name));
        return fresh.length > 0 ? fresh : undefined;
      });
      const backup = await node.cli(["backup", app.id, "--target", "usb"]);
      assert.equal(backup.code, 0, show(backup));
      for (const lock of live) assert.ok(locks().includes(lock), `the live lock ${lock} is still there`);
    } finally {
      await writer.close();
    }
    const done = await byHand;
    assert.equal(done.code, 0, `the restic by hand completes: ${done.stderr}`);
    await running(node);
  });

  test("a second node with a fresh data directory, given the saved key, restores the app: same data, same generated secret, running", async () => {
    const data = await fingerprint();
    const credentials = await node.cli(["credentials", app.id, "--json"]);
    assert.equal(credentials.code, 0, show(credentials));
    const password = (JSON.parse(credentials.stdout) as Array<{ password: string }>)[0]?.password ?? "";
    assert.equal(password.length, 32);
    const backup = await node.cli(["backup", app.id, "--target", "usb"]);
    assert.equal(backup.code, 0, show(backup));
    // The first node is gone: its app and data purged (the shared Podman keeps no container of it),
    // its daemon stopped.
    const purge = await node.cli(["uninstall", app.id, "--purge"]);
    assert.equal(purge.code, 0, show(purge));
    await node.daemon?.stop();

    const fresh = await BackupNode.start(lab, "node-b");
    try {
      assert.equal(existsSync(join(fresh.dataDir, "apps", app.id)), false, "a fresh data directory");
      const keyFile = join(testUserDir(join(lab.root, "saved")), "usb.key");
      writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
      const add = await fresh.cli(["backup", "targets", "add", "usb", repository, "--key-file", keyFile]);
      assert.equal(add.code, 0, show(add));
      const restore = await fresh.cli(["restore", app.id, "--target", "usb"]);
      assert.equal(restore.code, 0, show(restore));
      await running(fresh);
      assert.equal(await fingerprint(), data, "byte-identical data, same owner");
      const restored = await fresh.cli(["credentials", app.id, "--json"]);
      assert.equal(restored.code, 0, show(restored));
      assert.equal(
        (JSON.parse(restored.stdout) as Array<{ password: string }>)[0]?.password,
        password,
        "the same generated secret",
      );
      assert.ok(!fresh.output().includes(key), "the repository key is not in the second daemon's output");
      assert.ok(!fresh.output().includes(password), "the secret is not in the second daemon's output");
    } finally {
      // Its containers go with it: the first node reinstalls the app on the same Podman next.
      await fresh.cli(["uninstall", app.id, "--purge"]);
      await fresh.close();
    }
    // The first node's daemon again, for the tests after this one (its app was purged).
    await node.startDaemon();
  });

  test("a full target: a clear error naming the target and its free space, the app running again, the repository whole", async () => {
    // Reinstalled on the first node (the second one has stopped): data larger than the target.
    const install = await node.cli(["install", app.id]);
    assert.equal(install.code, 0, show(install));
    await running(node);
    await lab.exec(container(), "head -c 30000000 /dev/urandom > /data/blob.bin");
    // A 16 MiB tmpfs, mounted where restic runs: in the daemon user's namespace (no root needed).
    const mount = testUserDir(join(lab.root, "small-disk"));
    await podman(["unshare", "mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mount]);
    try {
      const full = join(mount, "repo");
      const add = await node.cli(["backup", "targets", "add", "small", full]);
      assert.equal(add.code, 0, show(add));
      const backup = await node.cli(["backup", app.id, "--target", "small"]);
      assert.notEqual(backup.code, 0, show(backup));
      assert.match(
        `${backup.stdout}${backup.stderr}`,
        new RegExp(
          `target small is full: restic ran out of space writing this backup \\([0-9.]+ (B|KiB|MiB) free at ${full} once it removed its partial writes\\); nothing was saved`,
        ),
        show(backup),
      );
      await running(node);
      const check = await node.cli(["backup", "targets", "check", "small"]);
      assert.equal(check.code, 0, `the repository passes restic check: ${show(check)}`);
      const byHand = await node.restic("small", full, ["check"]);
      assert.equal(byHand.code, 0, `restic check by hand passes: ${show(byHand)}`);
      assert.deepEqual(await snapshots(node, "small"), [], "no snapshot was made");
    } finally {
      await podman(["unshare", "umount", mount]).catch(() => {});
    }
  });
});
