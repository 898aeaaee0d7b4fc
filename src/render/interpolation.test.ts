// biome-ignore-all lint/suspicious/noTemplateCurlyInString: manifests write their references as ${namespace:name}
/**
 * Interpolated environment values in every render: a value with a secret in it is a reference to
 * a Podman secret of its own (never the value), one without is text; the daemon's rendering of
 * that secret's value is `renderTemplateValue`.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { expectValid, withLines } from "../../test/support/manifest-text.ts";
import { parseManifest, STORED_MANIFEST_TOLERATED_RULES } from "../manifest/parse.ts";
import { renderKube } from "./kube.ts";
import { type RenderContext, renderTemplateValue, resolveApp } from "./model.ts";
import { podmanPlan } from "./podman-spec.ts";
import { renderQuadlet } from "./quadlet.ts";

const DB = expectValid(`manifest: 1
id: rw-postgres
version: 1.0.0
name: DB
description: A database
containers:
  db:
    image: docker.io/library/postgres:16
secrets:
  admin-password: {}
exports:
  host: { host: db }
  port: { value: 5432 }
  admin-password: { secret: admin-password }
`).manifest;

const WEB = expectValid(`manifest: 1
id: wiki
version: 2.0.0
name: Wiki
description: A wiki
containers:
  web:
    image: docker.io/library/nginx:1.27
    environment:
      DATABASE_URL: "postgres://wiki:\${secret:db-password}@\${export:rw-postgres/host}:\${export:rw-postgres/port}/\${app:id}"
      ADMIN_URL: "postgres://admin:\${export:rw-postgres/admin-password}@db"
      DB_HOST: "\${export:rw-postgres/host}:\${export:rw-postgres/port}"
      LITERAL: "cost: $\${HOME} v\${app:version}"
dependencies:
  - { id: rw-postgres }
secrets:
  db-password: {}
`).manifest;

const ctx: RenderContext = { dataRoot: "/var/lib/archipelago", dependencies: { "rw-postgres": DB } };

describe("interpolated environment values", () => {
  test("podman: a value with a secret is a secret_env reference; hosts and literals are text", () => {
    const [plan] = podmanPlan(WEB, ctx).containers;
    assert.ok(plan);
    const { env, secret_env: secretEnv, Networks } = plan.body;
    assert.equal(env.DB_HOST, "rw-postgres:5432");
    assert.equal(env.LITERAL, "cost: ${HOME} v2.0.0");
    assert.equal(env.DATABASE_URL, undefined);
    assert.match(secretEnv?.DATABASE_URL ?? "", /^archy-wiki_env\.[0-9a-f]{8}$/);
    assert.match(secretEnv?.ADMIN_URL ?? "", /^archy-wiki_env\.[0-9a-f]{8}$/);
    assert.notEqual(secretEnv?.DATABASE_URL, secretEnv?.ADMIN_URL);
    assert.ok(Networks["archy-rw-postgres"], "a host reference joins the dependency's network");
  });

  test("the daemon renders the value from the secret files; the spec changes with the template", () => {
    const [web] = resolveApp(WEB, ctx).containers;
    const template = web?.envTemplates.find((t) => t.variable === "DATABASE_URL");
    assert.ok(template?.podmanSecret);
    assert.equal(template.source, WEB.containers.web?.environment.DATABASE_URL);
    const value = renderTemplateValue(template, (app, secret) => `<${app}/${secret}>`);
    assert.equal(value, "postgres://wiki:<wiki/db-password>@rw-postgres:5432/wiki");

    const changed = structuredClone(WEB);
    (changed.containers.web as { environment: Record<string, unknown> }).environment.DATABASE_URL =
      "postgres://other:${secret:db-password}@db/wiki";
    const before = podmanPlan(WEB, ctx).containers[0];
    const after = podmanPlan(changed, ctx).containers[0];
    assert.notEqual(after?.body.secret_env?.DATABASE_URL, before?.body.secret_env?.DATABASE_URL);
    assert.notEqual(after?.hash, before?.hash);
  });

  test("quadlet: a Secret= line with the value's references as a comment, no value", () => {
    const unit = renderQuadlet(WEB, ctx).find((f) => f.path === "wiki.container")?.content ?? "";
    const name = podmanPlan(WEB, ctx).containers[0]?.body.secret_env?.DATABASE_URL;
    assert.ok(unit.includes(`Secret=${name},type=env,target=DATABASE_URL`), unit);
    assert.ok(unit.includes(`# DATABASE_URL=${WEB.containers.web?.environment.DATABASE_URL}`), unit);
    assert.ok(unit.includes("Environment=DB_HOST=rw-postgres:5432"), unit);
  });

  test("kube: the value is composed from the Secret's keys with $(…), hosts are Services", () => {
    const yaml = renderKube(WEB, ctx)[0]?.content ?? "";
    assert.match(
      yaml,
      /- name: ARCHY_SECRET_WIKI_DB_PASSWORD\n\s+valueFrom:\n\s+secretKeyRef:\n\s+key: db-password\n\s+name: wiki-secrets/,
    );
    assert.match(
      yaml,
      /- name: ARCHY_SECRET_RW_POSTGRES_ADMIN_PASSWORD\n\s+valueFrom:\n\s+secretKeyRef:\n\s+key: admin-password\n\s+name: rw-postgres-secrets/,
    );
    assert.ok(
      yaml.includes("value: postgres://wiki:$(ARCHY_SECRET_WIKI_DB_PASSWORD)@rw-postgres:5432/wiki"),
      yaml,
    );
    // The carriers come first: Kubernetes expands only variables defined before.
    assert.ok(yaml.indexOf("ARCHY_SECRET_WIKI_DB_PASSWORD") < yaml.indexOf("name: DATABASE_URL"));
  });

  test("an app installed before references keeps a ${ that is none as the literal its containers have", () => {
    const text = withLines("    environment:", '      PREFIX: "${HOME}/x and $${y}"');
    assert.ok(!parseManifest(text, "new.yml").ok, "refused for a new install (interp.syntax)");
    const stored = parseManifest(text, "stored", { tolerate: STORED_MANIFEST_TOLERATED_RULES });
    assert.ok(stored.ok, "an installed app keeps working after the upgrade");
    const body = podmanPlan(stored.manifest, { dataRoot: "/d", dependencies: {} }).containers[0]?.body;
    assert.equal(body?.env.PREFIX, "${HOME}/x and $${y}");
  });
});
