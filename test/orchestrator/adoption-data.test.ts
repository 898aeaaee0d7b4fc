/**
 * Taking over legacy data on the real rootless Podman (SPEC invariant 5, adoption): a legacy
 * container made by hand, with its data in a Podman volume or in a host directory that belong to
 * container uids, is adopted as it is; when it is later recreated (reinstall), the new container
 * sees the legacy data — same files, same owners and modes, including what the legacy container
 * wrote after the adoption — and the legacy volume or directory is left exactly as it was. A missing
 * legacy source means fresh data, said in the operation log; data the app already has is never
 * overwritten by a legacy source that appears later.
 *
 * Every app, container, volume and directory here carries the lab's prefix (see driver.ts).
 */
import assert from "node:assert/strict";
import { chownSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseDocument, type YAMLMap } from "yaml";
import { TEST_IMAGE } from "../../src/host/layout.ts";
import { loadManifest } from "../../src/manifest/load.ts";
import { type Driver, eventually, httpGet, Lab } from "../support/driver.ts";
import { runAsTestUser, testUser } from "../support/rootless.ts";

let lab: Lab;
let driver: Driver;
const isRoot = process.getuid?.() === 0;

before(async () => {
  lab = await Lab.create();
  driver = await lab.driver();
});

after(async () => {
  await lab?.close();
});

type Adopting = {
  id: string;
  dir: string;
  port: number;
  /** The legacy container name, the legacy Podman volume and the legacy host directory it declares. */
  legacy: string;
  volume: string;
  dataPath: string;
};

/**
 * A test copy of hello-web (one container `web` as uid 1000, app volume `content` at /data) under
 * its own id, adopting `<prefix>-<tag>-legacy`, and as asked the Podman volume `<prefix>-<tag>-data`
 * and the host directory `<hostRoot>/srv/<tag>`.
 */
async function adoptingApp(tag: string, declare: { volume: boolean; dataPath: boolean }): Promise<Adopting> {
  const copy = await lab.app("hello-web", { variant: tag });
  const id = `${lab.prefix}-hw-${tag}`;
  const legacy = `${lab.prefix}-${tag}-legacy`;
  const volume = `${lab.prefix}-${tag}-data`;
  const dataPath = join(lab.hostRoot, "srv", tag);
  const path = join(copy.dir, "manifest.yml");
  const doc = parseDocument(readFileSync(path, "utf8"));
  doc.set("id", id);
  const adoption = doc.get("adoption") as YAMLMap;
  adoption.set("containers", doc.createNode({ web: [legacy] }));
  if (declare.volume) adoption.set("volumes", doc.createNode({ content: volume }));
  else adoption.delete("volumes");
  if (declare.dataPath) adoption.set("data_paths", doc.createNode({ content: dataPath }));
  else adoption.delete("data_paths");
  writeFileSync(path, doc.toString(), { mode: 0o644 });
  const loaded = await loadManifest(path);
  assert.ok(loaded.ok, JSON.stringify(loaded.ok ? [] : loaded.issues));
  return { id, dir: copy.dir, port: copy.ports["web/8080"] as number, legacy, volume, dataPath };
}

/** What the legacy installation wrote: files of uid 1000, one of uid 1234, private modes. */
const SEED = (tag: string) =>
  [
    "set -e",
    "mkdir -p /data/www /data/legacy/deep",
    `echo "legacy data of ${tag}" > /data/legacy/marker.txt`,
    "echo private > /data/legacy/deep/private.txt",
    "echo other > /data/legacy/other.txt",
    "chown -R 1000:1000 /data",
    "chown 1234:1234 /data/legacy/other.txt",
    "chmod 0640 /data/legacy/marker.txt",
    "chmod 0600 /data/legacy/deep/private.txt /data/legacy/other.txt",
    "chmod 0700 /data/legacy/deep",
    "chmod 0750 /data",
  ].join("\n");

/** A legacy Podman volume with the seed data, written by a throw-away container. */
async function legacyVolume(app: Adopting, tag: string): Promise<string> {
  await lab.podman(["volume", "create", app.volume]);
  await lab.podman([
    "run",
    "--rm",
    "--name",
    `${lab.prefix}-${tag}-seed`,
    "-v",
    `${app.volume}:/data`,
    TEST_IMAGE,
    "sh",
    "-c",
    SEED(tag),
  ]);
  return (await lab.podman(["volume", "inspect", "--format", "{{.Mountpoint}}", app.volume])).trim();
}

