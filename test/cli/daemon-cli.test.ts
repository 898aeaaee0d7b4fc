/**
 * `archy daemon` with a data directory its user cannot write: one line naming the directory, the
 * user and the fix, exit 1, no stack trace. Run as the unprivileged test user (root writes anywhere),
 * from a copy of the code that user can read.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { runAsTestUser } from "../support/rootless.ts";
import { stageForTestUser } from "../support/stage.ts";

const isRoot = process.getuid?.() === 0;
const closed = mkdtempSync("/tmp/archy-daemon-cli-");
after(() => {
  chmodSync(closed, 0o700);
  rmSync(closed, { recursive: true, force: true });
});

test("a --data-dir the daemon's user cannot write: one clear line with the fix, exit 1", {
  timeout: 120_000,
}, async () => {
  // Owned by root (or, run as another user, closed to its owner too): the test user cannot create in it.
  chmodSync(closed, isRoot ? 0o700 : 0o500);
  const dataDir = join(closed, "data");
  const staged = stageForTestUser();
  const run = await runAsTestUser([
    staged.node,
    join(staged.dir, "src/cli/main.ts"),
    "daemon",
    "--data-dir",
    dataDir,
    // Never reached: the data directory is checked first.
    "--listen",
    "127.0.0.1:1",
    "--podman-socket",
    join(closed, "podman.sock"),
  ]);
  assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
  const lines = run.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line, no stack trace:\n${run.stderr}`);
  assert.match(
    lines[0] ?? "",
    new RegExp(
      `^archy: the data directory ${dataDir} cannot be used by the user '[^']+' the daemon runs as: permission denied \\(${dataDir}/state\\); make it that user's \\(as root: mkdir -p ${dataDir} && chown -R [^:]+: ${dataDir}\\) or pass a --data-dir it can write`,
    ),
  );
});
