/**
 * What `archy ls --json` loads, from the build as operators run it: the command is paid at every
 * start, and its cost is mostly loading (docs/architecture.md, "Starting fast"). It runs against a
 * JSON-RPC server in this process that answers `package.list` with a fixed list, and records every
 * file of the build it reads (Node's in-thread module hooks, given with `--require`) and every one of
 * Node's own modules it loaded (`process.moduleLoadList` at exit). Counts, not milliseconds: the
 * benchmark (bench/cli.bench.ts) measures the time.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildCli, isStale } from "../../scripts/build.ts";
import { CODE_ROOT } from "../../src/system/code-root.ts";

/**
 * Appends each file URL loaded to $ARCHY_TEST_LOAD_RECORD, then Node's own modules at exit. CommonJS,
 * given with `--require`: an ESM hook's own `import … from "node:fs"` would load what is counted.
 */
const RECORD_HOOK = `const { registerHooks } = require("node:module");
const { appendFileSync } = require("node:fs");
const record = process.env.ARCHY_TEST_LOAD_RECORD;
registerHooks({
  load(url, context, next) {
    if (url.startsWith("file:")) appendFileSync(record, "file " + url + "\\n");
    return next(url, context);
  },
});
process.on("exit", () => appendFileSync(record, process.moduleLoadList.map((m) => "node " + m + "\\n").join("")));
`;

const APPS = Array.from({ length: 3 }, (_, i) => ({ id: `app-${i}`, version: "1.0.0", phase: "running" }));

describe("archy ls --json from the build", () => {
  const dir = mkdtempSync(join(tmpdir(), "archy-start-modules-"));
  const record = join(dir, "record");
  const tokenFile = join(dir, "cli-token");
  let server: Server;
  let stdout = "";
  let files: string[] = [];
  let builtins: string[] = [];

  before(async () => {
    if (isStale()) await buildCli();
    writeFileSync(tokenFile, "a-token\n", { mode: 0o600 });
    writeFileSync(join(dir, "record-hook.cjs"), RECORD_HOOK);
    server = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => {
        body += chunk;
      });
      request.on("end", () => {
        const { id, method } = JSON.parse(body) as { id: number; method: string };
        const ok = method === "package.list" && request.headers.authorization === "Bearer a-token";
        response.setHeader("content-type", "application/json");
        response.end(
          JSON.stringify(
            ok
              ? { jsonrpc: "2.0", id, result: APPS }
              : { jsonrpc: "2.0", id, error: { code: -32601, message: `unexpected ${method}` } },
          ),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const node = join(CODE_ROOT, "node_modules", "node", "bin", "node");
    const argv = ["--require", join(dir, "record-hook.cjs"), join(CODE_ROOT, "dist", "main.js")];
    const child = spawn(node, [...argv, "ls", "--json", "--url", url, "--token-file", tokenFile], {
      env: { PATH: process.env.PATH ?? "", HOME: dir, ARCHY_TEST_LOAD_RECORD: record },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.equal(code, 0, `archy ls --json exited ${code}: ${stderr}`);
    const lines = readFileSync(record, "utf8").split("\n").filter(Boolean);
    files = lines.filter((line) => line.startsWith("file ")).map((line) => line.slice(5));
    builtins = lines.filter((line) => line.startsWith("node ")).map((line) => line.slice(5));
  });
  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints the daemon's list as the API's result, indented", () => {
    assert.equal(stdout, `${JSON.stringify(APPS, null, 2)}\n`);
  });

  it("reads at most 10 files of the build: no module of its own for each of Node's built-ins", () => {
    const build = files.filter((url) => url.includes("/.build/"));
    assert.ok(build.length > 0, `the hook recorded the build's files: ${files.join(", ")}`);
    assert.ok(build.length <= 10, `${build.length} files of the build loaded:\n${build.join("\n")}`);
  });

  it("loads none of Node's lazily loaded modules it does not use (util's diff and colours, fs/promises, readline)", () => {
    const unused = builtins.filter((name) =>
      /internal\/util\/(diff|colors)|internal\/fs\/promises|internal\/readline/.test(name),
    );
    assert.deepEqual(unused, [], `loaded: ${unused.join(", ")}`);
  });
});