/** A legacy host directory with the seed data, its files owned by subordinate ids of the test user. */
async function legacyDirectory(app: Adopting, tag: string): Promise<void> {
  mkdirSync(app.dataPath, { recursive: true, mode: 0o755 });
  if (isRoot) chownSync(app.dataPath, testUser.uid, testUser.gid);
  const seeded = await runAsTestUser([
    "podman",
    "unshare",
    "sh",
    "-c",
    SEED(tag).replaceAll("/data", app.dataPath),
  ]);
  assert.equal(seeded.code, 0, seeded.stderr);
}

/** A legacy container made by hand, as uid 1000, with its data mounted at /data (`-v SOURCE:/data`). */
async function legacyContainer(app: Adopting, source: string): Promise<string> {
  return (
    await lab.podman([
      "run",
      "-d",
      "--restart=unless-stopped",
      "--name",
      app.legacy,
      "--user",
      "1000:1000",
      "-p",
      `127.0.0.1:${app.port}:8080`,
      "-v",
      `${source}:/data`,
      "-e",
      "PORT=8080",
      TEST_IMAGE,
      "serve",
    ])
  ).trim();
}

/**
 * A tree as the user namespace sees it: every entry's owner, mode, size and content digest
 * (`podman unshare`, so files of container uids are read as those uids). Relative to `path`.
 */
async function tree(path: string): Promise<string> {
  const result = await runAsTestUser([
    "podman",
    "unshare",
    "sh",
    "-c",
    'cd "$1" && find . -exec stat -c "%n %u:%g %a %s" {} + | sort && find . -type f -exec md5sum {} + | sort -k2',
    "tree",
    path,
  ]);
  assert.equal(result.code, 0, `${path}: ${result.stderr}`);
  return result.stdout;
}

async function operationLog(operationId: string): Promise<string[]> {
  const record = await driver.operationDone(operationId, 120_000);
  assert.equal(record.operation?.state, "succeeded", `${record.operation?.error}\n${driver.tail()}`);
  return record.logs.map((l) => l.message);
}

/** What the daemon logged about an app from message `from` on (every note, whichever operation it went to). */
function daemonLog(app: Adopting, from: number): string[] {
  const prefix = `${app.id}: `;
  return driver.messages
    .slice(from)
    .flatMap((m) => (m.log && m.message?.startsWith(prefix) ? [m.message.slice(prefix.length)] : []));
}

/** Installs; the install operation's log (its first pass is the operation's: the app did not exist). */
async function install(app: Adopting): Promise<string[]> {
  const accepted = await driver.call<{ operationId: string }>("install", { path: app.dir });
  await driver.waitPhase(app.id, "running", 90_000);
  return operationLog(accepted.operationId);
}

/**
 * Reinstalls; what the daemon said about the app meanwhile. (Not the operation's own log: when a
 * resync pass is already under way as the operation is recorded, that pass does the work and its
 * notes do not reach the operation.)
 */
async function reinstall(app: Adopting): Promise<string[]> {
  const from = driver.messages.length;
  const accepted = await driver.call<{ operationId: string }>("reinstall", { path: app.dir });
  await operationLog(accepted.operationId);
  await driver.waitPhase(app.id, "running", 90_000);
  return daemonLog(app, from);
}

/**
 * Installs with the legacy container adopted as it is (nothing created, removed or copied), writes
 * through it, then reinstalls: the legacy container is replaced by a new one. The legacy source,
 * seen before the reinstall, is unchanged after it.
 */
