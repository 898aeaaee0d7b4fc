/**
 * Update with rollback on the real rootless Podman, through the stand-in daemon: a healthy update
 * keeps the data and a snapshot of it (only the last one); a new version that never gets healthy is
 * rolled back at the end of its window, to the old version and exactly the old data (every file's
 * checksum, mode, owner and time — a file the new version wrote after the snapshot is gone); a
 * missing image is refused before anything is touched; a daemon SIGKILLed in the middle of an
 * update (or of its rollback) converges when it comes back, never stuck; a downgrade needs force.
 *
 * Each test has its own lab (Podman service, driver, directories), so they run side by side.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { YAMLMap, YAMLSeq } from "yaml";
import {
  type Driver,
  eventually,
  httpGet,
  Lab,
  type OperationRecord,
  type TestApp,
} from "../support/driver.ts";
import { runAsTestUser } from "../support/rootless.ts";

const VERSION_LABEL = "io.archipelago.version";
const HASH_LABEL = "io.archipelago.spec-hash";

/** Runs `work` in a lab of its own, closed afterwards whatever happens. */
async function inLab(work: (lab: Lab) => Promise<void>): Promise<void> {
  const lab = await Lab.create();
  try {
    await work(lab);
  } finally {
    await lab.close();
  }
}

/**
 * Every entry of the app's data directory, read inside the test user's namespace (the files belong
 * to the container's uid): path, type, mode, owner, size and time, then a checksum of every file.
 */
async function dataState(lab: Lab, app: TestApp): Promise<string[]> {
  const script =
    'cd "$1" && find . -printf "%p %y %m %U:%G %s %T@\\n" | LC_ALL=C sort && find . -type f -exec sha256sum {} + | LC_ALL=C sort -k2';
  const result = await runAsTestUser(["podman", "unshare", "sh", "-c", script, "sh", lab.appDataDir(app)]);
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split("\n");
  assert.ok(lines.length > 4, `data of ${app.id}:\n${result.stdout}`);
  return lines;
}

/** The app's snapshots (names under `<data>/snapshots/<id>/`). */
async function snapshots(lab: Lab, app: TestApp): Promise<string[]> {
  const result = await runAsTestUser(["ls", "-A", join(lab.dataDir, "snapshots", app.id)]);
  return result.code === 0 ? result.stdout.split("\n").filter(Boolean) : [];
}

/** A copy of hello-web at another version, on the same ports, edited as `edit` says. */
async function version(
  lab: Lab,
  base: TestApp,
  value: string,
  edit?: (web: YAMLMap) => void,
): Promise<TestApp> {
  const app = await lab.app("hello-web", { variant: `v${value}`, version: value, ports: base.ports });
  if (edit) await lab.editManifest(app, (doc) => edit(doc.getIn(["containers", "web"]) as YAMLMap));
  return app;
}

/** hello-web 1.0.0 installed and running, with a file of its own written into its data. */
async function installed(lab: Lab, driver: Driver): Promise<TestApp> {
  const app = await lab.app("hello-web", { version: "1.0.0" });
  const accepted = await driver.call<{ operationId: string }>("install", { path: app.dir });
  await succeeded(driver, accepted.operationId);
  await driver.waitPhase(app.id, "running", 60_000);
  await lab.exec(
    app.names.web as string,
    "echo 'written by 1.0.0' > /data/www/notes.txt && mkdir -p /data/db",
  );
  await lab.exec(
    app.names.web as string,
    "head -c 100000 /dev/urandom > /data/db/blob && chmod 600 /data/db/blob",
  );
  return app;
}

async function succeeded(driver: Driver, operationId: string, timeoutMs = 90_000): Promise<OperationRecord> {
  const record = await driver.operationDone(operationId, timeoutMs);
  assert.equal(record.operation?.state, "succeeded", `${record.operation?.error}\n${driver.tail()}`);
  return record;
}

async function web(lab: Lab, app: TestApp) {
  const facts = await lab.inspect(app.names.web as string);
  assert.ok(facts, `${app.names.web} exists`);
  return facts;
}

/** Asserts that the log lines match `steps`, in this order (other lines may come between). */
function inOrder(record: OperationRecord, steps: RegExp[]): void {
  const log = record.logs.map((l) => l.message);
  let from = 0;
  for (const step of steps) {
    const index = log.findIndex((line, i) => i >= from && step.test(line));
    assert.ok(index >= 0, `${step} after line ${from} of the operation log:\n${log.join("\n")}`);
    from = index + 1;
  }
}

/**
 * A version meant to be healthy: a long start period makes its window long (a loaded test host must
 * not push a healthy update past it), and costs nothing when it is healthy (one good probe is enough).
 */
