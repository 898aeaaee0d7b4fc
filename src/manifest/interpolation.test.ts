// biome-ignore-all lint/suspicious/noTemplateCurlyInString: manifests write their references as ${namespace:name}
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { expectIssue, expectValid, FIRST, withLines } from "../../test/support/manifest-text.ts";
import { parseTemplate, templateSource } from "./interpolation.ts";

describe("parseTemplate", () => {
  test("text and references in order; a value without ${ is one text", () => {
    assert.deepEqual(
      parseTemplate("postgres://u:${secret:db-password}@${export:rw-postgres/host}/${app:id}"),
      [
        { kind: "text", text: "postgres://u:" },
        { kind: "secret", secret: "db-password" },
        { kind: "text", text: "@" },
        { kind: "export", app: "rw-postgres", export: "host" },
        { kind: "text", text: "/" },
        { kind: "app", field: "id" },
      ],
    );
    assert.deepEqual(parseTemplate("$HOME and $1 and {x}"), [{ kind: "text", text: "$HOME and $1 and {x}" }]);
    assert.deepEqual(parseTemplate(""), []);
  });

  test("$${ is a literal ${, and written back escaped", () => {
    const parts = parseTemplate("a$${secret:x}b${app:version}");
    assert.deepEqual(parts, [
      { kind: "text", text: "a${secret:x}b" },
      { kind: "app", field: "version" },
    ]);
    assert.ok(!("message" in parts));
    assert.equal(templateSource(parts), "a$${secret:x}b${app:version}");
  });

  test("an export names APP/NAME, a namespaced app id included", () => {
    assert.deepEqual(parseTemplate("${export:globex.keyring/api-token}"), [
      { kind: "export", app: "globex.keyring", export: "api-token" },
    ]);
  });

  for (const [value, message] of [
    ["x${secret:db", /no closing }/],
    ["${HOME}", /\$\{HOME\} is not a reference the platform knows/],
    ["${env:HOME}", /\$\{env:HOME\} is not a reference/],
    ["${secret:}", /not of the form \$\{secret:NAME\}/],
    ["${secret:Bad_Name}", /not of the form/],
    ["${export:host}", /not of the form \$\{export:APP\/NAME\}/],
    ["${app:data-dir}", /not of the form \$\{app:FIELD\} \(FIELD one of id, version\)/],
  ] as const)
    test(`refuses ${value}`, () => {
      const result = parseTemplate(value);
      assert.ok(!Array.isArray(result), `expected an error for ${value}`);
      assert.match(result.message, message);
      assert.match(result.fix, /\$\{/);
    });
});

describe("interpolation in manifests", () => {
  const deps = ["dependencies:", "  - { id: rw-postgres }", "secrets:", "  db-password: {}"];

  test("a DATABASE_URL with a secret and a dependency's export is valid", () => {
    expectValid(
      withLines(
        "    environment:",
        '      DATABASE_URL: "postgres://app:${secret:db-password}@${export:rw-postgres/host}/app"',
        ...deps,
      ),
    );
  });

  test("interp.syntax: an unterminated reference, at the value's line", () => {
    expectIssue(withLines("    environment:", '      URL: "postgres://${secret:db-password@db"', ...deps), {
      rule: "interp.syntax",
      path: "containers.web.environment.URL",
      line: FIRST + 1,
      column: 12,
      message: "has no closing }",
      fix: "$${",
    });
  });

  test("interp.syntax: an unknown namespace names the known ones", () => {
    expectIssue(withLines("    environment:", '      HOME_DIR: "${env:HOME}"', ...deps), {
      rule: "interp.syntax",
      path: "containers.web.environment.HOME_DIR",
      line: FIRST + 1,
      column: 17,
      message: "${env:HOME} is not a reference the platform knows",
      fix: "${secret:NAME}, ${export:APP/NAME}, ${consumer:APP/NAME} or ${app:FIELD}",
    });
  });

  test("ref.secret: an undeclared secret in a value", () => {
    expectIssue(withLines("    environment:", '      URL: "u:${secret:db-pasword}@db"', ...deps), {
      rule: "ref.secret",
      path: "containers.web.environment.URL",
      line: FIRST + 1,
      column: 12,
      message: "${secret:db-pasword} names a secret that is not declared",
      fix: "use one of: db-password",
    });
  });

  test("ref.dependency: an export of an app that is not a dependency", () => {
    expectIssue(withLines("    environment:", '      HOST: "${export:other/host}"', ...deps), {
      rule: "ref.dependency",
      path: "containers.web.environment.HOST",
      line: FIRST + 1,
      column: 13,
      message: '"other" is not one of this app\'s dependencies',
      fix: "add { id: other } under `dependencies`",
    });
  });

  test("limits.name: an id too long for the rendered value's Podman secret", () => {
    const long = `${"a".repeat(40)}.${"b".repeat(10)}`;
    expectIssue(
      withLines("    environment:", '      URL: "${secret:db-password}"', ...deps).replace(
        "id: hello",
        `id: ${long}`,
      ),
      {
        rule: "limits.name",
        path: "containers.web.environment.URL",
        line: FIRST + 1,
        column: 12,
        message: "at most 64",
        fix: "shorten the app's id to at most",
      },
    );
  });
});
