/** `archy app validate` as a user runs it: the real bin/archy in a child process. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { MINIMAL } from "../support/manifest-text.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ARCHY = join(ROOT, "bin/archy");
const VALID_FULL = join(ROOT, "test/fixtures/manifests/valid-full.yml");
const work = realpathSync(mkdtempSync(join(tmpdir(), "archy-validate-")));
after(() => rmSync(work, { recursive: true, force: true }));

type Run = { code: number; stdout: string; stderr: string };

function archy(args: string[], cwd = ROOT): Promise<Run> {
  return new Promise((resolve) => {
    execFile(ARCHY, args, { cwd, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function write(name: string, text: string): string {
  const path = join(work, name);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
  return path;
}

test("a valid manifest: exit 0 and an ok line", async () => {
  const run = await archy(["app", "validate", "test/fixtures/manifests/valid-full.yml"]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^ok +test\/fixtures\/manifests\/valid-full\.yml \(alice\.media-stack\)$/m);
  assert.match(run.stdout, /1 valid, 0 invalid/);
  assert.equal(run.stderr, "");
});

test("an invalid manifest: exit 1, every problem on stderr as file:line:col with its fix", async () => {
  write("bad.yml", `${MINIMAL}    memory: lots\n    imgae: nginx\n    capabilities: [SYS_ADMIN]\n`);
  const run = await archy(["app", "validate", "bad.yml"], work);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^error bad\.yml: 2 problems$/m);
  assert.match(run.stderr, /^ {2}bad\.yml:9:13: containers\.web\.memory: the string "lots" is not valid/m);
  assert.match(run.stderr, /^ {2}bad\.yml:10:5: containers\.web\.imgae: unknown field `imgae`$/m);
  assert.match(run.stderr, /^ {4}fix: did you mean `image`\?$/m);
  assert.match(run.stdout, /0 valid, 1 invalid/);
});

test("a hostile manifest is refused with its position", async () => {
  const run = await archy(["app", "validate", "test/fixtures/hostile/docker-sock.yml"]);
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    /test\/fixtures\/hostile\/docker-sock\.yml:10:28: containers\.web\.volumes\[0\]\.host_path: host path \/var\/run\/docker\.sock can never be mounted/,
  );
});

test("--json: the same issues as data, with line and column", async () => {
  write("json/bad.yml", `${MINIMAL}    ports: [{ container: 80, host: 80 }]\n`);
  const run = await archy(["app", "validate", "--json", "json/bad.yml", VALID_FULL], work);
  assert.equal(run.code, 1);
  const report = JSON.parse(run.stdout) as {
    valid: boolean;
    apps: Array<{ file: string; valid: boolean; id?: string; issues: Array<Record<string, unknown>> }>;
  };
  assert.equal(report.valid, false);
  assert.equal(report.apps.length, 2);
  const [bad, good] = report.apps;
  assert.ok(bad && good);
  assert.equal(bad.valid, false);
  assert.deepEqual(bad.issues, [
    {
      file: "json/bad.yml",
      line: 9,
      column: 36,
      path: "containers.web.ports[0].host",
      message: "host port 80 is below 1024 and needs a low-port permission",
      fix: 'use a port of 1024 or more, or add permissions: { <name>: { kind: low-port, port: 80, reason: "…" } }',
      rule: "security.low-port",
    },
  ]);
  assert.equal(good.valid, true);
  assert.equal(good.id, "alice.media-stack");
  assert.deepEqual(good.issues, []);
});

test("--json on valid manifests: exit 0", async () => {
  const run = await archy(["app", "validate", "--json", "test/fixtures/manifests/valid-full.yml"]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal((JSON.parse(run.stdout) as { valid: boolean }).valid, true);
});

test("rules across apps: two manifests with one id are placed in the second file", async () => {
  write("set/one/manifest.yml", MINIMAL);
  write("set/two/manifest.yml", MINIMAL);
  const run = await archy(["app", "validate", "set"], work);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /set\/two\/manifest\.yml:2:5: id: app id hello is also used by /);
  assert.match(run.stdout, /^ok +set\/one\/manifest\.yml \(hello\)$/m);
});

test("a missing path: a clear error and exit 1", async () => {
  const run = await archy(["app", "validate", "no/such/manifest.yml"], work);
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    /no\/such\/manifest\.yml: \(file\): cannot read the manifest: no such file or directory/,
  );
  assert.match(run.stderr, /fix: pass a manifest\.yml file or an app directory/);
});

test("no path: usage and exit 2", async () => {
  const run = await archy(["app", "validate"]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /app validate needs at least one PATH/);
  assert.match(run.stderr, /Usage:/);
});

test("an unknown option: usage and exit 2", async () => {
  const run = await archy(["app", "validate", "--strict", "x.yml"]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /Unknown option '--strict'/);
});
