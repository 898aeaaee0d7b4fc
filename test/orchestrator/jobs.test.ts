/**
 * One-shot jobs on real Podman through the orchestrator: a test copy of hello-web gets a `migrate`
 * job that shares its volume, and `web` depends on it as `completed`.
 *
 * A job that fails fails the install with its exit code and last output, and what waits for it is
 * never created. A job that succeeds writes its marker before web starts (web refuses to start
 * without it, and shows what it read); once completed it is not run again by a restart of the app
 * nor by a restart of the daemon (which finds it exited, not crashed), and runs again on a
 * reinstall.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { parseDocument, type YAMLMap } from "yaml";
import { Lab, type TestApp } from "../support/driver.ts";

const node = (value: unknown) => parseDocument(JSON.stringify(value)).contents as YAMLMap;

/** Adds the job `migrate` running `script` (as web's uid, on web's volume); web waits for it and needs its marker. */
async function withJob(lab: Lab, app: TestApp, script: string): Promise<void> {
  await lab.editManifest(app, (doc) => {
    const containers = doc.get("containers") as YAMLMap;
    const web = containers.get("web") as YAMLMap;
    containers.set(
      "migrate",
      node({
        image: web.get("image"),
        job: true,
        command: ["/bin/sh", "-c", script],
        user: "1000:1000",
        data_uid: 1000,
        volumes: [{ name: "content", path: "/data" }],
        stop_timeout: "2s",
      }),
    );
    // web starts only with the job's marker there, and shows what it found.
    web.set(
      "command",
      node([
        "test -s /data/migrated || { echo 'not migrated' >&2; exit 1; }; mkdir -p /data/www && cp /data/migrated /data/www/seen.txt && echo hi > /data/www/index.html && exec serve",
      ]),
    );
    web.set("depends_on", node({ migrate: "completed" }));
    doc.set("hooks", node({}));
  });
}

test("a job runs to completion before what depends on it starts, once; a failing one fails the install with its exit code", async () => {
  const lab = await Lab.create();
  try {
    const driver = await lab.driver();
    const app = await lab.app("hello-web");
    const byKey = async (key: string) =>
      [...(await lab.containers()).entries()].find(([, c]) => c.app === app.id && c.key === key);

    // A failing job: the install fails with its exit code and last lines; web is never created.
    await withJob(
      lab,
      app,
      "echo 'applying migration 7'; echo 'migration 7: no such table: notes' >&2; exit 5",
    );
    const failing = await driver.call<{ operationId: string }>("install", { path: app.dir });
    const failed = await driver.operationDone(failing.operationId, 180_000);
    assert.equal(failed.operation?.state, "failed", JSON.stringify(failed.operation));
    assert.match(failed.operation?.error ?? "", /^job migrate failed with exit code 5; its last output:\n/);
    assert.match(failed.operation?.error ?? "", /migration 7: no such table: notes/);
    assert.equal(await byKey("web"), undefined, "web waited for the job and was never created");
    const purged = await driver.call<{ operationId: string }>("uninstall", { app: app.id, purge: true });
    assert.equal((await driver.operationDone(purged.operationId, 120_000)).operation?.state, "succeeded");

    // A job that succeeds after a while: web starts after it, and finds its marker.
    await withJob(lab, app, "sleep 2; echo 'schema v1' > /data/migrated; echo run >> /data/runs");
    const installed = await driver.call<{ operationId: string }>("install", { path: app.dir });
    const install = await driver.operationDone(installed.operationId, 180_000);
    assert.equal(install.operation?.state, "succeeded", JSON.stringify(install));
    assert.equal((await driver.app(app.id))?.phase, "running");
    const content = lab.volumeDir(app, "content");
    assert.equal(
      await lab.readFile(join(content, "www/seen.txt")),
      "schema v1\n",
      "web saw the marker at its start",
    );
    const job = await byKey("migrate");
    assert.equal(job?.[1].state, "exited");
    const facts = await lab.inspect(job?.[0] as string);
    assert.equal(
      (await lab.podman(["inspect", "--format", "{{.State.ExitCode}}", job?.[0] as string])).trim(),
      "0",
    );
    const runs = async () => (await lab.readFile(join(content, "runs")))?.split("\n").filter(Boolean).length;
    assert.equal(await runs(), 1);

    // A restart of the app and a restart of the daemon leave the completed job as it is.
    const restarted = await driver.call<{ operationId: string }>("restart", { app: app.id });
    assert.equal((await driver.operationDone(restarted.operationId, 120_000)).operation?.state, "succeeded");
    await driver.kill();
    const again = await lab.driver();
    await again.waitPhase(app.id, "running", 60_000);
    // The new daemon has looked (its first reconcile settled the app running) and the job stays done.
    const resettled = await again.call<{ operationId: string }>("restart", { app: app.id });
    assert.equal((await again.operationDone(resettled.operationId, 120_000)).operation?.state, "succeeded");
    assert.equal(await runs(), 1, "the completed job ran once");
    assert.equal((await byKey("migrate"))?.[0], job?.[0], "the same exited job container");
    assert.equal((await lab.inspect(job?.[0] as string))?.startedAt, facts?.startedAt, "never started again");

    // A reinstall recreates it: it runs again, before web.
    const reinstalled = await again.call<{ operationId: string }>("reinstall", { path: app.dir });
    const reinstall = await again.operationDone(reinstalled.operationId, 180_000);
    assert.equal(reinstall.operation?.state, "succeeded", JSON.stringify(reinstall.operation));
    assert.equal(await runs(), 2, "the reinstall ran the job again");
  } finally {
    await lab.close();
  }
});
