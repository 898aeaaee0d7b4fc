/**
 * App access at the protocol level (docs/app-access.md): a real daemon (its API, its store, its
 * front door over HTTP and HTTPS) in front of stand-in apps on loopback ports — the apps are
 * installed through the API, never run (the fake Podman of the API tests), and the stand-ins listen
 * where their interfaces are published. What the real apps in containers show is
 * test/proxy/apps.test.ts.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";
import { SESSION_TTL_MS } from "../../src/api/auth.ts";
import { manualClock, ok, PASSWORD, rpc, setup, startDaemon, type TestDaemon } from "../api/support.ts";
import { freePort } from "../support/samples.ts";
import { call, cookiePair, loginThrough, nodeCa, type Reply, setCookie } from "./client.ts";
import { startUpstream, type Upstream } from "./upstream.ts";

const manifest = (id: string, port: number, interfaces: string) => `manifest: 1
id: ${id}
version: 1.0.0
name: ${id}
description: A stand-in app of the proxy tests
containers:
  web:
    image: localhost/archy-test/busybox:1
    ports:
      - { container: 8080, host: ${port} }
interfaces:
${interfaces}
`;

const MAIN = "px-main";
const OPEN = "px-open";
const EXPOSED = "px-exposed";
/** An app whose interface has the longest name a manifest allows (a DNS label: 63 characters). */
const LONG = "px-long";
const LONG_INTERFACE = "i".repeat(63);
const HOST = `${MAIN}.localhost`;
const HOOKS_HOST = `hooks.${MAIN}.localhost`;
const OPEN_HOST = `${OPEN}.localhost`;

let daemon: TestDaemon;
/** The requests the main stand-in app has seen for its webhook so far. */
const hooksSeen = () => main.seen.filter((r) => r.url.startsWith("/webhook")).map((r) => r.url);
let main: Upstream;
let open: Upstream;
let ca: string;
let bearer: string;

/** Waits (polling, up to a generous ceiling) until `check` holds; says what it saw otherwise. */
async function until<T>(what: string, probe: () => Promise<T>, check: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (check(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}; last saw ${JSON.stringify(last)}`);
}

/** A WebSocket to an app host through the daemon, resolved once open (or rejected with the refusal). */
function socketTo(port: number, host: string, headers: Record<string, string>): Promise<WebSocket> {
  const socket = new WebSocket(`wss://${host}:${port}/echo`, {
    headers,
    ca,
    lookup: ((_h: string, options: { all?: boolean }, done: (...args: unknown[]) => void) =>
      options.all ? done(null, [{ address: "127.0.0.1", family: 4 }]) : done(null, "127.0.0.1", 4)) as never,
  });
  return new Promise((resolve, reject) => {
    socket.once("open", () => resolve(socket));
    socket.once("unexpected-response", (_req, res) => reject(new Error(`refused: ${res.statusCode}`)));
    socket.once("error", reject);
  });
}

before(async () => {
  main = await startUpstream(await freePort());
  open = await startUpstream(await freePort());
  daemon = await startDaemon({
    apps: {
      [MAIN]: manifest(
        MAIN,
        main.port,
        `  ui: { container: web, port: 8080 }
  hooks: { container: web, port: 8080, public_paths: [/.well-known/, /webhook] }`,
      ),
      [OPEN]: manifest(OPEN, open.port, "  ui: { container: web, port: 8080, auth: none }"),
      [EXPOSED]: manifest(EXPOSED, await freePort(), "  ui: { container: web, port: 8080 }").replace(
        "host: ",
        "bind: 0.0.0.0, host: ",
      ),
      [LONG]: manifest(
        LONG,
        await freePort(),
        `  ${LONG_INTERFACE}: { container: web, port: 8080, auth: none }`,
      ),
    },
  });
  ca = nodeCa(daemon.dataDir);
  await setup(daemon.port);
  const { readFileSync } = await import("node:fs");
  bearer = readFileSync(daemon.tokenFile, "utf8").trim();
  await ok(
    daemon.port,
    "package.install",
    {
      id: MAIN,
      approve: [{ name: "interface.hooks", content: "public-paths hooks /.well-known/ /webhook" }],
    },
    { bearer },
  );
  await ok(
    daemon.port,
    "package.install",
    { id: OPEN, approve: [{ name: "interface.ui", content: "open-interface ui" }] },
    { bearer },
  );
});

after(async () => {
  await daemon?.close();
  await main?.close();
  await open?.close();
});

