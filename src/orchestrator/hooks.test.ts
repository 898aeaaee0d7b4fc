import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { HookError, readHostTree } from "./hooks.ts";

describe("copy_from_host canonicalisation", () => {
  let base: string;
  let root: string;
  before(() => {
    base = mkdtempSync(join(tmpdir(), "archy-hooks-"));
    root = join(base, "app");
    mkdirSync(join(root, "files", "nested"), { recursive: true });
    writeFileSync(join(root, "files", "ok.txt"), "fine\n");
    writeFileSync(join(root, "files", "nested", "deep.txt"), "deep\n");
    writeFileSync(join(base, "secret.txt"), "outside\n");
    symlinkSync(join(base, "secret.txt"), join(root, "files", "escape-link"));
    symlinkSync("../../secret.txt", join(root, "files", "relative-escape"));
    symlinkSync(base, join(root, "dir-escape"));
    symlinkSync("ok.txt", join(root, "files", "inside-link"));
    mkdirSync(join(root, "tree"));
    writeFileSync(join(root, "tree", "a.txt"), "a\n");
    symlinkSync(join(base, "secret.txt"), join(root, "tree", "sneaky"));
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  test("a file inside the root is read", async () => {
    const tree = await readHostTree(root, "files/ok.txt");
    assert.deepEqual(
      tree.entries.map((e) => [e.relative, e.type, e.data?.toString()]),
      [["ok.txt", "file", "fine\n"]],
    );
  });

  test("a directory is read whole, in a stable order", async () => {
    const tree = await readHostTree(root, "files/nested");
    assert.deepEqual(
      tree.entries.map((e) => e.relative),
      ["nested", "nested/deep.txt"],
    );
  });

  test("a link that stays inside the root is followed", async () => {
    const tree = await readHostTree(root, "files/inside-link");
    assert.equal(tree.entries[0]?.data?.toString(), "fine\n");
  });

  for (const [what, path] of [
    ["an absolute path", "/etc/passwd"],
    ["a path with ..", "../secret.txt"],
    ["a path that climbs out in the middle", "files/../../secret.txt"],
    ["an empty segment", "files//ok.txt"],
    ["a NUL byte", "files/ok.txt\0"],
    ["an absolute link to a file outside", "files/escape-link"],
    ["a relative link climbing out", "files/relative-escape"],
    ["a file reached through a directory link pointing outside", "dir-escape/secret.txt"],
    ["a directory holding a link that points outside", "tree"],
    ["a missing file", "files/nope.txt"],
  ] as const) {
    test(`refuses ${what}`, async () => {
      await assert.rejects(readHostTree(root, path), (error: Error) => {
        assert.ok(error instanceof HookError, String(error));
        assert.match(error.message, /copy_from_host/);
        return true;
      });
    });
  }

  test("refuses the root itself and a root that does not exist", async () => {
    await assert.rejects(readHostTree(root, "."), HookError);
    await assert.rejects(readHostTree(join(base, "missing"), "x"), /does not exist/);
  });
});
