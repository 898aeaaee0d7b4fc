/**
 * An app directory whose files loop (`files/d/self -> .`) used to keep `package.available` and
 * `package.install` from ever answering, for every app, while the daemon's memory grew: reading an
 * app's files is bounded now, and the bad app is refused with the reason while the others are
 * offered. The daemon runs in-process over a Podman that never answers.
 */
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { RPC_CODES } from "../../src/api/rpc/errors.ts";
import { fails, ok, type Session, setup, startDaemon, TEST_APPS, type TestDaemon } from "./support.ts";

const looping = `${(TEST_APPS["api-alpha"] as string).replace("id: api-alpha", "id: api-loop")}hooks:
  post_install:
    - copy_from_host: { from: files/d, container: web, to: /data/d }
`;

describe("no app directory keeps the daemon from answering", { timeout: 120_000 }, () => {
  let d: TestDaemon;
  let session: Session;

  before(async () => {
    d = await startDaemon({ apps: { "api-alpha": TEST_APPS["api-alpha"] as string, "api-loop": looping } });
    mkdirSync(join(d.appsDir, "api-loop/files/d"), { recursive: true });
    symlinkSync(".", join(d.appsDir, "api-loop/files/d/self"));
    session = await setup(d.port);
  });
  after(() => d?.close());

  test("package.available answers with the other apps; the looping one is not offered", async () => {
    const available = (await ok(d.port, "package.available", {}, session)) as Array<{ id: string }>;
    assert.deepEqual(
      available.map((a) => a.id),
      ["api-alpha"],
    );
  });

  test("package.install of the looping app is refused with the reason", async () => {
    const error = await fails(
      d.port,
      "package.install",
      { id: "api-loop" },
      session,
      RPC_CODES.invalidManifest,
    );
    assert.match(error.message, /copy source d\/self leads back into a directory that holds it/);
  });
});