describe("names and URLs", () => {
  test("an interface the manifest publishes beyond the node is a warning the operator sees before install", async () => {
    const available = (await ok(daemon.port, "package.available", {}, { bearer })) as Array<{
      id: string;
      warnings: string[];
    }>;
    const warnings = Object.fromEntries(available.map((a) => [a.id, a.warnings]));
    assert.deepEqual(warnings[MAIN], []);
    assert.equal(warnings[EXPOSED]?.length, 1);
    assert.match(
      warnings[EXPOSED]?.[0] ?? "",
      /^containers\.web\.ports\[0\]\.bind: .*0\.0\.0\.0.*without the node's login/,
    );
  });

  test("package.list shows each interface at its host name under the node's, over HTTPS on the daemon's port", async () => {
    const apps = (await ok(daemon.port, "package.list", {}, { bearer })) as Array<{
      id: string;
      interfaces: Array<{ name: string; url: string | null }>;
    }>;
    const byId = Object.fromEntries(apps.map((a) => [a.id, a.interfaces]));
    assert.deepEqual(byId[MAIN], [
      { name: "ui", url: `https://${HOST}:${daemon.port}/` },
      { name: "hooks", url: `https://${HOOKS_HOST}:${daemon.port}/` },
    ]);
    assert.deepEqual(byId[OPEN], [{ name: "ui", url: `https://${OPEN_HOST}:${daemon.port}/` }]);
  });

  test("an app host over plain HTTP is sent to HTTPS (its session cookie is Secure)", async () => {
    const reply = await call(daemon.port, HOST, "/x?y=1", { scheme: "http" });
    assert.equal(reply.status, 308);
    assert.equal(reply.headers.location, `https://${HOST}:${daemon.port}/x?y=1`);
  });

  test("each app host gets a certificate of its own from the node's authority; a name nobody installed does not", async () => {
    const reply = await call(daemon.port, HOOKS_HOST, "/webhook", { ca });
    assert.equal(reply.status, 200, reply.text);
    await assert.rejects(
      call(daemon.port, "nobody.localhost", "/", { ca }),
      /altnames|Hostname\/IP does not match/,
      "no certificate is issued for a name that is not an installed app's",
    );
    await assert.rejects(
      call(daemon.port, HOST, "/", {}),
      /self-signed|unable to get local issuer|certificate/,
      "without the node's authority, the certificate is not trusted",
    );
  });

  test("the node's authority is downloadable, and /trust gives its fingerprint and how to trust it per system, over HTTP too", async () => {
    const { X509Certificate } = await import("node:crypto");
    const fingerprint = new X509Certificate(ca).fingerprint256;
    for (const scheme of ["http", "https"] as const) {
      const download = await call(daemon.port, "localhost", "/ca.crt", { scheme, ca });
      assert.equal(download.status, 200);
      assert.equal(new X509Certificate(download.text).fingerprint256, fingerprint);
      const trust = await call(daemon.port, "localhost", "/trust", { scheme, ca });
      assert.equal(trust.status, 200, trust.text);
      assert.match(String(trust.headers["content-type"]), /^text\/html/);
      assert.ok(trust.text.includes(fingerprint), "the page shows the authority's fingerprint");
      assert.match(trust.text, /href="\/ca\.crt"/);
      for (const system of ["Debian", "macOS", "Windows", "Firefox", "Android", "iOS"])
        assert.ok(trust.text.includes(system), `steps for ${system}`);
    }
    const login = await call(
      daemon.port,
      "localhost",
      `/app-login?to=${encodeURIComponent(`https://${HOST}:${daemon.port}/`)}`,
      {
        ca,
      },
    );
    assert.match(login.text, /href="\/trust"/, "the login page links to it");
  });

  test("a name under the node's that no app has is a 404 of the proxy, another name the API's refusal", async () => {
    const none = await call(daemon.port, "nobody.localhost", "/", { scheme: "http" });
    assert.equal(none.status, 308);
    const noneTls = await call(daemon.port, HOST, "/", {
      ca,
      headers: { host: `nobody.localhost:${daemon.port}` },
    });
    assert.equal(noneTls.status, 404);
    const other = await call(daemon.port, HOST, "/", {
      ca,
      headers: { host: `evil.example:${daemon.port}` },
    });
    assert.equal(other.status, 403, "a host nobody allowed gets the DNS-rebinding refusal");
  });
});

