// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose files write their variables as ${NAME}
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseEnvFile } from "./dotenv.ts";

test("env files: the compose specification's examples", () => {
  const text = [
    "# a comment",
    "",
    "A=VAL",
    'B="VAL"',
    "C='VAL'",
    "D=VAL # comment",
    "E=VAL# not a comment",
    'F="VAL # not a comment"',
    'G="VAL" # comment',
    "H='$OTHER'",
    "I='Let\\'s go!'",
    'J="{\\"hello\\": \\"json\\"}"',
    'K="some\\tvalue"',
    "L='some\\tvalue'",
    "M=some\\tvalue",
    "export N=exported",
    "O=${A}-$OTHER",
    'P="two',
    'lines"',
    "Q=",
  ].join("\n");
  const parsed = parseEnvFile(text, (name) => (name === "OTHER" ? "other" : undefined));
  assert.deepEqual(parsed.problems, []);
  assert.deepEqual(Object.fromEntries(parsed.entries.map((e) => [e.name, e.value])), {
    A: "VAL",
    B: "VAL",
    C: "VAL",
    D: "VAL",
    E: "VAL# not a comment",
    F: "VAL # not a comment",
    G: "VAL",
    H: "$OTHER",
    I: "Let's go!",
    J: '{"hello": "json"}',
    K: "some\tvalue",
    L: "some\\tvalue",
    M: "some\\tvalue",
    N: "exported",
    O: "VAL-other",
    P: "two\nlines",
    Q: "",
  });
  assert.equal(parsed.entries.find((e) => e.name === "O")?.line, 17);
});

test("env files: a bad name and an unclosed quote are problems at their line", () => {
  const parsed = parseEnvFile('GOOD=1\n9BAD=2\nOPEN="never closed\n', () => undefined);
  assert.deepEqual(
    parsed.problems.map((p) => [p.line, p.message]),
    [
      [2, "`9BAD` is not a variable name (letters, digits, _, . and -, not starting with a digit)"],
      [3, 'the value of OPEN opens a " that is never closed'],
    ],
  );
});
