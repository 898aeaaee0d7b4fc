/**
 * The CLI keeps Node's compile cache for the build that runs (src/cli/compile-cache.ts): a command
 * from the build leaves the compiled code of the modules it loaded under the user's cache directory,
 * in a directory named after the build, and removes the directories of older builds.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildCli, isStale } from "../../scripts/build.ts";
import { compileCacheRoot } from "../../src/cli/compile-cache.ts";
import { CODE_ROOT } from "../../src/system/code-root.ts";

describe("the CLI's compile cache", () => {
  const home = mkdtempSync(join(tmpdir(), "archy-compile-cache-"));
  const root = compileCacheRoot({ XDG_CACHE_HOME: home });
  let build = "";

  before(async () => {
    if (isStale()) await buildCli();
    build = basename(realpathSync(join(CODE_ROOT, "dist")));
    mkdirSync(join(root, "older-build"), { recursive: true });
    writeFileSync(join(root, "older-build", "entry"), "old code\n");
    execFileSync(
      join(CODE_ROOT, "node_modules", "node", "bin", "node"),
      [join(CODE_ROOT, "dist", "main.js"), "completion", "bash"],
      { env: { PATH: process.env.PATH ?? "", HOME: home, XDG_CACHE_HOME: home }, encoding: "utf8" },
    );
  });
  after(() => rmSync(home, { recursive: true, force: true }));

  it("holds the compiled code of the command's modules, for this build only", () => {
    assert.deepEqual(readdirSync(root), [build], "one directory, the running build's");
    const entries = readdirSync(join(root, build), { recursive: true });
    assert.ok(entries.length > 1, `compiled code was kept: ${entries.join(", ")}`);
  });
});