async function adoptThenRecreate(
  app: Adopting,
  made: string,
  source: string,
): Promise<{ reinstallLog: string[]; dataDir: string; legacyBefore: string }> {
  const installLog = await install(app);
  const adopted = await lab.inspect(app.legacy);
  assert.equal(adopted?.id, made, "the legacy container is adopted: the same container");
  assert.equal(adopted?.running, true);
  assert.equal(await lab.inspect(app.id), undefined, "no second container");
  assert.deepEqual(
    installLog.filter((l) => /creating|removing|took over/.test(l)),
    [],
    "nothing created, removed or copied on adoption",
  );
  const dataDir = lab.volumeDir(app.id, "content");
  assert.equal(await lab.exists(dataDir), false, "no copy while the legacy container runs as it is");
  // The adopted container goes on writing to its legacy data: the copy, made when it is replaced, has it.
  await lab.exec(app.legacy, "echo late > /data/legacy/late.txt");
  const legacyBefore = await tree(source);
  assert.match(legacyBefore, /\.\/legacy\/late\.txt 1000:1000/);
  assert.match(legacyBefore, /\.\/legacy\/other\.txt 1234:1234 600/);

  const reinstallLog = await reinstall(app);
  const recreated = await lab.inspect(app.id);
  assert.ok(recreated?.running, "the new container runs");
  assert.notEqual(recreated?.id, made);
  assert.equal(await lab.inspect(app.legacy), undefined, "the legacy container was replaced");
  assert.equal(await tree(source), legacyBefore, "the legacy source is left exactly as it was");
  assert.ok(
    reinstallLog.some((l) => l.includes(`waits until ${app.legacy} stops using it`)),
    reinstallLog.join("\n"),
  );
  return { reinstallLog, dataDir, legacyBefore };
}

/** The legacy part of a data tree (the app itself writes www/). */
const legacyPart = (t: string) =>
  t
    .split("\n")
    .filter((l) => /\.\/legacy|^\. /.test(l))
    .join("\n");

