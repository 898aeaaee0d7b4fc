import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { parse as parseYaml } from "yaml";
import {
  expectIssue,
  expectIssueIn,
  expectValid,
  FILE,
  FIRST,
  issuesOf,
  MINIMAL,
  parseCostRatio,
  replaceLine,
  showIssues,
  withLines,
} from "../../test/support/manifest-text.ts";
import { manifestJsonSchema } from "./json-schema.ts";
import { MAX_MANIFEST_BYTES, parseManifest } from "./parse.ts";
import { fieldRows } from "./reference.ts";

const FULL = new URL("../../test/fixtures/manifests/valid-full.yml", import.meta.url);

describe("a valid manifest", () => {
  test("the minimal manifest parses, with defaults filled in", () => {
    const { manifest } = expectValid(MINIMAL);
    assert.equal(manifest.id, "hello");
    assert.equal(manifest.category, "other");
    assert.deepEqual(manifest.dependencies, []);
    const web = manifest.containers.web;
    assert.ok(web);
    assert.equal(web.read_only, false);
    assert.deepEqual(web.ports, []);
    assert.equal(web.job, false);
    assert.deepEqual(manifest.hooks, {
      post_install: [],
      pre_start: [],
      post_update: [],
      pre_uninstall: [],
      pre_purge: [],
    });
  });

  test("the full fixture parses and is normalised (durations in ms, memory in bytes)", () => {
    const { manifest, locate } = expectValid(readFileSync(FULL, "utf8"));
    assert.equal(manifest.id, "alice.media-stack");
    assert.deepEqual(Object.keys(manifest.containers), ["web", "db", "worker", "migrate"]);
    assert.equal(manifest.containers.migrate?.job, true);
    const { web, db, worker } = manifest.containers;
    assert.ok(web && db && worker);
    assert.equal(web.memory, 512 * 1024 ** 2);
    assert.equal(db.memory, 1073741824);
    assert.equal(db.shm_size, 256 * 1024 ** 2);
    assert.deepEqual(db.ulimits, { nofile: { soft: 1024, hard: 4096 }, nproc: { soft: 512, hard: 512 } });
    assert.equal(web.stop_timeout, 30_000);
    assert.equal(db.stop_timeout, 60_000);
    assert.deepEqual(web.health, {
      type: "http",
      port: 8080,
      path: "/health",
      status: 204,
      interval: 15_000,
      timeout: 3_000,
      retries: 5,
      start_period: 60_000,
    });
    assert.equal(worker.health?.timeout, 500);
    assert.deepEqual(web.ports[3], { container: 9090, protocol: "tcp" });
    assert.deepEqual(web.environment.DB_PASSWORD, { secret: "db-password" });
    assert.equal(manifest.secrets.session?.length, 32);
    assert.equal(manifest.dependencies[1]?.version, "*");
    assert.equal(manifest.dependencies[1]?.state, "running");
    const migrate = manifest.hooks.post_update[1];
    assert.ok(migrate && "exec" in migrate);
    assert.equal(migrate.exec.timeout, 300_000);
    assert.deepEqual(locate(["containers", "web", "memory"]), { line: 48, column: 13 });
    assert.deepEqual(locate(["containers", "web", "memory"], "key"), { line: 48, column: 5 });
  });

  // Regression: zod 4's `.default()` returns its value as the *output*, skipping the Duration
  // transform (10 s came out as 10 ms); duration defaults use `.prefault()`, which parses them.
  test("duration defaults are normalised to milliseconds like given values", () => {
    const { manifest } = expectValid(
      withLines(
        "    ports: [{ container: 80 }]",
        "    health: { type: tcp, port: 80, interval: 10s, timeout: 5s }",
        "hooks:",
        "  post_install:",
        "    - exec: { container: web, command: [init] }",
      ),
    );
    assert.equal(manifest.containers.web?.stop_timeout, 10_000);
    assert.equal(manifest.containers.web?.health?.start_period, 30_000);
    const step = manifest.hooks.post_install[0];
    assert.ok(step && "exec" in step);
    assert.equal(step.exec.timeout, 60_000);
  });

  test("a health check with the default timing is valid", () => {
    const { manifest } = expectValid(
      withLines("    ports: [{ container: 80 }]", "    health: { type: tcp, port: 80 }"),
    );
    assert.equal(manifest.containers.web?.health?.interval, 10_000);
    assert.equal(manifest.containers.web?.health?.timeout, 5_000);
  });

  test("the full fixture uses every field of the schema", () => {
    const data = parseYaml(readFileSync(FULL, "utf8")) as unknown;
    const missing = fieldRows(manifestJsonSchema() as Parameters<typeof fieldRows>[0])
      .map((row) => row.path)
      .filter((path) => !hasPath(data, path.split(/\.|(?=\[\])/)));
    assert.deepEqual(missing, [], "fields of the schema the full fixture does not use");
  });

  test("a JSON document is YAML too", () => {
    const json = JSON.stringify(parseYaml(MINIMAL));
    assert.equal(expectValid(json).manifest.id, "hello");
  });

  test("a file of exactly the size limit is read; one byte more is refused", () => {
    const padded = `${MINIMAL}${"#".repeat(MAX_MANIFEST_BYTES - Buffer.byteLength(MINIMAL) - 1)}\n`;
    assert.equal(Buffer.byteLength(padded), MAX_MANIFEST_BYTES);
    expectValid(padded);
    expectIssue(`${padded}#`, {
      rule: "yaml.size",
      path: "(document)",
      line: 0,
      column: 0,
      message: "256 KiB",
    });
  });
});

