import assert from "node:assert/strict";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { MINIMAL } from "../../test/support/manifest-text.ts";
import { loadManifest } from "./load.ts";
import { MAX_MANIFEST_BYTES } from "./parse.ts";

const dir = realpathSync(mkdtempSync(join(tmpdir(), "archy-load-")));
after(() => rmSync(dir, { recursive: true, force: true }));

test("loads a manifest file, naming it relative to the display base", async () => {
  const file = join(dir, "hello.yml");
  writeFileSync(file, MINIMAL);
  const loaded = await loadManifest(file, dir);
  assert.ok(loaded.ok);
  assert.equal(loaded.manifest.id, "hello");
  assert.equal(loaded.file, file);
  assert.equal(loaded.dir, dir);
});

test("loads manifest.yml (or manifest.yaml) from an app directory", async () => {
  const app = join(dir, "app");
  const other = join(dir, "other");
  for (const [path, name] of [
    [app, "manifest.yml"],
    [other, "manifest.yaml"],
  ] as const) {
    rmSync(path, { recursive: true, force: true });
    await import("node:fs/promises").then((fs) => fs.mkdir(path));
    writeFileSync(join(path, name), MINIMAL);
    const loaded = await loadManifest(path, dir);
    assert.ok(loaded.ok, name);
    assert.equal(loaded.file, join(path, name));
  }
});

test("issues name the file relative to the display base", async () => {
  const file = join(dir, "bad.yml");
  writeFileSync(file, `${MINIMAL}    memory: lots\n`);
  const loaded = await loadManifest(file, dir);
  assert.ok(!loaded.ok);
  assert.deepEqual(
    loaded.issues.map((i) => `${i.file}:${i.line}:${i.column} ${i.rule}`),
    ["bad.yml:9:13 schema.format"],
  );
});

test("file.read: a path that does not exist is an issue, not an exception", async () => {
  const missing = join(dir, "nope", "manifest.yml");
  const loaded = await loadManifest(missing);
  assert.ok(!loaded.ok);
  assert.deepEqual(loaded.issues, [
    {
      file: missing,
      line: 0,
      column: 0,
      path: "(file)",
      message: "cannot read the manifest: no such file or directory",
      fix: "pass a manifest.yml file or an app directory that contains one",
      rule: "file.read",
    },
  ]);
});

test("file.read: a directory without a manifest", async () => {
  const empty = mkdtempSync(join(dir, "empty-"));
  const loaded = await loadManifest(empty);
  assert.ok(!loaded.ok);
  assert.equal(loaded.issues[0]?.rule, "file.read");
  assert.match(loaded.issues[0]?.message ?? "", /no manifest\.yml in directory/);
});

test("yaml.size: a huge file is read only up to the limit, and refused", async () => {
  const file = join(dir, "huge.yml");
  writeFileSync(file, MINIMAL + "#".repeat(4 * MAX_MANIFEST_BYTES));
  const loaded = await loadManifest(file, dir);
  assert.ok(!loaded.ok);
  assert.deepEqual(
    loaded.issues.map((i) => [i.rule, i.line]),
    [["yaml.size", 0]],
  );
});