describe("real Podman: taking over legacy data on adoption", () => {
  test("(a) a legacy Podman volume: adopted with its container, copied into the app's data when the container is recreated", async () => {
    const app = await adoptingApp("a", { volume: true, dataPath: false });
    const mountpoint = await legacyVolume(app, "a");
    const made = await legacyContainer(app, app.volume);
    const { reinstallLog: log, dataDir, legacyBefore } = await adoptThenRecreate(app, made, mountpoint);
    assert.equal(
      legacyPart(await tree(dataDir)),
      legacyPart(legacyBefore),
      "the app's data has the legacy files: same owners, modes, sizes and content",
    );
    assert.equal(
      await lab.exec(app.id, "cat /data/legacy/marker.txt /data/legacy/late.txt"),
      "legacy data of a\nlate\n",
      "the new container sees them",
    );
    assert.equal(
      await lab.exec(app.id, "stat -c '%u:%g %a' /data /data/legacy/marker.txt /data/legacy/other.txt"),
      "1000:1000 750\n1000:1000 640\n1234:1234 600\n",
    );
    assert.equal(
      (await lab.podman(["volume", "ls", "--format", "{{.Name}}", "--filter", `name=${app.volume}`])).trim(),
      app.volume,
      "the legacy volume still exists",
    );
    const took = log.find((l) => l.includes(`took over legacy Podman volume ${app.volume} into ${dataDir}`));
    assert.ok(took, log.join("\n"));
    assert.match(took, /by (reflink|plain copy)/);
    assert.match(took, /the legacy volume is left as it was/);
    await eventually(
      "it serves",
      async () => (await httpGet(app.port, "/index.html"))?.status === 200,
      30_000,
    );

    // Written by the new container from now on: in the app's data, not in the legacy volume.
    await lab.exec(app.id, "echo new > /data/legacy/new.txt");
    assert.equal(await lab.exists(join(mountpoint, "legacy/new.txt")), false);
    await driver.call("uninstall", { app: app.id, purge: true });
    await driver.waitPhase(app.id, "removed", 60_000);
    assert.equal(await tree(mountpoint), legacyBefore, "purging the app never touches the legacy volume");
  });

  test("(b) a legacy host directory (data_paths) of container uids: copied when the adopted container is recreated", async () => {
    const app = await adoptingApp("b", { volume: false, dataPath: true });
    await legacyDirectory(app, "b");
    const made = await legacyContainer(app, app.dataPath);
    const { reinstallLog, dataDir, legacyBefore } = await adoptThenRecreate(app, made, app.dataPath);
    assert.match(legacyBefore, /\.\/legacy\/marker\.txt 1000:1000 640/);
    assert.equal(legacyPart(await tree(dataDir)), legacyPart(legacyBefore));
    assert.equal(
      await lab.exec(
        app.id,
        "cat /data/legacy/marker.txt /data/legacy/late.txt /data/legacy/deep/private.txt",
      ),
      "legacy data of b\nlate\nprivate\n",
    );
    assert.equal(
      await lab.exec(app.id, "stat -c '%u:%g %a' /data/legacy/deep /data/legacy/other.txt"),
      "1000:1000 700\n1234:1234 600\n",
    );
    const took = reinstallLog.find((l) =>
      l.includes(`took over legacy data path ${app.dataPath} into ${dataDir}`),
    );
    assert.ok(took, reinstallLog.join("\n"));
    assert.match(took, /the legacy directory is left as it was/);
    // Outside the user namespace the legacy directory belongs to a subordinate uid, not to the daemon user.
    const outside = await runAsTestUser(["stat", "-c", "%u %a", app.dataPath]);
    assert.equal(outside.code, 0, outside.stderr);
    const [hostUid, mode] = outside.stdout.trim().split(" ");
    assert.notEqual(Number(hostUid), testUser.uid);
    assert.equal(mode, "750");
  });

  test("(c) a legacy source that does not exist: a first start with empty data, said so in the operation log", async () => {
    const app = await adoptingApp("c", { volume: true, dataPath: true });
    const log = await install(app);
    assert.ok(
      log.some(
        (l) =>
          l ===
          `volume content: a first start, with new empty data (nothing to take over from an earlier installation: no legacy data path ${app.dataPath}, no legacy Podman volume ${app.volume})`,
      ),
      log.join("\n"),
    );
    assert.ok(log.some((l) => l === `created data directory ${lab.volumeDir(app.id, "content")}`));
    assert.equal(log.filter((l) => /took over/.test(l)).length, 0);
    assert.equal(await lab.exec(app.id, "ls -A /data"), "www\n", "only what the app itself wrote");
    assert.equal((await httpGet(app.port, "/index.html"))?.status, 200);
  });

  test("(d) data the app already has is never overwritten by a legacy source that appears later", async () => {
    const app = await adoptingApp("d", { volume: true, dataPath: true });
    await install(app);
    await lab.exec(app.id, "echo mine > /data/mine.txt");
    const dataDir = lab.volumeDir(app.id, "content");
    const own = await tree(dataDir);
    // Now both legacy sources exist (and no legacy container: nothing waits).
    const mountpoint = await legacyVolume(app, "d");
    await legacyDirectory(app, "d");
    const legacyVolumeBefore = await tree(mountpoint);
    const legacyDirBefore = await tree(app.dataPath);

    const first = (await lab.inspect(app.id))?.id;
    const log = await reinstall(app);
    assert.notEqual((await lab.inspect(app.id))?.id, first, "recreated");
    assert.equal(
      log.filter((l) => /took over|taking over|nothing to take over/.test(l)).length,
      0,
      log.join("\n"),
    );
    assert.equal(await lab.exec(app.id, "cat /data/mine.txt"), "mine\n");
    assert.equal(await lab.exists(join(dataDir, "legacy")), false, "nothing of the legacy data");
    // The post-install hook rewrites its own files in www/ on reinstall; everything else is as it was.
    const strip = (t: string) =>
      t
        .split("\n")
        .filter((l) => !/\.\/www/.test(l))
        .join("\n");
    assert.equal(strip(await tree(dataDir)), strip(own));
    assert.equal(await tree(mountpoint), legacyVolumeBefore);
    assert.equal(await tree(app.dataPath), legacyDirBefore);

    // After a purge (the operator's way to start over), the next install takes the legacy data
    // over again — the host directory, preferred to the volume — and only once.
    await driver.call("uninstall", { app: app.id, purge: true });
    await driver.waitPhase(app.id, "removed", 60_000);
    const again = await install(app);
    const took = again.find((l) => l.includes(`took over legacy data path ${app.dataPath}`));
    assert.ok(took, again.join("\n"));
    const before = await tree(dataDir);
    const third = await reinstall(app);
    assert.equal(third.filter((l) => /took over/.test(l)).length, 0, "copied only once");
    assert.equal(legacyPart(await tree(dataDir)), legacyPart(before));
  });
});
