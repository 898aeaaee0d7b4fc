// biome-ignore-all lint/suspicious/noTemplateCurlyInString: manifests write their references as ${namespace:name}
/**
 * Per-consumer provisioning, the pure part: the consumer's name (unique per app id, a SQL
 * identifier), the environment its provider's steps get, the `${consumer:…}` reference, the rules
 * over a provider's `consumers`, and what the renders make of a consumer's values.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { expectIssue, expectValid, FIRST, withLines } from "../../test/support/manifest-text.ts";
import { renderKubeWithWarnings } from "../render/kube.ts";
import { type RenderContext, RenderError, renderTemplateValue, resolveApp } from "../render/model.ts";
import { podmanPlan } from "../render/podman-spec.ts";
import { consumedApps, consumerEnvironment, consumerName, pairSecretFile, pairSecrets } from "./consumers.ts";
import { parseTemplate, templateSource } from "./interpolation.ts";
import { renderedSecretPrefix } from "./naming.ts";

const SQL_IDENTIFIER = /^[a-z][a-z0-9_]{0,62}$/;

describe("consumerName", () => {
  test("a plain id is itself with _ for -", () => {
    assert.equal(consumerName("rw-notes"), "rw_notes");
    assert.equal(consumerName("wiki"), "wiki");
  });

  test("ids that would meet once - and . are _ get names of their own (one would take over the other's account)", () => {
    const ids = ["a-b", "a.b", "a--b", "a-b.c", "a.b-c", "a-b-c"];
    const names = ids.map(consumerName);
    assert.equal(new Set(names).size, ids.length, names.join(" "));
    for (const name of names) assert.match(name, SQL_IDENTIFIER);
    assert.match(consumerName("alice.wiki"), /^alice_wiki__[0-9a-f]{16}$/);
    // A plain id cannot spell an unusual one's name: plain names never hold `__`.
    assert.ok(!consumerName("a-b-c").includes("__"));
  });

  test("the longest ids fit 63 characters and stay apart", () => {
    const label = "a".repeat(40);
    const long = [`${label}.${label}`, `${label}.${"a".repeat(39)}b`, "b".repeat(64 - 1) + "c".repeat(0)];
    const names = long.map(consumerName);
    for (const name of names) assert.match(name, SQL_IDENTIFIER);
    assert.equal(new Set(names).size, long.length);
  });
});

describe("consumedApps", () => {
  test("the providers an app uses, from environment values, env_file values and files; none from exports alone", () => {
    const { manifest } = expectValid(
      withLines(
        "    environment:",
        '      A: "${consumer:pg/name}"',
        '      B: "${export:cache/host}"',
        "    secrets:",
        "      - { app: vault, consumer: token, target: /run/t }",
        "dependencies:",
        "  - id: pg",
        "  - id: cache",
        "  - id: mq",
        "  - id: vault",
      ),
    );
    assert.deepEqual(
      consumedApps(manifest, ["X=1\nURL=amqp://${consumer:mq/name}:${consumer:mq/password}@mq\n"]),
      ["mq", "pg", "vault"],
    );
    assert.deepEqual(consumedApps(manifest), ["pg", "vault"]);
  });
});

describe("consumerEnvironment", () => {
  test("the consumer's id, its name and each of its values, by variable", () => {
    assert.deepEqual(consumerEnvironment("alice.wiki", { password: "p", "api-token": "t" }), {
      ARCHY_CONSUMER_APP: "alice.wiki",
      ARCHY_CONSUMER_NAME: consumerName("alice.wiki"),
      ARCHY_CONSUMER_PASSWORD: "p",
      ARCHY_CONSUMER_API_TOKEN: "t",
    });
  });
});

describe("${consumer:APP/NAME}", () => {
  test("parses and is written back as it was", () => {
    const parts = parseTemplate(
      "postgres://${consumer:rw-postgres/name}:${consumer:rw-postgres/password}@db",
    );
    assert.deepEqual(parts, [
      { kind: "text", text: "postgres://" },
      { kind: "consumer", app: "rw-postgres", value: "name" },
      { kind: "text", text: ":" },
      { kind: "consumer", app: "rw-postgres", value: "password" },
      { kind: "text", text: "@db" },
    ]);
    assert.ok(!("message" in parts));
    assert.equal(
      templateSource(parts),
      "postgres://${consumer:rw-postgres/name}:${consumer:rw-postgres/password}@db",
    );
  });

  test("ref.dependency: an app that is not a dependency", () => {
    expectIssue(withLines("    environment:", '      DB_PASSWORD: "${consumer:rw-postgres/password}"'), {
      rule: "ref.dependency",
      path: "containers.web.environment.DB_PASSWORD",
      line: FIRST + 1,
      column: 20,
      message: '${consumer:rw-postgres/password}: "rw-postgres" is not one of this app\'s dependencies',
      fix: "add { id: rw-postgres } under `dependencies`",
    });
  });
});

/** A provider's `consumers` section, as lines after the minimal manifest (container `web`). */
const consumers = (...lines: string[]) => withLines("consumers:", ...lines);

