/**
 * Shared by the API tests: a daemon run in-process on a free loopback port, with a data directory,
 * an apps directory of small test manifests, its log lines captured, and a fake Podman socket that
 * answers pings and nothing else, so the reconciler never starts and no container is touched (these
 * tests check the API, not containers). Plus raw HTTP calls (every header under the test's control),
 * session helpers and a snapshot of the whole store for "nothing changed" checks.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import WebSocket from "ws";
import { WsMessageSchema } from "../../src/api/events.ts";
import type { LoginLimits } from "../../src/api/login-limits.ts";
import type { PasswordWork } from "../../src/api/password-work.ts";
import type { DaemonConfig } from "../../src/daemon/config.ts";
import { type DaemonOptions, type RunningDaemon, runDaemon } from "../../src/daemon/daemon.ts";
import { ScanRecorder } from "../support/secret-scan.ts";

export const PASSWORD = "correct horse battery staple 42";

const manifest = (id: string, extra = "") => `manifest: 1
id: ${id}
version: 1.0.0
name: ${id}
description: An app of the API tests
containers:
  web:
    image: localhost/archy-test/busybox:1
${extra}`;

/**
 * The test apps: a plain one, one depending on it, one with a displayed credential, one asking for
 * permissions (a device, an elevated capability), an invalid one.
 */
export const TEST_APPS: Record<string, string> = {
  "api-alpha": manifest("api-alpha"),
  "api-beta": manifest(
    "api-beta",
    `dependencies:
  - id: api-alpha
`,
  ),
  "api-gamma": manifest(
    "api-gamma",
    `secrets:
  admin-password: { type: alphanumeric, length: 24 }
credentials:
  - { label: Admin login, username: admin, secret: admin-password }
`,
  ),
  "api-delta": manifest(
    "api-delta",
    `    devices: [{ permission: radio }]
    capabilities: [SYS_ADMIN]
permissions:
  radio: { kind: device, path: /dev/ttyUSB0, reason: Talks to the radio }
  admin: { kind: capability, capability: SYS_ADMIN, reason: Mounts its own file systems }
`,
  ),
  "api-broken": `manifest: 1
id: api-broken
version: not-a-version
name: Broken
description: An invalid manifest
containers: {}
`,
};

/**
 * A unix socket that answers `/_ping` like Podman and leaves every other request hanging, unless
 * `answer` gives a response for it (a status and a JSON body).
 */
export type FakePodman = {
  path: string;
  requests: string[];
  /** Requests left hanging whose client is still waiting (its connection open): what is in flight. */
  unanswered: () => string[];
  close: () => Promise<void>;
};
export type FakeAnswer = (target: string) => { status: number; body: unknown } | undefined;

