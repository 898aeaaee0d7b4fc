import assert from "node:assert/strict";
import { test } from "node:test";
import { formatMs, percentile, timings } from "./stats.ts";

test("percentile by nearest rank", () => {
  assert.equal(percentile([], 50), undefined);
  assert.equal(percentile([7], 50), 7);
  assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
  assert.equal(percentile([1, 2, 3, 4], 50), 2);
  assert.equal(percentile([1, 2, 3, 4], 100), 4);
  assert.equal(percentile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 95), 100);
  assert.equal(percentile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 90), 90);
  assert.throws(() => percentile([1], 0), RangeError);
  assert.throws(() => percentile([1], 101), RangeError);
});

test("timings per group: skipped cells have no duration and do not count", () => {
  const cells = [
    { step: "stop", status: "pass" as const, durationMs: 100 },
    { step: "stop", status: "pass" as const, durationMs: 300 },
    { step: "stop", status: "fail" as const, durationMs: 45_000 },
    { step: "stop", status: "skip" as const },
    { step: "ui", status: "skip" as const },
  ];
  const [stop, ui, restart] = timings(cells, (c) => c.step, ["stop", "ui", "restart"]);
  assert.deepEqual(stop, {
    key: "stop",
    runs: 3,
    passed: 2,
    failed: 1,
    p50Ms: 300,
    p95Ms: 45_000,
    maxMs: 45_000,
  });
  assert.deepEqual(ui, { key: "ui", runs: 0, passed: 0, failed: 0, p50Ms: null, p95Ms: null, maxMs: null });
  assert.equal(restart?.runs, 0, "a group without cells keeps its place");
});

test("durations for people", () => {
  assert.equal(formatMs(undefined), "–");
  assert.equal(formatMs(null), "–");
  assert.equal(formatMs(850), "850 ms");
  assert.equal(formatMs(12_345), "12.3 s");
  assert.equal(formatMs(245_000), "4 min 05 s");
  assert.equal(formatMs(119_600), "2 min 00 s", "seconds never show 60");
});
