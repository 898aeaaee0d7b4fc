/**
 * `package.uninstall {purge: true}` for an app uninstalled earlier with its data kept: the data only
 * an explicit purge deletes can be purged after the app has gone (a stranger could not: "not
 * installed"). The daemon runs in-process over a Podman that never answers, so the purge is
 * accepted and recorded here; its run on real Podman is test/orchestrator/lifecycle.test.ts.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { RPC_CODES } from "../../src/api/rpc/errors.ts";
import {
  fails,
  keepData,
  ok,
  type Session,
  setup,
  startDaemon,
  TEST_APPS,
  type TestDaemon,
} from "./support.ts";

describe("package.uninstall with purge, for an app uninstalled with its data kept", {
  timeout: 120_000,
}, () => {
  let d: TestDaemon;
  let session: Session;

  before(async () => {
    d = await startDaemon({ apps: { "api-alpha": TEST_APPS["api-alpha"] as string } });
    session = await setup(d.port);
  });
  after(() => d?.close());

  const keep = (id: string) => keepData(d.dataDir, id);

  test("with nothing kept, a purge of an app that is not installed is refused as before", async () => {
    const error = await fails(
      d.port,
      "package.uninstall",
      { id: "api-alpha", purge: true },
      session,
      RPC_CODES.notFound,
    );
    assert.match(error.message, /api-alpha is not installed/);
  });

  test("kept data of an app no source offers: refused, naming where the data is and what to do", async () => {
    keep("api-gone");
    const error = await fails(
      d.port,
      "package.uninstall",
      { id: "api-gone", purge: true },
      session,
      RPC_CODES.notFound,
    );
    assert.match(error.message, /api-gone is not installed and no app api-gone in any source/);
    assert.match(error.message, new RegExp(`kept data is in ${join(d.dataDir, "apps", "api-gone")}`));
    assert.match(error.message, /delete it by hand, or add the source that offers api-gone and purge again/);
  });

  test("package.kept lists each app not installed with what it left, and the source that offers it (none: null)", async () => {
    keep("api-alpha");
    keep("api-gone");
    // A restore's work directory beside the data is no app's.
    mkdirSync(join(d.dataDir, "apps", ".api-alpha.aside"), { recursive: true });
    const kept = await ok(d.port, "package.kept", {}, session);
    assert.deepEqual(kept, [
      {
        id: "api-alpha",
        kept: [join(d.dataDir, "apps", "api-alpha")],
        name: "api-alpha",
        source: `local:${join(d.appsDir, "api-alpha")}`,
      },
      { id: "api-gone", kept: [join(d.dataDir, "apps", "api-gone")], name: null, source: null },
    ]);
  });

  test("kept data of an app a source offers: a purge is recorded for it, and a plain uninstall is still refused", async () => {
    keep("api-alpha");
    await fails(d.port, "package.uninstall", { id: "api-alpha" }, session, RPC_CODES.notFound);
    const accepted = (await ok(d.port, "package.uninstall", { id: "api-alpha", purge: true }, session)) as {
      kind: string;
      appId: string;
    };
    assert.equal(accepted.kind, "purge");
    assert.equal(accepted.appId, "api-alpha");
    const app = (await ok(d.port, "package.get", { id: "api-alpha" }, session)) as { desired: string };
    assert.equal(app.desired, "absent");
    const kept = (await ok(d.port, "package.kept", {}, session)) as Array<{ id: string }>;
    assert.deepEqual(
      kept.map((k) => k.id),
      ["api-gone"],
      "an app being purged is installed again (its row): not listed as kept",
    );
  });
});
