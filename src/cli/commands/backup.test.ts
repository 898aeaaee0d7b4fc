import assert from "node:assert/strict";
import { test } from "node:test";
import { UsageError } from "../args.ts";
import { keepText, scheduleChange } from "./backup.ts";

test("targets schedule: off removes a schedule, a field not given is left out, --keep-* counts become the retention", () => {
  assert.deepEqual(scheduleChange({ every: "daily 03:00", "keep-daily": "7", "keep-weekly": "4" }), {
    schedule: "daily 03:00",
    keep: { daily: 7, weekly: 4 },
  });
  assert.deepEqual(scheduleChange({ every: "off", check: " off " }), { schedule: null, check: null });
  assert.deepEqual(scheduleChange({ check: "weekly sun 04:00" }), { check: "weekly sun 04:00" });
  assert.deepEqual(scheduleChange({}), {});
  assert.deepEqual(scheduleChange({ "keep-last": "0" }), { keep: { last: 0 } });
});

test("targets schedule: a count that is not a whole number is refused naming its option", () => {
  for (const bad of ["seven", "-1", "1.5", ""])
    assert.throws(
      () => scheduleChange({ "keep-monthly": bad }),
      (error: unknown) =>
        error instanceof UsageError && /^--keep-monthly: ".*" is not a count/.test(error.message),
      bad,
    );
});

test("targets schedule: a WHEN that is not a schedule is refused naming the option typed, before the daemon is asked", () => {
  for (const [values, message] of [
    [{ every: "dayly 03:00" }, /^--every: "dayly 03:00" is not a schedule; use "every 6h"/],
    [{ check: "every 5x" }, /^--check: "5x" is not a duration/],
    [{ every: "daily 25:00" }, /^--every: "25:00" is not a time of day/],
  ] as const)
    assert.throws(
      () => scheduleChange(values),
      (error: unknown) => error instanceof UsageError && message.test(error.message),
      JSON.stringify(values),
    );
});

test("a retention reads as counts, or all when none is set", () => {
  assert.equal(keepText({ daily: 7, weekly: 4, monthly: 12 }), "7 daily, 4 weekly, 12 monthly");
  assert.equal(keepText({ last: 0 }), "all");
  assert.equal(keepText({}), "all");
});
