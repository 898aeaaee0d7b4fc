import assert from "node:assert/strict";
import { test } from "node:test";
import { OPERATION_KINDS } from "../../src/orchestrator/model.ts";
import { KIND_WORDS } from "../../web/src/kind-words.ts";

test("every operation kind has its own name in the UI's list of operations (a purge is not listed as 'Uninstall', a stop not as 'Stopp')", () => {
  for (const kind of OPERATION_KINDS) {
    const words = KIND_WORDS[kind];
    assert.ok(words, `no words for ${kind}`);
    assert.match(words.name, /^[A-Z][a-z]+$/, `${kind}: ${words.name}`);
  }
  assert.equal(KIND_WORDS.purge?.name, "Purge");
  assert.equal(KIND_WORDS.stop?.name, "Stop");
  assert.equal(new Set(Object.values(KIND_WORDS).map((w) => w.name)).size, Object.keys(KIND_WORDS).length);
});
