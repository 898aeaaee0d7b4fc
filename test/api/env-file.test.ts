/**
 * env_file through the daemon's API: `package.install` reads the file from the app's directory
 * and stores it with the installed manifest, by that manifest's hash, with its digest; an app whose
 * env file has a bad line is refused naming the file and line, and nothing is stored. The daemon
 * runs in-process over a Podman that never answers (the real-Podman run is
 * test/orchestrator/env-file.test.ts).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, test } from "node:test";
import { RPC_CODES } from "../../src/api/rpc/errors.ts";
import { fails, ok, type Session, setup, startDaemon, TEST_APPS, type TestDaemon } from "./support.ts";

const withEnvFile = (id: string) =>
  `${(TEST_APPS["api-alpha"] as string).replace("id: api-alpha", `id: ${id}`)}    env_file: [config.env]\n`;

describe("env_file through package.install", { timeout: 120_000 }, () => {
  let d: TestDaemon;
  let session: Session;

  before(async () => {
    d = await startDaemon({
      apps: { "api-env": withEnvFile("api-env"), "api-env-bad": withEnvFile("api-env-bad") },
    });
    writeFileSync(join(d.appsDir, "api-env/config.env"), "# settings\nSITE=wiki\n");
    writeFileSync(join(d.appsDir, "api-env-bad/config.env"), "SITE=wiki\nexport MODE=x\n");
    session = await setup(d.port);
  });
  after(() => d?.close());

  const stored = () => {
    const db = new DatabaseSync(d.storePath, { readOnly: true });
    try {
      return db
        .prepare(
          "SELECT e.app_id, e.path, e.text, e.sha256, e.manifest_hash = a.manifest_hash AS current FROM env_files e JOIN apps a ON a.id = e.app_id ORDER BY e.app_id",
        )
        .all();
    } finally {
      db.close();
    }
  };

  test("an app with an env file with a bad line is refused at that line, and nothing is stored", async () => {
    const error = await fails(
      d.port,
      "package.install",
      { id: "api-env-bad" },
      session,
      RPC_CODES.invalidManifest,
    );
    assert.match(error.message, /config\.env:2: `export` is not part of the format/);
    assert.deepEqual(stored(), []);
  });

  test("the env file is stored with the installed manifest, with its digest", async () => {
    await ok(d.port, "package.install", { id: "api-env" }, session);
    const text = "# settings\nSITE=wiki\n";
    assert.deepEqual(
      stored().map((row) => ({ ...row })),
      [
        {
          app_id: "api-env",
          path: "config.env",
          text,
          sha256: createHash("sha256").update(text).digest("hex"),
          current: 1,
        },
      ],
    );
  });
});
