/**
 * The staged copy of the platform for the rootless test user: readable and runnable by that user
 * even when the clone is not, made of hard links when possible, one per test process, gone at exit.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runAsTestUser } from "./rootless.ts";
import { REPO_ROOT, STAGED_ENTRIES, stageForTestUser, stageTree } from "./stage.ts";

const isRoot = process.getuid?.() === 0;

describe("stage for the test user", () => {
  test("the copy runs platform code as the test user with the pinned Node, once per process", async () => {
    const staged = stageForTestUser();
    assert.equal(stageForTestUser(), staged, "cached");
    assert.ok(staged.dir.startsWith("/tmp/"));
    for (const entry of STAGED_ENTRIES) assert.ok(existsSync(join(staged.dir, entry)), entry);
    assert.equal(statSync(staged.dir).mode & 0o777, 0o755);
    assert.equal(statSync(join(staged.dir, "src", "runtime")).mode & 0o777, 0o755);
    const file = "src/runtime/service.ts";
    if (staged.method === "hardlink")
      assert.equal(statSync(join(staged.dir, file)).ino, statSync(join(REPO_ROOT, file)).ino);

    const script = [
      `const { PodmanClient } = await import(${JSON.stringify(join(staged.dir, "src/runtime/libpod/client.ts"))});`,
      `const { OWNER } = await import(${JSON.stringify(join(staged.dir, "src/manifest/naming.ts"))});`,
      "console.log(typeof PodmanClient, OWNER, process.version, process.getuid());",
    ].join("\n");
    const result = await runAsTestUser([staged.node, "--input-type=module", "-e", script]);
    assert.equal(result.code, 0, result.stderr);
    const [kind, owner, version, uid] = result.stdout.trim().split(" ");
    assert.equal(kind, "function");
    assert.equal(owner, "archipelago");
    assert.equal(version, process.version, "the pinned Node");
    if (isRoot) assert.notEqual(uid, "0");
  });

  test("a source the test user cannot read is staged readable, and left unchanged", async () => {
    const source = mkdtempSync("/tmp/archy-stage-source-"); // 0700: closed to the test user
    let staged: ReturnType<typeof stageTree> | undefined;
    try {
      mkdirSync(join(source, "src", "deep"), { recursive: true, mode: 0o700 });
      writeFileSync(join(source, "package.json"), '{"type":"module"}\n', { mode: 0o600 });
      writeFileSync(join(source, "src", "deep", "secretive.ts"), "export const x = 1;\n", { mode: 0o600 });
      writeFileSync(join(source, "src", "tool.sh"), "#!/bin/sh\necho tool ran\n", { mode: 0o700 });
      writeFileSync(join(source, "src", "open.txt"), "open\n", { mode: 0o644 });
      symlinkSync("open.txt", join(source, "src", "link.txt"));
      chmodSync(join(source, "src"), 0o700);

      staged = stageTree(source, ["package.json", "src"], "archy-stage-test-");
      if (isRoot) {
        const denied = await runAsTestUser(["cat", join(source, "package.json")]);
        assert.notEqual(denied.code, 0, "the source is closed to the test user");
      }
      const read = await runAsTestUser([
        "/bin/sh",
        "-c",
        `cat ${staged.dir}/package.json ${staged.dir}/src/deep/secretive.ts ${staged.dir}/src/link.txt && ${staged.dir}/src/tool.sh`,
      ]);
      assert.equal(read.code, 0, read.stderr);
      assert.equal(read.stdout, '{"type":"module"}\nexport const x = 1;\nopen\ntool ran\n');
      assert.equal(readlinkSync(join(staged.dir, "src", "link.txt")), "open.txt", "links stay links");

      // The originals keep their modes; an already readable file is still a hard link.
      assert.equal(statSync(join(source, "package.json")).mode & 0o777, 0o600);
      assert.equal(statSync(join(source, "src", "tool.sh")).mode & 0o777, 0o700);
      assert.equal(statSync(join(source, "src")).mode & 0o777, 0o700);
      assert.equal(lstatSync(join(source, "src", "link.txt")).isSymbolicLink(), true);
      if (staged.method === "hardlink") {
        assert.equal(
          statSync(join(staged.dir, "src", "open.txt")).ino,
          statSync(join(source, "src", "open.txt")).ino,
        );
        assert.notEqual(
          statSync(join(staged.dir, "package.json")).ino,
          statSync(join(source, "package.json")).ino,
          "an unreadable file is copied, not linked",
        );
      }
    } finally {
      rmSync(source, { recursive: true, force: true });
      if (staged) rmSync(staged.dir, { recursive: true, force: true });
    }
  });

  test("the copy is removed when its test process exits", () => {
    const node = join(REPO_ROOT, "node_modules", ".bin", "node");
    const script = `const { stageForTestUser } = await import(${JSON.stringify(join(REPO_ROOT, "test/support/stage.ts"))}); console.log(stageForTestUser().dir);`;
    const dir = execFileSync(node, ["--input-type=module", "-e", script], { encoding: "utf8" }).trim();
    assert.match(dir, /^\/tmp\/archy-stage-/);
    assert.equal(existsSync(dir), false);
  });
});
