import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  assertMeaningful,
  expectValid,
  FILE,
  FIRST,
  replaceLine,
  withLines,
} from "../../test/support/manifest-text.ts";
import { checkAppSet, type SetFinding, type SetMember } from "./app-set.ts";
import { formatPath } from "./issues.ts";
import type { Locator } from "./parse.ts";

type App = SetMember & { locate: Locator };

/** A valid app with this id (and version), from the minimal manifest with `lines` appended. */
function app(id: string, ...lines: string[]): App {
  return appVersion(id, "1.0.0", ...lines);
}

function appVersion(id: string, version: string, ...lines: string[]): App {
  const text = replaceLine(3, `version: ${version}`, replaceLine(2, `id: ${id}`, withLines(...lines)));
  const { manifest, locate } = expectValid(text);
  return { manifest, locate, file: `${id}/manifest.yml` };
}

type ExpectedSet = {
  rule: string;
  file: string;
  path: string;
  line: number;
  column: number;
  message?: string;
  fix?: string;
};

/** The set has exactly one finding of this rule (in `inFile`, when given), in this file, at this path and position. */
function expectSetFinding(apps: App[], expected: ExpectedSet, inFile?: string): SetFinding {
  const findings = checkAppSet(apps);
  const matching = findings.filter(
    (f) => f.rule === expected.rule && (inFile === undefined || f.file === inFile),
  );
  assert.equal(
    matching.length,
    1,
    `expected one ${expected.rule}, got: ${JSON.stringify(findings, null, 1)}`,
  );
  const finding = matching[0] as SetFinding;
  assert.equal(finding.file, expected.file);
  assert.equal(formatPath(finding.path), expected.path);
  const member = apps.find((a) => a.file === finding.file);
  assert.ok(member);
  assert.deepEqual(member.locate(finding.path, finding.at), { line: expected.line, column: expected.column });
  assertMeaningful({
    ...finding,
    file: FILE,
    line: expected.line,
    column: expected.column,
    path: expected.path,
  });
  if (expected.message) assert.ok(finding.message.includes(expected.message), finding.message);
  if (expected.fix) assert.ok(finding.fix.includes(expected.fix), finding.fix);
  return finding;
}

function expectNoFindings(apps: App[]): void {
  assert.deepEqual(checkAppSet(apps), []);
}

describe("set.duplicate-id", () => {
  test("two apps with one id: the second is reported, naming the first", () => {
    expectSetFinding([app("hello"), { ...app("hello"), file: "copy/manifest.yml" }], {
      rule: "set.duplicate-id",
      file: "copy/manifest.yml",
      path: "id",
      line: 2,
      column: 5,
      message: "app id hello is also used by hello/manifest.yml",
      fix: "unique id",
    });
  });

  test("passing: distinct ids", () => {
    expectNoFindings([app("hello"), app("world")]);
  });
});

describe("set.container-name", () => {
  test("an explicit container name that is another app's container: both are reported", () => {
    const apps = [app("one", "    container_name: two"), app("two")];
    expectSetFinding(
      apps,
      {
        rule: "set.container-name",
        file: "one/manifest.yml",
        path: "containers.web.container_name",
        line: FIRST,
        column: 21,
        message: "container name two is also taken by app two (two/manifest.yml)",
        fix: "another container_name",
      },
      "one/manifest.yml",
    );
    expectSetFinding(
      apps,
      {
        rule: "set.container-name",
        file: "two/manifest.yml",
        path: "containers.web",
        line: 7,
        column: 3,
        message: "also taken by app one (one/manifest.yml)",
      },
      "two/manifest.yml",
    );
  });

  test("a legacy name to adopt that another app's container has", () => {
    expectSetFinding(
      [app("one", "adoption:", "  containers:", "    web: [two]"), app("two")],
      {
        rule: "set.container-name",
        file: "one/manifest.yml",
        path: "adoption.containers.web[0]",
        line: FIRST + 2,
        column: 11,
      },
      "one/manifest.yml",
    );
  });

  test("passing: generated names never clash, whatever the ids and keys", () => {
    const stack = (id: string, key: string) =>
      app(id, `  ${key}:`, "    image: docker.io/library/postgres:16");
    expectNoFindings([stack("a-b", "c"), stack("a", "b-c"), app("a-b-c"), app("a-x-b")]);
  });
});

