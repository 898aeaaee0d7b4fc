/**
 * The operator CLI's parts that need no daemon: where the token is looked for and when it is
 * refused, URL checks, error hints from a JSON-RPC server stand-in on loopback, how `logs -f` tells
 * new lines from old ones, and that shell completion knows every command and option there is.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseApprove } from "./approvals.ts";
import { UsageError } from "./args.ts";
import {
  CODES,
  DaemonClient,
  DaemonUnreachable,
  EXIT,
  RpcFailure,
  readTokenFile,
  resolveUrl,
  TokenFileError,
  tokenFileCandidates,
} from "./client.ts";
import { bashScript, COMMAND_SPECS, zshScript } from "./commands/completion.ts";
import { newLines } from "./commands/logs.ts";
import { ago, duration, table } from "./operator.ts";

const ARCHY = resolve(import.meta.dirname, "../../bin/archy");

function archy(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) =>
    execFile(ARCHY, args, (error, stdout, stderr) =>
      done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    ),
  );
}

describe("operator CLI: the token file", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "archy-token-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("a 0600 file is read and trimmed", async () => {
    const path = join(dir, "good");
    writeFileSync(path, "abc123\n", { mode: 0o600 });
    assert.equal(await readTokenFile(path), "abc123");
  });

  test("a file others may read is refused with the chmod that fixes it", async () => {
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      const path = join(dir, `loose-${mode.toString(8)}`);
      writeFileSync(path, "abc123\n");
      chmodSync(path, mode);
      await assert.rejects(readTokenFile(path), (error: unknown) => {
        assert.ok(error instanceof TokenFileError);
        assert.equal(error.reason, "loose");
        assert.equal(error.exitCode, EXIT.failed);
        assert.match(error.message, new RegExp(`mode 0${mode.toString(8)}`));
        assert.equal(error.hint, `run \`chmod 600 ${path}\` (the token grants full control of the daemon)`);
        return true;
      });
    }
  });

  test("a missing or empty file says what to do", async () => {
    await assert.rejects(readTokenFile(join(dir, "absent")), { reason: "missing" });
    const empty = join(dir, "empty");
    writeFileSync(empty, "\n", { mode: 0o600 });
    await assert.rejects(readTokenFile(empty), { reason: "empty" });
  });

  test("candidates: ARCHY_DATA_DIR, the user's data dir, and for root the service user's and /var/lib", () => {
    assert.deepEqual(
      tokenFileCandidates({ ARCHY_DATA_DIR: "/srv/data" }, { isRoot: false, home: "/home/op" }),
      ["/srv/data/state/cli-token", "/home/op/.local/share/archipelago/state/cli-token"],
    );
    assert.deepEqual(tokenFileCandidates({}, { isRoot: true, home: "/root", serviceHome: "/home/svc" }), [
      "/root/.local/share/archipelago/state/cli-token",
      "/home/svc/.local/share/archipelago/state/cli-token",
      "/var/lib/archipelago/state/cli-token",
    ]);
  });
});

describe("operator CLI: secrets read from stdin", () => {
  test("nothing piped in: a usage error that names what is missing and how to pipe it, before any call", async () => {
    const run = await new Promise<{ code: number; stderr: string }>((done) => {
      const child = execFile(
        ARCHY,
        ["peers", "add", "http://127.0.0.1:9/", "--url", "http://127.0.0.1:9"],
        (error, _stdout, stderr) =>
          done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stderr }),
      );
      child.stdin?.end();
    });
    assert.equal(run.code, EXIT.usage, run.stderr);
    assert.equal(
      run.stderr,
      "archy: no peer token on stdin: pipe it in, e.g. `echo TOKEN | archy peers add URL`\n",
    );
  });
});

describe("operator CLI: URLs", () => {
  test("--url wins over ARCHY_URL, which wins over the default; a trailing slash is dropped", () => {
    assert.equal(resolveUrl(undefined, {}), "http://127.0.0.1:7780");
    assert.equal(resolveUrl(undefined, { ARCHY_URL: "http://node.lan:7780/" }), "http://node.lan:7780");
    assert.equal(
      resolveUrl("https://10.0.0.2:9000/archy/", { ARCHY_URL: "http://x" }),
      "https://10.0.0.2:9000/archy",
    );
  });

  test("anything but an http(s) base URL is a usage error naming where it came from", () => {
    assert.throws(
      () => resolveUrl("ftp://host"),
      (e: unknown) => e instanceof UsageError && /^--url:/.test(e.message),
    );
    assert.throws(
      () => resolveUrl(undefined, { ARCHY_URL: "not a url" }),
      (e: unknown) => e instanceof UsageError && /^ARCHY_URL:/.test(e.message),
    );
    assert.throws(() => resolveUrl("http://user:pw@host"), UsageError);
  });
});

describe("operator CLI: talking to something on loopback", () => {
  let server: Server;
  let url: string;
  let dir: string;
  let tokenFile: string;
  const seen: Array<{ authorization: string | undefined; body: { method: string; params: unknown } }> = [];
  let answer: (method: string) => { status?: number; body: string } = () => ({ body: "{}" });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "archy-client-"));
    tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "secret-token\n", { mode: 0o600 });
    server = createServer((request, response) => {
      let text = "";
      request.on("data", (chunk) => {
        text += chunk;
      });
      request.on("end", () => {
        const body = JSON.parse(text);
        seen.push({ authorization: request.headers.authorization, body });
        const reply = answer(body.method);
        response.writeHead(reply.status ?? 200, { "content-type": "application/json" });
        response.end(reply.body);
      });
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  });
  after(async () => {
    await new Promise((done) => server.close(done));
    rmSync(dir, { recursive: true, force: true });
  });

  const rpcError = (code: number, message: string, data?: unknown) =>
    JSON.stringify({ jsonrpc: "2.0", id: 1, error: { code, message, data } });

  test("calls carry the token as a bearer and resolve with the result", async () => {
    answer = () => ({ body: JSON.stringify({ jsonrpc: "2.0", id: 1, result: [{ id: "x" }] }) });
    const client = new DaemonClient({ url, tokenFile });
    assert.deepEqual(await client.call("package.list"), [{ id: "x" }]);
    assert.equal(seen.at(-1)?.authorization, "Bearer secret-token");
    assert.deepEqual(seen.at(-1)?.body.params, {});
  });

  test("refusals keep their message and get a hint with the data that explains them", async () => {
    const client = new DaemonClient({ url, tokenFile });
    const cases: Array<[number, unknown, RegExp]> = [
      [-32012, { missing: ["a", "b"] }, /^missing: a, b; install first: archy install a && archy install b$/],
      [-32013, { dependents: ["c"] }, /^needed by: c; uninstall first: archy uninstall c$/],
      [-32011, { operation: { id: "op-1", kind: "install" } }, /^in progress: install op-1; wait for it/],
      [
        -32014,
        { installed: "2.0.0", offered: "1.0.0" },
        /installed 2\.0\.0, offered 1\.0\.0: `archy update app --force`/,
      ],
      [
        -32019,
        { permissions: [{ name: "radio" }, { name: "media" }] },
        /^approve them: `archy approve app radio media`/,
      ],
      [
        -32020,
        { change: "switch its source" },
        /^if that is what you want: `archy update app --switch-source`/,
      ],
    ];
    for (const [code, data, hint] of cases) {
      answer = () => ({ body: rpcError(code, `refused ${code}`, data) });
      await assert.rejects(client.call("package.start", { id: "app" }), (error: unknown) => {
        assert.ok(error instanceof RpcFailure);
        assert.equal(error.message, `refused ${code}`);
        assert.equal(error.code, code);
        assert.deepEqual(error.data, data);
        assert.equal(error.exitCode, EXIT.failed);
        assert.match(error.hint ?? "", hint);
        return true;
      });
    }
  });

  test("an app's 'not found' points to the app lists; another method's (a backup target, a peer) gets no app hint", async () => {
    const client = new DaemonClient({ url, tokenFile });
    const hintOf = async (
      method: "package.start" | "package.install" | "backup.run" | "peers.remove",
      params: object,
    ) => {
      answer = () => ({ body: rpcError(CODES.notFound, "not found") });
      const error = await client.call(method, params as never).catch((e: unknown) => e);
      assert.ok(error instanceof RpcFailure, String(error));
      assert.equal(error.code, CODES.notFound);
      return error.hint;
    };
    assert.equal(await hintOf("package.start", { id: "app" }), "`archy ls` lists the installed apps");
    assert.equal(
      await hintOf("package.install", { id: "app" }),
      "`archy available` lists the apps that can be installed",
    );
    assert.equal(await hintOf("backup.run", { id: "app" }), undefined);
    assert.equal(await hintOf("peers.remove", { url: "http://127.0.0.1:1/" }), undefined);
  });

  test("bad params: the hint adds the issues the message does not state, never the same words again", async () => {
    const client = new DaemonClient({ url, tokenFile });
    const first = { field: "schedule", problem: '"3am" is not a time of day; use HH:MM, e.g. 03:00' };
    const second = { field: "keep.daily", problem: "Too small: expected number to be >=1" };
    const hintFor = async (issues: unknown[]) => {
      answer = () => ({
        body: rpcError(CODES.invalidParams, `invalid params: ${first.field}: ${first.problem}`, { issues }),
      });
      const error = await client.call("backup.targets.schedule", { name: "usb" }).catch((e: unknown) => e);
      assert.ok(error instanceof RpcFailure, String(error));
      return error.hint;
    };
    assert.equal(await hintFor([first]), undefined);
    assert.equal(await hintFor([first, second]), `${second.field}: ${second.problem}`);
  });

  test("backup --all on a node without apps says there is nothing to back up (it printed nothing)", async () => {
    answer = () => ({ body: JSON.stringify({ jsonrpc: "2.0", id: 1, result: [] }) });
    const run = await archy(["backup", "--all", "--url", url, "--token-file", tokenFile]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "no apps installed: nothing to back up (`archy install APP` installs one)\n");
  });

  test("a rejected token names the file it came from", async () => {
    answer = () => ({ body: rpcError(-32001, "not logged in") });
    await assert.rejects(new DaemonClient({ url, tokenFile }).call("package.list"), (error: unknown) => {
      assert.ok(error instanceof RpcFailure);
      assert.equal(error.message, `the daemon at ${url} does not accept the CLI token in ${tokenFile}`);
      return true;
    });
  });

  test("something that does not speak JSON-RPC is 'unreachable' (exit 3)", async () => {
    answer = () => ({ status: 404, body: "<html>not here</html>" });
    await assert.rejects(new DaemonClient({ url, tokenFile }).call("package.list"), (error: unknown) => {
      assert.ok(error instanceof DaemonUnreachable);
      assert.equal(error.exitCode, EXIT.unreachable);
      assert.match(error.message, /answered HTTP 404, but not as an Archipelago daemon/);
      return true;
    });
  });

  test("a loose token in ARCHY_DATA_DIR is refused, never skipped for another place", async () => {
    const dataDir = join(dir, "data");
    mkdirSync(join(dataDir, "state"), { recursive: true });
    writeFileSync(join(dataDir, "state", "cli-token"), "tok\n");
    chmodSync(join(dataDir, "state", "cli-token"), 0o644);
    const client = new DaemonClient({ url, env: { ARCHY_DATA_DIR: dataDir } });
    const before = seen.length;
    await assert.rejects(client.call("package.list"), { reason: "loose" });
    assert.equal(seen.length, before, "nothing was sent");
  });

  test("no token and no daemon: the daemon being down is reported first", async () => {
    const closed = await new Promise<number>((done) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const address = probe.address();
        probe.close(() => done(typeof address === "object" && address ? address.port : 0));
      });
    });
    const client = new DaemonClient({ url: `http://127.0.0.1:${closed}`, tokenFile: join(dir, "absent") });
    await assert.rejects(client.call("package.list"), DaemonUnreachable);
    const reachable = new DaemonClient({ url, tokenFile: join(dir, "absent") });
    answer = () => ({ body: JSON.stringify({ jsonrpc: "2.0", id: 1, result: {} }) });
    await assert.rejects(reachable.call("package.list"), { reason: "missing" });
  });
});

describe("operator CLI: a lifecycle command without live events polls the operation", () => {
  let server: Server;
  let url: string;
  let dir: string;
  let tokenFile: string;
  let operationCalls: Array<{ afterSeq: number }> = [];
  let outcome: "succeeded" | "failed" = "succeeded";

  const logs = [
    { seq: 1, at: 1, level: "info", message: "creating app/web (podman backend)" },
    { seq: 2, at: 2, level: "warn", message: "slow image pull" },
    { seq: 3, at: 3, level: "info", message: "starting app" },
  ];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "archy-poll-"));
    tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "t\n", { mode: 0o600 });
    server = createServer((request, response) => {
      let text = "";
      request.on("data", (chunk) => {
        text += chunk;
      });
      request.on("end", () => {
        if (request.url !== "/rpc/v1") {
          response.writeHead(404).end();
          return;
        }
        const { method, params } = JSON.parse(text);
        let result: unknown;
        if (method === "package.start")
          result = { operationId: "op-1", appId: "app", kind: "start", existing: false };
        else if (method === "operation.get") {
          // Each poll reveals one more line; the fourth poll finds the operation finished.
          operationCalls.push({ afterSeq: params.afterSeq });
          const shown = Math.min(operationCalls.length, logs.length);
          const done = operationCalls.length > logs.length;
          result = {
            id: "op-1",
            appId: "app",
            kind: "start",
            state: done ? outcome : "running",
            createdAt: 0,
            finishedAt: done ? 1 : null,
            error: done && outcome === "failed" ? "it broke" : null,
            logs: logs.slice(0, shown).filter((l) => l.seq > params.afterSeq),
          };
        } else if (method === "package.get")
          result = {
            id: "app",
            version: "1.0.0",
            phase: operationCalls.length > 1 ? "running" : "starting",
            desired: "running",
            reason: null,
            containers: [],
            interfaces: [{ name: "ui", url: "http://127.0.0.1:1234/" }],
          };
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify({ jsonrpc: "2.0", id: 1, result }));
      });
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
    rmSync(dir, { recursive: true, force: true });
  });

  const start = () =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
      execFile(ARCHY, ["start", "app", "--url", url, "--token-file", tokenFile], (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
      ),
    );

  test("each log line once, in order, the phase changes, then the outcome and the URL", async () => {
    operationCalls = [];
    outcome = "succeeded";
    const run = await start();
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /live events unavailable; polling the operation instead/);
    assert.deepEqual(run.stdout.split("\n"), [
      "app: start accepted (operation op-1)",
      "  phase: starting",
      "  creating app/web (podman backend)",
      "  phase: running",
      "  warning: slow image pull",
      "  starting app",
      run.stdout.split("\n")[6],
      "open http://127.0.0.1:1234/",
      "",
    ]);
    assert.match(run.stdout.split("\n")[6] ?? "", /^done in \S+: app is running$/);
    assert.deepEqual(
      operationCalls.map((c) => c.afterSeq),
      [0, 1, 2, 3],
      "each poll asks only for the lines after the last one printed",
    );
  });

  test("a failed operation exits 1 with its error and what to do next", async () => {
    operationCalls = [];
    outcome = "failed";
    const run = await start();
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^archy: the start of app failed after \S+: it broke$/m);
    assert.match(run.stderr, /^ {2}hint: `archy status app` shows its state, `archy logs app`/m);
  });
});

describe("operator CLI: install lists the permissions an app asks for; only the operator approves them", () => {
  let server: Server;
  let url: string;
  let dir: string;
  let tokenFile: string;
  /** The params of every package.install received. */
  let installs: Array<Record<string, unknown>> = [];
  const PERMISSIONS = [
    {
      name: "media",
      kind: "host-path",
      content: "host-path /srv/media",
      description: "read the host directory /srv/media and everything in it",
      reason: "Shows your photos",
    },
    {
      name: "radio",
      kind: "device",
      content: "device /dev/ttyUSB0",
      description: "use the host device /dev/ttyUSB0",
      reason: "Talks to the radio",
    },
  ];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "archy-approve-"));
    tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "t\n", { mode: 0o600 });
    server = createServer((request, response) => {
      let text = "";
      request.on("data", (chunk) => {
        text += chunk;
      });
      request.on("end", () => {
        if (request.url !== "/rpc/v1") {
          response.writeHead(404).end();
          return;
        }
        const { method, params } = JSON.parse(text);
        const reply = (body: unknown) => {
          response.writeHead(200, { "content-type": "application/json" });
          response.end(JSON.stringify({ jsonrpc: "2.0", id: 1, ...(body as object) }));
        };
        if (method === "package.install") {
          installs.push(params);
          // Like the daemon: exactly what the manifest asks for, or a refusal listing it.
          const approved = JSON.stringify(params.approve ?? []);
          const all = JSON.stringify(PERMISSIONS.map(({ name, content }) => ({ name, content })));
          return reply(
            approved === all
              ? { result: { operationId: "op-1", appId: "app", kind: "install", existing: false } }
              : {
                  error: {
                    code: -32019,
                    message: "app asks for 2 permissions",
                    data: { permissions: PERMISSIONS },
                  },
                },
          );
        }
        if (method === "operation.get")
          return reply({
            result: {
              id: "op-1",
              appId: "app",
              kind: "install",
              state: "succeeded",
              createdAt: 0,
              finishedAt: 1,
              error: null,
              logs: [],
            },
          });
        if (method === "package.get")
          return reply({
            result: {
              id: "app",
              version: "1.0.0",
              phase: "running",
              desired: "running",
              reason: null,
              containers: [],
              interfaces: [],
              permissions: [],
            },
          });
        reply({ error: { code: -32601, message: "no such method" } });
      });
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
    rmSync(dir, { recursive: true, force: true });
  });

  const install = (...extra: string[]) =>
    archy(["install", "app", "--url", url, "--token-file", tokenFile, ...extra]);

  test("without a terminal and without --approve: listed in plain words, refused, nothing approved", async () => {
    installs = [];
    const run = await install();
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /^archy: app asks for these 2 permissions:$/m);
    assert.match(run.stderr, /^ {2}media {2}read the host directory \/srv\/media and everything in it$/m);
    assert.match(run.stderr, /^ {9}why: Shows your photos$/m);
    assert.match(run.stderr, /^ {2}radio {2}use the host device \/dev\/ttyUSB0$/m);
    assert.match(
      run.stderr,
      /^ {2}hint: approve them: `archy install app --approve media,radio` \(or --approve all\)$/m,
    );
    assert.deepEqual([...installs], [{ id: "app" }], "no approval was ever sent");
  });

  test("--approve all, or every name, approves exactly what the daemon showed", async () => {
    for (const flag of ["all", "radio,media"]) {
      installs = [];
      const run = await install("--approve", flag);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^approved with --approve$/m);
      assert.deepEqual(installs.at(-1)?.approve, [
        { name: "media", content: "host-path /srv/media" },
        { name: "radio", content: "device /dev/ttyUSB0" },
      ]);
    }
  });

  test("--approve naming too few or others is refused: the operator approves what is asked, no more, no less", async () => {
    installs = [];
    const few = await install("--approve", "media");
    assert.equal(few.code, 1);
    assert.match(few.stderr, /^archy: app also asks for:$/m);
    assert.match(few.stderr, /radio {2}use the host device/);
    const other = await install("--approve", "media,radio,camera");
    assert.equal(other.code, 1);
    assert.match(
      other.stderr,
      /--approve names camera, which app does not ask for \(it asks for media, radio\)/,
    );
    assert.ok(
      installs.every((params) => params.approve === undefined),
      "no approval was sent",
    );
    const bad = await install("--approve", "Media!");
    assert.equal(bad.code, 2, "a malformed --approve is a usage error");
  });

  test("on a terminal the operator is asked; only a yes approves", async (t) => {
    const script = await new Promise<boolean>((done) =>
      execFile("script", ["--version"], (error) => done(!error)),
    );
    if (!script) return t.skip("needs script(1) for a terminal");
    const onTerminal = (answer: string) =>
      new Promise<{ code: number; stdout: string }>((done) => {
        const command = [ARCHY, "install", "app", "--url", url, "--token-file", tokenFile]
          .map((a) => `'${a}'`)
          .join(" ");
        const child = execFile("script", ["-qec", command, "/dev/null"], (error, stdout) =>
          done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout }),
        );
        child.stdin?.end(`${answer}\n`);
      });
    installs = [];
    const no = await onTerminal("n");
    assert.equal(no.code, 1, no.stdout);
    assert.match(no.stdout, /Approve them for app\? \[y\/N\]/);
    assert.match(no.stdout, /not approved: nothing was changed/);
    assert.deepEqual([...installs], [{ id: "app" }], "a no sends nothing more");
    const yes = await onTerminal("y");
    assert.equal(yes.code, 0, yes.stdout);
    assert.equal(installs.at(-1)?.approve !== undefined, true, "the approval was sent after the yes");
  });
});

