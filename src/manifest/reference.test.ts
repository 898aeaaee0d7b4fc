import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { manifestJsonSchema } from "./json-schema.ts";
import { type FieldRow, fieldRows, type JsonSchema, referenceMarkdown, requiredCell } from "./reference.ts";

const rows = fieldRows(manifestJsonSchema());
function row(path: string): FieldRow {
  const found = rows.find((r) => r.path === path);
  assert.ok(found, `no row for ${path}`);
  return found;
}

describe("the field reference of a union lists every form, with its own fields and required-ness", () => {
  test("a health check: every type, and the fields of each", () => {
    assert.equal(row("containers.<name>.health.type").type, '"http" \\| "tcp" \\| "exec"');
    assert.equal(row("containers.<name>.health.type").required, true);
    assert.match(
      row("containers.<name>.health.type").description,
      /"tcp": Probe by looking for a socket listening on `port`/,
    );
    assert.match(row("containers.<name>.health").type, /mapping by `type`: "http" \\\| "tcp" \\\| "exec"/);

    const port = row("containers.<name>.health.port");
    assert.equal(port.required, false);
    assert.equal(requiredCell(port), 'yes, with `type` "http" or "tcp"');
    assert.match(port.description, /Only with `type` "http" or "tcp"\.$/);

    const command = row("containers.<name>.health.command");
    assert.equal(command.required, false);
    assert.equal(requiredCell(command), 'yes, with `type: "exec"`');

    const path = row("containers.<name>.health.path");
    assert.equal(requiredCell(path), "");
    assert.match(path.description, /Only with `type: "http"`\.$/);

    // In every form: as any field.
    const interval = row("containers.<name>.health.interval");
    assert.equal(requiredCell(interval), "");
    assert.doesNotMatch(interval.description, /Only/);
  });

  test("a permission: every kind, and a field two kinds share described for each", () => {
    const kind = row("permissions.<name>.kind");
    assert.equal(kind.type, '"host-path" \\| "device" \\| "low-port" \\| "capability"');
    const path = row("permissions.<name>.path");
    assert.equal(requiredCell(path), 'yes, with `kind` "host-path" or "device"');
    assert.match(path.description, /With `kind: "device"`: The device node/);
    assert.equal(requiredCell(row("permissions.<name>.port")), 'yes, with `kind: "low-port"`');
    assert.equal(requiredCell(row("permissions.<name>.reason")), "yes");
  });

  test("forms without a discriminator are named by their keys", () => {
    for (const key of ["value", "host", "secret"])
      assert.equal(requiredCell(row(`exports.<name>.${key}`)), `yes, in the \`{${key}}\` form`);
    assert.equal(row("exports").type, "mapping of name → `{value}` \\| `{host}` \\| `{secret}`");
    assert.equal(
      requiredCell(row("containers.<name>.environment.<name>.app")),
      "yes, in the `{app, export}` form",
    );
    assert.equal(
      requiredCell(row("containers.<name>.environment.<name>.secret")),
      "yes, in the `{secret}` form",
    );
    assert.equal(requiredCell(row("hooks.post_install[].exec")), "yes, in the `{exec}` form");
    assert.equal(
      requiredCell(row("hooks.pre_uninstall[].copy_from_host")),
      "yes, in the `{copy_from_host}` form",
    );
    // Inside a form, a field is required relative to its parent, as anywhere else.
    assert.equal(requiredCell(row("hooks.post_install[].exec.command")), "yes");
    assert.equal(requiredCell(row("hooks.post_install[].exec.timeout")), "");
  });

  test("the markdown says it in the Required column", () => {
    const markdown = referenceMarkdown(manifestJsonSchema());
    assert.match(
      markdown,
      /\| `containers\.<name>\.health\.command` \| list of string \| yes, with `type: "exec"` \|/,
    );
    assert.match(
      markdown,
      /\| `permissions\.<name>\.path` \| string \| yes, with `kind` "host-path" or "device" \|/,
    );
  });
});

describe("fieldRows on other schemas", () => {
  test("a lone mapping in a union (a nullable object) is a plain mapping", () => {
    const schema: JsonSchema = {
      type: "object",
      properties: {
        error: {
          anyOf: [
            {
              type: "object",
              properties: { kind: { type: "string", description: "k" } },
              required: ["kind"],
            },
            { type: "null" },
          ],
          description: "e",
        },
      },
      required: ["error"],
    };
    assert.deepEqual(
      fieldRows(schema).map((r) => [r.path, r.type, requiredCell(r)]),
      [
        ["error", "mapping \\| null", "yes"],
        ["error.kind", "string", "yes"],
      ],
    );
  });

  test("an optional field of one form says where it exists; nested fields follow their parent", () => {
    const schema: JsonSchema = {
      type: "object",
      properties: {
        step: {
          anyOf: [
            {
              type: "object",
              properties: {
                run: {
                  type: "object",
                  properties: { argv: { type: "array", items: { type: "string" }, description: "a" } },
                  required: ["argv"],
                  description: "r",
                },
                note: { type: "string", description: "n" },
              },
              required: ["run"],
            },
            {
              type: "object",
              properties: { copy: { type: "string", description: "c" } },
              required: ["copy"],
            },
          ],
        },
      },
    };
    const byPath = new Map(fieldRows(schema).map((r) => [r.path, r]));
    assert.equal(byPath.get("step")?.type, "`{run}` \\| `{copy}`");
    assert.equal(requiredCell(byPath.get("step.run") as FieldRow), "yes, in the `{run}` form");
    assert.equal(requiredCell(byPath.get("step.run.argv") as FieldRow), "yes");
    assert.equal(byPath.get("step.note")?.description, "n Only in the `{run}` form.");
    assert.equal(requiredCell(byPath.get("step.copy") as FieldRow), "yes, in the `{copy}` form");
  });
});