/** Does `data` have the field at a reference path such as `containers.<name>.ports[].host`? */
function hasPath(data: unknown, segments: string[]): boolean {
  if (segments.length === 0) return true;
  const [head, ...rest] = segments as [string, ...string[]];
  if (head === "[]") return Array.isArray(data) && data.some((item) => hasPath(item, rest));
  if (data === null || typeof data !== "object" || Array.isArray(data)) return false;
  const values =
    head === "<name>"
      ? Object.values(data)
      : Object.hasOwn(data, head)
        ? [(data as Record<string, unknown>)[head]]
        : [];
  return values.some((value) => hasPath(value, rest));
}

describe("yaml.size", () => {
  test("a file over 256 KiB is refused before parsing, counted in UTF-8 bytes", () => {
    const text = `${MINIMAL}# ${"é".repeat(140 * 1024)}\n`;
    assert.ok(text.length < MAX_MANIFEST_BYTES);
    expectIssue(text, {
      rule: "yaml.size",
      path: "(document)",
      line: 0,
      column: 0,
      fix: "remove embedded data",
    });
  });
});

describe("yaml.syntax", () => {
  test("a tab used as indentation", () => {
    expectIssue(withLines("\tmemory: 1g"), {
      rule: "yaml.syntax",
      path: "(document)",
      line: FIRST,
      column: 1,
      message: /tab/i,
    });
  });

  test("an unclosed quote (the YAML parser reports it where the text ends)", () => {
    const issue = expectIssue(replaceLine(4, 'name: "Hello'), {
      rule: "yaml.syntax",
      path: "(document)",
      line: 9,
      column: 1,
    });
    assert.match(issue.message, /missing closing "quote/i);
  });

  test("an unclosed flow sequence", () => {
    expectIssue(withLines("    command: [serve", "    memory: 1g"), {
      rule: "yaml.syntax",
      path: "(document)",
      line: FIRST + 1,
      column: 5,
    });
  });

  test("a second document", () => {
    expectIssue(withLines("---", "manifest: 1"), {
      rule: "yaml.syntax",
      path: "(document)",
      line: FIRST,
      column: 1,
      message: "more than one YAML document",
      fix: "remove this `---`",
    });
  });

  test("a language-specific tag is refused, not executed", () => {
    expectIssue(withLines('icon: !!js/function "function () { return 1 }"'), {
      rule: "yaml.syntax",
      path: "(document)",
      line: FIRST,
      column: 7,
      message: "js/function",
      fix: "remove the tag",
    });
  });

  test("tags outside the YAML 1.2 core schema (!!binary, !!set, !!timestamp) are refused", () => {
    for (const value of ["!!binary aGVsbG8=", "!!timestamp 2001-12-14", "!!set { a }", "!!omap [ a: b ]"]) {
      expectIssue(withLines(`icon: ${value}`), {
        rule: "yaml.syntax",
        path: "(document)",
        line: FIRST,
        column: 7,
        fix: "remove the tag",
      });
    }
  });

  test("a %YAML 1.1 directive does not switch on merge keys or yes/no booleans", () => {
    const text = `%YAML 1.1\n---\n${MINIMAL}    <<: { memory: 1g }\n    read_only: yes\n`;
    const issues = issuesOf(text);
    expectIssueIn(issues, { rule: "schema.unknown-key", path: 'containers.web["<<"]', line: 11, column: 5 });
    expectIssueIn(issues, { rule: "schema.type", path: "containers.web.read_only", line: 12, column: 16 });
  });

  test("a raw control character or a byte sequence that is not UTF-8: the file is not text", () => {
    expectIssue(replaceLine(4, "name: Hel\u0000lo"), {
      rule: "yaml.syntax",
      path: "(document)",
      line: 4,
      column: 10,
      message: "the control character U+0000: it is not a text file",
      fix: "plain UTF-8 text",
    });
    const garbage = Buffer.concat([
      Buffer.from(`${MINIMAL}icon: `),
      Buffer.from([0xff, 0xfe, 0x80]),
    ]).toString("utf8");
    expectIssue(garbage, {
      rule: "yaml.syntax",
      path: "(document)",
      line: FIRST,
      column: 7,
      message: "not UTF-8",
    });
  });

  test("passing: CRLF line endings and a byte-order mark", () => {
    expectValid(`\uFEFF${MINIMAL.replaceAll("\n", "\r\n")}`);
  });

  test("passing: the core !!str tag and plain flow collections are fine", () => {
    expectValid(withLines("icon: !!str icon.svg", "license: MIT"));
    expectValid(withLines('    command: ["serve", "--port", "80"]'));
  });
});

describe("yaml.duplicate-key", () => {
  test("a key given twice is reported at the second one, with its path", () => {
    expectIssue(withLines("    image: docker.io/library/caddy:2"), {
      rule: "yaml.duplicate-key",
      path: "containers.web.image",
      line: FIRST,
      column: 5,
      message: "`image` appears twice",
      fix: "keep one",
    });
  });

  test("inside a flow mapping", () => {
    expectIssue(withLines("    ports:", "      - { container: 80, container: 81 }"), {
      rule: "yaml.duplicate-key",
      path: "containers.web.ports[0].container",
      line: FIRST + 1,
      column: 26,
    });
  });

  test("passing: the same key in different mappings", () => {
    expectValid(withLines("  db:", "    image: docker.io/library/postgres:16"));
  });
});

describe("yaml.aliases", () => {
  const laughs = [
    "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]",
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]",
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]",
    "f: [*e, *e, *e, *e, *e, *e, *e, *e, *e]",
  ];

  test("a billion laughs is stopped before it expands", () => {
    const text = withLines(...laughs);
    expectIssue(text, {
      rule: "yaml.aliases",
      path: "(document)",
      line: 1,
      column: 1,
      message: /alias/i,
    });
    // Expanded, it costs about 30 times a benign manifest of 4 KiB; stopped, less than one.
    const cost = parseCostRatio(text, FILE);
    assert.ok(cost.ratio <= 5, `it costs ${cost.ratio.toFixed(1)} times a benign manifest`);
  });

  test("passing: a few aliases are fine", () => {
    const { manifest } = expectValid(withLines('    entrypoint: &run ["/bin/app"]', "    command: *run"));
    assert.deepEqual(manifest.containers.web?.command, ["/bin/app"]);
  });
});