describe("the login in front of every app", () => {
  test("no session: a page is sent to the node's login with where it was going; other methods get 401", async () => {
    const page = await call(daemon.port, HOST, "/some/page?q=1", { ca });
    assert.equal(page.status, 302);
    const target = new URL(String(page.headers.location));
    assert.equal(target.origin, `https://localhost:${daemon.port}`);
    assert.equal(target.pathname, "/app-login");
    assert.equal(target.searchParams.get("to"), `https://${HOST}:${daemon.port}/some/page?q=1`);
    const post = await call(daemon.port, HOST, "/api", { ca, method: "POST", body: "x" });
    assert.equal(post.status, 401);
    assert.equal(main.seen.filter((s) => s.url === "/api").length, 0, "nothing reached the app");
  });

  test("the login form, a one-time ticket, then a host-only cookie: the app loads and knows the operator", async () => {
    const login = await loginThrough(daemon.port, HOST, "/hello?x=1", PASSWORD, ca);
    assert.equal(login.landed, `https://${HOST}:${daemon.port}/hello?x=1`);
    const reply = await call(daemon.port, HOST, "/hello?x=1", { ca, headers: { cookie: login.app } });
    assert.equal(reply.status, 200, reply.text);
    const seen = JSON.parse(reply.text) as { headers: Record<string, string> };
    assert.equal(seen.headers["x-archipelago-user"], "operator");
    assert.equal(seen.headers.host, `${HOST}:${daemon.port}`, "the app sees its public Host");
    assert.equal(seen.headers["x-forwarded-proto"], "https");
    assert.equal(seen.headers["x-forwarded-host"], `${HOST}:${daemon.port}`);
    assert.equal(seen.headers.cookie, undefined, "the node's cookies never reach the app");
  });

  test("the app cookie is HttpOnly, Secure, SameSite=Lax and host-only (no Domain); no session id stays in a URL", async () => {
    const first = await call(daemon.port, HOST, "/", { ca });
    const to = new URL(String(first.headers.location)).searchParams.get("to") ?? "";
    const posted = await call(daemon.port, "localhost", "/app-login", {
      ca,
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ password: PASSWORD, to }).toString(),
    });
    const ticketUrl = new URL(String(posted.headers.location));
    const redeemed = await call(daemon.port, HOST, `${ticketUrl.pathname}${ticketUrl.search}`, { ca });
    const cookie = setCookie(redeemed, "archy_app") ?? "";
    const attributes = cookie.split(";").map((a) => a.trim().toLowerCase());
    for (const attribute of ["httponly", "secure", "samesite=lax", "path=/"])
      assert.ok(attributes.includes(attribute), `${attribute} in ${cookie}`);
    assert.ok(!attributes.some((a) => a.startsWith("domain")), `no Domain: ${cookie}`);
    assert.equal(redeemed.headers.location, `https://${HOST}:${daemon.port}/`, "the landing has no ticket");
    assert.equal(redeemed.headers["referrer-policy"], "no-referrer");
  });

  test("a ticket works once (replay refused), on its own host only", async () => {
    const first = await call(daemon.port, HOST, "/", { ca });
    const to = new URL(String(first.headers.location)).searchParams.get("to") ?? "";
    const form = { password: PASSWORD, to };
    const post = () =>
      call(daemon.port, "localhost", "/app-login", {
        ca,
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(form).toString(),
      });
    const ticketPath = (reply: Reply) => {
      const url = new URL(String(reply.headers.location));
      return `${url.pathname}${url.search}`;
    };
    const path = ticketPath(await post());
    assert.equal((await call(daemon.port, HOST, path, { ca })).status, 303);
    const replay = await call(daemon.port, HOST, path, { ca });
    assert.equal(replay.status, 403, "a used ticket is refused");
    assert.equal(setCookie(replay, "archy_app"), undefined);
    const elsewhere = ticketPath(await post());
    const other = await call(daemon.port, HOOKS_HOST, elsewhere, { ca });
    assert.equal(other.status, 403, "a ticket for one host is refused by another");
    assert.equal((await call(daemon.port, HOST, elsewhere, { ca })).status, 403, "and is gone");
  });

  test("one host's cookie opens no other host (each app host has its own session)", async () => {
    const login = await loginThrough(daemon.port, HOST, "/", PASSWORD, ca);
    const hooks = await call(daemon.port, HOOKS_HOST, "/private", { ca, headers: { cookie: login.app } });
    assert.equal(hooks.status, 302, "the other host asks for its own login");
  });

  test("a logged-in operator (node cookie) goes straight through the login to the ticket", async () => {
    const login = await loginThrough(daemon.port, HOST, "/", PASSWORD, ca);
    const first = await call(daemon.port, HOOKS_HOST, "/private", { ca });
    const loginUrl = new URL(String(first.headers.location));
    const again = await call(daemon.port, "localhost", `${loginUrl.pathname}${loginUrl.search}`, {
      ca,
      headers: { cookie: login.operator },
    });
    assert.equal(again.status, 303);
    assert.match(
      String(again.headers.location),
      new RegExp(`^https://${HOOKS_HOST}:${daemon.port}/\\.archipelago/login\\?ticket=`),
    );
  });

  test("a cross-site navigation to the login without the node's Strict cookie hops once through the node's own page", async () => {
    const first = await call(daemon.port, HOST, "/", { ca });
    const loginUrl = new URL(String(first.headers.location));
    const hop = await call(daemon.port, "localhost", `${loginUrl.pathname}${loginUrl.search}`, {
      ca,
      headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate" },
    });
    assert.equal(hop.status, 200);
    assert.match(hop.text, /http-equiv="refresh"/);
    assert.match(hop.text, /hop=1/);
    const form = await call(daemon.port, "localhost", `${loginUrl.pathname}${loginUrl.search}&hop=1`, {
      ca,
      headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate" },
    });
    assert.match(form.text, /<form method="post"/, "the second time, the form: no loop");
  });

  test("a wrong password shows the form again with the reason, and sets nothing", async () => {
    const first = await call(daemon.port, HOST, "/", { ca });
    const to = new URL(String(first.headers.location)).searchParams.get("to") ?? "";
    const reply = await call(daemon.port, "localhost", "/app-login", {
      ca,
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ password: "not the password", to }).toString(),
      from: "127.0.0.7",
    });
    assert.equal(reply.status, 401);
    assert.match(reply.text, /wrong password/);
    assert.equal(reply.headers["set-cookie"], undefined);
  });
});

