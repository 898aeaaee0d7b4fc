/**
 * Hook steps that wait for health, and the pre_purge hook, on real Podman through the orchestrator.
 *
 * A test copy of hello-web serves only a few seconds after its start: its post_install waits for it
 * to be healthy (a `wait` step), then writes its "tables" into a host directory it shares with
 * nobody else here, standing for a dependency's database; a command run at once would find nothing
 * served and fail the install. Its pre_purge drops those tables. A pre_purge that fails stops the
 * purge before anything is removed (the app keeps running, its data stays) with the exit code, the
 * last lines and the way forward; once its cause is gone, purging again runs it and its effect is
 * on the host.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseDocument, type YAMLMap } from "yaml";
import { Lab } from "../support/driver.ts";

test("a wait step holds post_install until the container is healthy; a failing pre_purge stops the purge, a passing one drops the tables", async () => {
  const lab = await Lab.create();
  try {
    const driver = await lab.driver();
    const app = await lab.app("hello-web");
    const shared = join(lab.hostRoot, "srv/hello-shared");
    mkdirSync(shared, { recursive: true });
    chmodSync(shared, 0o777); // the container's uid 1000 writes there
    await lab.editManifest(app, (doc) => {
      const node = (value: unknown) => parseDocument(JSON.stringify(value)).contents as YAMLMap;
      const web = doc.getIn(["containers", "web"]) as YAMLMap;
      // Serves (and so turns healthy) only after 3 s: a hook that does not wait finds nothing served.
      web.set(
        "command",
        node(["sleep 3 && mkdir -p /data/www && echo hello > /data/www/index.html && exec serve"]),
      );
      (web.get("health") as YAMLMap).set("retries", 30);
      (web.get("volumes") as { add(item: unknown): void }).add(
        node({ host_path: `${lab.hostRoot}/srv/hello-shared`, permission: "shared", path: "/shared" }),
      );
      doc.set(
        "permissions",
        node({
          shared: {
            kind: "host-path",
            path: `${lab.hostRoot}/srv/hello-shared`,
            reason: "Stands for the database of a dependency.",
          },
        }),
      );
      doc.set(
        "hooks",
        node({
          post_install: [
            { wait: { container: "web", timeout: "60s" } },
            {
              exec: {
                container: "web",
                command: [
                  "/bin/sh",
                  "-c",
                  "wget -q -O - http://127.0.0.1:8080/index.html && mkdir -p /shared/tables && echo rows > /shared/tables/hello",
                ],
              },
            },
          ],
          pre_purge: [
            {
              exec: {
                container: "web",
                command: [
                  "/bin/sh",
                  "-c",
                  'if [ -e /shared/refuse ]; then echo "cannot drop the tables" >&2; exit 4; fi; rm -r /shared/tables/hello && echo dropped > /shared/purged',
                ],
              },
            },
          ],
        }),
      );
    });

    const installed = await driver.call<{ operationId: string }>("install", { path: app.dir });
    const install = await driver.operationDone(installed.operationId, 180_000);
    assert.equal(install.operation?.state, "succeeded", JSON.stringify(install));
    const messages = install.logs.map((l) => l.message);
    assert.ok(messages.includes("post_install step 1: web is healthy"), messages.join("\n"));
    assert.ok(messages.includes("post_install step 2: hello"), messages.join("\n"));
    assert.equal(await lab.readFile(join(shared, "tables/hello")), "rows\n");

    // A pre_purge that fails: the purge stops before anything is removed, and says how to go on.
    writeFileSync(join(shared, "refuse"), "");
    const refused = await driver.call<{ operationId: string }>("uninstall", { app: app.id, purge: true });
    const failing = await driver.operationDone(refused.operationId, 120_000);
    assert.equal(failing.operation?.state, "failed", JSON.stringify(failing.operation));
    const error = failing.operation?.error ?? "";
    assert.match(
      error,
      /^pre_purge step 1: `\/bin\/sh -c if \[ -e \/shared\/refuse \].*` exited with 4; its last lines: cannot drop the tables;/,
    );
    assert.match(error, /the purge stopped before anything was removed/);
    assert.ok(error.includes(`\`archy uninstall ${app.id} --purge --force\``), error);
    const containers = await lab.containers();
    assert.equal(containers.get(app.names.web as string)?.state, "running", "the app still runs");
    assert.equal(await lab.readFile(join(shared, "tables/hello")), "rows\n", "the tables are still there");
    assert.ok(await lab.exists(join(lab.dataDir, "apps", app.id)), "the app's data is still there");

    // Its cause gone, purging again runs it: the tables are dropped, then the app and its data go.
    rmSync(join(shared, "refuse"));
    const again = await driver.call<{ operationId: string }>("uninstall", { app: app.id, purge: true });
    const purge = await driver.operationDone(again.operationId, 120_000);
    assert.equal(purge.operation?.state, "succeeded", JSON.stringify(purge.operation));
    assert.equal(await lab.exists(join(shared, "tables/hello")), false, "pre_purge dropped the tables");
    assert.equal(await lab.readFile(join(shared, "purged")), "dropped\n");
    assert.equal(
      await lab.exists(join(lab.dataDir, "apps", app.id)),
      false,
      "the purge deleted the app's data",
    );
    assert.equal(await driver.app(app.id), undefined, "the app is gone");
  } finally {
    await lab.close();
  }
});
