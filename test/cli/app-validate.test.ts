/** `archy app validate` as a user runs it: the real bin/archy in a child process. */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { MINIMAL } from "../support/manifest-text.ts";
import { runAsTestUser } from "../support/rootless.ts";
import { stageForTestUser } from "../support/stage.ts";

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

test("an interface published beyond the node: valid (exit 0), with a warning at its place and the fix", async () => {
  write(
    "exposed.yml",
    `${MINIMAL}    ports:\n      - { container: 8080, host: 18080, bind: 0.0.0.0 }\ninterfaces:\n  ui: { container: web, port: 8080 }\n`,
  );
  const run = await archy(["app", "validate", "exposed.yml"], work);
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.stdout,
    /^ {2}warning exposed\.yml:10:47: containers\.web\.ports\[0\]\.bind: port 8080 serves an interface and is published on 0\.0\.0\.0:18080: anyone who reaches that address gets the app without the node's login or TLS$/m,
  );
  assert.match(run.stdout, /fix: remove `bind`/);
  const json = await archy(["app", "validate", "exposed.yml", "--json"], work);
  const report = JSON.parse(json.stdout) as { apps: Array<{ warnings: Array<{ rule: string }> }> };
  assert.deepEqual(
    report.apps[0]?.warnings.map((w) => w.rule),
    ["access.exposed-interface"],
  );
});

test("an https icon: valid (exit 0), with a warning that the node never fetches it and the fix", async () => {
  write("remote-icon.yml", `${MINIMAL}icon: https://icons.example.org/app.png\n`);
  const run = await archy(["app", "validate", "remote-icon.yml"], work);
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.stdout,
    /^ {2}warning remote-icon\.yml:\d+:\d+: icon: icon https:\/\/icons\.example\.org\/app\.png is a URL: the node never fetches it/m,
  );
  assert.match(run.stdout, /fix: put the icon in the app directory/);
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

test("a directory the user may not read, a named pipe, a loop of links: one clear line each, no stack trace", {
  timeout: 120_000,
}, async () => {
  // As the unprivileged test user: root reads any directory.
  const base = mkdtempSync("/tmp/archy-validate-user-");
  try {
    chmodSync(base, 0o755);
    mkdirSync(join(base, "closed/app"), { recursive: true });
    writeFileSync(join(base, "closed/app/manifest.yml"), MINIMAL);
    chmodSync(join(base, "closed"), 0o000);
    execFileSync("mkfifo", [join(base, "pipe.yml")]);
    chmodSync(join(base, "pipe.yml"), 0o644);
    writeApp(
      "user-loop",
      "loop",
      "hooks:",
      "  post_install:",
      "    - copy_from_host: { from: files/d, container: web, to: /data/d }",
    );
    mkdirSync(join(work, "user-loop/loop/files/d"), { recursive: true });
    symlinkSync(".", join(work, "user-loop/loop/files/d/self"));
    execFileSync("cp", ["-r", join(work, "user-loop"), base]);
    execFileSync("chmod", ["-R", "a+rX", join(base, "user-loop")]);
    const staged = stageForTestUser();
    const run = await runAsTestUser([
      staged.node,
      join(staged.dir, "src/cli/main.ts"),
      "app",
      "validate",
      join(base, "closed"),
      join(base, "pipe.yml"),
      join(base, "user-loop/loop"),
    ]);
    assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
    assert.doesNotMatch(run.stderr, /\bat \S+:\d+:\d+|EACCES/, "no stack trace, no raw error code");
    assert.match(run.stderr, /closed: \(file\): cannot read the manifest: permission denied/);
    assert.match(run.stderr, /pipe\.yml: \(file\): cannot read the manifest: .*is a named pipe, not a file/);
    assert.match(run.stderr, /copy source d\/self leads back into a directory that holds it/);
    assert.match(run.stdout, /0 valid, 3 invalid/);
  } finally {
    chmodSync(join(base, "closed"), 0o755);
    rmSync(base, { recursive: true, force: true });
  }
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

/** An app directory under `dir`: the minimal manifest with this id, and `lines` appended. */
function writeApp(dir: string, id: string, ...lines: string[]): void {
  write(`${dir}/${id}/manifest.yml`, `${MINIMAL.replace("id: hello", `id: ${id}`)}${lines.join("\n")}\n`);
}

test("an app's dependency beside it is looked up as `app render` does: its exports and version are checked", async () => {
  writeApp("deps", "keyring", "exports:", "  api-path: { value: /api }");
  writeApp(
    "deps",
    "web",
    "    environment:",
    "      API: { app: keyring, export: api-pth }",
    "dependencies:",
    '  - { id: keyring, version: ">=2.0.0" }',
  );
  const run = await archy(["app", "validate", "deps/web"], work);
  assert.equal(run.code, 1, run.stdout);
  assert.match(run.stderr, /^error deps\/web\/manifest\.yml: 2 problems$/m);
  assert.match(
    run.stderr,
    /^ {2}deps\/web\/manifest\.yml:10:36: containers\.web\.environment\.API\.export: app keyring has no export "api-pth"\n {4}fix: did you mean "api-path"\?$/m,
  );
  assert.match(
    run.stderr,
    /^ {2}deps\/web\/manifest\.yml:12:29: dependencies\[0\]\.version: keyring 1\.0\.0 does not satisfy >=2\.0\.0$/m,
  );
  // The same lookup as render, which refuses the app for the same reason.
  const render = await archy(["app", "render", "deps/web", "--target", "podman"], work);
  assert.equal(render.code, 1);
  assert.match(render.stderr, /has no export 'api-pth'/);
});

test("a dependency found nowhere beside the app is a note, not an error (it may come from a catalog)", async () => {
  writeApp("alone", "web", "dependencies:", "  - { id: elsewhere }");
  const run = await archy(["app", "validate", "alone/web"], work);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^ok +alone\/web\/manifest\.yml \(web\)$/m);
  assert.match(
    run.stdout,
    /^ {2}note alone\/web\/manifest\.yml:10:11: dependencies\[0\]\.id: dependency elsewhere was not found beside this app \(in alone\): its version and the exports used were not checked$/m,
  );
  assert.match(run.stdout, /1 valid, 0 invalid/);
  const json = await archy(["app", "validate", "--json", "alone/web"], work);
  const report = JSON.parse(json.stdout) as {
    valid: boolean;
    apps: Array<{ notes: Array<{ rule: string }> }>;
  };
  assert.equal(report.valid, true);
  assert.deepEqual(
    report.apps[0]?.notes.map((n) => n.rule),
    ["set.dependency-not-found"],
  );
});

test("a dependency beside the app that is there but invalid is said to be invalid, not missing", async () => {
  writeApp("broken", "keyring", "    memory: lots");
  writeApp("broken", "web", "dependencies:", "  - { id: keyring }");
  const run = await archy(["app", "validate", "broken/web"], work);
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.stdout,
    /^ {2}note broken\/web\/manifest\.yml:10:11: dependencies\[0\]\.id: dependency keyring beside this app \(broken\/keyring\/manifest\.yml\) is invalid \(containers\.web\.memory: .*\): its version and the exports used were not checked\n {4}fix: archy app validate broken\/keyring lists what to fix in it$/m,
  );
  assert.doesNotMatch(run.stdout, /was not found/);
  const render = await archy(["app", "render", "broken/web", "--target", "podman"], work);
  assert.match(
    render.stderr,
    /warning: dependency keyring beside this app \(broken\/keyring\/manifest\.yml\) is invalid/,
  );
});

test("a host port used by two apps validated together is reported on both", async () => {
  writeApp("ports", "one", "    ports: [{ container: 80, host: 8080 }]");
  writeApp("ports", "two", "    ports: [{ container: 80, host: 8080 }]");
  const run = await archy(["app", "validate", "ports"], work);
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    /^ {2}ports\/one\/manifest\.yml:9:36: .*host port 8080\/tcp is also published by app two/m,
  );
  assert.match(
    run.stderr,
    /^ {2}ports\/two\/manifest\.yml:9:36: .*host port 8080\/tcp is also published by app one/m,
  );
  assert.match(run.stdout, /0 valid, 2 invalid/);
});