describe("open redirects through the return address (every one refused, no Location)", () => {
  const probes = (port: number) => [
    "https://evil.example/",
    "//evil.example/",
    "/relative",
    "javascript:alert(1)",
    `https://${HOST}.evil.example:${port}/`,
    `https://evil.example\\@${HOST}:${port}/`,
    `https://user@${HOST}:${port}/`,
    `https://${HOST}:${port}@evil.example/`,
    `http://${HOST}:${port}/`,
    `https://${HOST}:${port + 1}/`,
    `https://${HOST}/`,
    `https://localhost:${port}/`,
    `https://nobody.localhost:${port}/`,
    `https://127.0.0.1:${port}/`,
    `https://${HOST}%2eevil.example:${port}/`,
    `https://${"a".repeat(5000)}.localhost:${port}/`,
  ];

  test("GET /app-login", async () => {
    for (const to of probes(daemon.port)) {
      const reply = await call(daemon.port, "localhost", `/app-login?to=${encodeURIComponent(to)}`, { ca });
      assert.equal(reply.status, 400, `${to}: ${reply.status} ${reply.text.slice(0, 200)}`);
      assert.equal(reply.headers.location, undefined, to);
    }
  });

  test("POST /app-login (with the right password: still nowhere else)", async () => {
    for (const to of probes(daemon.port).slice(0, 6)) {
      const reply = await call(daemon.port, "localhost", "/app-login", {
        ca,
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ password: PASSWORD, to }).toString(),
      });
      assert.equal(reply.status, 400, `${to}: ${reply.status}`);
      assert.equal(reply.headers.location, undefined, to);
      assert.equal(reply.headers["set-cookie"], undefined, `${to}: no session either`);
    }
  });

  test("the ticket landing goes only to a path of its own host, whatever the path looks like", async () => {
    const login = await loginThrough(daemon.port, HOST, "//evil.example/x", PASSWORD, ca);
    assert.equal(login.landed, `https://${HOST}:${daemon.port}//evil.example/x`);
  });
});

