import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseManifest } from "../manifest/parse.ts";
import { backedUpVolumes, chooseSnapshot, metaPathOf, PRE_RESTORE_TAG } from "./layout.ts";

const manifest = (backup: string) => {
  const parsed = parseManifest(
    `manifest: 1
id: two
version: 1.0.0
name: Two
description: d
containers:
  web:
    image: localhost/archy-test/busybox:1
    volumes: [{ name: www, path: /www }, { name: cache, path: /cache }]
  db:
    image: localhost/archy-test/busybox:1
    volumes: [{ name: db, path: /db }, { name: www, path: /also-www }]
${backup}`,
    "m.yml",
  );
  assert.ok(parsed.ok, parsed.ok ? "" : JSON.stringify(parsed.issues));
  return parsed.manifest;
};

const id = (c: string) => c.repeat(64);

describe("what a backup covers", () => {
  test("every volume of the app by default, each once", () => {
    assert.deepEqual(backedUpVolumes(manifest("")), ["cache", "db", "www"]);
  });

  test("only the volumes the manifest names", () => {
    assert.deepEqual(backedUpVolumes(manifest("backup:\n  volumes: [db, www]")), ["db", "www"]);
  });
});

describe("which snapshot a restore uses", () => {
  const snapshots = [
    { id: id("a"), time: "2026-12-01T10:00:00Z", tags: ["app:x"] },
    { id: id("b"), time: "2026-12-03T10:00:00Z", tags: ["app:x"] },
    { id: id("c"), time: "2026-12-04T10:00:00Z", tags: ["app:x", PRE_RESTORE_TAG] },
  ];

  test("the newest backup, never the copy a restore took (restoring that is an explicit undo)", () => {
    assert.equal((chooseSnapshot(snapshots, undefined) as { id: string }).id, id("b"));
  });

  test("one asked for by a prefix of 8 or more digits, pre-restore ones included", () => {
    assert.equal((chooseSnapshot(snapshots, "cccccccc") as { id: string }).id, id("c"));
    assert.match((chooseSnapshot(snapshots, "abc") as { error: string }).error, /not a snapshot id/);
    assert.match((chooseSnapshot(snapshots, "dddddddd") as { error: string }).error, /no snapshot dddddddd/);
    assert.match((chooseSnapshot([], undefined) as { error: string }).error, /no backup of this app/);
  });
});

test("the facts directory is found among a snapshot's paths whatever the data directory was", () => {
  assert.equal(
    metaPathOf(["/other/node/backup/meta/x", "/other/node/apps/x/volumes/data"], "x"),
    "/other/node/backup/meta/x",
  );
  assert.equal(metaPathOf(["/d/backup/meta/xy"], "x"), undefined);
});
