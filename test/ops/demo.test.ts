/**
 * `npm run demo` (scripts/demo), as root: the host is set up, the samples validated, and the daemon
 * runs in the foreground as the service user with the sample apps offered for install; the banner
 * says where to connect, how to set the password, where the data is and how to stop. Ctrl-C (SIGINT
 * to the whole foreground process group, as a terminal sends it) stops the daemon gracefully, and a
 * second run finds the password set. No app is installed: the API lifecycle is tested elsewhere.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { SERVICE_USER } from "../../src/host/layout.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const isRoot = process.getuid?.() === 0;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === "object" && address ? address.port : 0;
}

type Demo = { child: ChildProcess; output: () => string; exited: Promise<number | null> };

/** Starts scripts/demo in a process group of its own (as a terminal would run it). */
function startDemo(env: Record<string, string>): Demo {
  const child = spawn(join(root, "scripts", "demo"), [], {
    cwd: root,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function until(what: string, demo: Demo, pattern: RegExp, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(demo.output())) {
    if (demo.child.exitCode !== null)
      assert.fail(`the demo exited (${demo.child.exitCode}) before ${what}:\n${demo.output()}`);
    if (Date.now() > deadline) assert.fail(`no ${what} within ${timeoutMs / 1000} s:\n${demo.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Ctrl-C in a terminal: SIGINT to every process of the foreground group. */
async function interrupt(demo: Demo): Promise<number | null> {
  process.kill(-(demo.child.pid as number), "SIGINT");
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the demo did not stop:\n${demo.output()}`)), 60_000);
  });
  try {
    return await Promise.race([demo.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe("the demo (npm run demo)", { skip: isRoot ? false : "needs root (it sets up the host)" }, () => {
  const scratch = mkdtempSync("/tmp/archy-demo-test-");
  chmodSync(scratch, 0o755); // the service user creates its data directory inside
  const dataDir = join(scratch, "data"); // created by the demo, for the service user
  let running: Demo | undefined;
  after(async () => {
    if (running && running.child.exitCode === null) {
      process.kill(-(running.child.pid as number), "SIGTERM");
      await running.exited;
    }
    rmSync(scratch, { recursive: true, force: true });
  });

  test("sets up the host, starts the daemon with the samples, says how to log in, stops on Ctrl-C", {
    timeout: 300_000,
  }, async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = { ARCHY_LISTEN: `127.0.0.1:${port}`, ARCHY_DATA_DIR: dataDir };
    const demo = startDemo(env);
    running = demo;
    await until("the banner", demo, /Stop: Ctrl-C here/);
    const out = demo.output();
    // Host setup ran (its checks pass, or were fixed just now by this or a concurrent run).
    assert.match(out, /== 1\/3 Host setup\n[\s\S]*doctor: /, out);
    assert.match(out, /4 valid, 0 invalid/, out);
    assert.match(out, new RegExp(`as the '${SERVICE_USER}' user`), out);
    assert.match(out, /Apps {7}hello-web mini-explorer mini-node notes/, out);
    assert.ok(out.includes(`Archipelago is running at ${url}`), out);
    assert.ok(out.includes(`OPEN ${url}/ in a browser: set the operator password there`), out);
    assert.match(out, /web UI: (up to date|built into)/, out);
    assert.ok(out.includes(`"method":"auth.setup"`), out);
    assert.ok(out.includes(`${dataDir}/state/cli-token`), out);
    assert.match(out, /npx archy install hello-web/, out);
    assert.ok(out.includes(`https://<app>.localhost:${port}/`), out);
    assert.ok(out.includes(`trust ${url}/ca.crt`), out);
    const ca = await fetch(`${url}/ca.crt`);
    assert.match(
      await ca.text(),
      /^-----BEGIN CERTIFICATE-----/,
      "the node's authority is where the banner says",
    );

    // What the banner says works: the web UI answers at the URL (served from the copy of the code
    // the service user runs), the samples are offered, the data is where it says, the service user
    // owns it, and the password can be set with the printed call.
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<div id="root"><\/div>/);
    assert.match(page.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);
    assert.equal(statSync(join(dataDir, "state", "cli-token")).mode & 0o777, 0o600);
    const rpc = async (method: string, params: object, headers: Record<string, string> = {}) => {
      const response = await fetch(`${url}/rpc/v1`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      });
      return { body: (await response.json()) as { result?: unknown; error?: unknown }, response };
    };
    const setup = await rpc("auth.setup", { password: "demo-test-password" });
    assert.ok(setup.body.result, JSON.stringify(setup.body));
    const cookie = (setup.response.headers.get("set-cookie") ?? "").split(";")[0] as string;
    const csrf = (setup.body.result as { csrfToken: string }).csrfToken;
    const available = await rpc("package.available", {}, { cookie, "x-csrf-token": csrf });
    assert.deepEqual(
      (available.body.result as { id: string }[]).map((app) => app.id),
      ["hello-web", "mini-explorer", "mini-node", "notes"],
    );

    assert.equal(await interrupt(demo), 0, demo.output());
    assert.match(demo.output(), /stopped; app containers keep running/);
    const refused = await fetch(`${url}/healthz`).then(
      () => "answered",
      () => "refused",
    );
    assert.equal(refused, "refused", "the daemon still answers after Ctrl-C");

    // Again: idempotent, and the password is kept.
    const again = startDemo(env);
    running = again;
    await until("the second banner", again, /Stop: Ctrl-C here/);
    assert.match(again.output(), /The operator password is set already/);
    assert.ok(again.output().includes(`"method":"auth.login"`), again.output());
    assert.equal(await interrupt(again), 0, again.output());
  });

  test("refuses to start a second daemon on an address that answers already", {
    timeout: 300_000,
  }, async () => {
    const port = await freePort();
    const env = { ARCHY_LISTEN: `127.0.0.1:${port}`, ARCHY_DATA_DIR: dataDir };
    const first = startDemo(env);
    running = first;
    await until("the banner", first, /Stop: Ctrl-C here/);
    const second = startDemo(env);
    const code = await second.exited;
    assert.equal(code, 1, second.output());
    assert.match(second.output(), /a daemon answers at http:\/\/127\.0\.0\.1:\d+ already/);
    assert.equal(await interrupt(first), 0, first.output());
  });
});
