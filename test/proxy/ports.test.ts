/**
 * Port-per-interface mode (docs/app-access.md#clients-that-cannot-use-names), seen from another
 * machine — a network namespace of the test's own — as a client that cannot use names sees it: each
 * interface on a port of its own, by the host's address, behind the same login over TLS with the
 * node's authority; the ticket and the session cookie bound to the port; identity headers stripped;
 * the app's container port still refused; the port the same after a restart.
 */
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";
import { exec } from "../../src/system/exec.ts";
import { PASSWORD } from "../api/support.ts";
import { nodeCa } from "./client.ts";
import { makeNamespace, type Namespace } from "./namespace.ts";
import { callApi, startNode, type TestNode } from "./node.ts";

const RANGE_SIZE = 8;
const ARCHY = join(import.meta.dirname, "../../bin/archy");

let node: TestNode;
let ns: Namespace;
let work: string;
let range: { first: number; last: number };

/** Whether `port` can be listened on at `host` now. */
function free(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ host, port }, () => server.close(() => resolve(true)));
  });
}

/** A range of ports nobody listens on, at the address the daemon will listen on. */
async function freeRange(host: string): Promise<{ first: number; last: number }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = randomInt(20_000, 30_000);
    let all = true;
    for (let port = first; port < first + RANGE_SIZE && all; port++) all = await free(host, port);
    if (all) return { first, last: first + RANGE_SIZE - 1 };
  }
  throw new Error(`no ${RANGE_SIZE} free ports in a row between 20000 and 30000`);
}

/** The port of an app's interface, from the URL the API shows. */
async function interfacePort(id: string, name = "ui"): Promise<number> {
  // The CLI token as of now: a restart makes a new one.
  const bearer = readFileSync(node.daemon.tokenFile, "utf8").trim();
  const app = (await callApi(node.daemon.url, "package.get", { id }, bearer)) as {
    interfaces: { name: string; url: string | null }[];
  };
  const url = app.interfaces.find((i) => i.name === name)?.url;
  assert.ok(url, `${id} shows no URL for ${name}: ${JSON.stringify(app.interfaces)}`);
  const parsed = new URL(url);
  assert.equal(parsed.hostname, "localhost", `the URL is on the node's name: ${url}`);
  return Number(parsed.port);
}

function origin(port: number): string {
  return `https://${ns.hostAddress}:${port}`;
}

/** curl in the namespace, the node's authority trusted; stdout is `<status> <redirect>` and the body. */
async function head(
  url: string,
  extra: string[] = [],
): Promise<{ status: number; location: string; body: string }> {
  const bodyFile = join(work, `body-${randomInt(1e9)}`);
  const result = await ns.curl([
    "--cacert",
    join(work, "ca.crt"),
    "-o",
    bodyFile,
    "-w",
    "%{http_code} %{redirect_url}",
    ...extra,
    url,
  ]);
  assert.equal(result.code, 0, `curl ${url}: ${result.stderr}`);
  const [status, location] = result.stdout.split(" ");
  let body = "";
  try {
    body = readFileSync(bodyFile, "utf8");
  } catch {}
  return { status: Number(status), location: location ?? "", body };
}

/** The value of a cookie in a curl cookie jar. */
function jarCookie(jar: string, name: string): string | undefined {
  for (const line of readFileSync(jar, "utf8").split("\n")) {
    const fields = line.split("\t");
    if (fields[5] === name) return fields[6];
  }
  return undefined;
}

/** Logs in through the node's form for `returnUrl` (an interface port's URL), following the redirects. */
async function login(
  returnUrl: string,
  jar: string,
): Promise<{ status: number; location: string; body: string }> {
  const form = `password=${encodeURIComponent(PASSWORD)}&to=${encodeURIComponent(returnUrl)}`;
  return head(`${origin(node.port)}/app-login`, [
    "-c",
    jar,
    "-b",
    jar,
    "-L",
    "-H",
    `origin: ${origin(node.port)}`,
    "--data",
    form,
  ]);
}

before(async () => {
  ns = await makeNamespace("pp");
  range = await freeRange(ns.hostAddress);
  node = await startNode({
    listen: ns.hostAddress,
    daemonArgs: ["--interface-ports", `${range.first}-${range.last}`],
  });
  work = mkdtempSync("/tmp/archy-px-ports-");
  writeFileSync(join(work, "ca.crt"), nodeCa(node.dataDir));
});

