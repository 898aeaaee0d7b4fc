/**
 * Names on the real rootless Podman: no two apps share a volume, a secret or a container (issue 12
 * item 3), and apps installed with the names of earlier releases keep them, and their data, across
 * the upgrade. The apps are one- and two-container apps on the test image, written here: `sx-v`
 * (container db, volume db-data, secret db-pass) and `sx-v-db` (volume data, secret pass), whose
 * names were the same under the earlier naming (`archy-sx-v-db-data`, `archy-sx-v-db-pass`).
 *
 * Every app, container, volume and directory here carries the lab's prefix (see driver.ts).
 */
import assert from "node:assert/strict";
import { chownSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { TEST_IMAGE } from "../../src/host/layout.ts";
import { loadManifest } from "../../src/manifest/load.ts";
import { LABELS, OWNER } from "../../src/manifest/naming.ts";
import { manifestHash } from "../../src/orchestrator/manifest-cache.ts";
import { Store } from "../../src/orchestrator/store.ts";
import { type Driver, eventually, Lab } from "../support/driver.ts";
import { rewindStore } from "../support/earlier-store.ts";
import { testUser } from "../support/rootless.ts";

let lab: Lab;
let driver: Driver | undefined;
const isRoot = process.getuid?.() === 0;

before(async () => {
  lab = await Lab.create();
});

after(async () => {
  await lab?.close();
});

type App = { id: string; dir: string; keys: string[]; volume: string; secret: string };

/**
 * Writes an app: containers `keys` (each sleeping), the first one mounting `volume` at /data and
 * reading `secret` as $PASS. Its id is `<prefix>-<name>`.
 */
async function writeApp(name: string, keys: string[], volume: string, secret: string): Promise<App> {
  const id = lab.id(name);
  const dir = join(lab.manifestsDir, id);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const containers = keys.flatMap((key, index) => [
    `  ${key}:`,
    `    image: ${TEST_IMAGE}`,
    "    command: [sleep, '3600']",
    "    stop_timeout: 2s",
    ...(index === 0
      ? [
          "    volumes:",
          `      - { name: ${volume}, path: /data }`,
          "    environment:",
          `      PASS: { secret: ${secret} }`,
        ]
      : []),
  ]);
  const text = [
    "manifest: 1",
    `id: ${id}`,
    "version: 1.0.0",
    `name: ${name}`,
    "description: An app whose names clashed with another's under the earlier naming",
    "containers:",
    ...containers,
    "secrets:",
    `  ${secret}: { type: hex, length: 32 }`,
    "",
  ].join("\n");
  writeFileSync(join(dir, "manifest.yml"), text, { mode: 0o644 });
  const loaded = await loadManifest(join(dir, "manifest.yml"));
  assert.ok(loaded.ok, JSON.stringify(loaded.ok ? [] : loaded.issues));
  return { id, dir, keys, volume, secret };
}

async function install(app: App): Promise<void> {
  await (driver as Driver).call("install", { path: app.dir });
  await (driver as Driver).waitPhase(app.id, "running", 90_000);
}

async function names(command: string[]): Promise<string[]> {
  return (await lab.podman(command))
    .split("\n")
    .map((n) => n.trim())
    .filter((n) => n.startsWith(`archy-${lab.prefix}-`) || n.startsWith(`${lab.prefix}-`))
    .sort();
}

/** What a container that mounts its app's volume sees: the data marker and its secret. */
async function seen(container: string): Promise<{ owner: string; pass: string }> {
  const out = await lab.exec(container, 'cat /data/owner; echo "|$PASS"');
  const [owner, pass] = out.trim().split("|");
  return { owner: (owner ?? "").trim(), pass: pass ?? "" };
}

describe("real Podman: no two apps share a name", () => {
  test("invariant: sx-v (volume db-data) and sx-v-db (volume data) each see only their own data and secrets, also after a reinstall", async () => {
    driver = await lab.driver();
    const sxv = await writeApp("sx-v", ["db"], "db-data", "db-pass");
    const sxvdb = await writeApp("sx-v-db", ["web"], "data", "pass");
    await install(sxv);
    await install(sxvdb);
    const [a, b] = [sxv.id, sxvdb.id];
    assert.deepEqual(
      await names(["volume", "ls", "--format", "{{.Name}}"]),
      [`archy-${a}_db-data`, `archy-${b}_data`].sort(),
    );
    assert.deepEqual(
      await names(["secret", "ls", "--format", "{{.Name}}"]),
      [`archy-${a}_db-pass`, `archy-${b}_pass`].sort(),
    );
    // Each app writes who it is into its volume; neither overwrites the other's.
    await lab.exec(a, `echo ${a} > /data/owner`);
    await lab.exec(b, `echo ${b} > /data/owner`);
    for (const round of ["installed", "reinstalled"]) {
      const secretsA = await lab.secretFiles(a);
      const secretsB = await lab.secretFiles(b);
      assert.notEqual(secretsA["db-pass"], secretsB.pass);
      assert.deepEqual(await seen(a), { owner: a, pass: secretsA["db-pass"] }, `${a}, ${round}`);
      assert.deepEqual(await seen(b), { owner: b, pass: secretsB.pass }, `${b}, ${round}`);
      assert.equal((await lab.readFile(join(lab.volumeDir(a, "db-data"), "owner")))?.trim(), a);
      assert.equal((await lab.readFile(join(lab.volumeDir(b, "data"), "owner")))?.trim(), b);
      if (round === "installed")
        for (const app of [sxvdb, sxv]) {
          const { operationId } = await driver.call<{ operationId: string }>("reinstall", { path: app.dir });
          const done = await driver.operationDone(operationId, 120_000);
          assert.equal(done.operation?.state, "succeeded", done.operation?.error);
          await driver.waitPhase(app.id, "running", 90_000);
        }
    }
    await driver.exit();
    driver = undefined;
  });

  test("a Podman volume with an app's volume name that is not the app's is never mounted: the install fails saying so", async () => {
    driver = await lab.driver();
    const app = await writeApp("squat", ["web"], "data", "pass");
    const squatter = `archy-${app.id}_data`;
    await lab.podman(["volume", "create", squatter]);
    await driver.call("install", { path: app.dir });
    await driver.waitPhase(app.id, "failed", 60_000);
    const listed = await driver.app(app.id);
    assert.match(
      listed?.reason ?? "",
      new RegExp(
        `the Podman volume ${squatter} exists and is not ${app.id}'s \\(the platform did not make it\\)`,
      ),
    );
    assert.equal(await lab.inspect(app.id), undefined, "no container was made on it");
    await driver.call("uninstall", { app: app.id });
    await driver.waitPhase(app.id, "removed", 60_000);
    assert.deepEqual(
      await names(["volume", "ls", "--format", "{{.Name}}"]).then((v) => v.includes(squatter)),
      true,
    );
    await lab.podman(["volume", "rm", squatter]);
    await driver.exit();
    driver = undefined;
  });

  test("a volume labelled as the app's whose data is elsewhere (kube play) is never mounted, and purge never says it deleted that data", async () => {
    driver = await lab.driver();
    const app = await writeApp("played", ["web"], "data", "pass");
    const played = `archy-${app.id}_data`;
    // As `podman kube play` of the render leaves one: the app's labels, its data in Podman's storage.
    await lab.podman([
      "volume",
      "create",
      "--label",
      `${LABELS.owner}=${OWNER}`,
      "--label",
      `${LABELS.app}=${app.id}`,
      played,
    ]);
    const mountpoint = (
      await lab.podman(["volume", "inspect", played, "--format", "{{.Mountpoint}}"])
    ).trim();
    await driver.call("install", { path: app.dir });
    await driver.waitPhase(app.id, "failed", 60_000);
    assert.match(
      (await driver.app(app.id))?.reason ?? "",
      new RegExp(
        `the Podman volume ${played} is labelled as ${app.id}'s but keeps its data in ${mountpoint}, not in the app's data directory ${lab.volumeDir(app.id, "data")}: it is not used`,
      ),
    );
    assert.equal(await lab.inspect(app.id), undefined, "no container was made on it");
    const purge = await driver.call<{ operationId: string }>("uninstall", { app: app.id, purge: true });
    await driver.waitPhase(app.id, "removed", 60_000);
    const logs = (await driver.operationDone(purge.operationId)).logs.map((l) => l.message);
    assert.ok(
      logs.includes(
        `kept the Podman volume ${played}, whose data is in ${mountpoint}, not in the app's data directory: that data was not deleted`,
      ),
      logs.join("\n"),
    );
    assert.ok(
      (await names(["volume", "ls", "--format", "{{.Name}}"])).includes(played),
      "the volume is kept",
    );
    await lab.podman(["volume", "rm", played]);
    await driver.exit();
    driver = undefined;
  });
});

describe("real Podman: apps installed with the names of earlier releases", () => {
  // A lab of its own: its store must be the earlier release's from the start.
  let first: Lab;
  before(async () => {
    first = lab;
    lab = await Lab.create();
  });
  after(async () => {
    await lab.close();
    lab = first;
  });

  /**
   * Makes the lab's store as the release before naming schemes left it, with these apps installed:
   * their rows, and a database at the schema version before the naming column.
   */
  async function storeOfEarlierRelease(apps: App[]): Promise<void> {
    const path = join(lab.stateDir, "store.db");
    assert.equal(existsSync(path), false, "a new store");
    const store = new Store(path);
    for (const app of apps) {
      const loaded = await loadManifest(join(app.dir, "manifest.yml"));
      assert.ok(loaded.ok);
      store.recordIntent(
        {
          appId: app.id,
          operation: { id: `op-earlier-${app.id}`, kind: "install" },
          desired: "running",
          phase: "installing",
          manifest: {
            text: loaded.text,
            hash: manifestHash(loaded.text),
            version: loaded.manifest.version,
            source: `local:${loaded.dir}`,
          },
          pendingHook: "post_install",
        },
        Date.now(),
      );
    }
    store.close();
    rewindStore(path, 5); // before the naming column
    if (isRoot)
      for (const suffix of ["", "-wal", "-shm"])
        if (existsSync(`${path}${suffix}`)) chownSync(`${path}${suffix}`, testUser.uid, testUser.gid);
  }

  test("invariant: an upgrade renames and recreates nothing; installed again, the app gets the new names with the same data and secrets", async () => {
    const app = await writeApp("earlier", ["web", "db"], "data", "pass");
    const [web, db] = [`${app.id}-web`, `${app.id}-db`];
    await storeOfEarlierRelease([app]);
    driver = await lab.driver();
    await driver.waitPhase(app.id, "running", 90_000);
    assert.deepEqual(await names(["volume", "ls", "--format", "{{.Name}}"]), [`archy-${app.id}-data`]);
    assert.deepEqual(await names(["secret", "ls", "--format", "{{.Name}}"]), [`archy-${app.id}-pass`]);
    const containers = await lab.containers();
    assert.deepEqual([...containers.keys()].sort(), [db, web], "the earlier names: <app>-<key>");
    await lab.exec(web, "echo kept > /data/owner");
    const secret = (await lab.secretFiles(app.id)).pass as string;
    assert.match(secret, /^[0-9a-f]{32}$/);

    // The upgrade: a daemon started again over the store. After two of its passes over the app (a
    // recreation would have begun in the first), the same containers, untouched.
    await driver.kill();
    const restartedAt = Date.now();
    driver = await lab.driver();
    await driver.waitPhase(app.id, "running", 90_000);
    const observed = async () =>
      Math.min(...((await (driver as Driver).app(app.id))?.containers ?? []).map((c) => c.observedAt));
    const first = await eventually("a pass of the new daemon", async () => {
      const at = await observed();
      return at > restartedAt ? at : undefined;
    });
    await eventually("a second pass of the new daemon", async () => (await observed()) > first);
    const after = await lab.containers();
    for (const name of [web, db]) assert.equal(after.get(name)?.id, containers.get(name)?.id, `${name} kept`);
    assert.deepEqual(await seen(web), { owner: "kept", pass: secret });

    // Installed again: the new names, the same data and the same secret.
    await driver.call("uninstall", { app: app.id });
    await driver.waitPhase(app.id, "removed", 90_000);
    assert.deepEqual(
      await names(["volume", "ls", "--format", "{{.Name}}"]),
      [],
      "uninstall removes the volume objects",
    );
    assert.deepEqual(
      await names(["secret", "ls", "--format", "{{.Name}}"]),
      [],
      "and the secrets of the earlier names",
    );
    assert.equal((await lab.secretFiles(app.id)).pass, secret, "the secret's file stays");
    await install(app);
    assert.deepEqual([...(await lab.containers()).keys()].sort(), [`${app.id}--db`, `${app.id}--web`]);
    assert.deepEqual(await names(["volume", "ls", "--format", "{{.Name}}"]), [`archy-${app.id}_data`]);
    assert.ok((await names(["secret", "ls", "--format", "{{.Name}}"])).includes(`archy-${app.id}_pass`));
    assert.deepEqual(await seen(`${app.id}--web`), { owner: "kept", pass: secret });
    await driver.call("uninstall", { app: app.id, purge: true });
    await driver.waitPhase(app.id, "removed", 90_000);
    assert.deepEqual(
      await names(["secret", "ls", "--format", "{{.Name}}"]),
      [],
      "purge removes the Podman secrets",
    );
    await driver.exit();
    driver = undefined;
  });
});
