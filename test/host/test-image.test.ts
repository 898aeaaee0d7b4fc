/** The test image (built by scripts/build-test-images) runs under the rootless test user. */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { TEST_IMAGE, TEST_USER } from "../../src/host/layout.ts";
import { exec } from "../../src/system/exec.ts";
import { podman, runAsTestUser } from "../support/rootless.ts";
import { waitFor } from "../support/wait.ts";

const buildScript = fileURLToPath(new URL("../../scripts/build-test-images", import.meta.url));
const isRoot = process.getuid?.() === 0;

/** A loopback port nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

describe("real Podman: test image", () => {
  const names: string[] = [];
  after(async () => {
    for (const name of names) await runAsTestUser(["podman", "rm", "-f", "-t", "0", name]);
  });

  it("is up to date, so building again does nothing", async () => {
    const result = await exec(buildScript, isRoot ? ["--user", TEST_USER] : []);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /is up to date/);
  });

  it("runs busybox as root or as the app user", async () => {
    assert.equal((await podman(["run", "--rm", TEST_IMAGE, "id"])).trim(), "uid=0(root) gid=0(root)");
    const app = await podman(["run", "--rm", "--user", "1000", TEST_IMAGE, "id"]);
    assert.match(app, /^uid=1000\(app\) gid=1000\(app\)/);
    const env = await podman(["run", "--rm", TEST_IMAGE, "sh", "-c", 'echo "$PATH"; ls -ld /tmp']);
    assert.match(env, /^\/usr\/local\/bin:\/bin\ndrwxrwxrwt /);
  });

  it("serves /www over a published loopback port and stops at once on SIGTERM", async () => {
    const port = await freePort();
    const name = `archy-test-serve-${process.pid}-${port}`;
    names.push(name);
    await podman(["run", "-d", "--name", name, "-p", `127.0.0.1:${port}:8080`, TEST_IMAGE, "serve"]);
    const response = await waitFor(
      () => fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) }),
      { what: `serve to answer on 127.0.0.1:${port}` },
    );
    assert.equal(response.status, 200);
    assert.match(await response.text(), /archipelago test image works/);

    // Honoured SIGTERM: exit code 0. The SIGKILL after the stop timeout would have made it 137.
    await podman(["stop", "-t", "30", name]);
    const state = await podman(["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name]);
    assert.equal(state.trim(), "exited 0", "serve exited on SIGTERM, not killed after the stop timeout");
  });
});
