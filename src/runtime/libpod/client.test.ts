/**
 * The client keeps the last `info` answer (versions and paths, which do not change under a
 * service): a start's DNS guard, which needs the run root, asks no second time after the daemon's
 * own `info` when it connected — a call of ~250 ms that the first start after a restart paid.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { PodmanClient } from "./client.ts";

const dir = mkdtempSync(join(tmpdir(), "archy-client-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const INFO = {
  version: { Version: "4.3.1", APIVersion: "4.3.1" },
  host: { security: { rootless: true }, cgroupManager: "cgroupfs", ociRuntime: { name: "runc" } },
  store: { graphDriverName: "overlay", runRoot: join(dir, "run"), graphRoot: join(dir, "graph") },
};
const EXITED = {
  Id: "c1",
  Name: "web",
  State: { Status: "exited", Running: false, ExitCode: 0, StartedAt: "", FinishedAt: "", Pid: 0 },
  Config: { Labels: null, StopTimeout: 3 },
  HostConfig: {},
  NetworkSettings: { SandboxKey: "" },
};

test("a start after info asks Podman for info no second time", async () => {
  const asked: string[] = [];
  const server = createServer((request, response) => {
    const path = (request.url ?? "").replace(/^\/v[\d.]+\/libpod/, "").replace(/\?.*$/, "");
    asked.push(`${request.method} ${path}`);
    if (path === "/info")
      return response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(INFO));
    if (path === "/containers/web/json")
      return response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(EXITED));
    if (path === "/containers/web/start") return response.writeHead(204).end();
    response.writeHead(404).end();
  });
  const socket = join(dir, "podman.sock");
  await new Promise<void>((done) => server.listen(socket, done));
  const client = new PodmanClient(socket);
  try {
    assert.equal((await client.info()).runRoot, INFO.store.runRoot);
    await client.containers.start("web");
    assert.deepEqual(asked, ["GET /info", "GET /containers/web/json", "POST /containers/web/start"]);
  } finally {
    await client.close();
    server.close();
  }
});