describe("operator CLI: --approve names", () => {
  test("permission names and what an interface opens (interface.<name>); nothing else", () => {
    assert.deepEqual(parseApprove("media,interface.ui", "usage"), ["media", "interface.ui"]);
    for (const bad of ["Media!", "interface.", ".ui", "a.b.c", "interface..ui"])
      assert.throws(() => parseApprove(bad, "usage"), UsageError, bad);
  });
});

describe("operator CLI: following logs", () => {
  const lines = (...texts: string[]) => texts.map((line) => ({ stream: "stdout" as const, line }));

  test("while the output fits the window, what follows the old window is new, exactly", () => {
    assert.deepEqual(newLines(lines("a", "b"), lines("a", "b", "c", "c")).lines, lines("c", "c"));
    assert.deepEqual(newLines(lines("x", "x"), lines("x", "x", "x")).lines, lines("x"));
    assert.deepEqual(newLines([], lines("a")).lines, lines("a"));
    assert.deepEqual(newLines(lines("a"), lines("a")).lines, []);
  });

  test("stdout and stderr lines with the same text are different lines", () => {
    const previous = [{ stream: "stdout" as const, line: "a" }];
    const next = [{ stream: "stderr" as const, line: "a" }];
    assert.deepEqual(newLines(previous, next), { lines: next, restarted: true, gap: false });
  });

  test("a shorter window that does not continue the old one is a new container", () => {
    assert.deepEqual(newLines(lines("a", "b"), lines("c")), {
      lines: lines("c"),
      restarted: true,
      gap: false,
    });
  });

  test("once the window is full, the largest overlap decides; no overlap is a gap", () => {
    assert.deepEqual(newLines(lines("a", "b", "c"), lines("b", "c", "d"), 3).lines, lines("d"));
    assert.deepEqual(newLines(lines("a", "b", "c"), lines("c", "d", "e"), 3).lines, lines("d", "e"));
    assert.deepEqual(newLines(lines("a", "b", "c"), lines("d", "e", "f"), 3), {
      lines: lines("d", "e", "f"),
      restarted: false,
      gap: true,
    });
    // The output overflows the window between two polls: still found by overlap.
    assert.deepEqual(newLines(lines("a", "b"), lines("b", "c", "d"), 3).lines, lines("c", "d"));
  });
});