describe("set.host-port", () => {
  const port = (host: number, bind = "0.0.0.0", protocol = "tcp") =>
    `    ports: [{ container: 80, host: ${host}, bind: ${bind}, protocol: ${protocol} }]`;

  /** The set's host-port findings, as `file: message`. */
  const clashes = (apps: App[]) =>
    checkAppSet(apps)
      .filter((f) => f.rule === "set.host-port")
      .map((f) => `${f.file}: ${f.message}`);

  test("two apps publishing one host port: both are reported, each naming the other", () => {
    const apps = [app("one", port(8080)), app("two", port(8080))];
    for (const [file, other] of [
      ["two/manifest.yml", "one"],
      ["one/manifest.yml", "two"],
    ] as const)
      expectSetFinding(
        apps,
        {
          rule: "set.host-port",
          file,
          path: "containers.web.ports[0].host",
          line: FIRST,
          column: 36,
          message: `host port 8080/tcp is also published by app ${other} (${other}/manifest.yml)`,
          fix: "a host port no other app uses",
        },
        file,
      );
    assert.deepEqual(clashes(apps), [
      "one/manifest.yml: host port 8080/tcp is also published by app two (two/manifest.yml)",
      "two/manifest.yml: host port 8080/tcp is also published by app one (one/manifest.yml)",
    ]);
  });

  test("a wildcard bind overlaps a specific address", () => {
    assert.deepEqual(clashes([app("one", port(8080, "127.0.0.1")), app("two", port(8080))]), [
      "one/manifest.yml: host port 8080/tcp is also published by app two (two/manifest.yml)",
      "two/manifest.yml: host port 8080/tcp is also published by app one (one/manifest.yml)",
    ]);
  });

  test("three apps on one port: each names every app it clashes with, and only those", () => {
    assert.deepEqual(
      clashes([
        app("one", port(8080, "127.0.0.1")),
        app("two", port(8080, "127.0.0.2")),
        app("three", port(8080, "127.0.0.2")),
        app("four", port(8080)),
      ]),
      [
        "one/manifest.yml: host port 8080/tcp is also published by app four (four/manifest.yml)",
        "two/manifest.yml: host port 8080/tcp is also published by app three (three/manifest.yml), app four (four/manifest.yml)",
        "three/manifest.yml: host port 8080/tcp is also published by app two (two/manifest.yml), app four (four/manifest.yml)",
        "four/manifest.yml: host port 8080/tcp is also published by app one (one/manifest.yml), app two (two/manifest.yml), app three (three/manifest.yml)",
      ],
    );
  });

  test("passing: other addresses, other protocols, other ports", () => {
    expectNoFindings([
      app("one", port(8080, "127.0.0.1")),
      app("two", port(8080, "127.0.0.2")),
      app("three", port(8080, "0.0.0.0", "udp")),
      app("four", port(8081)),
    ]);
  });
});

describe("set.dependency-health", () => {
  test("waiting for a dependency to be healthy when it has no health check", () => {
    expectSetFinding([app("web", "dependencies:", "  - id: db", "    state: healthy"), app("db")], {
      rule: "set.dependency-health",
      file: "web/manifest.yml",
      path: "dependencies[0].state",
      line: FIRST + 2,
      column: 12,
      message: "db has no health check, so it can only be waited for as running, not healthy",
      fix: "write `state: running`",
    });
  });

  test("passing: a dependency with a health check; running; a dependency outside the set", () => {
    const checked = app("db", "    ports: [{ container: 5432 }]", "    health: { type: tcp, port: 5432 }");
    expectNoFindings([
      app("web", "dependencies:", "  - id: db", "    state: healthy", "  - id: cache", "    state: running"),
      checked,
      app("cache"),
    ]);
    expectNoFindings([app("web", "dependencies:", "  - id: elsewhere", "    state: healthy")]);
  });
});

describe("set.dependency-version", () => {
  test("a dependency whose version is outside the range", () => {
    expectSetFinding(
      [app("web", "dependencies:", "  - id: db", "    version: '>=2.0.0'"), appVersion("db", "1.4.0")],
      {
        rule: "set.dependency-version",
        file: "web/manifest.yml",
        path: "dependencies[0].version",
        line: FIRST + 2,
        column: 14,
        message: "db 1.4.0 does not satisfy >=2.0.0",
        fix: "widen the range to include 1.4.0",
      },
    );
  });

  test("passing: a satisfied range; a dependency outside the set is not checked", () => {
    expectNoFindings([
      app("web", "dependencies:", "  - id: db", "    version: ^1.2", "  - id: elsewhere"),
      appVersion("db", "1.4.0"),
    ]);
  });
});

