// biome-ignore-all lint/suspicious/noTemplateCurlyInString: env files write their references as ${namespace:name}
/**
 * A container's env_files in the resolved model: each file as stored, checked against its digest
 * at use (a stored file changed since the install is refused, never rendered), its values rendered
 * as `environment` values are, `environment` winning where both set a variable.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { expectValid } from "../../test/support/manifest-text.ts";
import { envFileDigest } from "../manifest/env-file.ts";
import { type RenderContext, RenderError, resolveApp } from "./model.ts";

const APP = expectValid(`manifest: 1
id: wiki
version: 1.39.17-r2
name: Wiki
description: A wiki
secrets:
  db-password: {}
containers:
  web:
    image: docker.io/library/nginx:1.27
    env_file: [base.env, local.env]
    environment:
      MODE: from-environment
`).manifest;

const stored = (text: string) => ({ text, sha256: envFileDigest(text) });
const ctx = (envFiles: RenderContext["envFiles"]): RenderContext => ({
  dataRoot: "/d",
  dependencies: {},
  envFiles,
});

describe("env_file in the model", () => {
  test("later files over earlier ones, environment over both, references rendered", () => {
    const web = resolveApp(
      APP,
      ctx({
        "base.env": stored("A=base\nMODE=from-file\nB=base\n"),
        "local.env": stored(
          "B=local\nURL=pg://u:${secret:db-password}@db/${app:id}?v=${app:version}\nLIT=$${x}\n",
        ),
      }),
    ).containers[0];
    assert.deepEqual(web?.env, { A: "base", B: "local", LIT: "${x}", MODE: "from-environment" });
    assert.deepEqual(
      web?.envTemplates.map((t) => [t.variable, t.source]),
      [["URL", "pg://u:${secret:db-password}@db/${app:id}?v=${app:version}"]],
    );
    assert.deepEqual(
      web?.envTemplates[0]?.pieces.map((p) => (p.kind === "text" ? p.text : p.kind)),
      ["pg://u:", "secret", "@db/wiki?v=1.39.17-r2"],
    );
  });

  test("a stored file that no longer matches its digest is refused, naming it and the fix", () => {
    const tampered = { text: "A=evil\n", sha256: envFileDigest("A=base\n") };
    assert.throws(
      () => resolveApp(APP, ctx({ "base.env": tampered, "local.env": stored("") })),
      (error: unknown) =>
        error instanceof RenderError &&
        /containers\.web\.env_file: the stored base\.env does not match its digest/.test(error.message) &&
        /install or update the app again/.test(error.message),
    );
  });

  test("a file that was not stored with the app is refused, not rendered empty", () => {
    assert.throws(
      () => resolveApp(APP, ctx({ "base.env": stored("A=1\n") })),
      /containers\.web\.env_file: local\.env is not stored with the app/,
    );
  });
});
