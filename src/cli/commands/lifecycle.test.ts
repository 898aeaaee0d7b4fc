/**
 * `archy start` against a JSON-RPC and event-stream stand-in on loopback: the CLI exits once the
 * operation's final event has come, with the app's outcome from the view the stream told, without
 * reading the operation or the app again. Every request it sends is counted. The daemon's side (it
 * tells an app's new view before the end of the operation that made it) is tested on a real daemon
 * (test/api/list-view.test.ts).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { WebSocketServer } from "ws";
import type { AppView } from "../client.ts";
import { outcome } from "./lifecycle.ts";

const ARCHY = resolve(import.meta.dirname, "../../../bin/archy");
const OPERATION = "op-1";
const WARNING =
  "containers.web.ports[0].bind: port 8080 serves an interface and is published on 0.0.0.0:18080: anyone who reaches that address gets the app without the node's login or TLS";

const VIEW: AppView = {
  id: "wiki",
  name: "Wiki",
  version: "2.4.1",
  description: "",
  category: "other",
  icon: null,
  source: "local:/apps/wiki",
  publisher: null,
  desired: "running",
  phase: "running",
  reason: null,
  observedAt: 1,
  observedAgeMs: 0,
  containers: [],
  interfaces: [{ name: "web", url: "http://wiki.node.test:7780/" }],
  memoryLimits: [],
  permissions: [],
  warnings: [],
  localOverride: false,
  flags: [],
  alerts: [],
};

let server: Server;
let dir: string;
let env: NodeJS.ProcessEnv;
/** The methods the CLI called, in order. */
const calls: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "archy-lifecycle-"));
  writeFileSync(join(dir, "token"), "t\n", { mode: 0o600 });
  const sockets = new WebSocketServer({ noServer: true });
  let seq = 0;
  const tell = (message: Record<string, unknown>) => {
    const text = JSON.stringify({ ...message, seq: ++seq });
    for (const client of sockets.clients) client.send(text);
  };
  server = createServer((request, response) => {
    let text = "";
    request.on("data", (chunk) => {
      text += chunk;
    });
    request.on("end", () => {
      const { id, method } = JSON.parse(text);
      calls.push(method);
      const result =
        method === "package.start"
          ? { operationId: OPERATION, appId: "wiki", kind: "start", existing: false }
          : method === "package.install"
            ? { operationId: OPERATION, appId: "wiki", kind: "install", existing: false, warnings: [WARNING] }
            : method === "operation.get"
              ? {
                  id: OPERATION,
                  appId: "wiki",
                  kind: "start",
                  state: "running",
                  createdAt: 1,
                  finishedAt: null,
                  error: null,
                  logs: [],
                }
              : { ...VIEW, phase: "stopped" };
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ jsonrpc: "2.0", id, result }), () => {
        // Once the CLI has read the operation, it runs to its end, as a daemon tells it.
        if (method !== "operation.get") return;
        tell({ type: "app", appId: "wiki", phase: "starting" });
        tell({
          type: "log",
          appId: "wiki",
          line: { operationId: OPERATION, seq: 1, at: 2, level: "info", message: "started wiki-web" },
        });
        tell({ type: "app", appId: "wiki", phase: "running" });
        tell({ type: "app-view", appId: "wiki", app: VIEW });
        tell({ type: "operation", operationId: OPERATION, appId: "wiki", state: "succeeded" });
      });
    });
  });
  server.on("upgrade", (request, socket, head) =>
    sockets.handleUpgrade(request, socket, head, (ws) =>
      ws.send(JSON.stringify({ type: "hello", stream: "s", seq, resumed: false })),
    ),
  );
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  env = { ...process.env, ARCHY_URL: `http://127.0.0.1:${port}`, ARCHY_TOKEN_FILE: join(dir, "token") };
});
after(async () => {
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the CLI against the stand-in; the methods it calls are counted from here. */
function archy(
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  calls.length = 0;
  return new Promise((done) =>
    execFile(
      ARCHY,
      args,
      { env: { ...env, ...extraEnv }, cwd: dir, timeout: 120_000 },
      (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    ),
  );
}

test("after the operation's final event the CLI exits with the told outcome: no read of the operation or the app after it", async () => {
  const run = await archy(["start", "wiki"]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^ {2}started wiki-web$/m);
  assert.match(run.stdout, /^done in .*: wiki is running$/m);
  assert.match(run.stdout, /^open http:\/\/wiki\.node\.test:7780\/$/m, "the address from the told view");
  assert.deepEqual(calls, ["package.start", "operation.get"], "one request, one read before the end");
});

test("following an operation loads none of undici (Node's global WebSocket: 25-90 ms of a command's start)", async () => {
  const hook = join(dir, "modules-hook.cjs");
  const record = join(dir, "modules");
  writeFileSync(
    hook,
    `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(record)}, process.moduleLoadList.join("\\n")));\n`,
  );
  const run = await archy(["start", "wiki"], { NODE_OPTIONS: `--require ${hook}` });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^done in .*: wiki is running$/m, "followed to the end over the stream");
  const loaded = readFileSync(record, "utf8").split("\n");
  assert.ok(loaded.length > 10, "the load list was recorded");
  assert.deepEqual(
    loaded.filter((name) => /undici|websocket/i.test(name)),
    [],
  );
});

test("an install tells the app's warnings from the daemon's answer, without listing the apps to find them", async () => {
  const run = await archy(["install", "wiki"]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr.split("\n").filter((line) => line === `warning: wiki: ${WARNING}`).length, 1);
  assert.deepEqual(calls, ["package.install", "operation.get"]);
});

test("a backup's or restore's outcome says it is done and that the app stopped for it is on its way back to running, not 'stopped (desired: running)'", () => {
  assert.equal(
    outcome("backup", "wiki", { phase: "stopped", desired: "running" }),
    "wiki is backed up; it is stopped now, on its way to running (`archy status wiki` shows it)",
  );
  assert.equal(
    outcome("restore", "wiki", { phase: "starting", desired: "running" }),
    "wiki is restored; it is starting now, on its way to running (`archy status wiki` shows it)",
  );
  assert.equal(
    outcome("backup", "wiki", { phase: "running", desired: "running" }),
    "wiki is backed up and running",
  );
  assert.equal(
    outcome("backup", "wiki", { phase: "stopped", desired: "stopped" }),
    "wiki is backed up and stopped",
  );
  assert.equal(outcome("start", "wiki", { phase: "running", desired: "running" }), "wiki is running");
});
