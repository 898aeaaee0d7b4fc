import assert from "node:assert/strict";
import { test } from "node:test";
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

test("a huge word is answered at once", () => {
  const started = performance.now();
  assert.equal(closest("A".repeat(200_000), ALL_CAPABILITIES), undefined);
  assert.equal(closest("imgae".repeat(1000), FIELDS), undefined);
  assert.ok(performance.now() - started < 200);
});