export async function startSilentPodman(
  dir: string,
  answer: FakeAnswer = () => undefined,
): Promise<FakePodman> {
  const path = join(dir, "podman.sock");
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  const hanging = new Map<Socket, string[]>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => {
      sockets.delete(socket);
      hanging.delete(socket);
    });
    socket.on("error", () => {});
    let buffered = "";
    socket.on("data", (chunk) => {
      buffered += chunk.toString("latin1");
      let end = buffered.indexOf("\r\n\r\n");
      while (end !== -1) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        const target = head.split(" ")[1] ?? "";
        requests.push(target);
        const answered = target.endsWith("/_ping") ? { status: 200, body: "OK" } : answer(target);
        if (!answered) hanging.set(socket, [...(hanging.get(socket) ?? []), target]);
        if (answered) {
          const body = Buffer.from(
            typeof answered.body === "string" ? answered.body : JSON.stringify(answered.body),
          );
          socket.write(
            `HTTP/1.1 ${answered.status} X\r\nContent-Type: ${typeof answered.body === "string" ? "text/plain" : "application/json"}\r\nContent-Length: ${body.length}\r\n\r\n`,
          );
          socket.write(body);
        }
        end = buffered.indexOf("\r\n\r\n");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    requests,
    unanswered: () => [...hanging.values()].flat(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export type TestDaemon = RunningDaemon & {
  port: number;
  dir: string;
  dataDir: string;
  appsDir: string;
  storePath: string;
  tokenFile: string;
  /** Every log line the daemon wrote, as written. */
  logs: string[];
  podman: FakePodman;
  /** Stops the daemon and starts it again on the same data (a new port: `port` and `url` follow). */
  restart: () => Promise<void>;
  /** Stops the daemon and removes its directories. */
  close: () => Promise<void>;
};

export type DaemonSetup = {
  apps?: Record<string, string>;
  /** Other files of the apps directory, by their path in it (`my-app/icon.png`). */
  files?: Record<string, string | Buffer>;
  clock?: () => number;
  loginLimits?: LoginLimits;
  /** The bound on argon2 work, to count what it did. */
  passwordWork?: PasswordWork;
  logLevel?: DaemonConfig["logLevel"];
  /** What the fake Podman answers besides pings (nothing by default). */
  podman?: FakeAnswer;
  /** Catalog sources (none by default). */
  catalogs?: DaemonConfig["catalogs"];
  /** How new containers are created (plain Podman by default). */
  backend?: DaemonConfig["backend"];
  /** App access: the node's name, TLS (the defaults by default). */
  access?: DaemonConfig["access"];
  /** Whether results are checked against their schemas (the test configuration's default: checked). */
  checkResults?: boolean;
  /** How publishers' NIP-05 domains are reached (test/marketplace/support.ts: nip05Domains). */
  nip05Dispatcher?: DaemonOptions["nip05Dispatcher"];
};

export async function startDaemon(setup: DaemonSetup = {}): Promise<TestDaemon> {
  const dir = mkdtempSync(join(tmpdir(), "archy-api-"));
  const dataDir = join(dir, "data");
  const appsDir = join(dir, "apps");
  for (const [name, text] of Object.entries(setup.apps ?? TEST_APPS)) {
    mkdirSync(join(appsDir, name), { recursive: true });
    writeFileSync(join(appsDir, name, "manifest.yml"), text);
  }
  for (const [path, content] of Object.entries(setup.files ?? {})) {
    mkdirSync(dirname(join(appsDir, path)), { recursive: true });
    writeFileSync(join(appsDir, path), content);
  }
  const podman = await startSilentPodman(dir, setup.podman);
  const logs: string[] = [];
  // Every log line and event, and the secrets and CLI token it generates, go to the suite's
  // secrets scan too (test/support/secret-scan.ts).
  const scan = new ScanRecorder("api-daemon", dir.slice(dir.lastIndexOf("/") + 1), {
    secretsRoot: join(dataDir, "state", "secrets"),
    cliTokenFile: join(dataDir, "state", "cli-token"),
  });
  const config: DaemonConfig = {
    dataDir,
    listen: { host: "127.0.0.1", port: 0 },
    appsDir,
    backend: setup.backend ?? "podman",
    backendOrigin: setup.backend ? `--backend ${setup.backend}` : undefined,
    podmanSocket: podman.path,
    allowedHosts: [],
    resyncMs: 60_000,
    logLevel: setup.logLevel ?? "info",
    catalogs: setup.catalogs ?? [],
    catalogRefreshMs: 3_600_000,
    ...(setup.access ? { access: setup.access } : {}),
  };
  const boot = () =>
    runDaemon(config, {
      destination: {
        write: (line: string) => {
          logs.push(line);
          scan.chunk(line);
        },
      },
      onEvent: (event) => scan.event(event),
      clock: setup.clock,
      loginLimits: setup.loginLimits,
      passwordWork: setup.passwordWork,
      checkResults: setup.checkResults,
      nip05Dispatcher: setup.nip05Dispatcher,
    });
  /** A test's own stop and then `close` stop the daemon once. */
  const stopsOnce = <D extends { stop: () => Promise<void> }>(running: D): D => {
    let stopped: Promise<void> | undefined;
    return { ...running, stop: () => (stopped ??= running.stop()) };
  };
  const daemon = await boot();
  let closed = false;
  const test: TestDaemon = {
    ...stopsOnce(daemon),
    port: Number(new URL(daemon.url).port),
    dir,
    dataDir,
    appsDir,
    storePath: join(dataDir, "state", "store.db"),
    tokenFile: join(dataDir, "state", "cli-token"),
    logs,
    podman,
    restart: async () => {
      await test.stop();
      const again = stopsOnce(await boot());
      Object.assign(test, { ...again, port: Number(new URL(again.url).port) });
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await test.stop();
      await podman.close();
      scan.storeRecords(join(dataDir, "state", "store.db"));
      scan.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return test;
}

export type HttpResponse = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The parsed body (undefined when it is empty or not JSON). */
  body: unknown;
};

/** A raw HTTP request to the daemon on 127.0.0.1, with exactly the headers given (Host by default). */
export function http(
  port: number,
  options: {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    /** The source address (any of 127.0.0.0/8): the daemon sees the call coming from there. */
    localAddress?: string;
  },
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        localAddress: options.localAddress,
        method: options.method ?? "GET",
        path: options.path ?? "/",
        headers: { host: `127.0.0.1:${port}`, ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: unknown;
          try {
            body = text === "" ? undefined : JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/** Credentials for a call: a session (cookie, CSRF token), the CLI token, or none. */
export type Caller = {
  cookie?: string;
  csrf?: string;
  bearer?: string;
  origin?: string;
  headers?: Record<string, string>;
  /** The source address the call comes from (127.0.0.1 by default). */
  from?: string;
};

export function headersOf(caller: Caller = {}): Record<string, string> {
  return {
    "content-type": "application/json",
    ...(caller.cookie ? { cookie: caller.cookie } : {}),
    ...(caller.csrf ? { "x-csrf-token": caller.csrf } : {}),
    ...(caller.bearer ? { authorization: `Bearer ${caller.bearer}` } : {}),
    ...(caller.origin ? { origin: caller.origin } : {}),
    ...caller.headers,
  };
}

/** POSTs a raw body (any JSON value, or a string sent verbatim) to /rpc/v1. */
export function post(port: number, body: unknown, caller: Caller = {}): Promise<HttpResponse> {
  return http(port, {
    method: "POST",
    path: "/rpc/v1",
    headers: headersOf(caller),
    body: typeof body === "string" ? body : JSON.stringify(body),
    localAddress: caller.from,
  });
}

export type RpcReply = {
  id: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
};

let nextId = 1;

/** One JSON-RPC call; returns the response object (result or error) and the HTTP response. */
export async function rpc(
  port: number,
  method: string,
  params?: unknown,
  caller: Caller = {},
): Promise<RpcReply & { http: HttpResponse }> {
  const id = nextId++;
  const response = await post(
    port,
    { jsonrpc: "2.0", id, method, ...(params === undefined ? {} : { params }) },
    caller,
  );
  assert.equal(response.status, 200, `HTTP ${response.status} for ${method}: ${response.text}`);
  const reply = response.body as RpcReply;
  assert.equal(reply.id, id, `the response to ${method} carries its id`);
  return { ...reply, http: response };
}

/** Calls that must succeed: returns the result, failing with the error otherwise. */
export async function ok(port: number, method: string, params: unknown, caller: Caller): Promise<unknown> {
  const reply = await rpc(port, method, params, caller);
  assert.equal(reply.error, undefined, `${method} failed: ${JSON.stringify(reply.error)}`);
  return reply.result;
}

/** Calls that must fail with `code`: returns the error. */
export async function fails(
  port: number,
  method: string,
  params: unknown,
  caller: Caller,
  code: number,
): Promise<NonNullable<RpcReply["error"]>> {
  const reply = await rpc(port, method, params, caller);
  assert.ok(reply.error, `${method} should fail with ${code}, got ${JSON.stringify(reply.result)}`);
  assert.equal(reply.error.code, code, `${method}: ${JSON.stringify(reply.error)}`);
  return reply.error;
}

/** The session cookie a response sets (`archy_session=…`), and its attributes. */
export function sessionCookieOf(response: HttpResponse): {
  pair: string;
  token: string;
  attributes: string[];
} {
  const header = response.headers["set-cookie"];
  const line = Array.isArray(header) ? header[0] : header;
  assert.ok(line, "the response sets a cookie");
  const [pair = "", ...attributes] = line.split(";").map((part) => part.trim());
  assert.ok(pair.startsWith("archy_session="), `the cookie is the session: ${line}`);
  return { pair, token: pair.slice("archy_session=".length), attributes };
}

/** A login's session (its cookie pair, CSRF token and token) and its device cookie pair. */
export type Session = { cookie: string; csrf: string; token: string; device: string };

/** The `archy_device=…` pair a login's response sets. */
export function deviceCookieOf(response: HttpResponse): string {
  const header = response.headers["set-cookie"];
  const pair = (Array.isArray(header) ? header : [header ?? ""])
    .map((line) => line.split(";")[0]?.trim() ?? "")
    .find((p) => p.startsWith("archy_device="));
  assert.ok(pair, `the response sets a device cookie: ${JSON.stringify(header)}`);
  return pair;
}

function sessionOf(reply: RpcReply & { http: HttpResponse }): Session {
  assert.equal(reply.error, undefined, JSON.stringify(reply.error));
  const { pair, token } = sessionCookieOf(reply.http);
  return {
    cookie: pair,
    csrf: (reply.result as { csrfToken: string }).csrfToken,
    token,
    device: deviceCookieOf(reply.http),
  };
}

/** auth.setup with PASSWORD: the operator's first session. */
export async function setup(port: number, password = PASSWORD): Promise<Session> {
  return sessionOf(await rpc(port, "auth.setup", { password }));
}

export async function login(port: number, password = PASSWORD, caller: Caller = {}): Promise<Session> {
  return sessionOf(await rpc(port, "auth.login", { password }, caller));
}

/**
 * What an uninstall that kept the data leaves: app `id`'s data directory under `dataDir`, with a
 * file in one of its volumes. Returns the app's directory.
 */
export function keepData(dataDir: string, id: string): string {
  const dir = join(dataDir, "apps", id);
  mkdirSync(join(dir, "volumes", "data"), { recursive: true });
  writeFileSync(join(dir, "volumes", "data", "kept.txt"), "the operator's data\n");
  return dir;
}

/** Every row of every table of the store, for before/after comparisons. */
export function storeSnapshot(storePath: string): Record<string, unknown[]> {
  const db = new DatabaseSync(storePath, { readOnly: true });
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all() as Array<{ name: string }>;
    const snapshot: Record<string, unknown[]> = {};
    // Parsed manifests are a cache of the stored texts: a read may fill it, and that changes nothing.
    for (const { name } of tables.filter((t) => t.name !== "parsed_manifests"))
      snapshot[name] = db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).all();
    return snapshot;
  } finally {
    db.close();
  }
}

/** A clock the test moves by hand. */
export function manualClock(start = Date.now()) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

/** Marks every operation in flight of an app done, as the reconciler would once it converged. */
export function settle(daemon: TestDaemon, appId: string): void {
  const { store } = daemon.orchestrator;
  for (const operation of store.activeOperations(appId))
    store.setOperationState(operation.id, "succeeded", Date.now());
}

export type Message = { type: string; [key: string]: unknown };

/** A client that keeps every message it receives and how the connection ended. */
export type Client = {
  socket: WebSocket;
  messages: Message[];
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the first message (received or to come) that `match` accepts. */
  next: (match: (message: Message) => boolean, timeoutMs?: number) => Promise<Message>;
};

/** Opens /ws/v1 (or `headers.path`, a query included) with the headers given. */
export function connect(d: TestDaemon, { path = "/ws/v1", ...headers }: Record<string, string>): Client {
  const socket = new WebSocket(`ws://127.0.0.1:${d.port}${path}`, { headers });
  const messages: Message[] = [];
  const waiters = new Set<() => void>();
  socket.on("message", (data) => {
    const message = JSON.parse(String(data)) as Message;
    const parsed = WsMessageSchema.safeParse(message);
    assert.ok(parsed.success, `a documented message: ${String(data)}`);
    messages.push(message);
    for (const wake of waiters) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve, reject) => {
    socket.on("close", (code, reason) => resolve({ code, reason: String(reason) }));
    socket.on("error", reject);
  });
  const next = (match: (message: Message) => boolean, timeoutMs = 5_000) =>
    new Promise<Message>((resolve, reject) => {
      const check = () => {
        const found = messages.find(match);
        if (!found) return false;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no such message within ${timeoutMs} ms; got ${JSON.stringify(messages)}`));
      }, timeoutMs);
      if (!check()) waiters.add(check);
    });
  return { socket, messages, closed, next };
}