describe("identity headers and public parts", () => {
  test("forged identity headers (X-Archipelago-*, X-Forwarded-*, Forwarded) never reach the app", async () => {
    main.seen.length = 0;
    const reply = await call(daemon.port, HOOKS_HOST, "/webhook", {
      ca,
      headers: {
        "x-archipelago-user": "admin",
        "X-Archipelago-Role": "root",
        "x-forwarded-for": "10.6.6.6",
        "x-forwarded-host": "evil.example",
        forwarded: "for=10.6.6.6",
      },
    });
    assert.equal(reply.status, 200);
    const headers = main.seen.at(-1)?.headers ?? {};
    assert.equal(headers["x-archipelago-user"], undefined, "no session: no identity");
    assert.equal(headers["x-archipelago-role"], undefined);
    assert.equal(headers["x-forwarded-for"], "127.0.0.1");
    assert.equal(headers["x-forwarded-host"], `${HOOKS_HOST}:${daemon.port}`);
    assert.equal(headers.forwarded, undefined);
  });

  test("invariant: the headers the proxy sets reach the app whatever a client lists in Connection (hop-by-hop names cannot strip them)", async () => {
    const login = await loginThrough(daemon.port, HOST, "/", PASSWORD, ca);
    const reply = await call(daemon.port, HOST, "/hop", {
      ca,
      headers: {
        cookie: login.app,
        connection:
          "keep-alive, X-Archipelago-User, x-forwarded-for, x-forwarded-proto, x-forwarded-host, x-forwarded-port, host",
      },
    });
    assert.equal(reply.status, 200, reply.text);
    const seen = JSON.parse(reply.text) as { headers: Record<string, string> };
    assert.equal(seen.headers["x-archipelago-user"], "operator");
    assert.equal(seen.headers.host, `${HOST}:${daemon.port}`);
    assert.equal(seen.headers["x-forwarded-for"], "127.0.0.1");
    assert.equal(seen.headers["x-forwarded-proto"], "https");
    assert.equal(seen.headers["x-forwarded-host"], `${HOST}:${daemon.port}`);
    assert.equal(seen.headers["x-forwarded-port"], String(daemon.port));
  });

  test("public paths are open, and only them: canonical forms only (no dot segments, encoded slashes or dots)", async () => {
    const open = ["/.well-known/acme-challenge/abc", "/.well-known/", "/webhook", "/webhook?x=1"];
    const closed = [
      "/",
      "/webhook/more",
      "/webhooks",
      "/.well-known",
      "/.well-known/../admin",
      "/.well-known/%2e%2e/admin",
      "/.well-known/%2E%2E%2Fadmin",
      "/.well-known/..%2fadmin",
      "/.well-known//x",
      "/.well-known/./x",
      "/.well-known/\\..\\admin",
      "/.well-known/%zz",
      "//webhook",
    ];
    for (const path of open) {
      const reply = await call(daemon.port, HOOKS_HOST, path, { ca });
      assert.equal(reply.status, 200, `${path} is public: ${reply.status}`);
    }
    for (const path of closed) {
      const reply = await call(daemon.port, HOOKS_HOST, path, { ca });
      assert.ok(
        [302, 400].includes(reply.status),
        `${path} is not public: ${reply.status} ${reply.text.slice(0, 100)}`,
      );
    }
    assert.ok(
      !main.seen.some((s) => s.url.includes("admin") || s.url === "/"),
      "no closed path reached the app",
    );
  });

  test("an `auth: none` interface is open to anyone, still without forged identity", async () => {
    const reply = await call(daemon.port, OPEN_HOST, "/anything", {
      ca,
      headers: { "x-archipelago-user": "operator" },
    });
    assert.equal(reply.status, 200);
    const seen = JSON.parse(reply.text) as { headers: Record<string, string> };
    assert.equal(seen.headers["x-archipelago-user"], undefined);
  });

  test("an opening of the longest interface name (interface.<63 characters>) is approved and revoked by its name", async () => {
    const name = `interface.${LONG_INTERFACE}`;
    await ok(
      daemon.port,
      "package.install",
      { id: LONG, approve: [{ name, content: `open-interface ${LONG_INTERFACE}` }] },
      { bearer },
    );
    const approved = (await ok(daemon.port, "package.get", { id: LONG }, { bearer })) as {
      permissions: Array<{ name: string; approved: boolean }>;
    };
    assert.deepEqual(
      approved.permissions.map((p) => [p.name, p.approved]),
      [[name, true]],
    );
    await ok(daemon.port, "package.revoke", { id: LONG, permission: name }, { bearer });
    const revoked = (await ok(daemon.port, "package.get", { id: LONG }, { bearer })) as typeof approved;
    assert.deepEqual(
      revoked.permissions.map((p) => [p.name, p.approved]),
      [[name, false]],
    );
  });

  test("an opening the operator has not approved (revoked) stays closed", async () => {
    await ok(daemon.port, "package.revoke", { id: OPEN, permission: "interface.ui" }, { bearer });
    await until(
      "the revoked opening to close",
      () => call(daemon.port, OPEN_HOST, "/anything", { ca }),
      (reply) => reply.status === 302,
    );
  });

  test("a cross-site or cross-app request with the session cookie is refused unless it is a page navigation", async () => {
    const login = await loginThrough(daemon.port, HOST, "/", PASSWORD, ca);
    const cookie = login.app;
    const navigate = await call(daemon.port, HOST, "/page", {
      ca,
      headers: { cookie, "sec-fetch-site": "same-site", "sec-fetch-mode": "navigate" },
    });
    assert.equal(navigate.status, 200);
    const forged = await call(daemon.port, HOST, "/delete", {
      ca,
      method: "POST",
      body: "x",
      headers: { cookie, "sec-fetch-site": "same-site", "sec-fetch-mode": "cors" },
    });
    assert.equal(forged.status, 403);
    const oldBrowser = await call(daemon.port, HOST, "/delete", {
      ca,
      method: "POST",
      body: "x",
      headers: { cookie, origin: `https://${OPEN_HOST}:${daemon.port}` },
    });
    assert.equal(oldBrowser.status, 403);
    const own = await call(daemon.port, HOST, "/save", {
      ca,
      method: "POST",
      body: "x",
      headers: { cookie, origin: `https://${HOST}:${daemon.port}`, "sec-fetch-site": "same-origin" },
    });
    assert.equal(own.status, 200);
  });
});

