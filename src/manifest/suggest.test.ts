import assert from "node:assert/strict";
import { test } from "node:test";
import { costRatio } from "../../test/support/cpu-time.ts";
import { ALL_CAPABILITIES } from "./schema.ts";
import { closest } from "./suggest.ts";

const FIELDS = [
  "image",
  "container_name",
  "entrypoint",
  "command",
  "memory",
  "environment",
  "ports",
  "volumes",
];

test("a swapped pair of letters counts as one edit", () => {
  assert.equal(closest("imgae", FIELDS), "image");
  assert.equal(closest("memroy", FIELDS), "memory");
});

test("a missing, extra or wrong letter", () => {
  assert.equal(closest("imag", FIELDS), "image");
  assert.equal(closest("commands", FIELDS), "command");
  assert.equal(closest("envirnoment", FIELDS), "environment");
  assert.equal(closest("volumez", FIELDS), "volumes");
});

test("case, '-', '_' and spaces are ignored", () => {
  assert.equal(closest("Image", FIELDS), "image");
  assert.equal(closest("containerName", FIELDS), "container_name");
  assert.equal(closest("container-name", FIELDS), "container_name");
  assert.equal(closest("entry point", FIELDS), "entrypoint");
});

test("the nearest candidate wins", () => {
  assert.equal(closest("tcp", ["udp", "tcp"]), "tcp");
  assert.equal(closest("htp", ["http", "https", "tcp"]), "http");
  assert.equal(closest("NET_ADMN", ALL_CAPABILITIES), "NET_ADMIN");
  assert.equal(closest("SYS_ADMN", ALL_CAPABILITIES), "SYS_ADMIN");
});

test("nothing close enough gives no suggestion", () => {
  assert.equal(closest("frobnicate", FIELDS), undefined);
  assert.equal(closest("mem", FIELDS), undefined, "three deletions are too many for a six-letter word");
  assert.equal(closest("x", ["y"]), "y", "one edit is always allowed");
  assert.equal(closest("xy", ["ab"]), undefined);
});

test("no candidates, empty words", () => {
  assert.equal(closest("image", []), undefined);
  assert.equal(closest("", FIELDS), undefined);
  assert.equal(closest("", [""]), "");
});

test("a huge word is answered after reading it once: no edit distance to words of another length", () => {
  // Work, not time: CPU time against a plain pass over the word (normalising it), measured together.
  // Computing the distances anyway costs about a thousand times that pass.
  for (const [word, candidates] of [
    ["A".repeat(200_000), ALL_CAPABILITIES],
    ["imgae".repeat(20_000), FIELDS],
  ] as const) {
    assert.equal(closest(word, candidates), undefined);
    const cost = costRatio(
      () => closest(word, candidates),
      () => word.toLowerCase().replace(/[-_ ]/g, ""),
    );
    assert.ok(
      cost.ratio <= 20,
      `closest() of a ${word.length}-letter word costs ${cost.ratio.toFixed(1)} passes over it (${cost.ms} ms of CPU)`,
    );
  }
});
