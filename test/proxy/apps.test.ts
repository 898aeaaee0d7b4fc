/**
 * App access with real apps (docs/app-access.md): `archy daemon` as the rootless test user, the
 * sample hello-web and two test apps running in Podman, reached only through the daemon's port by
 * host name over HTTPS — the login in front, the app's page, a WebSocket, a 1 GiB download with the
 * daemon's memory watched, identity headers as a real app receives them, public paths and `auth:
 * none`, the end of access at logout — and Chromium opening the app with and without the node's
 * authority trusted.
 */
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { after, afterEach, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import WebSocket from "ws";
import { appDnsLabel } from "../../src/manifest/naming.ts";
import { PASSWORD } from "../api/support.ts";
import { podman } from "../support/rootless.ts";
import { call, loginThrough, nodeCa } from "./client.ts";
import { startNode, type TestNode } from "./node.ts";

const CHROMIUM = "/usr/bin/chromium";
const MiB = 1024 * 1024;

let node: TestNode;
let ca: string;
const host = (id: string, iface?: string) => `${iface ? `${iface}.` : ""}${appDnsLabel(id)}.localhost`;

before(async () => {
  node = await startNode();
  ca = nodeCa(node.dataDir);
});
after(async () => {
  await node?.close();
});
// A test that lost the daemon says how it ended (its signal or exit code, its last words), not
// only the ECONNRESET and ECONNREFUSED that follow.
afterEach(() => {
  const lost = node?.incidents.splice(0) ?? [];
  assert.deepEqual(lost, [], "the daemon exited on its own during this test");
});

/** The daemon's resident memory, from /proc. */
function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  assert.ok(kb > 0, `VmRSS of ${pid}`);
  return kb * 1024;
}

describe("real apps through the proxy", () => {
  test("an interface's port is published on 127.0.0.1 only (the manifest gives no bind)", async () => {
    const inspect = JSON.parse(await podman(["container", "inspect", node.ids.hello])) as Array<{
      HostConfig: { PortBindings: Record<string, Array<{ HostIp: string; HostPort: string }>> };
    }>;
    const bindings = inspect[0]?.HostConfig.PortBindings["8080/tcp"] ?? [];
    assert.deepEqual(
      bindings.map((b) => b.HostIp),
      ["127.0.0.1"],
      `the interface's port is on loopback: ${JSON.stringify(bindings)}`,
    );
  });

  test("unauthenticated: sent to the login; after it, hello-web's page loads", async () => {
    const login = await loginThrough(node.port, host(node.ids.hello), "/", PASSWORD, ca);
    const page = await call(node.port, host(node.ids.hello), "/", { ca, headers: { cookie: login.app } });
    assert.equal(page.status, 200);
    assert.match(page.text, /<h1>Hello Web<\/h1>/);
  });

  test("the WebSocket of a real app echoes through the proxy", async () => {
    const login = await loginThrough(node.port, host(node.ids.echo), "/", PASSWORD, ca);
    const origin = `https://${host(node.ids.echo)}:${node.port}`;
    const socket = new WebSocket(`wss://${host(node.ids.echo)}:${node.port}/`, {
      headers: { cookie: login.app, origin },
      ca,
      lookup: ((_h: string, options: { all?: boolean }, done: (...args: unknown[]) => void) =>
        options.all
          ? done(null, [{ address: "127.0.0.1", family: 4 }])
          : done(null, "127.0.0.1", 4)) as never,
    });
    await once(socket, "open");
    for (const message of ["hello", "through the proxy to a container", "x".repeat(300)]) {
      const echoed = once(socket, "message");
      socket.send(message);
      assert.equal(String((await echoed)[0]), message);
    }
    socket.close();
  });

  /**
   * Downloads `path` through the proxy, reading as fast as it comes except for `pauseMs` once
   * `pauseAfter` bytes arrived (the reader stops: back-pressure must stop the daemon reading from
   * the app, or it would hold what keeps coming); `sample` runs every 50 ms. Resolves with the bytes read.
   */
  const download = (
    cookie: string,
    path: string,
    sample: () => void,
    pause?: { after: number; ms: number },
  ) =>
    new Promise<number>((resolve, reject) => {
      let received = 0;
      let paused = false;
      const sampler = setInterval(sample, 50);
      const req = request(
        {
          host: "127.0.0.1",
          port: node.port,
          path,
          servername: host(node.ids.big),
          ca,
          headers: { host: `${host(node.ids.big)}:${node.port}`, cookie },
        },
        (res) => {
          assert.equal(res.statusCode, 200);
          res.on("data", (chunk: Buffer) => {
            received += chunk.length;
            if (pause && !paused && received >= pause.after) {
              paused = true;
              res.pause();
              setTimeout(() => res.resume(), pause.ms);
            }
          });
          res.on("end", () => {
            clearInterval(sampler);
            resolve(received);
          });
          res.on("error", (error) => {
            clearInterval(sampler);
            reject(error);
          });
        },
      );
      req.on("error", (error) => {
        clearInterval(sampler);
        reject(error);
      });
      req.end();
    });

  test("a 1 GiB download streams whole, paused midway, while the daemon's memory stays within 50 MiB of where it was", async (t) => {
    const login = await loginThrough(node.port, host(node.ids.big), "/private.txt", PASSWORD, ca);
    const pid = node.pid();
    // The first large transfer sizes the daemon's heap once (V8's young generation grows to its
    // maximum under steady allocation: about 70 MiB here, and never again after); what must hold is
    // that a transfer of any size then costs the same bounded memory. So: one 64 MiB transfer first.
    assert.equal(await download(login.app, "/warm", () => {}), 64 * MiB);
    const baseline = rssBytes(pid);
    let peak = baseline;
    const received = await download(
      login.app,
      "/big",
      () => {
        peak = Math.max(peak, rssBytes(pid));
      },
      { after: 256 * MiB, ms: 3_000 },
    );
    peak = Math.max(peak, rssBytes(pid));
    assert.equal(received, 1024 * MiB, "every byte arrived");
    t.diagnostic(
      `daemon RSS ${(baseline / MiB).toFixed(1)} MiB, peak +${((peak - baseline) / MiB).toFixed(1)} MiB`,
    );
    assert.ok(
      peak - baseline < 50 * MiB,
      `the daemon grew by ${((peak - baseline) / MiB).toFixed(1)} MiB (from ${(baseline / MiB).toFixed(1)} MiB)`,
    );
  });

  test("a real app sees the proxy's identity header, never a forged one", async () => {
    const login = await loginThrough(node.port, host(node.ids.big), "/cgi-bin/env", PASSWORD, ca);
    const env = await call(node.port, host(node.ids.big), "/cgi-bin/env", {
      ca,
      headers: { cookie: login.app, "x-archipelago-user": "admin", "x-archipelago-role": "root" },
    });
    assert.equal(env.status, 200, env.text);
    assert.match(env.text, /^HTTP_X_ARCHIPELAGO_USER=operator$/m);
    assert.doesNotMatch(env.text, /HTTP_X_ARCHIPELAGO_ROLE/);
    assert.doesNotMatch(env.text, /admin/);
    assert.doesNotMatch(env.text, /archy_app=/, "the node's cookies stay out of the app");
  });

  test("`auth: none` is open, a public path is open and only it", async () => {
    const open = await call(node.port, host(node.ids.big, "open"), "/private.txt", { ca });
    assert.equal(open.text, "private\n", "the auth: none interface needs no login");
    const pub = await call(node.port, host(node.ids.big), "/pub/file.txt", { ca });
    assert.equal(pub.text, "public\n");
    for (const path of [
      "/private.txt",
      "/pub/../private.txt",
      "/pub/%2e%2e/private.txt",
      "/pub",
      "/cgi-bin/env",
    ]) {
      const closed = await call(node.port, host(node.ids.big), path, { ca });
      assert.ok([302, 400].includes(closed.status), `${path}: ${closed.status} ${closed.text.slice(0, 80)}`);
    }
  });

  test("a logged-out operator session loses app access (polled, generous ceiling)", async () => {
    const login = await loginThrough(node.port, host(node.ids.hello), "/", PASSWORD, ca);
    const page = () => call(node.port, host(node.ids.hello), "/", { ca, headers: { cookie: login.app } });
    assert.equal((await page()).status, 200);
    await node.api("auth.logoutAll");
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await page()).status;
      if (status === 302) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(status, 302, "the app host sends the ended session back to the login");
  });
});

