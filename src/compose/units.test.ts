import assert from "node:assert/strict";
import { test } from "node:test";
import { durationMs, sizeBytes } from "./units.ts";

test("durations as Go writes them, and sizes as Docker reads them", () => {
  assert.equal(durationMs("1m30s"), 90_000);
  assert.equal(durationMs("1.5s"), 1500);
  assert.equal(durationMs("500ms"), 500);
  assert.equal(durationMs("1h2m"), 3_720_000);
  assert.equal(durationMs("0"), 0);
  assert.equal(durationMs("10"), undefined);
  assert.equal(durationMs("1x"), undefined);
  assert.equal(sizeBytes("512m"), 512 * 1024 ** 2);
  assert.equal(sizeBytes("1.5G"), 1.5 * 1024 ** 3);
  assert.equal(sizeBytes("64MiB"), 64 * 1024 ** 2);
  assert.equal(sizeBytes("100b"), 100);
  assert.equal(sizeBytes(2048), 2048);
  assert.equal(sizeBytes("lots"), undefined);
});
