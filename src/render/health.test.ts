import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { HealthSpec } from "../manifest/schema.ts";
import { probeScript } from "./health.ts";

// The http probe runs the real clients an image may have (curl, busybox wget), each alone on the
// PATH, against a local server: what a probe passes must not depend on which client the image has.

const CLIENTS = { curl: "/usr/bin/curl", wget: "/bin/busybox" } as const;

let server: Server;
let port: number;
let closedPort: number;
let root: string;

before(async () => {
  server = createServer((request, response) => {
    if (request.url === "/ok") response.writeHead(200).end("ok");
    else if (request.url === "/moved") response.writeHead(301, { Location: "/ok" }).end();
    else if (request.url === "/created") response.writeHead(201).end();
    else response.writeHead(404).end("no such page");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
  const spare = createServer();
  await new Promise<void>((resolve) => spare.listen(0, "127.0.0.1", resolve));
  closedPort = (spare.address() as AddressInfo).port;
  await new Promise((resolve) => spare.close(resolve));
  root = mkdtempSync(join(tmpdir(), "archy-probe-"));
  for (const [name, binary] of Object.entries(CLIENTS)) {
    mkdirSync(join(root, name));
    symlinkSync(binary, join(root, name, name));
  }
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(root, { recursive: true, force: true });
});

function http(path: string, status: number, on = port): HealthSpec {
  return { type: "http", port: on, path, status, interval: 2000, timeout: 1000, retries: 3, start_period: 0 };
}

/** The probe's exit code, run by /bin/sh with only `client` on the PATH. */
function probe(client: keyof typeof CLIENTS, health: HealthSpec): Promise<number> {
  if (health.type === "exec") throw new Error("exec checks have no probe script");
  return new Promise((resolve) => {
    execFile(
      "/bin/sh",
      ["-c", probeScript(health)],
      { env: { PATH: join(root, client) }, timeout: 10_000 },
      (error) => resolve(error ? ((error as { code?: number }).code ?? -1) : 0),
    );
  });
}

describe("http health probe", () => {
  const cases: Array<[string, number, boolean]> = [
    ["/ok", 200, true],
    ["/ok", 204, false],
    ["/created", 201, true],
    ["/missing", 404, true],
    ["/missing", 200, false],
    // A redirect is its own status: it is not followed to the page it points at.
    ["/moved", 301, true],
    ["/moved", 200, false],
  ];
  for (const client of Object.keys(CLIENTS) as Array<keyof typeof CLIENTS>)
    test(`${client}: the status of the response to the GET itself is compared`, async () => {
      for (const [path, status, passes] of cases)
        assert.equal(
          (await probe(client, http(path, status))) === 0,
          passes,
          `${client} GET ${path} expecting ${status}`,
        );
      assert.notEqual(
        await probe(client, http("/ok", 200, closedPort)),
        0,
        `${client}: nothing listening fails`,
      );
    });
});
