/**
 * What the orchestrator repairs when it opens a store, before any request or reconcile: state an
 * earlier daemon, killed at the wrong moment, left behind (a real store on disk, no Podman).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, describe, test } from "node:test";
import { parseManifest } from "../manifest/parse.ts";
import { approvalOfAll } from "./approvals.ts";
import { Orchestrator } from "./orchestrator.ts";

const root = mkdtempSync(join(tmpdir(), "archy-orchestrator-test-"));
after(() => rmSync(root, { recursive: true, force: true }));

const TEXT = [
  "manifest: 1",
  "id: notes",
  "version: 1.0.0",
  "name: Notes",
  "description: A test app",
  "containers:",
  "  web:",
  "    image: docker.io/library/nginx:1.27",
  "",
].join("\n");

function sourced() {
  const parsed = parseManifest(TEXT, "notes.yml");
  assert.ok(parsed.ok);
  return { text: TEXT, manifest: parsed.manifest, source: "test" };
}

function open(stateDir: string, logs: string[]): Orchestrator {
  return new Orchestrator({
    stateDir,
    dataRoot: join(stateDir, ".."),
    clock: () => 9_000,
    log: { info: (m) => logs.push(m), warn: (m) => logs.push(m), error: (m) => logs.push(m) },
  });
}

describe("orchestrator: at start, over a store a killed daemon left", () => {
  test("an uninstall left running for an app already gone ends, and the app installs again", async () => {
    const stateDir = join(root, "removal-cut-short", "state");
    const first = open(stateDir, []);
    const app = sourced();
    first.lifecycle.install(app, { approve: approvalOfAll(app.manifest) });
    const uninstall = first.lifecycle.uninstall("notes");
    await first.stop();
    // What a daemon killed between forgetting the app and ending its uninstall left (before the two
    // were one transaction): the app gone, its uninstall still in flight.
    const raw = new DatabaseSync(join(stateDir, "store.db"));
    raw.exec("DELETE FROM apps WHERE id = 'notes'");
    raw.close();

    const logs: string[] = [];
    const second = open(stateDir, logs);
    assert.equal(second.store.getOperation(uninstall.operationId)?.state, "succeeded");
    assert.ok(
      logs.some((line) =>
        line.includes(`notes: its uninstall (operation ${uninstall.operationId}) ended with its removal`),
      ),
      logs.join("\n"),
    );
    // Without the repair this install was refused as operation-in-progress, for good.
    const again = second.lifecycle.install(app, { approve: approvalOfAll(app.manifest) });
    assert.equal(again.existing, false);
    assert.deepEqual(
      second.store.activeOperations("notes").map((o) => o.id),
      [again.operationId],
    );
    await second.stop();
  });
});
