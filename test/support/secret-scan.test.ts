/**
 * The secrets scan's own machinery (test/support/secret-scan.ts), on a scan directory of its own: a
 * recorder collects lines, events and secret files; the scan finds a planted secret in each form it
 * claims to (plain, URL-encoded, hex, base64 and base64url inside larger documents at any
 * alignment, a piece of 12 characters of one), finds nothing in clean output, counts the lines where the platform masked a secret,
 * and judges `podman inspect` environments by the Podman version.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, describe, test } from "node:test";
import { encodedForms, referencedEnv, ScanRecorder, scanCollected } from "./secret-scan.ts";

const SECRET = "Zq7XkP2mW9rT4vB8nC3sL6dF"; // 24 alphanumeric characters, as the platform generates
const OTHER = "h3Kq9Wm2Xz7Pv4Rt8Ny6Bc1D";

describe("secret scan machinery", () => {
  const root = mkdtempSync(join(tmpdir(), "archy-scan-selftest-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;

  /** A scan directory with one recorder whose state holds SECRET (app-a/password) and OTHER. */
  function recorder(): { dir: string; scan: ScanRecorder } {
    const base = join(root, String(++n));
    const secretsRoot = join(base, "state", "secrets");
    mkdirSync(join(secretsRoot, "app-a"), { recursive: true });
    mkdirSync(join(secretsRoot, "app-b"), { recursive: true });
    writeFileSync(join(secretsRoot, "app-a", "password"), SECRET, { mode: 0o600 });
    writeFileSync(join(secretsRoot, "app-b", "key"), OTHER, { mode: 0o600 });
    writeFileSync(join(secretsRoot, "app-b", "key.tmp-123"), "half-written-value", { mode: 0o600 });
    const dir = join(base, "scan");
    return { dir, scan: new ScanRecorder("orchestrator-driver", "selftest", { secretsRoot, dir }) };
  }

  test("clean output: lines, events and secrets counted, no hit", () => {
    const { dir, scan } = recorder();
    scan.log('{"level":30,"msg":"generated secret password"}');
    scan.chunk('{"level":30,"msg":"a line in ');
    scan.chunk('two chunks"}\n{"level":30,');
    scan.event({ type: "app", appId: "app-a", phase: "running" });
    scan.close(); // the unfinished last line is kept too
    const result = scanCollected(dir);
    assert.deepEqual(result.lines["orchestrator-driver"], { logs: 3, events: 1 });
    assert.equal(result.secrets.generated, 2, "two secret files; the temporary one is not a secret");
    assert.deepEqual(result.hits, []);
  });

  test("lines where the platform masked a secret are counted, by harness", () => {
    const { dir, scan } = recorder();
    scan.log('{"msg":"post_install step 1: [secret app-a/password]"}');
    scan.log('{"msg":"a [secret] that names no app is not the mask"}');
    scan.event({ type: "log", line: { message: "pw [secret app-b/key] and [secret app-a/password]" } });
    scan.close();
    const result = scanCollected(dir);
    assert.equal(result.masked["orchestrator-driver"], 2);
    assert.equal(result.masked["cli-daemon"], 0);
    assert.deepEqual(result.hits, []);
  });

  const leaks: Array<[string, (secret: string) => string]> = [
    ["plain", (s) => `{"level":30,"msg":"generated secret password = ${s}"}`],
    ["url-encoded in a query", (s) => `GET /rpc?x=1&password=${encodeURIComponent(`${s}/`)}`],
    ["hex", (s) => `dump ${Buffer.from(`\x00${s}`).toString("hex")}`],
    ["upper-case hex", (s) => `DUMP ${Buffer.from(s).toString("hex").toUpperCase()}`],
    [
      "a piece of its base64 (a line of wrapped output)",
      (s) => Buffer.from(s).toString("base64").slice(0, 16),
    ],
    ...[0, 1, 2, 3, 4, 5].map((prefix): [string, (secret: string) => string] => [
      `base64 at byte offset ${prefix}`,
      (s) => `auth ${Buffer.from(`${"u".repeat(prefix)}:${s}:tail`).toString("base64")}`,
    ]),
    [
      "base64url inside a JSON document",
      (s) => `token=${Buffer.from(JSON.stringify({ a: 1, pw: s })).toString("base64url")}`,
    ],
  ];
  for (const [form, line] of leaks)
    test(`a secret ${form} in a log line is found`, () => {
      const { dir, scan } = recorder();
      scan.log('{"level":30,"msg":"fine"}');
      scan.log(line(SECRET));
      scan.close();
      const { hits } = scanCollected(dir);
      assert.equal(hits.length >= 1, true, `${form}: not found in ${line(SECRET)}`);
      assert.equal(hits[0]?.line, 2);
      assert.match(hits[0]?.secret ?? "", /^app-a\/password \(Zq7…/);
      assert.ok(!hits[0]?.excerpt.includes(SECRET), "the report does not repeat the secret");
    });

  test("a secret in an event is found, and a secret deleted after it was seen is still looked for", () => {
    const { dir, scan } = recorder();
    scan.harvest();
    rmSync(join(root, String(n), "state", "secrets", "app-b"), { recursive: true });
    scan.event({ type: "operation", error: `probe failed: wget http://archy:${OTHER}@127.0.0.1/` });
    scan.close();
    const { hits } = scanCollected(dir);
    assert.equal(hits.length, 1);
    assert.match(hits[0]?.file ?? "", /^events\//);
    assert.match(hits[0]?.secret ?? "", /^app-b\/key/);
  });

  test("the CLI token is a secret too; the store's operation logs are scanned", () => {
    const base = join(root, String(++n));
    mkdirSync(base, { recursive: true });
    const token = "tok_0123456789abcdefghijklmnopqrstuv";
    writeFileSync(join(base, "cli-token"), `${token}\n`, { mode: 0o600 });
    const dir = join(base, "scan");
    const scan = new ScanRecorder("api-daemon", "selftest", { cliTokenFile: join(base, "cli-token"), dir });
    scan.log(`{"req":{"url":"/rpc/v1?token=${token}"}}`);
    const db = new DatabaseSync(join(base, "store.db"));
    db.exec(`CREATE TABLE operation_logs (operation_id TEXT, seq INTEGER, message TEXT);
             CREATE TABLE operations (id TEXT, error TEXT);
             CREATE TABLE apps (id TEXT, reason TEXT);
             INSERT INTO operation_logs VALUES ('op-1', 1, 'creating web'), ('op-1', 2, 'hook said ${token}');
             INSERT INTO operations VALUES ('op-1', NULL), ('op-2', 'failed: ${token}');
             INSERT INTO apps VALUES ('a', 'waiting for ${token}');`);
    db.close();
    scan.storeRecords(join(base, "store.db"));
    scan.close();
    const result = scanCollected(dir);
    assert.equal(result.secrets.cliTokens, 1);
    assert.deepEqual(
      result.hits.map((h) => [h.line, h.excerpt]),
      [
        [1, '{"req":{"url":"/rpc/v1?token=<SECRET>"}}'],
        [3, "store: hook said <SECRET>"],
        [4, "store: failed: <SECRET>"],
        [5, "store: waiting for <SECRET>"],
      ],
    );
    assert.match(result.hits[0]?.secret ?? "", /^CLI token/);
  });

  test("backup repository keys and target credentials are secrets: one in a log line or event is a leak", () => {
    const base = join(root, String(++n));
    const targets = join(base, "backup", "targets");
    mkdirSync(join(targets, "usb"), { recursive: true });
    mkdirSync(join(targets, "cloud"), { recursive: true });
    const key = "q3Zx0VbPz2m7kq1pJ9cTt0dQe6yHcW4s8nLrXaUoF2g";
    const awsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    writeFileSync(join(targets, "usb", "key"), `${key}\n`, { mode: 0o600 });
    writeFileSync(join(targets, "cloud", "key"), "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eA\n", { mode: 0o600 });
    writeFileSync(
      join(targets, "cloud", "credentials.json"),
      JSON.stringify({ AWS_ACCESS_KEY_ID: "AKIAEXAMPLEID0001", AWS_SECRET_ACCESS_KEY: awsSecret }),
      { mode: 0o600 },
    );
    const dir = join(base, "scan");
    const scan = new ScanRecorder("cli-daemon", "selftest", { backupTargetsRoot: targets, dir });
    scan.log("target usb opened");
    scan.log(`restic said: wrong password ${key}`);
    scan.event({ type: "log", message: `env AWS_SECRET_ACCESS_KEY=${encodeURIComponent(awsSecret)}` });
    scan.close();
    const result = scanCollected(dir);
    assert.equal(result.secrets.backupKeys, 4, "two keys and two credentials collected");
    assert.deepEqual(
      result.hits.map((h) => [h.file.split("/")[0], h.secret.split(" (")[0]]),
      [
        ["logs", "backup target usb/key"],
        ["events", "backup target cloud/AWS_SECRET_ACCESS_KEY"],
      ],
    );
  });

  test("podman inspect: before 5.3 only an exact env secret is accepted; from 5.3 nothing", () => {
    for (const [version, accepted] of [
      ["4.3.1", true],
      ["5.2.5", true],
      ["5.3.0", false],
      ["6.0.0", false],
    ] as const) {
      const { dir, scan } = recorder();
      scan.harvest();
      scan.podman({
        container: "c",
        app: "app-a",
        key: "web",
        podmanVersion: version,
        env: ["PATH=/bin", `RPC_PASSWORD=${SECRET}`, `DATABASE_URL=postgres://u:${OTHER}@db/x`],
        secretEnv: ["RPC_PASSWORD"],
      });
      scan.close();
      const { podman } = scanCollected(dir);
      assert.deepEqual(
        podman.hits.map((h) => [h.variable, h.accepted]),
        [
          ["RPC_PASSWORD", accepted],
          ["DATABASE_URL", false],
        ],
        version,
      );
    }
  });

  test("the environment filled from references is read from the stored manifest", () => {
    const manifest = `containers:
  node:
    environment:
      PORT: 8332
      RPC_PASSWORD: { secret: rpc-password }
      UPSTREAM: { app: mini-node, export: rpc-password }
`;
    assert.deepEqual(referencedEnv(manifest, "node"), ["RPC_PASSWORD", "UPSTREAM"]);
    assert.deepEqual(referencedEnv(manifest, "other"), []);
    assert.deepEqual(referencedEnv("{{{", "node"), []);
  });

  test("a consumer's password is a reference too; its name alone is not", () => {
    const manifest = `containers:
  web:
    environment:
      PGPASSWORD: "\${consumer:rw-postgres/password}"
      PGUSER: "\${consumer:rw-postgres/name}"
`;
    assert.deepEqual(referencedEnv(manifest, "web"), ["PGPASSWORD"]);
  });

  test("so is the environment filled from references in the container's env_files", () => {
    const manifest = `containers:
  web:
    env_file: [config/web.env]
    environment:
      TOKEN: { secret: token }
`;
    const ref = (name: string) => `\${secret:${name}}`;
    const envFiles = {
      "config/web.env": `# packaged\nPLAIN=x\nAPI_URL=https://k:${ref("api-key")}@api.example/\nTOKEN=${ref("token")}\n`,
      "config/other.env": `OTHER=${ref("api-key")}\n`,
    };
    assert.deepEqual(referencedEnv(manifest, "web", envFiles), ["TOKEN", "API_URL"]);
    assert.deepEqual(
      referencedEnv(manifest, "web"),
      ["TOKEN"],
      "without the stored files only environment counts",
    );
  });

  test("encoded forms are long enough to mean something and include the value itself", () => {
    const forms = encodedForms(SECRET);
    assert.equal(forms[0]?.text, SECRET);
    for (const form of forms) assert.ok(form.text.length >= 12, `${form.form}: ${form.text}`);
    assert.ok(
      forms.some((f) => f.form === "base64@0" && Buffer.from(SECRET).toString("base64").startsWith(f.text)),
    );
  });

  test("scan files are private to their owner", () => {
    const { dir, scan } = recorder();
    scan.log("x");
    scan.close();
    for (const category of readdirSync(dir)) {
      assert.equal(statSync(join(dir, category)).mode & 0o777, 0o700, category);
      for (const file of readdirSync(join(dir, category)))
        assert.equal(statSync(join(dir, category, file)).mode & 0o777, 0o600, file);
    }
  });
});