test("an app directory whose icon or copied file is missing is refused, with the line and the path", async () => {
  writeApp(
    "files",
    "web",
    "icon: icon.svg",
    "hooks:",
    "  post_install:",
    "    - copy_from_host: { from: files/index.html, container: web, to: /srv/index.html }",
  );
  const run = await archy(["app", "validate", "files/web"], work);
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    /^ {2}files\/web\/manifest\.yml:9:7: icon: icon icon\.svg does not exist under \/.*\/files\/web$/m,
  );
  assert.match(
    run.stderr,
    /^ {2}files\/web\/manifest\.yml:12:31: hooks\.post_install\[0\]\.copy_from_host\.from: copy source files\/index\.html does not exist under /m,
  );
});

test("render --target kube names on stderr what Kubernetes does not keep; other targets lose nothing", async () => {
  writeApp("kube", "worker", "    stop_signal: SIGINT");
  const kube = await archy(["app", "render", "kube/worker", "--target", "kube"], work);
  assert.equal(kube.code, 0, kube.stderr);
  assert.match(kube.stderr, /^archy: warning: worker: containers\.web\.stop_signal: /m);
  assert.match(kube.stdout, /# ---- worker\.yaml ----/);
  const podman = await archy(["app", "render", "kube/worker", "--target", "podman"], work);
  assert.equal(podman.code, 0, podman.stderr);
  assert.equal(podman.stderr, "");
});

test("the apps written by strangers from the docs validate together", async () => {
  const run = await archy([
    "app",
    "validate",
    "test/fixtures/third-party-apps",
    "test/fixtures/stranger-apps",
  ]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^8 valid, 0 invalid$/m);
});