describe("operator CLI: formatting", () => {
  test("durations and ages", () => {
    assert.equal(duration(850), "850ms");
    assert.equal(duration(1500), "1.5s");
    assert.equal(duration(42_000), "42s");
    assert.equal(duration(5 * 60_000), "5m");
    assert.equal(duration(3 * 3600_000), "3h");
    assert.equal(duration(2 * 86_400_000), "2d");
    assert.equal(ago(null), "never");
    assert.equal(ago(1000, 3000), "2s ago");
  });

  test("tables pad every column but the last", () => {
    assert.equal(
      table(
        ["A", "BB"],
        [
          ["xyz", "1"],
          ["p", "22"],
        ],
      ),
      "A    BB\nxyz  1\np    22",
    );
  });
});

describe("operator CLI: shell completion", () => {
  test("`archy --help` and completion list the same commands: those of the command table but the hidden ones", async () => {
    const help = await archy(["--help"]);
    const commands = [...help.stdout.matchAll(/^ {2}([a-z][\w-]*) {2,}/gm)].map((m) => m[1]);
    assert.ok(commands.length >= 15, help.stdout);
    assert.deepEqual(
      [...commands].sort(),
      Object.keys(COMMAND_SPECS).sort(),
      "help and completion both come from COMMANDS in src/cli/commands.ts",
    );
  });

  test("every option completion offers is one the command's --help documents", async () => {
    for (const [name, spec] of Object.entries(COMMAND_SPECS)) {
      const help = await archy([name, "--help"]);
      assert.equal(help.code, 0, `archy ${name} --help: ${help.stderr}`);
      const specs = [spec, ...Object.values(spec.subcommands ?? {})];
      for (const option of specs.flatMap((s) => s.options)) {
        if (option.name === "help") continue;
        assert.ok(
          help.stdout.includes(`--${option.name}`),
          `archy ${name} --help documents --${option.name}`,
        );
      }
    }
  });

  test("every subcommand the command table declares is dispatched: `archy CMD SUB --help` prints its usage and exits 0", async () => {
    const declared = Object.entries(COMMAND_SPECS).flatMap(([name, spec]) =>
      Object.keys(spec.subcommands ?? {}).map((sub) => [name, sub] as const),
    );
    assert.ok(declared.length >= 20, `only ${declared.length} subcommands declared`);
    for (const [name, sub] of declared) {
      const help = await archy([name, sub, "--help"]);
      assert.equal(help.code, 0, `archy ${name} ${sub} --help: ${help.stderr}`);
      assert.match(help.stdout, /Usage/, `archy ${name} ${sub} --help prints a usage`);
    }
  });

  test("bad input: a command or subcommand named like an object's property (toString, constructor) is unknown (exit 2, the usage, no stack trace)", async () => {
    for (const args of [["toString"], ["constructor"], ["catalog", "constructor"], ["market", "toString"]]) {
      const result = await archy(args);
      assert.equal(result.code, 2, `archy ${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, /unknown (sub)?command/, `archy ${args.join(" ")}`);
      assert.doesNotMatch(result.stderr, /\n\s+at /, `archy ${args.join(" ")} prints no stack trace`);
    }
  });

  test("the bash script is valid bash and completes commands and options", async () => {
    const run = (program: string) =>
      new Promise<string>((done, fail) =>
        execFile("bash", ["-c", program], (error, stdout, stderr) =>
          error ? fail(new Error(`${error.message}\n${stderr}`)) : done(stdout),
        ),
      );
    const script = bashScript();
    await run(`set -n\n${script}`);
    const complete = (...words: string[]) =>
      run(
        `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _archy; printf '%s\\n' "\${COMPREPLY[@]}"`,
      );
    assert.equal((await complete("archy", "cred")).trim(), "credentials");
    assert.deepEqual((await complete("archy", "logs", "x", "--")).trim().split("\n").sort(), [
      "--container",
      "--follow",
      "--help",
      "--tail",
      "--token-file",
      "--url",
    ]);
    assert.deepEqual((await complete("archy", "app", "")).trim().split("\n").sort(), [
      "--help",
      "import",
      "new",
      "publish",
      "render",
      "schema",
      "test",
      "validate",
    ]);
    assert.deepEqual((await complete("archy", "app", "render", "x", "--target", "")).trim().split("\n"), [
      "quadlet",
      "podman",
      "kube",
    ]);
    assert.deepEqual((await complete("archy", "completion", "")).trim().split("\n"), ["bash", "zsh"]);
  });

  test("the zsh script defines _archy and registers it (checked by zsh -n where zsh exists)", async (t) => {
    const script = zshScript();
    assert.match(script, /^#compdef archy$/m);
    assert.match(script, /compdef _archy archy/);
    for (const name of Object.keys(COMMAND_SPECS)) assert.ok(script.includes(`'${name}:`), name);
    const zsh = await new Promise<boolean>((done) => execFile("zsh", ["--version"], (error) => done(!error)));
    if (!zsh) {
      t.skip("zsh is not installed");
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "archy-zsh-"));
    try {
      writeFileSync(join(dir, "_archy"), script);
      await new Promise<void>((done, fail) =>
        execFile("zsh", ["-n", join(dir, "_archy")], (error, _stdout, stderr) =>
          error ? fail(new Error(stderr)) : done(),
        ),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Never run: tsc checks it; each `@ts-expect-error` must be one (the CLI's and the gate's calls are typed by the contract). */
async function compileOnly(client: DaemonClient): Promise<void> {
  const apps = await client.call("package.list");
  void apps[0]?.phase;
  await client.call("package.logs", { id: "a", tail: 10 }, { timeoutMs: 60_000 });
  // @ts-expect-error a method the contract does not have
  await client.call("package.instal", { id: "a" });
  // @ts-expect-error a misspelt param
  await client.call("package.install", { idd: "a" });
  // @ts-expect-error a method that needs params, called without
  await client.call("package.get");
  // @ts-expect-error a result field that does not exist
  void apps[0]?.phse;
  // @ts-expect-error a method that needs the token is not public
  await client.callPublic("package.list");
}
void compileOnly;