describe("yaml.depth", () => {
  test("thousands of nested brackets are refused before parsing, at the one too deep", () => {
    // Parsing them took seconds, and the parser's stack overflow surfaced as a RangeError or, at
    // some depths of the caller's stack, as a SyntaxError that crashed the validator.
    expectIssue(withLines(`    command: ${"[".repeat(20_000)}${"]".repeat(20_000)}`), {
      rule: "yaml.depth",
      path: "(document)",
      line: FIRST,
      column: 14 + 100,
      message: "more than 100 `[` or `{` collections inside one another",
    });
    expectIssue(withLines(`    environment: ${"{a: ".repeat(5000)}b${"}".repeat(5000)}`), {
      rule: "yaml.depth",
      path: "(document)",
      line: FIRST,
      column: 18 + 4 * 100,
      message: "nested too deeply",
    });
  });

  test("an anchor whose value holds its own alias is refused at the alias, without walking the cycle", () => {
    const text = withLines("icon: &a [x, *a]");
    expectIssue(text, {
      rule: "yaml.depth",
      path: "(document)",
      line: FIRST,
      column: 14,
      message: "the alias *a is inside the value of its own anchor &a",
      fix: "replace *a with the value itself",
    });
    // Walking the cycle until the stack ran out cost a hundred times a benign manifest.
    const cost = parseCostRatio(text, FILE);
    assert.ok(cost.ratio <= 5, `it costs ${cost.ratio.toFixed(1)} times a benign manifest`);
  });

  test("passing: aliases beside their anchor, also inside a mapping that holds the anchor", () => {
    const { manifest } = expectValid(
      withLines(
        "    environment: &env { A: x, B: &b y, C: *b }",
        "  worker:",
        "    image: docker.io/library/nginx:1.27",
        "    environment: *env",
      ),
    );
    assert.deepEqual(manifest.containers.worker?.environment, { A: "x", B: "y", C: "y" });
  });

  test("an alias inside the value it names is refused at the alias, without converting the document", () => {
    // Converting `&a [*a]` recursed until the stack ran out: a second for a few bytes.
    expectIssue(withLines("    command: &a [x, [*a]]"), {
      rule: "yaml.depth",
      path: "(document)",
      line: FIRST,
      column: 22,
      message: "the alias *a is inside the value of its own anchor &a",
    });
  });

  test("passing: brackets in quoted values, plain words and comments are not nesting", () => {
    const many = "[".repeat(150);
    expectValid(
      withLines(
        `    command: ["${many}", '${many}', 'it''s ${many}']`,
        "    environment:",
        `      A: a${many}`,
        `      B: "\\" ${many}"  # ${many}`,
        `# ${many}`,
      ),
    );
  });

  test("a long chain of block indicators on one line (quadratic for the lexer)", () => {
    expectIssue(withLines(`    command: ${"- ".repeat(3000)}x`), {
      rule: "yaml.depth",
      path: "(document)",
      line: FIRST,
      column: 12, // the chain starts at the `:` after `command`
      message: "a hundred or more",
    });
  });

  test("passing: nesting a manifest needs is fine", () => {
    expectValid(withLines("    environment: { A: { secret: s } }", "secrets: { s: { length: 16 } }"));
  });
});

