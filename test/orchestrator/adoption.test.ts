/**
 * Adoption and the spec hash on the real rootless Podman: a container made by hand under a legacy
 * name the manifest declares is adopted as it is (same container, never recreated); a container
 * whose rendered spec changed is recreated — only that one — and the app's data survives.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { TEST_IMAGE } from "../../src/host/layout.ts";
import { type Driver, eventually, httpGet, Lab, sleep, type TestApp } from "../support/driver.ts";

let lab: Lab;
let driver: Driver;

before(async () => {
  lab = await Lab.create();
  driver = await lab.driver();
});

after(async () => {
  await lab?.close();
});

async function succeeded(operationId: string, timeoutMs = 90_000): Promise<void> {
  const record = await driver.operationDone(operationId, timeoutMs);
  assert.equal(record.operation?.state, "succeeded", `${record.operation?.error}\n${driver.tail()}`);
}

async function ids(app: TestApp): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [key, name] of Object.entries(app.names)) {
    const inspect = await lab.inspect(name);
    assert.ok(inspect?.running, `${name} runs`);
    out[key] = inspect.id;
  }
  return out;
}

describe("real Podman: adoption and the spec hash", () => {
  test("a legacy container made by hand (podman run --restart=unless-stopped) is adopted, not recreated", async () => {
    const app = await lab.app("hello-web");
    const legacy = `${lab.prefix}-hello`; // the test copy's adoption.containers.web[0]
    const port = app.ports["web/8080"] as number;
    const made = (
      await lab.podman([
        "run",
        "-d",
        "--restart=unless-stopped",
        "--name",
        legacy,
        "-p",
        `127.0.0.1:${port}:8080`,
        "-e",
        "PORT=8080",
        TEST_IMAGE,
        "serve",
      ])
    ).trim();
    const before = await lab.inspect(legacy);
    assert.equal(before?.running, true);

    const accepted = await driver.call<{ operationId: string }>("install", { path: app.dir });
    await driver.waitPhase(app.id, "running", 60_000);
    await succeeded(accepted.operationId);
    await sleep(2_000); // a few resync passes
    const after = await lab.inspect(legacy);
    assert.equal(after?.id, made, "the same container");
    assert.equal(after?.startedAt, before?.startedAt, "not even restarted");
    assert.equal(
      await lab.inspect(app.names.web as string),
      undefined,
      "no second container under the manifest's name",
    );
    const listed = await driver.app(app.id);
    assert.equal(listed?.phase, "running");
    assert.deepEqual(
      listed?.containers.map((c) => [c.key, c.name, c.containerId]),
      [["web", legacy, made]],
      "the app lists the adopted container",
    );
    const record = await driver.operation(accepted.operationId);
    assert.deepEqual(
      record.logs.filter((l) => /creating|removing/.test(l.message)),
      [],
      "nothing was created or removed",
    );
    assert.equal((await httpGet(port))?.status, 200, "it serves on its port as before");

    // The adopted container follows the operator's stop and start like any other.
    await driver.call("stop", { app: app.id });
    await driver.waitPhase(app.id, "stopped", 30_000);
    assert.equal((await lab.inspect(legacy))?.running, false, "stopped (podman inspect)");
    await sleep(1_500);
    assert.equal((await lab.inspect(legacy))?.running, false, "its restart policy does not bring it back");
    await driver.call("start", { app: app.id });
    await driver.waitPhase(app.id, "running", 30_000);
    const started = await lab.inspect(legacy);
    assert.equal(started?.id, made);
    assert.equal(started?.running, true);
  });

  test("an exited legacy container is adopted and started, not recreated", async () => {
    const legacy = `${lab.prefix}-legacy-notes-cache`;
    const notes = await lab.app("notes", { adopt: { cache: [legacy] } });
    await lab.podman([
      "create",
      "--restart=unless-stopped",
      "--name",
      legacy,
      "-e",
      "PORT=6379",
      TEST_IMAGE,
      "serve",
    ]);
    const made = (await lab.inspect(legacy))?.id;
    assert.equal((await lab.inspect(legacy))?.running, false);

    const accepted = await driver.call<{ operationId: string }>("install", { path: notes.dir });
    await driver.waitPhase(notes.id, "running", 90_000);
    await succeeded(accepted.operationId);
    const cache = await lab.inspect(legacy);
    assert.equal(cache?.id, made, "the legacy cache container was adopted");
    assert.equal(cache?.running, true, "and started");
    assert.equal(await lab.inspect(notes.names.cache as string), undefined, "no second cache container");
    const running = await ids({ ...notes, names: { ...notes.names, cache: legacy } });
    assert.equal(running.cache, made);

    await driver.call("uninstall", { app: notes.id, purge: true });
    await driver.waitPhase(notes.id, "removed", 60_000);
    assert.equal(await lab.inspect(legacy), undefined, "uninstall removes the adopted container too");
  });

  // The update stops the whole stack for its snapshot and starts it again at once: the moment Podman
  // 4.3's DNS server race hit (src/runtime/libpod/dns-server.ts) and left web unable to find its
  // database, so that the update rolled back.
  test("a changed spec recreates exactly the containers whose hash changed; the data survives", async () => {
    const notes = await lab.app("notes");
    let accepted = await driver.call<{ operationId: string }>("install", { path: notes.dir });
    await driver.waitPhase(notes.id, "running", 90_000);
    await succeeded(accepted.operationId);
    const marker = `kept-${Date.now()}`;
    await lab.exec(notes.names.db as string, `echo ${marker} > /var/lib/notes/marker.txt`);
    const first = await ids(notes);
    const hashOf = async (name: string) => (await lab.inspect(name))?.labels["io.archipelago.spec-hash"];
    const cacheHash = await hashOf(notes.names.cache as string);

    // The same version, only the cache's environment changed (an update forced to the same version).
    const cacheChanged = await lab.app("notes", {
      variant: "cache-changed",
      ports: notes.ports,
      env: { cache: { CACHE_MODE: "changed" } },
    });
    accepted = await driver.call<{ operationId: string }>("update", { path: cacheChanged.dir, force: true });
    await succeeded(accepted.operationId);
    await driver.waitPhase(notes.id, "running", 60_000);
    const second = await ids(notes);
    assert.notEqual(second.cache, first.cache, "the cache, whose spec changed, was recreated");
    assert.notEqual(await hashOf(notes.names.cache as string), cacheHash, "with a new spec hash");
    assert.equal(second.db, first.db, "the database was left alone");
    assert.equal(second.web, first.web, "the web front end was left alone");

    // A new version: every container's labels change, so every container is recreated.
    const newer = await lab.app("notes", {
      variant: "newer",
      version: "0.3.2",
      ports: notes.ports,
      env: { cache: { CACHE_MODE: "changed" } },
    });
    accepted = await driver.call<{ operationId: string }>("update", { path: newer.dir });
    await succeeded(accepted.operationId);
    await driver.waitPhase(notes.id, "running", 60_000);
    const third = await ids(notes);
    for (const key of Object.keys(first)) assert.notEqual(third[key], second[key], `${key} recreated`);
    assert.equal(
      await lab.exec(notes.names.db as string, "cat /var/lib/notes/marker.txt"),
      `${marker}\n`,
      "the new database container sees the data",
    );
    await eventually(
      "the UI answers after the update",
      async () => (await httpGet(notes.ports["web/80"] as number))?.body.includes("database says: ok"),
      45_000,
      500,
    );

    // Reinstall from a changed manifest: recreated again, data kept.
    const reinstalled = await lab.app("notes", {
      variant: "reinstalled",
      version: "0.3.2",
      ports: notes.ports,
      env: { db: { DB_MODE: "changed" } },
    });
    accepted = await driver.call<{ operationId: string }>("reinstall", { path: reinstalled.dir });
    await succeeded(accepted.operationId);
    await driver.waitPhase(notes.id, "running", 60_000);
    const fourth = await ids(notes);
    for (const key of Object.keys(first))
      assert.notEqual(fourth[key], third[key], `${key} recreated by reinstall`);
    assert.equal(await lab.exec(notes.names.db as string, "cat /var/lib/notes/marker.txt"), `${marker}\n`);
    assert.equal(
      (await lab.exec(notes.names.db as string, 'printf %s "$DB_MODE"')).trim(),
      "changed",
      "the reinstalled database runs the changed manifest",
    );
    await driver.call("uninstall", { app: notes.id, purge: true });
    await driver.waitPhase(notes.id, "removed", 60_000);
  });
});
