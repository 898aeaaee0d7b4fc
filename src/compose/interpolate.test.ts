// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose files write their variables as ${NAME}
import assert from "node:assert/strict";
import { test } from "node:test";
import { interpolate } from "./interpolate.ts";

const env: Record<string, string> = { SET: "value", EMPTY: "", FOO: "foo" };
const lookup = (name: string) => env[name];
const value = (text: string) => {
  const result = interpolate(text, lookup);
  assert.ok(result.ok, `${text}: ${result.ok ? "" : result.error}`);
  return result.value;
};

test("interpolation: every operator of the compose specification, unset and empty told apart", () => {
  const cases: Array<[string, string]> = [
    ["$SET", "value"],
    ["${SET}", "value"],
    ["a-${SET}-b", "a-value-b"],
    ["${UNSET}", ""],
    ["${UNSET:-default}", "default"],
    ["${EMPTY:-default}", "default"],
    ["${UNSET-default}", "default"],
    ["${EMPTY-default}", ""],
    ["${SET:+alt}", "alt"],
    ["${EMPTY:+alt}", ""],
    ["${EMPTY+alt}", "alt"],
    ["${UNSET+alt}", ""],
    ["${UNSET:-${FOO}}", "foo"],
    ["${UNSET:-${ALSO_UNSET:-deep}}", "deep"],
    ["$$SET", "$SET"],
    ["$${SET}", "${SET}"],
    ["cost: $5 and $ alone, trailing $", "cost: $5 and $ alone, trailing $"],
    ["${SET:-a}b}", "valueb}"],
  ];
  for (const [text, expected] of cases) assert.equal(value(text), expected, text);
});

test("interpolation: a default is evaluated only when used, and the references say how each was answered", () => {
  const result = interpolate("${SET:-${NEVER}}", lookup);
  assert.ok(result.ok);
  assert.deepEqual(
    result.references.map((r) => [r.name, r.set, r.whole]),
    [["SET", true, true]],
  );
  const parts = interpolate("x${SET}y$UNSET", lookup);
  assert.ok(parts.ok);
  assert.deepEqual(
    parts.references.map((r) => [r.name, r.set, r.whole]),
    [
      ["SET", true, false],
      ["UNSET", false, false],
    ],
  );
});

test("interpolation: required variables, unterminated braces and shell features are errors that say what to fix", () => {
  const errors: Array<[string, RegExp]> = [
    ["${UNSET:?give it}", /required variable UNSET is not set: give it/],
    ["${EMPTY:?}", /required variable EMPTY is empty/],
    ["${SET", /never closed/],
    ["${}", /does not start with a variable name/],
    ["${1ABC}", /does not start with a variable name/],
    ["${SET/a/b}", /not a supported interpolation/],
  ];
  for (const [text, pattern] of errors) {
    const result = interpolate(text, lookup);
    assert.equal(result.ok, false, text);
    if (!result.ok) assert.match(result.error, pattern, text);
  }
  assert.deepEqual(interpolate("${EMPTY?}", lookup), {
    ok: true,
    value: "",
    references: [{ name: "EMPTY", operator: "?", set: true, value: "", whole: true }],
  });
});

test("interpolation: nesting is bounded (a crafted value cannot recurse without end)", () => {
  const deep = `${"${A:-".repeat(50)}x${"}".repeat(50)}`;
  const result = interpolate(deep, lookup);
  assert.equal(result.ok, false);
  if (!result.ok) assert.match(result.error, /nested more than 20 deep/);
});
