// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose files write their variables as ${NAME}
/**
 * The app developer kit as a developer runs it, through the real bin/archy: `app new` from each
 * template, `app import` of a compose project, `app schema`, `app validate --format` for CI; bad
 * input for each (a clear error, nothing written). Then on the real rootless Podman: an app made by
 * `app new` from each template, and an imported compose app, install as they are and run (the web
 * template's page answers).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import Ajv4 from "ajv-draft-04";
import addFormats from "ajv-formats";
import { SCHEMA_ID } from "../../src/manifest/json-schema.ts";
import { type Driver, eventually, httpGet, Lab } from "../support/driver.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ARCHY = join(ROOT, "bin/archy");
const work = realpathSync(mkdtempSync(join(tmpdir(), "archy-devkit-")));
after(() => rmSync(work, { recursive: true, force: true }));

type Run = { code: number; stdout: string; stderr: string };

function archy(args: string[], cwd = work): Promise<Run> {
  return new Promise((resolve) => {
    execFile(ARCHY, args, { cwd, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function write(path: string, text: string): string {
  const full = join(work, path);
  mkdirSync(join(full, ".."), { recursive: true });
  writeFileSync(full, text);
  return full;
}

const TEMPLATES = ["stack", "web", "worker"];

describe("archy app new", () => {
  test("each template gives an app directory that `archy app validate` accepts, with the $schema line, an icon and a README", async () => {
    for (const template of TEMPLATES) {
      const id = `new-${template}`;
      const run = await archy(["app", "new", id, "--template", template]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`^created ${id}/ from the template ${template}`, "m"));
      const files = readdirSync(join(work, id));
      for (const file of ["manifest.yml", "icon.svg", "README.md"])
        assert.ok(files.includes(file), `${template}: ${file}`);
      const manifest = readFileSync(join(work, id, "manifest.yml"), "utf8");
      const schema = /^# yaml-language-server: \$schema=(.+)$/m.exec(manifest.split("\n")[0] as string)?.[1];
      // Outside the checkout, the schema is named by its absolute path, which the editor reads.
      assert.equal(schema, join(ROOT, "schema/manifest-v1.json"));
      assert.ok(existsSync(schema as string));
      assert.doesNotMatch(
        [manifest, readFileSync(join(work, id, "README.md"), "utf8")].join("\n"),
        /\{\{/,
        "no placeholder is left",
      );
      const validated = await archy(["app", "validate", id]);
      assert.equal(validated.code, 0, validated.stderr);
    }
  });

  test("inside the checkout the $schema line is a relative path; --schema names another", async () => {
    const inside = mkdtempSync(join(ROOT, "test/.devkit-"));
    try {
      const run = await archy(["app", "new", "rel-app", "--out", join(inside, "rel-app")], ROOT);
      assert.equal(run.code, 0, run.stderr);
      const first = readFileSync(join(inside, "rel-app/manifest.yml"), "utf8").split("\n")[0];
      assert.equal(first, "# yaml-language-server: $schema=../../../schema/manifest-v1.json");
    } finally {
      rmSync(inside, { recursive: true, force: true });
    }
    const run = await archy(["app", "new", "url-app", "--schema", SCHEMA_ID]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      readFileSync(join(work, "url-app/manifest.yml"), "utf8").split("\n")[0],
      `# yaml-language-server: $schema=${SCHEMA_ID}`,
    );
  });

  test("bad input: a bad id, template, name or port is a usage error, an existing directory is left as it is", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["app", "new", "Bad_Id"], /'Bad_Id' is not an app id/],
      [
        ["app", "new", "ok-id", "--template", "nope"],
        /--template must be one of stack, web, worker \(got 'nope'\)/,
      ],
      [["app", "new", "ok-id", "--port", "80"], /--port must be a port from 1024 to 65535/],
      [["app", "new", "ok-id", "--name", '"quoted"'], /--name '"quoted"' must be/],
      [["app", "new"], /app new needs exactly one ID/],
    ];
    for (const [args, pattern] of cases) {
      const run = await archy(args);
      assert.equal(run.code, 2, args.join(" "));
      assert.match(run.stderr, pattern);
    }
    assert.equal(existsSync(join(work, "ok-id")), false);
    write("taken/keep.txt", "mine\n");
    const run = await archy(["app", "new", "taken"]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /taken already exists and is not empty: nothing was written/);
    assert.deepEqual(readdirSync(join(work, "taken")), ["keep.txt"]);
  });
});

describe("archy app schema", () => {
  test("prints the published JSON Schema: the committed file, with its stable $id", async () => {
    const run = await archy(["app", "schema"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, readFileSync(join(ROOT, "schema/manifest-v1.json"), "utf8"));
    assert.equal((JSON.parse(run.stdout) as { $id: string }).$id, SCHEMA_ID);
  });
});

/** A compose project with a web page on the test image, a stand-in database and a generated password. */
const COMPOSE = `name: Busy Board
services:
  web:
    image: localhost/archy-test/busybox:1
    command: ["sh", "-c", "mkdir -p /tmp/www && echo board > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"]
    ports: ["\${WEB_PORT:-18555}:8080"]
    environment:
      TZ: $TZ
      DB_PASSWORD: \${DB_PASSWORD}
    depends_on:
      db: { condition: service_healthy }
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 2s
      timeout: 1s
    restart: unless-stopped
  db:
    image: localhost/archy-test/busybox:1
    command: sh -c 'trap "exit 0" TERM; mkdir -p /data && while true; do sleep 1; done'
    environment:
      POSTGRES_PASSWORD: \${DB_PASSWORD}
    volumes:
      - ./data/db:/data
    healthcheck:
      test: ["CMD-SHELL", "test -d /data"]
      interval: 2s
      timeout: 1s
    privileged: true
`;