describe("schema.type", () => {
  for (const [what, text] of [
    ["an empty file", ""],
    ["a comment only", "# nothing\n"],
    ["a scalar", "hello\n"],
    ["a list", "- manifest: 1\n"],
    ["null", "~\n"],
  ]) {
    test(`the document is ${what}`, () => {
      expectIssue(text as string, {
        rule: "schema.type",
        path: "(document)",
        line: 1,
        column: 1,
        message: "must be a YAML mapping",
      });
    });
  }

  test("a string where a boolean is expected", () => {
    expectIssue(withLines('    read_only: "yes"'), {
      rule: "schema.type",
      path: "containers.web.read_only",
      line: FIRST,
      column: 16,
      message: 'expected true or false, found the string "yes"',
      fix: "true or false",
    });
  });

  test("a number where a string is expected says to quote it", () => {
    expectIssue(replaceLine(4, "name: 42"), {
      rule: "schema.type",
      path: "name",
      line: 4,
      column: 7,
      fix: "quotes",
    });
  });

  test("a scalar where a list is expected", () => {
    expectIssue(withLines("    capabilities: CHOWN"), {
      rule: "schema.type",
      path: "containers.web.capabilities",
      line: FIRST,
      column: 19,
      fix: "a list",
    });
  });

  test("a value that has none of the accepted forms lists the forms", () => {
    expectIssue(withLines("    environment:", "      A: [1, 2]"), {
      rule: "schema.type",
      path: "containers.web.environment.A",
      line: FIRST + 1,
      column: 10,
      message: "a list has none of the accepted forms",
      fix: "accepted forms: a string; a number; true or false; { secret: … }; { app: …, export: … }",
    });
  });

  test("an export that mixes forms says it is exactly one of them", () => {
    expectIssue(withLines("exports:", "  s: { value: x, host: web }"), {
      rule: "schema.type",
      path: "exports.s",
      line: FIRST + 1,
      column: 6,
      message:
        "`value` and `host` cannot be combined: exports.s is exactly one of `value`, `host` or `secret`",
      fix: "keep only one of `value` and `host`",
    });
  });

  test("an environment reference that mixes forms says which keys go together, and lists every form", () => {
    const issues = issuesOf(
      withLines(
        "    environment:",
        "      A: { secret: s, app: a, export: e }",
        "secrets: { s: {} }",
        "dependencies: [{ id: a }]",
      ),
    );
    assert.equal(issues.length, 1, showIssues(issues));
    expectIssueIn(issues, {
      rule: "schema.type",
      path: "containers.web.environment.A",
      line: FIRST + 1,
      column: 10,
      message: "`secret` cannot be combined with `app` and `export`: they belong to different forms",
      fix: "keep one form: { secret: … } alone, or { app: …, export: … } together (accepted forms: a string; a number; true or false; { secret: … }; { app: …, export: … })",
    });
  });

  test("passing: each form of an export and of an environment value", () => {
    expectValid(
      withLines(
        "    environment: { A: x, B: 1, C: true, D: { secret: s } }",
        "secrets: { s: {} }",
        "exports: { v: { value: x }, h: { host: web }, s: { secret: s } }",
      ),
    );
  });

  test("an address that is neither IPv4 nor IPv6 names both forms", () => {
    expectIssue(withLines('    ports: [{ container: 80, bind: "0.0.0.0; rm -rf /" }]'), {
      rule: "schema.type",
      path: "containers.web.ports[0].bind",
      line: FIRST,
      column: 36,
      fix: "accepted forms: an IPv4 address such as 127.0.0.1; an IPv6 address such as ::1",
    });
  });

  test("passing: the right types", () => {
    expectValid(
      withLines(
        "    read_only: true",
        "    capabilities: [CHOWN]",
        "    environment:",
        "      A: 1",
        "      B: on",
      ),
    );
  });
});

describe("stop_signal", () => {
  test("a signal number gets the signal's name as the fix (schema.type), in quotes too (schema.format)", () => {
    expectIssue(withLines("    stop_signal: 15"), {
      rule: "schema.type",
      path: "containers.web.stop_signal",
      line: FIRST,
      column: 18,
      message: "number 15 is a signal number: `stop_signal` takes the signal's name (15 is SIGTERM)",
      fix: "write `stop_signal: SIGTERM`",
    });
    expectIssue(withLines('    stop_signal: "15"'), {
      rule: "schema.format",
      path: "containers.web.stop_signal",
      line: FIRST,
      column: 18,
      fix: "write `stop_signal: SIGTERM`",
    });
    for (const [number, name] of [
      [1, "SIGHUP"],
      [2, "SIGINT"],
      [3, "SIGQUIT"],
      [6, "SIGABRT"],
      [10, "SIGUSR1"],
      [12, "SIGUSR2"],
      [28, "SIGWINCH"],
      [29, "SIGIO"],
      [34, "SIGRTMIN"],
      [37, "SIGRTMIN+3"],
      [62, "SIGRTMAX-2"],
      [64, "SIGRTMAX"],
    ] as const)
      expectIssue(withLines(`    stop_signal: ${number}`), {
        rule: "schema.type",
        path: "containers.web.stop_signal",
        line: FIRST,
        column: 18,
        fix: `write \`stop_signal: ${name}\``,
      });
  });

  test("the number of a signal that cannot be caught gets that reason at once", () => {
    expectIssue(withLines("    stop_signal: 9"), {
      rule: "schema.type",
      path: "containers.web.stop_signal",
      line: FIRST,
      column: 18,
      message: "(9 is SIGKILL); SIGKILL cannot be caught",
      fix: "stop_timeout",
    });
  });

  test("a number that is no signal, a name that is no signal", () => {
    for (const value of ["0", "65", "99"])
      expectIssue(withLines(`    stop_signal: ${value}`), {
        rule: "schema.type",
        path: "containers.web.stop_signal",
        line: FIRST,
        column: 18,
        message: "is not a Linux signal number",
        fix: "SIGTERM",
      });
    for (const value of [
      "SIGFOO",
      "SIGRTMIN+16",
      "SIGRTMAX-15",
      "SIGRTMIN+0",
      "SIGTERM; reboot",
      "TERMINATE",
    ])
      expectIssue(withLines(`    stop_signal: "${value}"`), {
        rule: "schema.format",
        path: "containers.web.stop_signal",
        line: FIRST,
        column: 18,
        message: `the string ${JSON.stringify(value)} is not a Linux signal name`,
      });
  });

  test("a misspelt name, lower case or without SIG: did you mean", () => {
    for (const value of ["SIGTREM", "sigterm", "TERM", "term"])
      expectIssue(withLines(`    stop_signal: ${value}`), {
        rule: "schema.format",
        path: "containers.web.stop_signal",
        line: FIRST,
        column: 18,
        fix: "did you mean SIGTERM?",
      });
  });

  test("passing: the names Podman accepts, real-time signals included", () => {
    for (const name of ["SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGWINCH", "SIGPWR", "SIGIOT"])
      expectValid(withLines(`    stop_signal: ${name}`));
    for (const name of ["SIGRTMIN", "SIGRTMIN+1", "SIGRTMIN+15", "SIGRTMAX-14", "SIGRTMAX-1", "SIGRTMAX"])
      expectValid(withLines(`    stop_signal: ${name}`));
  });
});

