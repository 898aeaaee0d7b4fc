import assert from "node:assert/strict";
import { resolve } from "node:path";
import { test } from "node:test";
import { reportPaths } from "../cli/commands/gate.ts";
import { loadAppsDir } from "../sources/local.ts";
import { GateSetupError, podmanObjects, SAMPLE_APPS_DIR, selectApps } from "./gate.ts";

test("the apps named, plus what they depend on; an unknown app is a usage error naming those there are", async () => {
  const { apps } = await loadAppsDir(SAMPLE_APPS_DIR);
  const all = selectApps(apps, undefined);
  assert.deepEqual(all.apps.map((a) => a.id).sort(), ["hello-web", "mini-explorer", "mini-node", "notes"]);
  assert.deepEqual(all.added, []);
  const explorer = selectApps(apps, ["mini-explorer"]);
  assert.deepEqual(explorer.apps.map((a) => a.id).sort(), ["mini-explorer", "mini-node"]);
  assert.deepEqual(explorer.added, ["mini-node"]);
  assert.throws(
    () => selectApps(apps, ["hello-web", "nope"]),
    (error: unknown) =>
      error instanceof GateSetupError &&
      error.usage &&
      /no app nope in the apps directory; there are: hello-web, mini-explorer, mini-node, notes/.test(
        error.message,
      ),
  );
});

test("the Podman objects of the gated apps, by the platform's names", async () => {
  const { apps } = await loadAppsDir(SAMPLE_APPS_DIR);
  const manifests = new Map(apps.map((a) => [a.id, a.manifest]));
  const ids = Object.fromEntries(apps.map((a) => [a.id, `g1a2b-${a.id}`]));
  const objects = podmanObjects(ids, manifests);
  assert.deepEqual(objects.networks.sort(), [
    "archy-g1a2b-hello-web",
    "archy-g1a2b-mini-explorer",
    "archy-g1a2b-mini-node",
    "archy-g1a2b-notes",
  ]);
  assert.deepEqual(objects.volumes.sort(), [
    "archy-g1a2b-hello-web_content",
    "archy-g1a2b-mini-node_chain",
    "archy-g1a2b-notes_db-data",
  ]);
  assert.deepEqual(objects.secrets.sort(), [
    "archy-g1a2b-mini-explorer_session-key",
    "archy-g1a2b-mini-node_rpc-password",
  ]);
});

test("--report FILE writes FILE.json and FILE.md, whichever extension it was given", () => {
  assert.deepEqual(reportPaths("/tmp/r"), { json: "/tmp/r.json", markdown: "/tmp/r.md" });
  assert.deepEqual(reportPaths("/tmp/r.md"), { json: "/tmp/r.json", markdown: "/tmp/r.md" });
  assert.deepEqual(reportPaths(undefined), {
    json: resolve("gate-report.json"),
    markdown: resolve("gate-report.md"),
  });
});
