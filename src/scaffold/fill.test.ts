import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseManifest } from "../manifest/parse.ts";
import { CODE_ROOT } from "../system/code-root.ts";
import { fillTemplate, initialsOf, titleOf } from "./fill.ts";

test("placeholders are filled in one pass; one nobody fills is an error, never left in an app", () => {
  assert.deepEqual(fillTemplate("id: {{id}} ({{name}})", { id: "a", name: "{{id}}" }), {
    ok: true,
    text: "id: a ({{id}})",
  });
  assert.deepEqual(fillTemplate("{{id}} {{nope}} {{nope}}", { id: "a" }), { ok: false, missing: ["nope"] });
  assert.equal(titleOf("my-app"), "My App");
  assert.equal(titleOf("alice.relay"), "Alice Relay");
  assert.equal(initialsOf("My App"), "MA");
  assert.equal(initialsOf("Notes"), "NO");
});

test("every template, filled, is a valid manifest (a formatter that touched a placeholder breaks it)", () => {
  const templates = join(CODE_ROOT, "templates/apps");
  const names = readdirSync(templates);
  assert.ok(names.length >= 3, names.join(", "));
  for (const name of names) {
    const text = readFileSync(join(templates, name, "manifest.yml"), "utf8");
    const filled = fillTemplate(text, {
      id: "t-app",
      name: "T App",
      port: "20001",
      initials: "TA",
      schema: "s.json",
    });
    assert.ok(filled.ok, `${name}: ${JSON.stringify(filled)}`);
    const parsed = parseManifest(filled.text, `${name}/manifest.yml`);
    assert.ok(
      parsed.ok,
      `${name}: ${parsed.ok ? "" : parsed.issues.map((i) => `${i.line}: ${i.message}`).join("\n")}`,
    );
  }
});
