import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { DaemonStartError, lockStateDir, runDaemon } from "./daemon.ts";

const dir = mkdtempSync(join(tmpdir(), "archy-lock-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("one daemon per data directory: a second lock is refused while the first holder lives", () => {
  const state = join(dir, "a", "state");
  mkdirSync(state, { recursive: true });
  const sleeper = spawn("sleep", ["30"], { stdio: "ignore" });
  try {
    writeFileSync(join(state, "daemon.pid"), `${sleeper.pid}\n`);
    assert.throws(() => lockStateDir(state), /another Archipelago daemon \(pid \d+\) is already using/);
    assert.equal(
      readFileSync(join(state, "daemon.pid"), "utf8").trim(),
      String(sleeper.pid),
      "the holder's lock is untouched",
    );
  } finally {
    sleeper.kill("SIGKILL");
  }
});

test("a lock left by a daemon that died is taken over, and released on stop", async () => {
  const state = join(dir, "b");
  mkdirSync(state, { recursive: true });
  const dead = spawn("true");
  await new Promise((resolve) => dead.on("exit", resolve));
  writeFileSync(join(state, "daemon.pid"), `${dead.pid}\n`);
  const release = lockStateDir(state);
  assert.equal(readFileSync(join(state, "daemon.pid"), "utf8").trim(), String(process.pid));
  release();
  assert.equal(existsSync(join(state, "daemon.pid")), false);
});

test("a data directory the daemon cannot create is one line naming it and the fix, and nothing starts", async () => {
  // Root may write anywhere: a file on the way fails the same way as a directory of another user.
  const blocker = join(dir, "a-file");
  writeFileSync(blocker, "");
  const dataDir = join(blocker, "data");
  const error = await runDaemon({
    dataDir,
    listen: { host: "127.0.0.1", port: 0 },
    appsDir: undefined,
    backend: "podman",
    podmanSocket: join(dir, "no-podman.sock"),
    allowedHosts: [],
    resyncMs: 60_000,
    logLevel: "error",
    catalogs: [],
    catalogRefreshMs: 3_600_000,
  }).then(
    async (daemon) => {
      await daemon.stop();
      return undefined;
    },
    (e: unknown) => e,
  );
  assert.ok(error instanceof DaemonStartError, String(error));
  assert.match(
    error.message,
    new RegExp(
      `^the data directory ${dataDir} cannot be used by the user '[^']+' the daemon runs as: a part of the path is not a directory .* pass a --data-dir it can write`,
    ),
  );
  assert.doesNotMatch(error.message, /\n/);
});
