/**
 * docs/api.md is generated from the API's definitions and committed: it must be what the generator
 * writes now (`npm run generate` after changing a method, an error code, an event or a metric), and
 * its examples must be calls and answers the daemon would accept and give.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import Ajv2020 from "ajv/dist/2020.js";
import {
  apiDocsMarkdown,
  EVENT_EXAMPLES,
  EXAMPLES,
  paramsJsonSchema,
  resultJsonSchema,
} from "../../src/api/docs.ts";
import { EVENT_SCHEMAS, WsMessageSchema } from "../../src/api/events.ts";
import { METHODS } from "../../src/api/methods.ts";
import { RPC_CODES } from "../../src/api/rpc/errors.ts";

const committed = readFileSync(new URL("../../docs/api.md", import.meta.url), "utf8");

test("docs/api.md is up to date (run `npm run generate`)", () => {
  const generated = apiDocsMarkdown();
  if (committed !== generated) {
    const a = committed.split("\n");
    const b = generated.split("\n");
    const line = a.findIndex((text, i) => text !== b[i]);
    assert.fail(
      `docs/api.md differs from the generator's output from line ${line + 1}:\n  committed: ${a[line]}\n  generated: ${b[line]}\nrun \`npm run generate\``,
    );
  }
});

test("every method, error code, event and metric family is documented", () => {
  for (const method of METHODS) assert.ok(committed.includes(`### \`${method.name}\``), method.name);
  for (const [name, code] of Object.entries(RPC_CODES))
    assert.match(committed, new RegExp(`\\| ${code} \\| \`${name}\` \\| \\S`), name);
  for (const type of Object.keys(EVENT_SCHEMAS)) assert.ok(committed.includes(`### \`${type}\``), type);
  for (const name of [
    "archy_operations_total",
    "archy_rpc_calls_total",
    "archy_apps",
    "archy_podman_connected",
  ])
    assert.ok(committed.includes(`\`${name}\``), name);
});

test("every example is a call the method accepts and an answer that fits its result schema", () => {
  const ajv = new Ajv2020.default({ strict: false, allErrors: true });
  for (const method of METHODS) {
    const example = EXAMPLES[method.name];
    assert.ok(example, `an example for ${method.name}`);
    const params = method.params.safeParse(example.params);
    assert.ok(params.success, `${method.name}: example params: ${JSON.stringify(params.error?.issues)}`);
    const validParams = ajv.compile(paramsJsonSchema(method.params));
    assert.ok(validParams(example.params), `${method.name}: ${JSON.stringify(validParams.errors)}`);
    const validResult = ajv.compile(resultJsonSchema(method.result));
    assert.ok(
      validResult(example.result),
      `${method.name}: example result: ${JSON.stringify(validResult.errors)}`,
    );
    for (const name of example.errors)
      assert.ok(name in RPC_CODES, `${method.name}: ${name} is an error code`);
  }
});

test("every event example fits its schema", () => {
  for (const [type, example] of Object.entries(EVENT_EXAMPLES)) {
    const schema = EVENT_SCHEMAS[type as keyof typeof EVENT_SCHEMAS];
    assert.ok(schema.safeParse(example).success, type);
    assert.ok(WsMessageSchema.safeParse(example).success, type);
  }
});
