/**
 * `archy sources` against a JSON-RPC stand-in on loopback: what each subcommand sends (the pinned
 * root's text, read from the file given), what it prints, and how it refuses bad input before any
 * call. The methods themselves are tested on a real daemon with real TUF catalogs
 * (test/api/contract.test.ts, test/catalog/added-sources.test.ts).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";

const ARCHY = resolve(import.meta.dirname, "../../../bin/archy");

const STATUS = {
  name: "community",
  url: "https://catalog.example.org",
  removable: true,
  state: "failing",
  lastAttemptAt: 1,
  lastSuccessAt: null,
  apps: 3,
  error: { kind: "unreachable", message: "the catalog could not be fetched", fix: "check the URL" },
  failedRoles: [],
};

describe("archy sources", () => {
  let server: Server;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const calls: Array<{ method: string; params: Record<string, unknown> }> = [];
  let reply: (method: string) => unknown = () => ({ result: [STATUS] });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "archy-sources-"));
    writeFileSync(join(dir, "token"), "t\n", { mode: 0o600 });
    writeFileSync(join(dir, "root.json"), '{"signed":{"_type":"root"}}\n');
    server = createServer((request, response) => {
      let text = "";
      request.on("data", (chunk) => {
        text += chunk;
      });
      request.on("end", () => {
        const { id, method, params } = JSON.parse(text);
        calls.push({ method, params });
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify({ jsonrpc: "2.0", id, ...(reply(method) as object) }));
      });
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    env = { ...process.env, ARCHY_URL: `http://127.0.0.1:${port}`, ARCHY_TOKEN_FILE: join(dir, "token") };
  });
  after(async () => {
    await new Promise((done) => server.close(done));
    rmSync(dir, { recursive: true, force: true });
  });

  function archy(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((done) =>
      execFile(ARCHY, args, { env, cwd: dir }, (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
      ),
    );
  }

  test("ls lists each source with its state and, for a failing one, why and the fix", async () => {
    const run = await archy(["sources", "ls"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^SOURCE\s+STATE\s+APPS\s+REFRESHED\s+URL$/m);
    assert.match(run.stdout, /^community\s+failing\s+3\s+/m);
    assert.match(run.stdout, /community: the catalog could not be fetched\n {2}fix: check the URL/);
    assert.equal(calls.at(-1)?.method, "catalog.sources");
    assert.deepEqual(JSON.parse((await archy(["sources", "ls", "--json"])).stdout), [STATUS]);
  });

  test("add sends the root file's text as the pinned root; refresh of a failing source exits 1", async () => {
    reply = () => ({ result: [{ ...STATUS, state: "ok", error: null }] });
    const added = await archy([
      "sources",
      "add",
      "community",
      "https://catalog.example.org",
      "--root",
      "root.json",
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.deepEqual(calls.at(-1), {
      method: "catalog.sources.add",
      params: {
        name: "community",
        url: "https://catalog.example.org",
        root: '{"signed":{"_type":"root"}}\n',
      },
    });
    assert.match(added.stdout, /added community: 3 apps, verified under the given root/);
    reply = () => ({ result: [STATUS] });
    const refreshed = await archy(["sources", "refresh", "community"]);
    assert.equal(refreshed.code, 1, "a source still failing after the refresh");
    assert.deepEqual(calls.at(-1), { method: "catalog.refresh", params: { name: "community" } });
  });

  test("the daemon's refusal is shown in its words; bad input is refused before any call", async () => {
    reply = () => ({
      error: {
        code: -32013,
        message: "community is the source of installed apps",
        data: { dependents: ["notes"] },
      },
    });
    const refused = await archy(["sources", "remove", "community"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /community is the source of installed apps/);
    const before = calls.length;
    for (const [args, message] of [
      [["sources", "add", "community", "https://x"], /--root FILE is required/],
      [["sources", "add", "community"], /give a NAME and a URL/],
      [["sources", "remove"], /give one source name/],
    ] as const) {
      const run = await archy([...args]);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, message);
    }
    const missing = await archy(["sources", "add", "community", "https://x", "--root", "nowhere.json"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /--root nowhere\.json: no such file/);
    assert.doesNotMatch(missing.stderr, /\n\s+at /, "no stack trace");
    assert.equal(calls.length, before, "nothing was sent");
  });
});
