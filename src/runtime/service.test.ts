/**
 * Starting the Podman service when it cannot start: a `podman` stand-in (fault injection; the real
 * service's start is covered by test/runtime/service-lifecycle.test.ts) fails the way Podman 4.3
 * does when the user's pause process died, or in some other way. The daemon must repair the first
 * (CI's host once lost the test user's pause process) and quote the second without waiting out its
 * timeout.
 */
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { connectPodman } from "./service.ts";

const root = mkdtempSync(join(tmpdir(), "archy-service-test-"));
const servicePids: number[] = [];
after(() => {
  for (const pid of servicePids) process.kill(pid, "SIGTERM");
  rmSync(root, { recursive: true, force: true });
});

const PAUSE_GONE =
  'time="2026-12-07T13:40:35Z" level=error msg="invalid internal status, try resetting the pause process with \\"podman system migrate\\": could not find any running process: no such process"';

/**
 * A `podman` whose `system service` fails with `failure` until `system migrate` ran (only when it
 * `repairs`), and then serves a ping-only HTTP server on the socket. It counts its migrations.
 */
function fakePodman(name: string, failure: string, repairs: boolean) {
  const dir = join(root, name);
  mkdirSync(dir);
  const podman = join(dir, "podman");
  const server = `require("http").createServer((q, s) => s.end("OK")).listen(process.argv[1])`;
  writeFileSync(
    podman,
    [
      "#!/bin/sh",
      `dir=${dir}`,
      'if [ "$1 $2" = "system migrate" ]; then',
      '  echo migrated >> "$dir/migrations"',
      repairs ? '  touch "$dir/repaired"' : "  :",
      "fi",
      'if [ "$1 $2" = "system service" ]; then',
      '  if [ ! -e "$dir/repaired" ]; then',
      `    echo '${failure.replaceAll("'", "'\\''")}' >&2`,
      "    exit 125",
      "  fi",
      `  exec ${process.execPath} -e '${server}' "\${4#unix://}"`,
      "fi",
    ].join("\n"),
    { mode: 0o755 },
  );
  chmodSync(podman, 0o755);
  const options = {
    podmanPath: podman,
    runtimeDir: dir,
    ownSocketPath: join(dir, "archipelago", "podman.sock"),
    timeoutMs: 60_000,
  };
  const migrations = () =>
    existsSync(join(dir, "migrations"))
      ? readFileSync(join(dir, "migrations"), "utf8").trim().split("\n").length
      : 0;
  return { options, migrations };
}

describe("starting the Podman service", () => {
  test("a service that exits because the user's pause process is gone is started again after one `podman system migrate`", async () => {
    const fake = fakePodman("pause-gone", PAUSE_GONE, true);
    const logs: string[] = [];
    const connection = await connectPodman({ ...fake.options, log: (line) => logs.push(line) });
    if (connection.pid) servicePids.push(connection.pid);
    await connection.client.close();
    assert.equal(connection.origin, "spawned");
    assert.equal(fake.migrations(), 1);
    assert.ok(
      logs.some((line) => /pause process is gone.*podman system migrate/.test(line)),
      `the log does not say why it migrated: ${logs.join(" | ")}`,
    );
  });

  test("migrate runs once: a service still failing after it is an error naming both", async () => {
    const fake = fakePodman("pause-stays-gone", PAUSE_GONE, false);
    await assert.rejects(connectPodman(fake.options), /exited before answering.*invalid internal status/);
    assert.equal(fake.migrations(), 1);
  });

  test("any other early exit is told at once with the service's last words, and nothing is migrated", async () => {
    const fake = fakePodman(
      "other-failure",
      "Error: cannot set up namespace using newuidmap: exit status 1",
      false,
    );
    // Within the 60 s timeout given: the exit is noticed, not waited out (no clock asserted).
    await assert.rejects(
      connectPodman(fake.options),
      /exited before answering on .*podman\.sock: Error: cannot set up namespace using newuidmap/,
    );
    assert.equal(fake.migrations(), 0);
  });
});