const healthy = (web: YAMLMap) => (web.get("health") as YAMLMap).set("start_period", "30s");

/**
 * The margin of a window that 2.0.0 waits out whole (the default 20 s is for a healthy version on a
 * loaded node): enough for the test to see what 2.0.0 wrote before the rollback takes it away.
 */
const NEVER_HEALTHY_MARGIN_MS = 5_000;

/** 2.0.0: writes into the data as it starts, and its health check asks for a page that is not there. */
const neverHealthy = (web: YAMLMap) => {
  const command = web.get("command") as YAMLSeq;
  command.items = [
    `echo 'written by 2.0.0' > /data/written-by-2.0.0 && echo migrated >> /data/www/notes.txt && ${String(command.get(0))}`,
  ];
  (web.get("health") as YAMLMap).set("path", "/not-there.html");
};

describe("real Podman: update with rollback", { concurrency: 3 }, () => {
  test("a healthy update 1.0.0 → 1.1.0 keeps the data and a snapshot of it; the next keeps only its own", async () => {
    await inLab(async (lab) => {
      const driver = await lab.driver();
      const app = await installed(lab, driver);
      const before = await dataState(lab, app);
      const old = await web(lab, app);
      const next = await version(lab, app, "1.1.0", healthy);
      const accepted = await driver.call<{ operationId: string }>("update", { path: next.dir });
      const record = await succeeded(driver, accepted.operationId);
      await driver.waitPhase(app.id, "running", 30_000);
      const now = await web(lab, app);
      assert.equal(now.labels[VERSION_LABEL], "1.1.0");
      assert.notEqual(now.id, old.id, "recreated");
      assert.equal(now.running, true);
      assert.equal(
        (await httpGet(app.ports["web/8080"] as number, "/notes.txt"))?.body,
        "written by 1.0.0\n",
      );
      assert.deepEqual(await dataState(lab, app), before, "the data is kept");
      const [snapshot, ...others] = await snapshots(lab, app);
      assert.deepEqual(others, []);
      assert.match(snapshot ?? "", /^1\.0\.0-\d{8}T\d{6}\.\d{3}Z$/);
      inOrder(record, [
        /^updating .+ from 1\.0\.0 to 1\.1\.0$/,
        /^room for the snapshot: /,
        /^stopping .+ \(timeout 2 s\)$/,
        /^snapshot of .+ taken at .+ \((reflink copy|plain copy: the filesystem offers no reflink copy here — .+)\)$/,
        /^starting 1\.1\.0: it must run and be healthy within .+, or it is rolled back to 1\.0\.0$/,
        /^creating /,
        /^update from 1\.0\.0 to 1\.1\.0 succeeded; the snapshot of 1\.0\.0 is kept at /,
      ]);
      // The snapshot is the data as it was, read through the same lens.
      const copy = { ...app, id: `../snapshots/${app.id}/${snapshot}` };
      assert.deepEqual(
        (await dataState(lab, copy)).filter((l) => !l.startsWith(". ")),
        before.filter((l) => !l.startsWith(". ")),
        "the snapshot holds the data exactly",
      );

      const third = await version(lab, app, "1.2.0", healthy);
      const again = await driver.call<{ operationId: string }>("update", { path: third.dir });
      await succeeded(driver, again.operationId);
      const left = await snapshots(lab, app);
      assert.equal(left.length, 1, `only the last snapshot is kept: ${left.join(", ")}`);
      assert.match(left[0] ?? "", /^1\.1\.0-/);
    });
  });

  test("a version that never gets healthy is rolled back at the end of its window: 1.0.0 runs, the data exactly as before", async () => {
    await inLab(async (lab) => {
      const driver = await lab.driver({ updateMarginMs: NEVER_HEALTHY_MARGIN_MS });
      const app = await installed(lab, driver);
      const before = await dataState(lab, app);
      const old = await web(lab, app);
      const broken = await version(lab, app, "2.0.0", neverHealthy);
      const accepted = await driver.call<{ operationId: string }>("update", { path: broken.dir });
      // The new version runs, and writes into the data after the snapshot.
      await eventually(
        "2.0.0 has written into the data",
        () => lab.exists(join(lab.appDataDir(app), "volumes/content/written-by-2.0.0")),
        30_000,
      );
      assert.equal((await web(lab, app)).labels[VERSION_LABEL], "2.0.0");
      assert.equal((await driver.app(app.id))?.phase, "updating");
      const record = await driver.operationDone(accepted.operationId, 120_000);
      assert.equal(record.operation?.state, "failed", driver.tail());
      assert.match(
        record.operation?.error ?? "",
        /^update to 2\.0\.0 failed \(2\.0\.0 did not become healthy within its update window of [\d.]+ s: web is (unhealthy|not healthy yet).*\): rolled back to 1\.0\.0$/,
      );
      // 2.0.0 had its whole window (by the daemon's own log, not the test's clock): the rollback was
      // decided once the deadline it announced had passed.
      const line = (pattern: RegExp) => record.logs.find((l) => pattern.test(l.message));
      const announced = line(/^starting 2\.0\.0: it must run and be healthy within .*, by (\S+),/);
      const deadline = Date.parse(/, by (\S+),/.exec(announced?.message ?? "")?.[1] ?? "");
      const decided = line(/^update to 2\.0\.0 failed: .*; rolling back to 1\.0\.0$/);
      assert.ok(announced && decided && !Number.isNaN(deadline), JSON.stringify(record.logs, null, 1));
      assert.ok(
        decided.at >= deadline,
        `rolled back at ${new Date(decided.at).toISOString()}, before the deadline ${new Date(deadline).toISOString()}`,
      );
      await driver.waitPhase(app.id, "running", 30_000);
      const now = await web(lab, app);
      assert.equal(now.labels[VERSION_LABEL], "1.0.0", "the old version runs again");
      assert.equal(now.labels[HASH_LABEL], old.labels[HASH_LABEL], "with the old version's spec");
      assert.notEqual(now.id, old.id);
      assert.equal(now.running, true);
      assert.deepEqual(await dataState(lab, app), before, "the data is exactly as before the update");
      assert.equal(await lab.exists(join(lab.appDataDir(app), "volumes/content/written-by-2.0.0")), false);
      await eventually(
        "1.0.0 serves again",
        async () =>
          (await httpGet(app.ports["web/8080"] as number, "/notes.txt"))?.body === "written by 1.0.0\n",
        30_000,
      );
      inOrder(record, [
        /^snapshot of .+ taken at /,
        /^starting 2\.0\.0: /,
        /^update to 2\.0\.0 failed: 2\.0\.0 did not become healthy .+; rolling back to 1\.0\.0$/,
        /^stopping /,
        /^removing container .+ \(rollback\)$/,
        /^copied snapshot .+ for the restore \((reflink copy|plain copy: .+)\)$/,
        /^moved the current data aside to /,
        /^restored .+ from snapshot /,
        /^deleted the set-aside data /,
        /^the manifest of 1\.0\.0 is in force again; recreating 1\.0\.0$/,
        /^creating /,
        /^starting /,
        /^update to 2\.0\.0 failed \(.+\): rolled back to 1\.0\.0$/,
      ]);
      assert.ok(
        driver.messages.some((m) => m.event?.type === "app" && m.event.phase === "rolling-back"),
        "the operator saw the rollback",
      );
      assert.equal((await snapshots(lab, app)).length, 1, "the snapshot is kept");
    });
  });

  test("an update whose image is missing is refused with the reason; 1.0.0 never stops", async () => {
    await inLab(async (lab) => {
      const driver = await lab.driver();
      const app = await installed(lab, driver);
      const before = await dataState(lab, app);
      const old = await web(lab, app);
      const missing = `localhost/archy-test/missing-${lab.prefix}:2`;
      const next = await version(lab, app, "2.0.0", (web) => web.set("image", missing));
      const accepted = await driver.call<{ operationId: string }>("update", { path: next.dir });
      const record = await driver.operationDone(accepted.operationId, 60_000);
      assert.equal(record.operation?.state, "failed");
      assert.equal(
        record.operation?.error,
        `update to 2.0.0 refused: image ${missing} is not on this node, and localhost/ images are never pulled: build or load it (podman load), then retry; 1.0.0 left as it was`,
      );
      await driver.waitPhase(app.id, "running", 30_000);
      const now = await web(lab, app);
      assert.equal(now.id, old.id, "the same container");
      assert.equal(now.startedAt, old.startedAt, "never stopped");
      assert.equal(now.labels[VERSION_LABEL], "1.0.0");
      assert.deepEqual(await snapshots(lab, app), [], "no snapshot was taken");
      assert.deepEqual(await dataState(lab, app), before);
    });
  });

  test("a downgrade is refused unless forced; forced, it is an update like another (with a snapshot)", async () => {
    await inLab(async (lab) => {
      const driver = await lab.driver();
      const app = await installed(lab, driver);
      const old = await web(lab, app);
      const older = await version(lab, app, "0.9.0", healthy);
      const refused = await driver.send("update", { path: older.dir });
      assert.equal(refused.ok, false);
      assert.equal(refused.code, "not-newer");
      assert.match(
        refused.error ?? "",
        /0\.9\.0 is not newer than the installed 1\.0\.0; to downgrade or reapply, force it: `archy update [^`]+ --force`/,
      );
      const unchanged = await web(lab, app);
      assert.deepEqual([unchanged.id, unchanged.startedAt], [old.id, old.startedAt], "nothing was touched");
      assert.deepEqual(await snapshots(lab, app), []);

      const forced = await driver.call<{ operationId: string }>("update", { path: older.dir, force: true });
      await succeeded(driver, forced.operationId);
      assert.equal((await web(lab, app)).labels[VERSION_LABEL], "0.9.0");
      assert.match((await snapshots(lab, app))[0] ?? "", /^1\.0\.0-/);
    });
  });

  test("daemon SIGKILLed in the middle of an update (after the snapshot, before the new container): it converges when it comes back", async () => {
    await inLab(async (lab) => {
      let driver = await lab.driver();
      const app = await installed(lab, driver);
      const before = await dataState(lab, app);
      await driver.kill(); // idle: as good as an orderly exit, and quicker
      // This daemon dies right before it creates the new version's container.
      driver = await lab.driver({ crashBefore: "create:1" });
      const next = await version(lab, app, "1.1.0", healthy);
      const accepted = await driver.call<{ operationId: string }>("update", { path: next.dir });
      const crash = await driver.waitFor((m) => m.crash !== undefined, 90_000, "the crash before create:1");
      assert.equal(`${crash.crash}:${crash.n}`, "create:1");
      await driver.exited;
      assert.equal(await lab.inspect(app.names.web as string), undefined, "killed with no container at all");
      assert.equal((await snapshots(lab, app)).length, 1, "after the snapshot");

      driver = await lab.driver();
      const record = await driver.operationDone(accepted.operationId, 120_000);
      await driver.waitPhase(app.id, "running", 30_000);
      const now = await web(lab, app);
      // Not stuck, and since 1.1.0 is healthy, the update goes through (the snapshot made it safe to).
      assert.equal(record.operation?.state, "succeeded", `${record.operation?.error}\n${driver.tail()}`);
      assert.equal(now.labels[VERSION_LABEL], "1.1.0");
      assert.equal(now.running, true);
      assert.ok(
        record.logs.some((l) => /^creating /.test(l.message)),
        "the next daemon carried the update on",
      );
      assert.deepEqual(await dataState(lab, app), before, "the data is consistent");
      await eventually(
        "the app serves",
        async () =>
          (await httpGet(app.ports["web/8080"] as number, "/notes.txt"))?.body === "written by 1.0.0\n",
        30_000,
      );
    });
  });

  test("daemon SIGKILLed in the middle of a rollback: the next one finishes it, data exactly as before", async () => {
    await inLab(async (lab) => {
      let driver = await lab.driver();
      const app = await installed(lab, driver);
      const before = await dataState(lab, app);
      const old = await web(lab, app);
      await driver.kill();
      // Removals: the old container (outdated), then the new one in the rollback — die before that.
      driver = await lab.driver({ crashBefore: "remove:2", updateMarginMs: NEVER_HEALTHY_MARGIN_MS });
      const broken = await version(lab, app, "2.0.0", neverHealthy);
      const accepted = await driver.call<{ operationId: string }>("update", { path: broken.dir });
      await eventually(
        "2.0.0 has written into the data",
        () => lab.exists(join(lab.appDataDir(app), "volumes/content/written-by-2.0.0")),
        30_000,
      );
      const crash = await driver.waitFor((m) => m.crash !== undefined, 120_000, "the crash before remove:2");
      assert.equal(`${crash.crash}:${crash.n}`, "remove:2");
      await driver.exited;
      assert.ok(
        driver.messages.some((m) => /rolling back to 1\.0\.0/.test(m.message ?? "")),
        "it died during the rollback",
      );

      driver = await lab.driver();
      const record = await driver.operationDone(accepted.operationId, 120_000);
      assert.equal(record.operation?.state, "failed");
      assert.match(
        record.operation?.error ?? "",
        /^update to 2\.0\.0 failed \(.+\): rolled back to 1\.0\.0$/,
      );
      assert.ok(
        record.logs.some((l) => /^resuming the rollback of the update to 2\.0\.0/.test(l.message)),
        "the rollback was resumed",
      );
      await driver.waitPhase(app.id, "running", 60_000);
      const now = await web(lab, app);
      assert.equal(now.labels[HASH_LABEL], old.labels[HASH_LABEL]);
      assert.equal(now.running, true);
      assert.deepEqual(await dataState(lab, app), before, "the data is exactly as before the update");
    });
  });
});