describe("what an app needs through the proxy", () => {
  let cookie: string;
  before(async () => {
    cookie = (await loginThrough(daemon.port, HOST, "/", PASSWORD, ca)).app;
  });

  test("a redirect to the app's loopback address comes back as its public address; cookies stay on its host", async () => {
    const redirect = await call(daemon.port, HOST, "/redirect", { ca, headers: { cookie } });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.location, `https://${HOST}:${daemon.port}/landed`);
    const cookies = await call(daemon.port, HOST, "/cookie", { ca, headers: { cookie } });
    assert.deepEqual(cookies.headers["set-cookie"], ["theirs=1; Path=/; HttpOnly", "plain=2; Path=/"]);
  });

  test("WebSocket: echoes through the proxy with the session; refused without it or from another origin", async () => {
    const socket = await socketTo(daemon.port, HOST, { cookie, origin: `https://${HOST}:${daemon.port}` });
    const echoed = once(socket, "message");
    socket.send("hello through the proxy");
    assert.equal(String((await echoed)[0]), "hello through the proxy");
    const big = Buffer.alloc(200_000, 7);
    const echoedBig = once(socket, "message");
    socket.send(big);
    assert.equal(Buffer.compare((await echoedBig)[0] as Buffer, big), 0);
    socket.close();
    await assert.rejects(socketTo(daemon.port, HOST, {}), /401/);
    await assert.rejects(
      socketTo(daemon.port, HOST, { cookie, origin: `https://${OPEN_HOST}:${daemon.port}` }),
      /403/,
    );
  });

  test("server-sent events arrive as they are sent (no buffering), long polls wait", async () => {
    const { request } = await import("node:https");
    const first = await new Promise<string>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: daemon.port,
          path: "/sse",
          servername: HOST,
          ca,
          headers: { host: `${HOST}:${daemon.port}`, cookie },
        },
        (res) => {
          res.once("data", (chunk: Buffer) => {
            resolve(chunk.toString());
            res.destroy();
          });
        },
      );
      req.on("error", reject);
      req.end();
    });
    assert.match(first, /data: first/, "the first event arrived while the stream is still open");
    await call(daemon.port, HOST, "/sse-next", { ca, headers: { cookie } });
    const poll = await call(daemon.port, HOST, "/poll?ms=1500", { ca, headers: { cookie } });
    assert.equal(poll.text, "polled\n");
  });

  test("a 50 MB upload streams to the app whole; a 50 MB download comes back whole", async () => {
    const size = 50 * 1024 * 1024;
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent >= size) return this.push(null);
        const piece = Buffer.alloc(Math.min(256 * 1024, size - sent), 1);
        sent += piece.length;
        this.push(piece);
      },
    });
    const upload = await call(daemon.port, HOST, "/upload", {
      ca,
      method: "PUT",
      body,
      headers: { cookie, "content-type": "application/octet-stream" },
    });
    assert.deepEqual(JSON.parse(upload.text), { received: size });
    const download = await call(daemon.port, HOST, `/bytes?n=${size}`, { ca, headers: { cookie } });
    assert.equal(download.body.length, size);
  });

  /**
   * Opens `path` on the main app's host over a TCP connection of the test's own (`raw`, under the
   * TLS one), reads `before` bytes of the answer, then hands the still-open response over (paused,
   * nothing more read) with what was read so far.
   */
  /** A request for `path` on the app's host through the daemon, on a connection of its own. */
  const appRequest = async (path: string, onResponse: (res: import("node:http").IncomingMessage) => void) => {
    const { request } = await import("node:https");
    return request(
      {
        host: "127.0.0.1",
        port: daemon.port,
        path,
        servername: HOST,
        ca,
        agent: false,
        headers: { host: `${HOST}:${daemon.port}`, cookie },
      },
      onResponse,
    );
  };

  const readThenPause = async (path: string, before: number) => {
    const { request } = await import("node:https");
    const { connect: tlsConnect } = await import("node:tls");
    const { connect } = await import("node:net");
    const raw = connect(daemon.port, "127.0.0.1");
    raw.on("error", () => {});
    return new Promise<{
      res: import("node:http").IncomingMessage;
      raw: import("node:net").Socket;
      received: number;
    }>((resolve, reject) => {
      const req = request(
        {
          path,
          createConnection: () => tlsConnect({ socket: raw, servername: HOST, ca }),
          headers: { host: `${HOST}:${daemon.port}`, cookie },
        },
        (res) => {
          let received = 0;
          const onData = (chunk: Buffer) => {
            received += chunk.length;
            if (received < before) return;
            res.off("data", onData);
            res.pause();
            resolve({ res, raw, received });
          };
          res.on("data", onData);
          res.on("error", () => {});
        },
      );
      req.on("error", reject);
      req.end();
    });
  };

  /** Waits until the app has handed nothing more to its connections for 20 looks in a row (50 ms apart). */
  const appStopsSending = async (ceilingMs: number) => {
    const deadline = Date.now() + ceilingMs;
    let last = main.sent();
    let still = 0;
    while (still < 20) {
      if (Date.now() > deadline)
        throw new Error(`the app was still sending after ${ceilingMs} ms: ${last} bytes`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const now = main.sent();
      still = now === last ? still + 1 : 0;
      last = now;
    }
    return last;
  };

  test("invariant: a reader that stops reading stops the app's sending — the proxy holds a bounded number of bytes of a 1 GiB download, not the rest", async (t) => {
    const GiB = 1024 * 1024 * 1024;
    const MiB = 1024 * 1024;
    const from = main.sent();
    const { res, received } = await readThenPause(`/bytes?n=${GiB}`, 8 * MiB);
    try {
      const sent = (await appStopsSending(120_000)) - from;
      t.diagnostic(
        `the app handed over ${(sent / MiB).toFixed(1)} MiB, the reader read ${(received / MiB).toFixed(1)} MiB`,
      );
      // Between the app and the paused reader: socket buffers on both legs (the kernel's, up to its
      // tcp_rmem/tcp_wmem maxima) and a few stream buffers. A proxy that read on regardless would
      // have taken the whole gigabyte from the app.
      assert.ok(
        sent - received < 96 * MiB,
        `the app handed over ${(sent / MiB).toFixed(1)} MiB while the reader had read ${(received / MiB).toFixed(1)} MiB`,
      );
    } finally {
      res.destroy();
    }
  });

  test("an app that breaks its connection mid-body ends that download only; the daemon serves on", async () => {
    const MiB = 1024 * 1024;
    const cut = await new Promise<{ received: number; error: string }>((resolve) => {
      void appRequest(`/bytes?n=${64 * MiB}&cut=${4 * MiB}`, (res) => {
        let received = 0;
        res.on("data", (chunk: Buffer) => {
          received += chunk.length;
        });
        res.on("error", (error) => resolve({ received, error: error.message }));
        res.on("end", () => resolve({ received, error: "" }));
      }).then((req) => {
        req.on("error", (error) => resolve({ received: 0, error: error.message }));
        req.end();
      });
    });
    assert.ok(cut.received < 64 * MiB, `the broken download did not look whole: ${JSON.stringify(cut)}`);
    const next = await call(daemon.port, HOST, "/after-a-cut", { ca, headers: { cookie } });
    assert.equal(next.status, 200, "the daemon still answers");
  });

  test("invariant: an app that closes its connection after a body a slow reader is still reading cannot take the daemon down (undici 7's assert(!this.paused) at the socket's end)", async () => {
    const MiB = 1024 * 1024;
    const slowly = (path: string) =>
      new Promise<number>((resolve, reject) => {
        void appRequest(path, (res) => {
          let received = 0;
          let paused = false;
          // A reader that stops for a while once it has 1 MiB: the app writes its last bytes and
          // its FIN meanwhile, while back-pressure holds the proxy's upstream parser paused.
          res.on("data", (chunk: Buffer) => {
            received += chunk.length;
            if (paused || received < MiB) return;
            paused = true;
            res.pause();
            setTimeout(() => res.resume(), 1_000);
          });
          res.on("end", () => resolve(received));
          res.on("error", reject);
        }).then((req) => {
          req.on("error", reject);
          req.end();
        });
      });
    for (let round = 0; round < 4; round++)
      assert.equal(
        await slowly(`/bytes?n=${16 * MiB}&close=1`),
        16 * MiB,
        `round ${round}: every byte arrived`,
      );
    const next = await call(daemon.port, HOST, "/after-slow-reads", { ca, headers: { cookie } });
    assert.equal(next.status, 200, "the daemon still answers");
  });

  test("a reader that resets its connection mid-download ends the app's sending too; the daemon serves on", async () => {
    const MiB = 1024 * 1024;
    const from = main.sent();
    const { raw } = await readThenPause(`/bytes?n=${1024 * MiB}`, 4 * MiB);
    raw.resetAndDestroy();
    const sent = (await appStopsSending(120_000)) - from;
    assert.ok(
      sent < 256 * MiB,
      `the app went on sending to a reader that is gone: ${(sent / MiB).toFixed(1)} MiB`,
    );
    const next = await call(daemon.port, HOST, "/after-a-reset", { ca, headers: { cookie } });
    assert.equal(next.status, 200, "the daemon still answers");
  });

  test("large headers pass both ways (32 KiB)", async () => {
    const big = "c".repeat(32 * 1024);
    const reply = await call(daemon.port, HOST, "/big-header?n=32768", {
      ca,
      headers: { cookie: `${cookie}; big=${big}` },
    });
    assert.equal(reply.status, 200);
    assert.equal(String(reply.headers["x-big"]).length, 32 * 1024);
    const seen = main.seen.at(-1)?.headers.cookie ?? "";
    assert.equal(seen, `big=${big}`, "the app's own cookies pass, the node's do not");
  });

  test("an absolute-form request target cannot name another upstream", async () => {
    const reply = await call(daemon.port, HOST, "http://evil.example/", { ca, headers: { cookie } });
    assert.ok(reply.status >= 400 && reply.status < 500, `${reply.status}`);
  });

  test("request smuggling: ambiguous framing (CL+TE, two lengths, a folded or spaced header) is refused before any app sees it", async () => {
    const { connect } = await import("node:tls");
    const raw = (request: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect({ host: "127.0.0.1", port: daemon.port, servername: HOOKS_HOST, ca }, () =>
          socket.end(request),
        );
        let answer = "";
        socket.on("data", (chunk: Buffer) => {
          answer += chunk.toString("latin1");
        });
        socket.on("close", () => resolve(answer));
        socket.on("error", reject);
      });
    const host = `Host: ${HOOKS_HOST}:${daemon.port}\r\n`;
    const smuggled = `GET /webhook?smuggled=1 HTTP/1.1\r\n${host}\r\n`;
    const attempts = {
      "CL and TE": `POST /webhook HTTP/1.1\r\n${host}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
      "two lengths": `POST /webhook HTTP/1.1\r\n${host}Content-Length: 0\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
      "TE obfuscated": `POST /webhook HTTP/1.1\r\n${host}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${smuggled}`,
      "space before the colon": `POST /webhook HTTP/1.1\r\n${host}Content-Length : ${smuggled.length}\r\n\r\n${smuggled}`,
      "folded header": `POST /webhook HTTP/1.1\r\n${host}X-A: a\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
    };
    const before = hooksSeen();
    for (const [name, request] of Object.entries(attempts)) {
      const answer = await raw(request);
      assert.match(answer, /^HTTP\/1\.1 400 /, `${name}: ${JSON.stringify(answer.slice(0, 200))}`);
    }
    assert.deepEqual(hooksSeen().slice(before.length), [], "the app saw none of these requests");
  });
});

describe("the end of the operator session ends app access", () => {
  test("logout: the app host refuses from the next request on (a remembered session check is dropped), and an open WebSocket is closed", async () => {
    const login = await loginThrough(daemon.port, HOST, "/", PASSWORD, ca);
    const socket = await socketTo(daemon.port, HOST, { cookie: login.app });
    const closed = once(socket, "close");
    // Checked just now: the proxy trusts this check for a while, unless a logout intervenes.
    assert.equal((await call(daemon.port, HOST, "/", { ca, headers: { cookie: login.app } })).status, 200);
    const logout = await rpc(daemon.port, "auth.logoutAll", {}, { bearer });
    assert.equal(logout.error, undefined);
    const reply = await call(daemon.port, HOST, "/", { ca, headers: { cookie: login.app } });
    assert.equal(reply.status, 302, "the first request after the logout goes to the login");
    await closed;
    assert.equal(socket.readyState, WebSocket.CLOSED);
  });
});

describe("expiry", () => {
  let clocked: TestDaemon;
  let upstream: Upstream;
  const clock = manualClock();
  before(async () => {
    upstream = await startUpstream(await freePort());
    clocked = await startDaemon({
      clock: clock.now,
      apps: { [MAIN]: manifest(MAIN, upstream.port, "  ui: { container: web, port: 8080 }") },
    });
    await setup(clocked.port);
    const { readFileSync } = await import("node:fs");
    await ok(
      clocked.port,
      "package.install",
      { id: MAIN },
      { bearer: readFileSync(clocked.tokenFile, "utf8").trim() },
    );
  });
  after(async () => {
    await clocked?.close();
    await upstream?.close();
  });

  test("an expired operator session ends the app host's session", async () => {
    const caOf = nodeCa(clocked.dataDir);
    const login = await loginThrough(clocked.port, HOST, "/", PASSWORD, caOf);
    assert.equal(
      (await call(clocked.port, HOST, "/", { ca: caOf, headers: { cookie: login.app } })).status,
      200,
    );
    clock.advance(SESSION_TTL_MS + 1);
    const reply = await until(
      "the expired session to be refused",
      () => call(clocked.port, HOST, "/", { ca: caOf, headers: { cookie: login.app } }),
      (r) => r.status === 302,
    );
    assert.equal(reply.status, 302);
    assert.ok(cookiePair(`${login.app}`).startsWith("archy_app="));
  });
});
