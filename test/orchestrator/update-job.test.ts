/**
 * An update whose new version has a job (a migration) on the real rootless Podman, through the
 * stand-in daemon: the update's window is for becoming healthy, so a job that runs past the
 * deadline the update started with does not roll it back; the window starts again at its end.
 * The job waits for the test's word, given only once the first deadline has passed: no race with
 * the clock decides the outcome.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDocument, type YAMLMap } from "yaml";
import { Lab } from "../support/driver.ts";
import { waitFor } from "../support/wait.ts";

const node = (value: unknown) => parseDocument(JSON.stringify(value)).contents as YAMLMap;

test("a job of the new version that runs past the update's first deadline does not roll the update back", async () => {
  const lab = await Lab.create();
  try {
    // A margin of 1 s: the window is what hello-web's health check needs (about 8 s) and 1 s.
    const driver = await lab.driver({ updateMarginMs: 1_000 });
    const app = await lab.app("hello-web");
    const installed = await driver.call<{ operationId: string }>("install", { path: app.dir });
    assert.equal((await driver.operationDone(installed.operationId, 180_000)).operation?.state, "succeeded");

    // The new version: a migration job that runs until the test releases it; web waits for it.
    await lab.editManifest(app, (doc) => {
      doc.set("version", "1.2.0-r1");
      const containers = doc.get("containers") as YAMLMap;
      const web = containers.get("web") as YAMLMap;
      containers.set(
        "migrate",
        node({
          image: web.get("image"),
          job: true,
          command: [
            "/bin/sh",
            "-c",
            "echo migrating; until [ -e /data/release ]; do sleep 0.2; done; echo 'schema v2' > /data/migrated",
          ],
          user: "1000:1000",
          data_uid: 1000,
          volumes: [{ name: "content", path: "/data" }],
          stop_timeout: "2s",
        }),
      );
      web.set("depends_on", node({ migrate: "completed" }));
    });
    const updating = await driver.call<{ operationId: string }>("update", { path: app.dir });
    const logs = async () =>
      (
        await driver.call<{ logs: Array<{ message: string }> }>("operation", {
          operation: updating.operationId,
        })
      ).logs.map((l) => l.message);
    const firstDeadline = await waitFor(
      async () => {
        const line = (await logs()).find((m) => /must run and be healthy within .*, by /.test(m));
        const iso = line && /, by (\S+), or it is rolled back/.exec(line)?.[1];
        return iso ? Date.parse(iso) : undefined;
      },
      { timeoutMs: 180_000, what: "the update's window in its operation log" },
    );
    const job = async () =>
      [...(await lab.containers()).entries()].find(([, c]) => c.app === app.id && c.key === "migrate");
    // Past the first deadline (and a resync or two), with the job still running.
    await waitFor(async () => Date.now() > firstDeadline + 3_000 || undefined, {
      timeoutMs: 120_000,
      what: "the update's first deadline to pass",
    });
    const running = await job();
    assert.equal(
      running?.[1].state,
      "running",
      `the job runs past the first deadline: ${JSON.stringify(running)}`,
    );
    const during = await driver.call<{ operation: { state: string } }>("operation", {
      operation: updating.operationId,
    });
    assert.equal(
      during.operation.state,
      "running",
      `the update is still in progress:\n${(await logs()).join("\n")}`,
    );

    await lab.exec(running?.[0] as string, "touch /data/release");
    const done = await driver.operationDone(updating.operationId, 180_000);
    assert.equal(
      done.operation?.state,
      "succeeded",
      `${done.operation?.error}\n${done.logs?.map((l) => l.message).join("\n")}`,
    );
    const listed = await driver.app(app.id);
    assert.equal(listed?.phase, "running");
    assert.equal((await lab.readFile(`${lab.volumeDir(app, "content")}/migrated`)) ?? "", "schema v2\n");
  } finally {
    await lab.close();
  }
});