describe("Chromium", () => {
  const flags = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ];

  /** The base64 SHA-256 of the authority's public key: what Chromium's --ignore-certificate-errors-spki-list takes. */
  const spki = () =>
    createHash("sha256")
      .update(new X509Certificate(ca).publicKey.export({ type: "spki", format: "der" }))
      .digest("base64");

  test("with the node's authority trusted: opens https://<app>.localhost:<port>/, logs in through the redirect, sees the app", async () => {
    assert.ok(existsSync(CHROMIUM), `no ${CHROMIUM}: install Debian's chromium (apt-get install chromium)`);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [...flags, `--ignore-certificate-errors-spki-list=${spki()}`],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`https://${host(node.ids.hello)}:${node.port}/`);
      assert.equal(new URL(page.url()).hostname, "localhost", `at the node's login: ${page.url()}`);
      await page.getByLabel("Operator password").fill(PASSWORD);
      await page.getByRole("button", { name: "Log in" }).click();
      await page.getByRole("heading", { name: "Hello Web" }).waitFor({ timeout: 30_000 });
      assert.equal(
        page.url(),
        `https://${host(node.ids.hello)}:${node.port}/`,
        "back where it was going, no ticket in the URL",
      );
      const cookies = await page.context().cookies(`https://${host(node.ids.hello)}:${node.port}/`);
      const app = cookies.find((c) => c.name === "archy_app");
      assert.ok(app?.httpOnly && app.secure && app.sameSite === "Lax" && app.domain === host(node.ids.hello));
      // Logged in now: another app opens without the form (the node's session, then a ticket).
      await page.goto(`https://${host(node.ids.big)}:${node.port}/private.txt`);
      assert.equal(await page.textContent("body"), "private\n");
    } finally {
      await browser.close();
    }
  });

  test("without it: a certificate error, no page and no fall-back to HTTP", async () => {
    assert.ok(existsSync(CHROMIUM), `no ${CHROMIUM}: install Debian's chromium (apt-get install chromium)`);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: flags });
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on("request", (r) => requests.push(r.url()));
      await assert.rejects(
        page.goto(`https://${host(node.ids.hello)}:${node.port}/`),
        /ERR_CERT_AUTHORITY_INVALID/,
      );
      assert.ok(
        requests.every((url) => url.startsWith("https:")),
        `no plain HTTP request: ${requests.join(", ")}`,
      );
    } finally {
      await browser.close();
    }
  });
});
