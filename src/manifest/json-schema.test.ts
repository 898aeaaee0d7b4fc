import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import Ajv2020 from "ajv/dist/2020.js";
import { parse } from "yaml";
import { manifestJsonSchema, manifestJsonSchemaText } from "./json-schema.ts";
import { fieldRows, referenceMarkdown } from "./reference.ts";

const root = new URL("../../", import.meta.url).pathname;
const sampleFiles = readdirSync(join(root, "apps"), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => join(root, "apps", entry.name, "manifest.yml"));

test("the committed schema/manifest-v1.json is generated from the current schema (run `npm run generate`)", () => {
  assert.equal(readFileSync(join(root, "schema/manifest-v1.json"), "utf8"), manifestJsonSchemaText());
});

test("the committed field reference is generated from the current schema (run `npm run generate`)", () => {
  assert.equal(
    readFileSync(join(root, "docs/manifest-reference.md"), "utf8"),
    referenceMarkdown(manifestJsonSchema()),
  );
});

test("every field of the schema carries a description for editors and docs", () => {
  const rows = fieldRows(manifestJsonSchema());
  assert.ok(rows.length > 100, `expected the whole schema, got ${rows.length} fields`);
  const undocumented = rows.filter((row) => row.description.trim() === "").map((row) => row.path);
  assert.deepEqual(undocumented, []);
});

test("every field is documented in docs/manifest.md", () => {
  const guide = readFileSync(join(root, "docs/manifest.md"), "utf8");
  const names = new Set(
    fieldRows(manifestJsonSchema()).map((row) => row.path.split(".").at(-1)?.replace("[]", "") ?? ""),
  );
  const missing = [...names].filter((name) => name !== "<name>" && !guide.includes(`\`${name}\``));
  assert.deepEqual(missing, []);
});

test("editors using the published JSON Schema accept every sample app", () => {
  assert.ok(sampleFiles.length >= 4, "the sample apps are present");
  const ajv = new Ajv2020.default({ strict: false, allErrors: true });
  const validate = ajv.compile(manifestJsonSchema());
  for (const file of sampleFiles) {
    const ok = validate(parse(readFileSync(file, "utf8")));
    assert.ok(ok, `${file}: ${JSON.stringify(validate.errors)}`);
  }
});

test("editors using the published JSON Schema flag an unknown key and a wrong type", () => {
  const ajv = new Ajv2020.default({ strict: false, allErrors: true });
  const validate = ajv.compile(manifestJsonSchema());
  const bad = {
    manifest: 1,
    id: "x",
    version: "1.0.0",
    name: "X",
    description: "d",
    containers: { web: { image: "a:1", privileged: true, ports: "80" } },
  };
  assert.equal(validate(bad), false);
  const messages = (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
  assert.ok(
    messages.some((m) => m.includes("additional properties")),
    messages.join("\n"),
  );
  assert.ok(
    messages.some((m) => m.startsWith("/containers/web/ports")),
    messages.join("\n"),
  );
});

test("every sample references the published schema for editor completion", () => {
  for (const file of sampleFiles) {
    const first = readFileSync(file, "utf8").split("\n")[0];
    assert.equal(first, "# yaml-language-server: $schema=../../schema/manifest-v1.json", file);
  }
});

test("every numeric bound is inclusive, so a range message's `use at least N` names a value that is allowed", () => {
  const exclusive: string[] = [];
  const walk = (node: unknown, at: string): void => {
    if (Array.isArray(node)) for (const [i, item] of node.entries()) walk(item, `${at}[${i}]`);
    else if (node !== null && typeof node === "object")
      for (const [key, value] of Object.entries(node)) {
        if (key === "exclusiveMinimum" || key === "exclusiveMaximum") exclusive.push(`${at}.${key}`);
        walk(value, `${at}.${key}`);
      }
  };
  walk(manifestJsonSchema(), "$");
  assert.deepEqual(exclusive, [], "use min()/max() (inclusive), not positive()/gt()/lt()");
});
