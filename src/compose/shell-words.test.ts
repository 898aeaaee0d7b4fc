import assert from "node:assert/strict";
import { test } from "node:test";
import { splitShellWords } from "./shell-words.ts";

test("a string command splits into words as a POSIX shell would, without expanding anything", () => {
  const cases: Array<[string, string[]]> = [
    ["redis-server --appendonly yes", ["redis-server", "--appendonly", "yes"]],
    [`sh -c 'echo "$HOME" && exit 0'`, ["sh", "-c", 'echo "$HOME" && exit 0']],
    [`echo "a \\"quoted\\" word" b\\ c`, ["echo", 'a "quoted" word', "b c"]],
    [`printf "" ''`, ["printf", "", ""]],
    ["  spaced\tout\n", ["spaced", "out"]],
    [`"\\x"`, ["\\x"]],
  ];
  for (const [text, words] of cases) assert.deepEqual(splitShellWords(text), { ok: true, words }, text);
  assert.deepEqual(splitShellWords("echo 'open"), {
    ok: false,
    error: "the ' at character 6 is never closed",
  });
});
