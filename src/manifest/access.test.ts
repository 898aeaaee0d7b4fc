/**
 * Interfaces' access in the manifest: an interface's port is published on loopback unless the
 * manifest binds it elsewhere (then a warning), `auth: none` and public paths are validated and
 * asked of the operator like permissions.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { expectIssue, expectValid, FIRST, issuesOf, withLines } from "../../test/support/manifest-text.ts";
import { accessWarnings, interfaceUpstream, mainInterface, publishedBind } from "./access.ts";
import { requestedPermissions } from "./permissions.ts";

const WITH_PORTS = [
  "    ports:",
  "      - { container: 8080, host: 18080 }",
  "      - { container: 9000, host: 19000 }",
  "      - { container: 9100, host: 19100, bind: 0.0.0.0 }",
];

describe("where ports are published", () => {
  test("an interface's port on 127.0.0.1 by default; any other port on 0.0.0.0; an explicit bind stays", () => {
    const { manifest } = expectValid(
      withLines(
        ...WITH_PORTS,
        "interfaces:",
        "  ui: { container: web, port: 8080 }",
        "  api: { container: web, port: 9100 }",
      ),
    );
    const ports = manifest.containers.web?.ports ?? [];
    assert.deepEqual(
      ports.map((p) => publishedBind(manifest, "web", p)),
      ["127.0.0.1", "0.0.0.0", "0.0.0.0"],
    );
    assert.equal(mainInterface(manifest), "ui");
    assert.deepEqual(interfaceUpstream(manifest, "ui"), {
      ok: true,
      protocol: "http",
      address: "127.0.0.1",
      port: 18080,
    });
  });

  test("access.exposed-interface: an interface's port bound beyond the node is a warning (valid, told to the operator)", () => {
    const { manifest } = expectValid(
      withLines(...WITH_PORTS, "interfaces:", "  api: { container: web, port: 9100 }"),
    );
    const warnings = accessWarnings(manifest);
    assert.equal(warnings.length, 1);
    const [warning] = warnings;
    assert.equal(warning?.rule, "access.exposed-interface");
    assert.deepEqual(warning?.path, ["containers", "web", "ports", 2, "bind"]);
    assert.match(warning?.message ?? "", /without the node's login/);
    assert.deepEqual(
      accessWarnings(
        expectValid(withLines(...WITH_PORTS, "interfaces:", "  ui: { container: web, port: 8080 }")).manifest,
      ),
      [],
    );
    // rule: "access.exposed-interface" — a warning, not an issue: the manifest stays valid.
  });

  test("an interface whose port has no host port cannot be reached", () => {
    const { manifest } = expectValid(
      withLines(
        "    ports:",
        "      - { container: 8080 }",
        "interfaces:",
        "  ui: { container: web, port: 8080 }",
      ),
    );
    const upstream = interfaceUpstream(manifest, "ui");
    assert.equal(upstream.ok, false);
    assert.match(upstream.ok ? "" : upstream.reason, /not published/);
  });
});

describe("auth and public paths", () => {
  const base = [...WITH_PORTS, "interfaces:"];

  test("defaults: behind the login, no public path", () => {
    const { manifest } = expectValid(withLines(...base, "  ui: { container: web, port: 8080 }"));
    assert.equal(manifest.interfaces.ui?.auth, "login");
    assert.deepEqual(manifest.interfaces.ui?.public_paths, []);
    assert.deepEqual(requestedPermissions(manifest), []);
  });

  test("auth: none and public paths are asked of the operator, named interface.<name>, content exact", () => {
    const { manifest } = expectValid(
      withLines(
        ...base,
        "  ui: { container: web, port: 8080, auth: none }",
        "  hooks: { container: web, port: 9000, public_paths: [/webhook, /.well-known/] }",
      ),
    );
    assert.deepEqual(
      requestedPermissions(manifest).map(({ name, kind, content }) => ({ name, kind, content })),
      [
        { name: "interface.ui", kind: "open-interface", content: "open-interface ui" },
        {
          name: "interface.hooks",
          kind: "public-paths",
          content: "public-paths hooks /.well-known/ /webhook",
        },
      ],
    );
  });

  test("access.public-path: dot segments, empty segments and / alone are refused, each at its place", () => {
    const text = withLines(
      ...base,
      "  ui:",
      "    container: web",
      "    port: 8080",
      "    public_paths:",
      "      - /.well-known/../admin",
      "      - /a//b",
      "      - /",
      "      - /ok/",
      "      - /ok/",
    );
    const issues = issuesOf(text);
    const at = FIRST + base.length;
    for (const [index, line, message] of [
      [0, at + 4, "`.` or `..`"],
      [1, at + 5, "`//`"],
      [2, at + 6, "auth: none"],
      [4, at + 8, "listed twice"],
    ] as const)
      expectIssue(text, {
        rule: "access.public-path",
        path: `interfaces.ui.public_paths[${index}]`,
        line,
        column: 9,
        message,
      });
    assert.equal(issues.filter((i) => i.rule === "access.public-path").length, 4);
  });

  test("schema: a public path with percent-encoding, a backslash or no leading slash is refused", () => {
    for (const path of ["/a%2fb", "/a\\\\b", "webhook", "/a b"]) {
      const issues = issuesOf(
        withLines(...base, `  ui: { container: web, port: 8080, public_paths: ["${path}"] }`),
      );
      assert.ok(
        issues.some((i) => i.path === "interfaces.ui.public_paths[0]"),
        `${path}: ${issues.map((i) => i.message).join("; ")}`,
      );
    }
  });

  test("access.public-paths: public paths on an `auth: none` interface say nothing more", () => {
    expectIssue(withLines(...base, "  ui: { container: web, port: 8080, auth: none, public_paths: [/x] }"), {
      rule: "access.public-paths",
      path: "interfaces.ui.public_paths",
      line: FIRST + base.length,
      column: 63,
      message: "open everywhere",
    });
  });
});