describe("archy app import", () => {
  test("a compose project becomes an app directory that validates, with IMPORT.md saying what to decide", async () => {
    write("project/compose.yml", COMPOSE);
    write("project/.env", "WEB_PORT=18556\n");
    const run = await archy(["app", "import", "project/compose.yml", "--out", "busy-board"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /^imported busy-board\/ \(app busy-board\): 1 to decide, \d+ to review, \d+ carried over/m,
    );
    assert.match(
      run.stderr,
      /^project\/compose\.yml:28:17: decide: services\.db\.privileged: not carried over: privileged containers are never allowed$/m,
    );
    assert.deepEqual(readdirSync(join(work, "busy-board")).sort(), [
      "IMPORT.md",
      "README.md",
      "icon.svg",
      "manifest.yml",
    ]);
    const manifest = readFileSync(join(work, "busy-board/manifest.yml"), "utf8");
    assert.match(manifest, /^# yaml-language-server: \$schema=/);
    assert.match(manifest, /host: 18556/, "the project's .env sets WEB_PORT");
    assert.match(manifest, /DB_PASSWORD: \{ ?secret: db-password ?\}/);
    assert.match(
      readFileSync(join(work, "busy-board/IMPORT.md"), "utf8"),
      /## To decide\n\n.*\n\n- `project\/compose\.yml:28` `services\.db\.privileged`/,
    );
    const validated = await archy(["app", "validate", "busy-board"]);
    assert.equal(validated.code, 0, validated.stderr);
  });

  test("--json: the report and counts as data", async () => {
    write("json/compose.yml", "services:\n  web:\n    image: nginx:1.27\n    network_mode: host\n");
    const run = await archy([
      "app",
      "import",
      "json/compose.yml",
      "--out",
      "json-app",
      "--id",
      "json-app",
      "--json",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as {
      ok: boolean;
      appId: string;
      counts: Record<string, number>;
      lines: Array<Record<string, unknown>>;
    };
    assert.equal(report.ok, true);
    assert.equal(report.appId, "json-app");
    assert.equal(report.counts.decide, 1);
    assert.deepEqual(
      report.lines.find((l) => l.level === "decide"),
      {
        level: "decide",
        file: "json/compose.yml",
        line: 4,
        column: 19,
        subject: "services.web.network_mode",
        message:
          "host networking is never given, and the file names no port the container serves: on the app's own network it would be unreachable",
        action: "list the ports it listens on under `ports` (they are published on the same host ports)",
      },
    );
  });

  test("bad input: not YAML, not compose, an unknown service key, a missing env file — exit 1, file:line, nothing written", async () => {
    const cases: Array<[string, string, RegExp]> = [
      ["notyaml.yml", "services:\n  web: [unclosed\n", /^notyaml\.yml:\d+:\d+: error: \(file\): YAML /m],
      [
        "notcompose.yml",
        "apiVersion: v1\nkind: Pod\n",
        /^notcompose\.yml:1:1: error: \(file\): this is not a compose file: it has no `services`/m,
      ],
      [
        "unknownkey.yml",
        "services:\n  web:\n    image: nginx\n    imagee: nginx\n",
        /^unknownkey\.yml:4:5: error: services\.web\.imagee: unknown key `imagee`[^\n]*\n {4}to do: did you mean `image`\?/m,
      ],
      [
        "noenv.yml",
        "services:\n  web:\n    image: nginx\n    env_file: missing.env\n",
        /^noenv\.yml:4:15: error: services\.web\.env_file: env file missing\.env cannot be read: no such file or directory/m,
      ],
    ];
    for (const [file, text, pattern] of cases) {
      write(`bad/${file}`, text);
      const run = await archy(["app", "import", file, "--out", `out-${file}`], join(work, "bad"));
      assert.equal(run.code, 1, `${file}: ${run.stdout}`);
      assert.match(run.stderr, pattern, file);
      assert.match(run.stderr, /^archy: nothing was imported$/m);
      assert.equal(existsSync(join(work, "bad", `out-${file}`)), false, `${file}: nothing written`);
    }
    const missing = await archy(["app", "import", "no-such.yml"]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /no-such\.yml: error: \(file\): cannot read no-such\.yml: no such file or directory/,
    );
    const usage = await archy(["app", "import"]);
    assert.equal(usage.code, 2);
  });
});

describe("archy app import reads only the project's own files", () => {
  test("an env file, a config or an include outside the compose file's directory (a path or a link) is refused: nothing of the developer's leaks into the app", async () => {
    write("outside/secret.env", "TOKEN=the-developers-own\n");
    const cases: Array<[string, string]> = [
      ["envfile.yml", "services:\n  web:\n    image: nginx\n    env_file: ../outside/secret.env\n"],
      [
        "config.yml",
        "services:\n  web:\n    image: nginx\n    configs: [c]\nconfigs:\n  c: { file: ../outside/secret.env }\n",
      ],
      ["include.yml", "include: [../outside/secret.env]\nservices:\n  web:\n    image: nginx\n"],
      ["linked.yml", "services:\n  web:\n    image: nginx\n    env_file: linked.env\n"],
    ];
    for (const [file, text] of cases) {
      const dir = `leak-${file.replace(".yml", "")}`;
      write(`${dir}/${file}`, text);
      if (file === "linked.yml") symlinkSync(join(work, "outside/secret.env"), join(work, dir, "linked.env"));
      const run = await archy(["app", "import", join(dir, file), "--out", `${dir}-app`]);
      assert.equal(run.code, 1, `${file}: ${run.stdout}`);
      assert.match(run.stderr, /outside the project's directory/, file);
      assert.doesNotMatch(run.stdout + run.stderr, /the-developers-own/, file);
      assert.equal(existsSync(join(work, `${dir}-app`)), false, `${file}: nothing written`);
    }
  });
});

describe("archy app validate --format, for CI", () => {
  before(() => {
    write("ci/good/manifest.yml", readFileSync(join(ROOT, "apps/notes/manifest.yml"), "utf8"));
    write(
      "ci/bad/manifest.yml",
      "manifest: 1\nid: bad\nversion: 1.0.0\nname: Bad, really\ndescription: d\ncontainers:\n  web:\n    image: nginx\n    privileged: true\n    ports: [{ container: 80, host: 80 }]\n",
    );
  });

  test("github: one workflow command per problem, file, line and column escaped as GitHub reads them", async () => {
    const run = await archy(["app", "validate", "--format", "github", "ci/bad", "ci/good"]);
    assert.equal(run.code, 1);
    const commands = run.stdout.split("\n").filter((l) => l.startsWith("::"));
    assert.deepEqual(commands, [
      "::error file=ci/bad/manifest.yml,line=9,col=5,title=archy security.forbidden-key::containers.web.privileged: privileged containers are never allowed (rootless, secure by default) (fix: remove `privileged`; declare the specific need (a device, a capability, a host path) under `permissions`)",
    ]);
    assert.match(run.stdout, /^1 valid, 1 invalid$/m);
  });

  test("sarif: a SARIF 2.1.0 log valid against its schema, one result per problem with its place", async () => {
    const run = await archy(["app", "validate", "--format", "sarif", "ci/bad", "ci/good"]);
    assert.equal(run.code, 1);
    const log = JSON.parse(run.stdout) as { runs: Array<{ results: Array<Record<string, unknown>> }> };
    // The schema's patterns are ECMAScript regular expressions without the u flag.
    const ajv = new Ajv4.default({ allErrors: true, strict: false, unicodeRegExp: false });
    addFormats.default(ajv);
    const schema = JSON.parse(readFileSync(join(ROOT, "test/fixtures/sarif/sarif-2.1.0-rtm.5.json"), "utf8"));
    const validate = ajv.compile(schema);
    assert.ok(validate(log), JSON.stringify(validate.errors, null, 2));
    assert.deepEqual(log.runs[0]?.results, [
      {
        ruleId: "security.forbidden-key",
        ruleIndex: 0,
        level: "error",
        message: {
          text: "containers.web.privileged: privileged containers are never allowed (rootless, secure by default) (fix: remove `privileged`; declare the specific need (a device, a capability, a host path) under `permissions`)",
        },
        locations: [
          {
            physicalLocation: {
              artifactLocation: { uri: "ci/bad/manifest.yml" },
              region: { startLine: 9, startColumn: 5 },
            },
          },
        ],
      },
    ]);
    const clean = await archy(["app", "validate", "--format", "sarif", "ci/good"]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.ok(validate(JSON.parse(clean.stdout)), JSON.stringify(validate.errors));
  });

  test("json is --json; an unknown format is a usage error", async () => {
    const json = await archy(["app", "validate", "--format", "json", "ci/bad"]);
    const legacy = await archy(["app", "validate", "--json", "ci/bad"]);
    assert.equal(json.code, 1);
    assert.equal(json.stdout, legacy.stdout);
    const bad = await archy(["app", "validate", "--format", "xml", "ci/bad"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--format must be one of text, json, github, sarif \(got 'xml'\)/);
  });
});

describe("real Podman: apps made by app new and app import install as they are", () => {
  let lab: Lab;
  let driver: Driver;
  before(async () => {
    lab = await Lab.create();
    driver = await lab.driver();
  });
  after(async () => {
    await lab?.close();
  });

  const install = async (sample: string, source: string) => {
    const app = await lab.app(sample, { source });
    const accepted = await driver.call<{ operationId: string }>("install", { path: app.dir });
    const record = await driver.operationDone(accepted.operationId, 180_000);
    assert.equal(
      record.operation?.state,
      "succeeded",
      `${sample}: ${record.operation?.error}\n${driver.tail()}`,
    );
    await driver.waitPhase(app.id, "running", 120_000);
    return app;
  };

  test("each template: installed, running, and the web template's page answers", {
    timeout: 600_000,
  }, async () => {
    for (const template of TEMPLATES) {
      const app = await install(`tpl-${template}`, join(work, `new-${template}`));
      const listed = await driver.app(app.id);
      assert.equal(listed?.phase, "running");
      if (template === "web") {
        const port = app.ports["web/8080"] as number;
        const page = await eventually(
          "the web template's page",
          async () => {
            const response = await httpGet(port, "/");
            return response?.status === 200 && /This page was copied into the app volume/.test(response.body)
              ? response
              : undefined;
          },
          60_000,
        );
        assert.match(page.body, /<h1>New Web<\/h1>/);
      }
    }
  });

  test("an imported compose app: installed, both containers running, its page answers", {
    timeout: 600_000,
  }, async () => {
    const app = await install("imported", join(work, "busy-board"));
    const port = app.ports["web/8080"] as number;
    const page = await eventually(
      "the imported app's page",
      async () => {
        const response = await httpGet(port, "/");
        return response?.status === 200 ? response : undefined;
      },
      60_000,
    );
    assert.equal(page.body.trim(), "board");
    const containers = [...(await lab.containers()).values()].filter((c) => c.app === app.id);
    assert.deepEqual(containers.map((c) => `${c.key}:${c.state}`).sort(), ["db:running", "web:running"]);
  });
});
