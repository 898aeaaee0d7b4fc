/**
 * copy_from_host into a directory that does not exist yet, on real Podman: the missing directories
 * are created, owned by the container's user, and an existing one keeps its mode (a directory entry
 * in a copied archive resets an existing directory's mode: a 1777 directory would turn 0755). Which
 * path creates them depends on Podman (4.3 creates them itself; a not-found answer takes the
 * hook's own way, unit-tested in src/orchestrator/hooks.test.ts).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDocument, type YAMLMap } from "yaml";
import { Lab } from "../support/driver.ts";

test("a copy into missing directories creates them and leaves the existing ones as they were", async () => {
  const lab = await Lab.create();
  try {
    const driver = await lab.driver();
    const app = await lab.app("hello-web");
    await lab.editManifest(app, (doc) => {
      const steps = doc.getIn(["hooks", "post_install"]) as { add(item: unknown): void };
      const step = (value: unknown) => steps.add(parseDocument(JSON.stringify(value)).contents as YAMLMap);
      // A directory every user may write to, as /tmp is in most images (not a mount point).
      step({
        exec: { container: "web", command: ["/bin/sh", "-c", "mkdir /tmp/shared && chmod 1777 /tmp/shared"] },
      });
      step({
        copy_from_host: {
          from: "files/index.html",
          container: "web",
          to: "/tmp/shared/seed/deep/index.html",
        },
      });
    });
    const web = app.names.web as string;
    const accepted = await driver.call<{ operationId: string }>("install", { path: app.dir });
    const record = await driver.operationDone(accepted.operationId, 120_000);
    assert.equal(record.operation?.state, "succeeded", JSON.stringify(record.operation));
    const at = "/tmp/shared";
    const modes = await lab.exec(
      web,
      `stat -c '%a %u %n' ${at} ${at}/seed ${at}/seed/deep ${at}/seed/deep/index.html`,
    );
    assert.deepEqual(modes.trim().split("\n"), [
      `1777 1000 ${at}`,
      `755 1000 ${at}/seed`,
      `755 1000 ${at}/seed/deep`,
      `644 1000 ${at}/seed/deep/index.html`,
    ]);
    assert.ok(
      record.logs.some((l) =>
        l.message.includes(`copied files/index.html to web:${at}/seed/deep/index.html`),
      ),
    );
  } finally {
    await lab.close();
  }
});