describe("set.export", () => {
  const consumer = (exportName: string) =>
    app(
      "web",
      "    environment:",
      `      DB_HOST: { app: db, export: ${exportName} }`,
      "dependencies:",
      "  - id: db",
    );

  test("a misspelt export of a dependency", () => {
    expectSetFinding([consumer("db-hots"), app("db", "exports:", "  db-host: { value: db.local }")], {
      rule: "set.export",
      file: "web/manifest.yml",
      path: "containers.web.environment.DB_HOST.export",
      line: FIRST + 1,
      column: 35,
      message: 'app db has no export "db-hots"',
      fix: 'did you mean "db-host"?',
    });
  });

  test("a dependency that exports nothing", () => {
    expectSetFinding([consumer("db-host"), app("db")], {
      rule: "set.export",
      file: "web/manifest.yml",
      path: "containers.web.environment.DB_HOST.export",
      line: FIRST + 1,
      column: 35,
      fix: "db exports nothing",
    });
  });

  test("passing: the export exists", () => {
    expectNoFindings([consumer("db-host"), app("db", "exports:", "  db-host: { value: db.local }")]);
  });
});

describe("set.consumer", () => {
  const web = (value: string) =>
    app(
      "web",
      "    environment:",
      `      DB_PASSWORD: "\${consumer:db/${value}}"`,
      "dependencies:",
      "  - id: db",
    );
  const db = app(
    "db",
    "consumers:",
    "  secrets:",
    "    password: {}",
    "  provision:",
    "    - exec: { container: web, command: [sh] }",
  );

  test("a misspelt consumer value of a dependency", () => {
    expectSetFinding([web("pasword"), db], {
      rule: "set.consumer",
      file: "web/manifest.yml",
      path: "containers.web.environment.DB_PASSWORD",
      line: FIRST + 1,
      column: 20,
      message: 'app db gives its consumers no value "pasword"',
      fix: 'did you mean "password"?',
    });
  });

  test("a dependency that declares no consumers", () => {
    expectSetFinding([web("name"), app("db")], {
      rule: "set.consumer",
      file: "web/manifest.yml",
      path: "containers.web.environment.DB_PASSWORD",
      line: FIRST + 1,
      column: 20,
      message: "app db declares no `consumers`",
    });
  });

  test("a file of a value the dependency does not give (its name is no secret)", () => {
    const file = app(
      "web",
      "    secrets:",
      "      - { app: db, consumer: name, target: /run/secrets/name }",
      "dependencies:",
      "  - id: db",
    );
    expectSetFinding([file, db], {
      rule: "set.consumer",
      file: "web/manifest.yml",
      path: "containers.web.secrets[0].consumer",
      line: FIRST + 1,
      column: 30,
      message: 'app db gives its consumers no value "name"',
      fix: "use one of: password",
    });
  });

  test("passing: its name and a value it gives", () => {
    expectNoFindings([web("name"), db]);
    expectNoFindings([web("password"), db]);
  });
});

describe("set.dependency-cycle", () => {
  test("two apps that depend on each other: the cycle is named", () => {
    expectSetFinding(
      [app("one", "dependencies:", "  - id: two"), app("two", "dependencies:", "  - id: one")],
      {
        rule: "set.dependency-cycle",
        file: "two/manifest.yml",
        path: "dependencies[0].id",
        line: FIRST + 1,
        column: 9,
        message: "one → two → one",
        fix: "remove one of these dependencies",
      },
    );
  });

  test("a longer cycle", () => {
    const finding = expectSetFinding(
      [
        app("a", "dependencies:", "  - id: b"),
        app("b", "dependencies:", "  - id: c"),
        app("c", "dependencies:", "  - id: a"),
      ],
      {
        rule: "set.dependency-cycle",
        file: "c/manifest.yml",
        path: "dependencies[0].id",
        line: FIRST + 1,
        column: 9,
      },
    );
    assert.match(finding.message, /a → b → c → a/);
  });

  test("passing: a chain and a diamond", () => {
    expectNoFindings([
      app("a", "dependencies:", "  - id: b", "  - id: c"),
      app("b", "dependencies:", "  - id: d"),
      app("c", "dependencies:", "  - id: d"),
      app("d"),
    ]);
  });
});

test("an empty set and a single app have no findings", () => {
  expectNoFindings([]);
  expectNoFindings([app("hello")]);
});