test("limits.name: an id too long for the Podman secret its consumer password is rendered into", () => {
  const long = `${"a".repeat(40)}.${"b".repeat(10)}`;
  expectIssue(
    withLines(
      "    environment:",
      '      PGPASSWORD: "${consumer:rw-postgres/password}"',
      "dependencies:",
      "  - id: rw-postgres",
    ).replace("id: hello", `id: ${long}`),
    {
      rule: "limits.name",
      path: "containers.web.environment.PGPASSWORD",
      line: FIRST + 1,
      column: 19,
      message: "at most 64",
    },
  );
});

describe("consumers.reserved", () => {
  for (const name of ["name", "app"])
    test(`a consumer secret named ${name}`, () => {
      expectIssue(
        consumers(
          "  secrets:",
          `    ${name}: {}`,
          "  provision:",
          "    - exec: { container: web, command: [sh] }",
        ),
        {
          rule: "consumers.reserved",
          path: `consumers.secrets.${name}`,
          line: FIRST + 2,
          column: 5,
          message: `a consumer secret cannot be named ${name}`,
          fix: `rename it, e.g. ${name}-secret`,
        },
      );
    });
});

describe("consumers steps are checked as hook steps are", () => {
  test("ref.container: a provision step in a container the app does not have", () => {
    expectIssue(consumers("  provision:", "    - exec: { container: db, command: [sh] }"), {
      rule: "ref.container",
      path: "consumers.provision[0].exec.container",
      line: FIRST + 2,
      column: 26,
    });
  });

  test("health.hook-wait: a deprovision step waits for a container without a health check", () => {
    expectIssue(
      consumers(
        "  provision:",
        "    - exec: { container: web, command: [sh] }",
        "  deprovision:",
        "    - wait: { container: web }",
      ),
      {
        rule: "health.hook-wait",
        path: "consumers.deprovision[0].wait.container",
        line: FIRST + 4,
        column: 26,
      },
    );
  });

  test("a step's command may span lines, as a hook's does (a psql script)", () => {
    expectValid(consumers("  provision:", '    - exec: { container: web, command: [sh, -c, "a\\nb"] }'));
  });

  test("schema: provision holds a step, and only exec and wait steps", () => {
    expectIssue(consumers("  provision: []"), {
      rule: "schema.range",
      path: "consumers.provision",
      line: FIRST + 1,
      column: 14,
      message: "`provision` must not be empty",
    });
    expectIssue(consumers("  provision:", "    - copy_from_host: { from: a, container: web, to: /a }"), {
      rule: "schema.unknown-key",
      path: "consumers.provision[0].copy_from_host",
      line: FIRST + 2,
      column: 7,
      fix: "accepted forms: { exec: … }; { wait: … }",
    });
  });
});

const PROVIDER = expectValid(`manifest: 1
id: rw-postgres
version: 15.0.0
name: DB
description: A database
containers:
  db:
    image: docker.io/library/postgres:16
exports:
  host: { host: db }
consumers:
  secrets:
    password: { type: hex, length: 40 }
  provision:
    - exec: { container: db, command: [sh, -c, 'createuser "$ARCHY_CONSUMER_NAME"'] }
  deprovision:
    - exec: { container: db, command: [sh, -c, 'dropuser --if-exists "$ARCHY_CONSUMER_NAME"'] }
`).manifest;

const CONSUMER = expectValid(`manifest: 1
id: alice.wiki
version: 1.0.0
name: Wiki
description: A wiki
containers:
  web:
    image: docker.io/library/nginx:1.27
    environment:
      DATABASE_URL: "postgres://\${consumer:rw-postgres/name}:\${consumer:rw-postgres/password}@\${export:rw-postgres/host}/\${consumer:rw-postgres/name}"
      PGUSER: "\${consumer:rw-postgres/name}"
dependencies:
  - { id: rw-postgres }
`).manifest;

const ctx: RenderContext = { dataRoot: "/var/lib/archipelago", dependencies: { "rw-postgres": PROVIDER } };