describe("schema.missing", () => {
  test("a required top-level field", () => {
    expectIssue(replaceLine(3, "# no version"), {
      rule: "schema.missing",
      path: "version",
      line: 1,
      column: 1,
      message: "`version` is missing",
      fix: "add `version:`",
    });
  });

  test("a required field of a list entry points at the entry", () => {
    expectIssue(withLines("    ports:", "      - { host: 8080 }"), {
      rule: "schema.missing",
      path: "containers.web.ports[0].container",
      line: FIRST + 1,
      column: 9,
      fix: "add `container:` with a number",
    });
  });

  test("the tag of a tagged alternative names the allowed tags", () => {
    expectIssue(withLines("    health: { port: 80 }"), {
      rule: "schema.missing",
      path: "containers.web.health.type",
      line: FIRST,
      column: 5,
      fix: '"http", "tcp", "exec"',
    });
  });

  test("a key of a form without its partner: the missing key, not an unknown one", () => {
    const issues = issuesOf(
      withLines("    environment:", "      A: { app: a }", "dependencies: [{ id: a }]"),
    );
    assert.equal(issues.length, 1, showIssues(issues));
    expectIssueIn(issues, {
      rule: "schema.missing",
      path: "containers.web.environment.A.export",
      line: FIRST + 1,
      column: 7,
      message: "required field `export` is missing",
      fix: "add `export:` with a string (the form is { app: …, export: … })",
    });
  });

  test("passing: every required field present", () => {
    expectValid(withLines("    ports:", "      - { container: 80, host: 8080 }"));
  });
});

describe("schema.value", () => {
  test("a misspelt enum value gets a did-you-mean", () => {
    expectIssue(withLines("category: medai"), {
      rule: "schema.value",
      path: "category",
      line: FIRST,
      column: 11,
      fix: 'did you mean "media"?',
    });
  });

  test("a misspelt tag of a tagged alternative", () => {
    expectIssue(withLines("    health: { type: htp, port: 80 }"), {
      rule: "schema.value",
      path: "containers.web.health.type",
      line: FIRST,
      column: 21,
      fix: 'did you mean "http"?',
    });
  });

  test("a value far from every allowed one lists them", () => {
    expectIssue(withLines("    ports:", "      - { container: 80, protocol: sctp }"), {
      rule: "schema.value",
      path: "containers.web.ports[0].protocol",
      line: FIRST + 1,
      column: 36,
      fix: 'use one of: "tcp", "udp"',
    });
  });

  test("the format version", () => {
    expectIssue(replaceLine(1, "manifest: 2"), {
      rule: "schema.value",
      path: "manifest",
      line: 1,
      column: 11,
      fix: "use one of: 1",
    });
  });

  test("the right number in quotes says to drop the quotes", () => {
    expectIssue(replaceLine(1, 'manifest: "1"'), {
      rule: "schema.value",
      path: "manifest",
      line: 1,
      column: 11,
      fix: "write 1 without quotes",
    });
  });

  test("passing: allowed values", () => {
    expectValid(withLines("    ports:", "      - { container: 53, protocol: udp }", "category: media"));
  });
});

describe("schema.format", () => {
  test("a pattern mismatch shows the examples the schema carries", () => {
    expectIssue(replaceLine(2, "id: Hello_World"), {
      rule: "schema.format",
      path: "id",
      line: 2,
      column: 5,
      message: "must be a DNS label",
      fix: '"photo-gallery"',
    });
  });

  test("a memory size", () => {
    expectIssue(withLines("    memory: lots"), {
      rule: "schema.format",
      path: "containers.web.memory",
      line: FIRST,
      column: 13,
      message: "512m",
    });
  });

  test("a version that is not semver", () => {
    expectIssue(replaceLine(3, "version: v1"), {
      rule: "schema.format",
      path: "version",
      line: 3,
      column: 10,
      message: "semantic version",
    });
  });

  test("a packaging revision counted from 0 is refused at its line, with the form to write", () => {
    expectIssue(replaceLine(3, "version: 1.39.17-r0"), {
      rule: "schema.format",
      path: "version",
      line: 3,
      column: 10,
      message: "packaging revision counted from 1",
    });
    const parsed = parseManifest(replaceLine(3, "version: 1.39.17-r0"), "manifest.yml");
    assert.ok(!parsed.ok);
    assert.match(parsed.issues[0]?.fix ?? "", /1\.39\.17-r2/);
  });

  test("without examples in the schema, the fix quotes the requirement", () => {
    expectIssue(withLines("    stop_timeout: soon"), {
      rule: "schema.format",
      path: "containers.web.stop_timeout",
      line: FIRST,
      column: 19,
      fix: "write a value such as 500ms, 30s, 2m or 1h",
    });
    expectIssue(withLines('    working_dir: "C:\\app"'), {
      rule: "schema.format",
      path: "containers.web.working_dir",
      line: FIRST,
      column: 18,
      fix: "correct the value: it must be an absolute path starting with '/'",
    });
    expectIssue(withLines("links:", "  homepage: not a url"), {
      rule: "schema.format",
      path: "links.homepage",
      line: FIRST + 1,
      column: 13,
      message: "must be a URL such as https://example.org",
    });
  });

  test("an image reference", () => {
    expectIssue(replaceLine(8, "    image: Not An Image"), {
      rule: "schema.format",
      path: "containers.web.image",
      line: 8,
      column: 12,
      message: "image reference",
    });
  });

  test("a homoglyph in the id (Cyrillic о)", () => {
    expectIssue(replaceLine(2, "id: hellо"), { rule: "schema.format", path: "id", line: 2, column: 5 });
  });

  test("passing: well-formed values", () => {
    expectValid(
      replaceLine(2, "id: alice.hello-web").replace(
        "    image: docker.io/library/nginx:1.27",
        `    image: nginx@sha256:${"a".repeat(64)}`,
      ),
    );
    expectValid(withLines("    memory: 1.5g"));
  });
});