after(async () => {
  await node?.close();
  await ns?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("port-per-interface mode, from another network namespace", () => {
  test("each interface shows its own port of the range (package.get, archy ls), recorded in the state directory", async () => {
    const ports = [
      await interfacePort(node.ids.hello),
      await interfacePort(node.ids.echo),
      await interfacePort(node.ids.big),
      await interfacePort(node.ids.big, "open"),
    ];
    assert.equal(new Set(ports).size, 4, `four interfaces, four ports: ${ports}`);
    for (const port of ports)
      assert.ok(port >= range.first && port <= range.last, `${port} in ${range.first}-${range.last}`);
    const record = JSON.parse(readFileSync(join(node.dataDir, "state", "interface-ports.json"), "utf8"));
    assert.equal(record[`${node.ids.hello}/ui`], ports[0]);
    const ls = await exec(ARCHY, ["ls", "--url", node.daemon.url, "--token-file", node.daemon.tokenFile], {
      timeoutMs: 60_000,
    });
    assert.equal(ls.code, 0, ls.stderr);
    const helloLine = ls.stdout.split("\n").find((line) => line.startsWith(node.ids.hello));
    assert.match(
      helloLine ?? "",
      new RegExp(`https://localhost:${ports[0]}/`),
      `archy ls shows the port URL:\n${ls.stdout}`,
    );
  });

  test("the app's container port is refused; its interface port gives the login, then the app, back on the port", async () => {
    const direct = await ns.curl([`http://${ns.hostAddress}:${node.ports[node.ids.hello]}/`]);
    assert.equal(
      direct.code,
      7,
      `connection refused (curl exit 7), got ${direct.code}: ${direct.stdout}${direct.stderr}`,
    );
    const port = await interfacePort(node.ids.hello);
    const anonymous = await head(`${origin(port)}/`);
    assert.equal(anonymous.status, 302, anonymous.body);
    assert.equal(
      anonymous.location,
      `${origin(node.port)}/app-login?to=${encodeURIComponent(`${origin(port)}/`)}`,
      "the node's login on the daemon's port of the same address, returning to the interface port",
    );
    const overHttp = await head(`http://${ns.hostAddress}:${port}/x`);
    assert.equal(overHttp.status, 308, "plain HTTP on the port goes to HTTPS first");
    assert.equal(overHttp.location, `${origin(port)}/x`);
    const jar = join(work, "jar-login");
    const loggedIn = await login(`${origin(port)}/`, jar);
    assert.equal(loggedIn.status, 200);
    assert.match(
      loggedIn.body,
      /<h1>Hello Web<\/h1>/,
      "the app's page, through the interface port, with a session",
    );
    assert.ok(jarCookie(jar, `archy_app_${port}`), "the session cookie is named after the port");
    assert.equal(jarCookie(jar, "archy_app"), undefined);
  });

  test("a ticket issued for one interface port is refused on another (tickets are bound to the port)", async () => {
    const hello = await interfacePort(node.ids.hello);
    const echo = await interfacePort(node.ids.echo);
    const jar = join(work, "jar-ticket");
    await login(`${origin(hello)}/`, jar);
    // Logged in on the node: asking for the echo app's port hands out a ticket for that port.
    const onward = await head(`${origin(node.port)}/app-login?to=${encodeURIComponent(`${origin(echo)}/`)}`, [
      "-b",
      jar,
    ]);
    assert.equal(onward.status, 303, onward.body);
    const ticketUrl = new URL(onward.location);
    assert.equal(ticketUrl.origin, origin(echo));
    const ticket = ticketUrl.searchParams.get("ticket") ?? "";
    assert.ok(ticket.length > 20, onward.location);
    const elsewhere = await head(`${origin(hello)}/.archipelago/login?ticket=${ticket}`);
    assert.equal(elsewhere.status, 403, "a ticket of the echo port refused on the hello port");
    assert.match(elsewhere.body, /another host/);
  });

  test("a session cookie of one interface port is not accepted on another, under either name", async () => {
    const hello = await interfacePort(node.ids.hello);
    const echo = await interfacePort(node.ids.echo);
    const jar = join(work, "jar-cookie");
    await login(`${origin(hello)}/`, jar);
    const token = jarCookie(jar, `archy_app_${hello}`);
    assert.ok(token);
    const own = await head(`${origin(hello)}/`, ["-H", `cookie: archy_app_${hello}=${token}`]);
    assert.equal(own.status, 200, "the cookie opens its own port");
    for (const name of [`archy_app_${hello}`, `archy_app_${echo}`, "archy_app"]) {
      const other = await head(`${origin(echo)}/`, ["-H", `cookie: ${name}=${token}`]);
      assert.equal(other.status, 302, `${name} of the hello port on the echo port: ${other.status}`);
      assert.match(other.location, /\/app-login\?to=/);
    }
  });

  test("a forged identity header is stripped and the node's cookies never reach the app, on an interface port", async () => {
    const port = await interfacePort(node.ids.big);
    const jar = join(work, "jar-env");
    await login(`${origin(port)}/cgi-bin/env`, jar);
    const token = jarCookie(jar, `archy_app_${port}`);
    const operator = jarCookie(jar, "archy_session");
    assert.ok(token && operator);
    const env = await head(`${origin(port)}/cgi-bin/env`, [
      "-H",
      "x-archipelago-user: admin",
      "-H",
      "x-forwarded-for: 6.6.6.6",
      "-H",
      `cookie: theirs=1; archy_session=${operator}; archy_app_${port}=${token}`,
    ]);
    assert.equal(env.status, 200, env.body);
    assert.match(env.body, /^HTTP_X_ARCHIPELAGO_USER=operator$/m);
    assert.doesNotMatch(env.body, /admin|6\.6\.6\.6/);
    assert.match(env.body, /^HTTP_COOKIE=theirs=1$/m, "only the app's own cookie");
  });

  test("a WebSocket echoes on the interface port with its session; another port's page may not open it", async () => {
    const echo = await interfacePort(node.ids.echo);
    const hello = await interfacePort(node.ids.hello);
    const jar = join(work, "jar-ws");
    await login(`${origin(echo)}/`, jar);
    const cookie = `archy_app_${echo}=${jarCookie(jar, `archy_app_${echo}`)}`;
    const ca = readFileSync(join(work, "ca.crt"), "utf8");
    const open = (pageOrigin: string) =>
      new WebSocket(`wss://${ns.hostAddress}:${echo}/`, { headers: { cookie, origin: pageOrigin }, ca });
    const socket = open(origin(echo));
    await once(socket, "open");
    const echoed = once(socket, "message");
    socket.send("through the interface port");
    assert.equal(String((await echoed)[0]), "through the interface port");
    socket.close();
    const foreign = open(origin(hello));
    const [, refused] = (await once(foreign, "unexpected-response")) as [unknown, { statusCode: number }];
    assert.equal(
      refused.statusCode,
      403,
      "a page of another port (another app) may not use this port's session",
    );
    foreign.on("error", () => {}); // terminate() says the socket never opened: that is the point
    foreign.terminate();
  });

  test("after a restart each interface has the port its record gives, and the port answers", async () => {
    // Without a record, ports would be given again from the first of the range, in order: move two
    // interfaces to the range's last ports in it (the daemon reads it at start) to see that the
    // record decides.
    const file = join(node.dataDir, "state", "interface-ports.json");
    const record = JSON.parse(readFileSync(file, "utf8"));
    record[`${node.ids.hello}/ui`] = range.last;
    record[`${node.ids.big}/open`] = range.last - 1;
    writeFileSync(file, JSON.stringify(record));
    await node.daemon.restart();
    assert.equal(await interfacePort(node.ids.hello), range.last);
    assert.equal(await interfacePort(node.ids.big, "open"), range.last - 1);
    const open = await head(`${origin(range.last - 1)}/private.txt`);
    assert.equal(open.status, 200, "the auth: none interface answers on the port it was recorded with");
    assert.equal(open.body, "private\n");
    const hello = await head(`${origin(range.last)}/`);
    assert.equal(hello.status, 302, "hello-web, behind the login, on its recorded port");
    assert.equal(
      hello.location,
      `${origin(node.port)}/app-login?to=${encodeURIComponent(`${origin(range.last)}/`)}`,
    );
  });
});