describe("a consumer's values in the renders", () => {
  test("its name is text; its password is its own secret, rendered into a Podman secret, never into the spec", () => {
    const app = resolveApp(CONSUMER, ctx);
    assert.deepEqual(app.consumes, ["rw-postgres"]);
    const [web] = app.containers;
    assert.equal(web?.env.PGUSER, consumerName("alice.wiki"));
    const url = web?.envTemplates.find((t) => t.variable === "DATABASE_URL");
    assert.ok(url?.podmanSecret, "a value with a password in it is a Podman secret of its own");
    const file = pairSecretFile("rw-postgres", "password");
    assert.ok(url.pieces.some((p) => p.kind === "secret" && p.app === "alice.wiki" && p.secret === file));
    const value = renderTemplateValue(url, (appId, secret) => `${appId}/${secret}=VALUE`);
    assert.equal(
      value,
      `postgres://${consumerName("alice.wiki")}:alice.wiki/${file}=VALUE@rw-postgres/${consumerName("alice.wiki")}`,
    );
    const body = JSON.stringify(podmanPlan(CONSUMER, ctx).containers[0]?.body);
    assert.ok(!body.includes("VALUE") && body.includes(url.podmanSecret), body);
  });

  test("as a file: the value is stored by the daemon in a Podman secret under the app's prefix of rendered values", () => {
    const asFile = expectValid(
      withLines(
        "    secrets:",
        "      - { app: rw-postgres, consumer: password, target: /run/secrets/db-password }",
        "dependencies:",
        "  - id: rw-postgres",
      ),
    ).manifest;
    const app = resolveApp(asFile, ctx);
    assert.deepEqual(app.consumes, ["rw-postgres"]);
    const [file] = app.containers[0]?.fileSecrets ?? [];
    assert.equal(file?.secret, pairSecretFile("rw-postgres", "password"));
    assert.equal(file?.target, "/run/secrets/db-password");
    assert.ok(file?.podmanSecret.startsWith(renderedSecretPrefix("hello")), file?.podmanSecret);
    assert.ok((file?.podmanSecret.length ?? 99) <= 64);
    const kube = renderKubeWithWarnings(asFile, ctx).files[0]?.content ?? "";
    assert.ok(kube.includes(`key: ${pairSecretFile("rw-postgres", "password")}`), kube);
    const name = expectValid(
      withLines(
        "    secrets:",
        "      - { app: rw-postgres, consumer: name, target: /run/secrets/name }",
        "dependencies:",
        "  - id: rw-postgres",
      ),
    ).manifest;
    assert.throws(
      () => resolveApp(name, ctx),
      /containers\.web\.secrets: the consumer value 'name' of 'rw-postgres' is not a secret/,
    );
  });

  test("ref.dependency: a file from an app that is not a dependency", () => {
    expectIssue(
      withLines("    secrets:", "      - { app: rw-postgres, consumer: password, target: /run/p }"),
      {
        rule: "ref.dependency",
        path: "containers.web.secrets[0].app",
        line: FIRST + 1,
        column: 16,
        message: '"rw-postgres" is not one of this app\'s dependencies',
      },
    );
  });

  test("the pair's values: one file per provider secret, with the provider's alphabet and length", () => {
    assert.deepEqual(pairSecrets(["rw-postgres"], { "rw-postgres": PROVIDER }), {
      [pairSecretFile("rw-postgres", "password")]: {
        provider: "rw-postgres",
        secret: "password",
        spec: { type: "hex", length: 40 },
      },
    });
  });

  test("a value the provider does not give, or a provider without consumers, is a render error naming the field", () => {
    const wrong = expectValid(
      withLines(
        "    environment:",
        '      P: "${consumer:rw-postgres/pasword}"',
        "dependencies:",
        "  - id: rw-postgres",
      ),
    ).manifest;
    assert.throws(
      () => resolveApp(wrong, ctx),
      (error: Error) =>
        error instanceof RenderError &&
        /environment\.P: app 'rw-postgres' has no consumer value 'pasword' \(it gives: name, password\)/.test(
          error.message,
        ),
    );
    const { consumers: _, ...bare } = PROVIDER;
    assert.throws(
      () => resolveApp(wrong, { ...ctx, dependencies: { "rw-postgres": bare } }),
      /declares no `consumers`/,
    );
  });

  test("kube: the pair's keys are in the app's own Secret, and the provisioning is a warning, not dropped", () => {
    const { files, warnings } = renderKubeWithWarnings(CONSUMER, ctx);
    const content = files[0]?.content ?? "";
    assert.ok(content.includes(`key: ${pairSecretFile("rw-postgres", "password")}`), content);
    assert.ok(
      warnings.some((w) => w.field === "dependencies" && w.message.includes("consumers.provision")),
      JSON.stringify(warnings),
    );
    const provider = renderKubeWithWarnings(PROVIDER, { dataRoot: "/d", dependencies: {} }).warnings;
    assert.deepEqual(
      provider.filter((w) => w.field.startsWith("consumers.")).map((w) => w.field),
      ["consumers.provision", "consumers.deprovision"],
    );
  });
});