describe("schema.range", () => {
  test("a port above 65535", () => {
    expectIssue(withLines("    ports:", "      - { container: 70000 }"), {
      rule: "schema.range",
      path: "containers.web.ports[0].container",
      line: FIRST + 1,
      column: 22,
      message: "70000",
      fix: "use at most 65535",
    });
  });

  test("a number too large to be exact still names the field's own bound", () => {
    expectIssue(withLines("    ports:", "      - { container: 99999999999999999999999 }"), {
      rule: "schema.range",
      path: "containers.web.ports[0].container",
      line: FIRST + 1,
      column: 22,
      fix: "use at most 65535",
    });
    expectIssue(withLines("    ports:", "      - { container: -99999999999999999999999 }"), {
      rule: "schema.range",
      path: "containers.web.ports[0].container",
      line: FIRST + 1,
      column: 22,
      fix: "use at least 1",
    });
  });

  test("memory: 0 names the smallest limit that starts a container, not a bound that is itself refused", () => {
    for (const value of ["0", "-1", "1000"])
      expectIssue(withLines(`    memory: ${value}`), {
        rule: "schema.range",
        path: "containers.web.memory",
        line: FIRST,
        column: 13,
        fix: "use at least 6m",
      });
    expectValid(withLines(`    memory: ${6 * 1024 * 1024}`));
  });

  test("a negative duration", () => {
    expectIssue(withLines("    stop_timeout: -5"), {
      rule: "schema.range",
      path: "containers.web.stop_timeout",
      line: FIRST,
      column: 19,
      fix: "at least 0",
    });
  });

  test("a secret too short, a name too long, an empty command", () => {
    expectIssue(withLines("secrets:", "  key: { length: 4 }"), {
      rule: "schema.range",
      path: "secrets.key.length",
      line: FIRST + 1,
      column: 18,
      fix: "at least 12",
    });
    expectIssue(replaceLine(4, `name: ${"n".repeat(81)}`), {
      rule: "schema.range",
      path: "name",
      line: 4,
      column: 7,
      fix: "at most 80 characters",
    });
    expectIssue(withLines("    command: []"), {
      rule: "schema.range",
      path: "containers.web.command",
      line: FIRST,
      column: 14,
      message: "`command` must not be empty",
      fix: "list at least one entry",
    });
  });

  test("an empty string or list says it must not be empty, not that 1 is out of range", () => {
    const issue = expectIssue(replaceLine(5, 'description: ""'), {
      rule: "schema.range",
      path: "description",
      line: 5,
      column: 14,
      message: "`description` must not be empty",
      fix: "write a non-empty value: what the app does, for the App Store",
    });
    assert.doesNotMatch(`${issue.message} ${issue.fix}`, /out of range|1 characters/);
    expectIssue(withLines("adoption:", "  containers: { web: [] }"), {
      rule: "schema.range",
      path: "adoption.containers.web",
      line: FIRST + 1,
      column: 22,
      message: "`web` must not be empty",
      fix: "list at least one entry",
    });
    expectIssue(withLines("adoption:", '  containers: { web: [""] }'), {
      rule: "schema.range",
      path: "adoption.containers.web[0]",
      line: FIRST + 1,
      column: 23,
      message: "this entry must not be empty",
    });
  });

  test("passing: values at the bounds", () => {
    expectValid(
      withLines(
        "    ports:",
        "      - { container: 65535, host: 1024 }",
        "secrets:",
        "  key: { length: 12 }",
      ),
    );
    expectValid(replaceLine(4, `name: ${"n".repeat(80)}`));
  });
});

describe("schema.key", () => {
  test("a record key that is not a DNS label points at the key", () => {
    expectIssue(withLines("    depends_on:", "      Bad_Key: started"), {
      rule: "schema.key",
      path: "containers.web.depends_on.Bad_Key",
      line: FIRST + 1,
      column: 7,
      fix: "DNS label",
    });
  });

  test("an environment variable name gets the rule for variable names", () => {
    expectIssue(withLines("    environment:", "      1BAD: x"), {
      rule: "schema.key",
      path: 'containers.web.environment["1BAD"]',
      line: FIRST + 1,
      column: 7,
      message: "environment variable name",
      fix: "DB_HOST",
    });
  });

  test("__proto__ and constructor are reserved at every level", () => {
    expectIssue(withLines("__proto__: { polluted: true }"), {
      rule: "schema.key",
      path: "__proto__",
      line: FIRST,
      column: 1,
      message: "reserved",
    });
    expectIssue(withLines("    environment:", "      constructor: x"), {
      rule: "schema.key",
      path: "containers.web.environment.constructor",
      line: FIRST + 1,
      column: 7,
      message: "reserved",
      fix: "rename or remove",
    });
    expectIssue(withLines("  constructor:", "    image: x"), {
      rule: "schema.key",
      path: "containers.constructor",
      line: FIRST,
      column: 3,
    });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test("a key that is a list, a mapping, an alias or null", () => {
    expectIssue(withLines("? [a, b]", ": c"), {
      rule: "schema.key",
      path: "(document)",
      line: FIRST,
      column: 3,
      message: "plain name",
    });
    expectIssue(withLines("~: x"), { rule: "schema.key", path: "(document)", line: FIRST, column: 1 });
    expectIssue(withLines("    environment:", "      &k A: x", "      *k : y"), {
      rule: "schema.key",
      path: "containers.web.environment",
      line: FIRST + 2,
      column: 7,
    });
  });

  test("passing: valid keys", () => {
    expectValid(
      withLines(
        "    environment:",
        "      _PRIVATE: x",
        "      DB_HOST2: y",
        "  db:",
        "    image: docker.io/library/postgres:16",
      ),
    );
  });
});

describe("schema.unknown-key", () => {
  test("a misspelt container field", () => {
    expectIssue(withLines("    imgae: nginx"), {
      rule: "schema.unknown-key",
      path: "containers.web.imgae",
      line: FIRST,
      column: 5,
      fix: "did you mean `image`?",
    });
  });

  test("the first 100 unknown keys of a mapping get a suggestion, the rest the allowed keys (bounded work)", () => {
    const letters = "abcdefghijklmnopqrstuvwxyz";
    const keys = Array.from(
      { length: 150 },
      (_, i) => `image${letters[Math.floor(i / 26)]}${letters[i % 26]}`,
    );
    const issues = issuesOf(withLines(...keys.map((key) => `    ${key}: x`)));
    const unknown = issues.filter((i) => i.rule === "schema.unknown-key");
    assert.equal(unknown.length, 150);
    assert.deepEqual(
      unknown.map((i) => i.fix.startsWith("did you mean `image`?")),
      keys.map((_, i) => i < 100),
    );
    assert.match(unknown[149]?.fix ?? "", /^remove it; allowed here: image, container_name/);
  });

  test("a misspelt top-level field", () => {
    expectIssue(withLines("lisence: MIT"), {
      rule: "schema.unknown-key",
      path: "lisence",
      line: FIRST,
      column: 1,
      fix: "did you mean `license`?",
    });
  });

  test("a field with no close match lists the allowed ones", () => {
    expectIssue(withLines("    frobnicate: 1"), {
      rule: "schema.unknown-key",
      path: "containers.web.frobnicate",
      line: FIRST,
      column: 5,
      fix: /^remove it; allowed here: image, container_name, /,
    });
  });

  test("a misspelt key inside an alternative (an environment reference)", () => {
    expectIssue(withLines("    environment:", "      A: { sekret: x }"), {
      rule: "schema.unknown-key",
      path: "containers.web.environment.A.sekret",
      line: FIRST + 1,
      column: 12,
      fix: "did you mean `secret`?",
    });
  });

  test("a field of another alternative names the alternative, never itself as a suggestion", () => {
    const tcp = expectIssue(
      withLines("    ports: [{ container: 80 }]", "    health: { type: tcp, port: 80, status: 200 }"),
      {
        rule: "schema.unknown-key",
        path: "containers.web.health.status",
        line: FIRST + 1,
        column: 36,
        message: "`status` applies only with `type: http`, and this is `type: tcp`",
        fix: "remove `status`, or change `type`; allowed here: type, port, interval, timeout, retries, start_period",
      },
    );
    assert.doesNotMatch(tcp.fix, /did you mean/);
    expectIssue(withLines("    health: { type: exec, command: [check], path: /x }"), {
      rule: "schema.unknown-key",
      path: "containers.web.health.path",
      line: FIRST,
      column: 45,
      message: "`path` applies only with `type: http`, and this is `type: exec`",
    });
    expectIssue(withLines("    health: { type: exec, command: [check], port: 80 }"), {
      rule: "schema.unknown-key",
      path: "containers.web.health.port",
      line: FIRST,
      column: 45,
      message: "`port` applies only with `type: http` or `type: tcp`, and this is `type: exec`",
    });
    expectIssue(withLines("permissions:", "  p: { kind: low-port, port: 53, path: /srv, reason: DNS }"), {
      rule: "schema.unknown-key",
      path: "permissions.p.path",
      line: FIRST + 1,
      column: 34,
      message: "`path` applies only with `kind: host-path` or `kind: device`, and this is `kind: low-port`",
    });
  });

  test("a misspelt field of a tagged alternative is matched against that alternative only", () => {
    expectIssue(
      withLines("    ports: [{ container: 80 }]", "    health: { type: tcp, port: 80, intreval: 5s }"),
      {
        rule: "schema.unknown-key",
        path: "containers.web.health.intreval",
        line: FIRST + 1,
        column: 36,
        fix: "did you mean `interval`?",
      },
    );
  });

  test("a misspelt hook step", () => {
    expectIssue(withLines("hooks:", "  post_install:", "    - exce: { container: web, command: [init] }"), {
      rule: "schema.unknown-key",
      path: "hooks.post_install[0].exce",
      line: FIRST + 2,
      column: 7,
      fix: "did you mean `exec`?",
    });
  });

  test("passing: the correctly spelt fields", () => {
    expectValid(
      withLines(
        "license: MIT",
        "hooks:",
        "  post_install:",
        "    - exec: { container: web, command: [init] }",
      ),
    );
  });
});

describe("yaml.literal", () => {
  test("an environment number whose text YAML changes is refused, with the quoted text as the fix", () => {
    const issues = issuesOf(
      withLines(
        "    environment:",
        "      MODE: 0755",
        "      VERSION: 1.10",
        "      MASK: 0x1F",
        "      ID: 12345678901234567890",
        "      OCTAL: 0o17",
        "      BIG: 1e3",
        "      PLUS: +1",
        "      DEBUG: True",
      ),
    );
    const expected = [
      ["MODE", "0755", "755"],
      ["VERSION", "1.10", "1.1"],
      ["MASK", "0x1F", "31"],
      ["ID", "12345678901234567890", "12345678901234567000"],
      ["OCTAL", "0o17", "15"],
      ["BIG", "1e3", "1000"],
      ["PLUS", "+1", "1"],
      ["DEBUG", "True", "true"],
    ];
    assert.equal(issues.length, expected.length, showIssues(issues));
    for (const [index, [name, source, printed]] of expected.entries())
      expectIssueIn(issues, {
        rule: "yaml.literal",
        path: `containers.web.environment.${name}`,
        line: FIRST + 1 + index,
        column: 9 + String(name).length,
        message: `as the ${name === "DEBUG" ? "boolean" : "number"} ${printed}, so the container would get "${printed}"`,
        fix: `quote it: "${source}"`,
      });
  });

  test("an export value too (dependents get it as text), alongside schema problems", () => {
    const issues = issuesOf(withLines("    memory: lots", "exports:", "  mode: { value: 0755 }"));
    expectIssueIn(issues, {
      rule: "yaml.literal",
      path: "exports.mode.value",
      line: FIRST + 2,
      column: 18,
      fix: 'quote it: "0755"',
    });
    expectIssueIn(issues, { rule: "schema.format", path: "containers.web.memory", line: FIRST, column: 13 });
  });

  test("passing: numbers that print as written, and quoted text", () => {
    const { manifest } = expectValid(
      withLines(
        "    environment:",
        "      PORT: 8080",
        "      RATIO: 1.5",
        "      OFFSET: -3",
        "      ZERO: 0",
        "      ON: true",
        '      MODE: "0755"',
        "      VERSION: '1.10'",
        "exports:",
        "  port: { value: 8332 }",
      ),
    );
    assert.deepEqual(manifest.containers.web?.environment, {
      PORT: 8080,
      RATIO: 1.5,
      OFFSET: -3,
      ZERO: 0,
      ON: true,
      MODE: "0755",
      VERSION: "1.10",
    });
  });
});

describe("security.forbidden-key", () => {
  for (const [key, value, fix] of [
    ["privileged", "true", "permissions"],
    ["network_mode", "host", "ports"],
    ["pid", "host", "remove `pid`"],
    ["ipc", "host", "remove `ipc`"],
    ["userns", "host", "remove `userns`"],
    ["uts", "host", "remove `uts`"],
    ["cap_add", "[SYS_ADMIN]", "capabilities"],
    ["security_opt", "[seccomp=unconfined]", "remove `security_opt`"],
    ["sysctls", "{ net.ipv4.ip_forward: 1 }", "remove `sysctls`"],
    ["restart", "always", "health"],
    ["labels", "{ a: b }", "remove `labels`"],
    ["volumes_from", "[db]", "app volume"],
  ] as const) {
    test(`${key} in a container`, () => {
      expectIssue(withLines(`    ${key}: ${value}`), {
        rule: "security.forbidden-key",
        path: `containers.web.${key}`,
        line: FIRST,
        column: 5,
        fix,
      });
    });
  }

  test("the same key outside a container is only unknown", () => {
    expectIssue(withLines("privileged: true"), {
      rule: "schema.unknown-key",
      path: "privileged",
      line: FIRST,
      column: 1,
    });
  });

  test("an inherited property name is not mistaken for a forbidden key", () => {
    expectIssue(withLines("    toString: x"), {
      rule: "schema.unknown-key",
      path: "containers.web.toString",
      line: FIRST,
      column: 5,
    });
    expectIssue(withLines("    hasOwnProperty: x"), {
      rule: "schema.unknown-key",
      path: "containers.web.hasOwnProperty",
      line: FIRST,
      column: 5,
    });
  });
});

describe("every problem is reported at once", () => {
  test("six independent schema errors give six issues, in file order", () => {
    const text = [
      "manifest: 2",
      "id: Hello",
      "version: one",
      "name: Hello",
      "description: A test app",
      "containers:",
      "  web:",
      "    image: docker.io/library/nginx:1.27",
      "    memroy: 512m",
      "    ports:",
      "      - { container: 0 }",
      "category: medai",
      "",
    ].join("\n");
    const issues = issuesOf(text);
    assert.deepEqual(
      issues.map((i) => `${i.line}:${i.column} ${i.rule} ${i.path}`),
      [
        "1:11 schema.value manifest",
        "2:5 schema.format id",
        "3:10 schema.format version",
        "9:5 schema.unknown-key containers.web.memroy",
        "11:22 schema.range containers.web.ports[0].container",
        "12:11 schema.value category",
      ],
      showIssues(issues),
    );
    for (const issue of issues) expectIssueIn(issues, issue);
  });

  test("five independent semantic errors give five issues", () => {
    const issues = issuesOf(
      withLines(
        "    memory: 1m",
        "    stop_timeout: 11m",
        "    depends_on: { nope: started }",
        "    environment: { A: { secret: missing } }",
        "    capabilities: [SYS_ADMIN]",
      ),
    );
    assert.deepEqual(
      issues.map((i) => `${i.line}:${i.column} ${i.rule}`),
      [
        "9:13 limits.memory",
        "10:19 limits.stop-timeout",
        "11:19 ref.container",
        "12:33 ref.secret",
        "13:20 security.capability",
      ],
      showIssues(issues),
    );
  });

  test("duplicate issues are reported once", () => {
    const issues = issuesOf(
      withLines("    ports:", "      - { container: 80, host: 80 }", "      - { container: 80, host: 80 }"),
    );
    const keys = issues.map((i) => `${i.line}:${i.column}:${i.path}:${i.message}`);
    assert.deepEqual(keys, [...new Set(keys)]);
  });
});

describe("parseManifest never throws", () => {
  test("on text that is not YAML at all", () => {
    for (const text of [
      "\u0000\u0001\u0002",
      "{{{{",
      "]]]",
      ": : :",
      "'",
      "&a *a",
      "*unknown",
      "%%%",
      "\uFEFF",
    ]) {
      const result = parseManifest(text, "x.yml");
      if (!result.ok) for (const issue of result.issues) assert.ok(issue.message.length > 0);
      assert.equal(result.ok, false, JSON.stringify(text));
    }
  });
});
