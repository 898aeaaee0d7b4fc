import assert from "node:assert/strict";
import { test } from "node:test";
import {
  appAlerts,
  checkAlerts,
  dueAt,
  forgetArgs,
  formatSchedule,
  hasRetention,
  nextSlot,
  parseSchedule,
  ScheduleError,
  storedSchedule,
} from "./schedule.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** A local time, as the node's clock reads it. */
const local = (y: number, mo: number, d: number, h = 0, mi = 0) => new Date(y, mo - 1, d, h, mi).getTime();

test("schedules parse from the operator's words and print canonically", () => {
  for (const [text, canonical] of [
    ["every 6h", "every 6h"],
    ["every 90m", "every 90m"],
    ["every 120m", "every 2h"],
    ["EVERY 1d", "every 1d"],
    ["every 30s", "every 30s"],
    ["daily 3:05", "daily 03:05"],
    ["daily 23:59", "daily 23:59"],
    ["weekly sun 04:00", "weekly sun 04:00"],
    ["weekly Saturday 00:00", "weekly sat 00:00"],
  ])
    assert.equal(formatSchedule(parseSchedule(text as string, "schedule", 1000)), canonical, text);
});

test("a schedule that does not parse names the field and the forms", () => {
  for (const [text, says] of [
    ["hourly", /is not a schedule; use "every 6h"/],
    ["every", /is not a schedule/],
    ["every 6", /"6" is not a duration/],
    ["every 6w", /"6w" is not a duration/],
    ["daily", /is not a schedule/],
    ["daily 24:00", /"24:00" is not a time of day/],
    ["daily 3pm", /"3pm" is not a time of day/],
    ["weekly su 04:00", /"su" is not a day of the week/],
    ["weekly funday 04:00", /"funday" is not a day/],
    ["weekly sun", /is not a schedule/],
  ] as const)
    assert.throws(
      () => parseSchedule(text, "--schedule", 1000),
      (error: unknown) =>
        error instanceof ScheduleError &&
        error.message.startsWith("--schedule: ") &&
        says.test(error.message),
      text,
    );
});

test("every is bounded below by what the node allows", () => {
  assert.throws(
    () => parseSchedule("every 30s", "schedule", MIN),
    /more often than this node allows \(at least 60 s/,
  );
  assert.equal(parseSchedule("every 1m", "schedule", MIN).kind, "every");
});

test("every: slots count from the anchor, never at the anchor itself", () => {
  const s = parseSchedule("every 6h", "s", 1000);
  const anchor = 1_000_000;
  assert.equal(nextSlot(s, anchor, anchor), anchor + 6 * HOUR);
  assert.equal(nextSlot(s, anchor - 5 * DAY, anchor), anchor + 6 * HOUR);
  assert.equal(nextSlot(s, anchor + 6 * HOUR - 1, anchor), anchor + 6 * HOUR);
  assert.equal(nextSlot(s, anchor + 6 * HOUR, anchor), anchor + 12 * HOUR);
  assert.equal(nextSlot(s, anchor + 6 * HOUR + 1, anchor), anchor + 12 * HOUR);
});

test("daily: today's time if it is still to come, else tomorrow's", () => {
  const s = parseSchedule("daily 03:00", "s", 1000);
  assert.equal(nextSlot(s, local(2026, 3, 10, 1, 0), 0), local(2026, 3, 10, 3, 0));
  assert.equal(nextSlot(s, local(2026, 3, 10, 3, 0), 0), local(2026, 3, 11, 3, 0));
  assert.equal(nextSlot(s, local(2026, 3, 10, 22, 0), 0), local(2026, 3, 11, 3, 0));
  assert.equal(nextSlot(s, local(2026, 12, 31, 4, 0), 0), local(2027, 1, 1, 3, 0));
});

test("daily across a month of slots stays at its time of day (calendar days, not 24 h steps)", () => {
  const s = parseSchedule("daily 12:30", "s", 1000);
  let at = local(2026, 3, 1, 0, 0);
  for (let i = 0; i < 60; i++) {
    at = nextSlot(s, at, 0);
    const date = new Date(at);
    assert.equal(date.getHours() * 60 + date.getMinutes(), 12 * 60 + 30, date.toString());
  }
});

test("weekly: the next such weekday at its time", () => {
  const s = parseSchedule("weekly sun 04:00", "s", 1000);
  // 2026-03-10 is a Tuesday; the Sunday after is the 15th.
  assert.equal(new Date(local(2026, 3, 15)).getDay(), 0);
  assert.equal(nextSlot(s, local(2026, 3, 10, 12), 0), local(2026, 3, 15, 4));
  assert.equal(nextSlot(s, local(2026, 3, 15, 3, 59), 0), local(2026, 3, 15, 4));
  assert.equal(nextSlot(s, local(2026, 3, 15, 4), 0), local(2026, 3, 22, 4));
});

test("due: the first slot after the last run; never before the schedule was set", () => {
  const s = parseSchedule("daily 03:00", "s", 1000);
  const setting = { spec: "daily 03:00", since: local(2026, 3, 10, 12) };
  assert.equal(dueAt(s, setting, undefined), local(2026, 3, 11, 3));
  assert.equal(dueAt(s, setting, local(2026, 3, 11, 3, 0)), local(2026, 3, 12, 3));
  // A run before the schedule was (re)set: the schedule counts from when it was set.
  assert.equal(dueAt(s, setting, local(2026, 1, 1)), local(2026, 3, 11, 3));
});

test("catch-up after downtime: one run, then the next slot after it (not one per missed slot)", () => {
  const s = parseSchedule("daily 03:00", "s", 1000);
  const setting = { spec: "daily 03:00", since: local(2026, 3, 1) };
  const lastRun = local(2026, 3, 2, 3);
  const back = local(2026, 3, 9, 15); // a week down
  assert.ok(dueAt(s, setting, lastRun) <= back, "a run is owed");
  // The scheduler runs it now, and records the run at `back`:
  const next = dueAt(s, setting, back);
  assert.equal(next, local(2026, 3, 10, 3), "the next is tomorrow's slot");
  assert.ok(next > back, "nothing more is owed now");
  const every = parseSchedule("every 1h", "s", 1000);
  const anchor = 0;
  const ran = 50 * HOUR + 17 * MIN;
  assert.equal(dueAt(every, { spec: "every 1h", since: anchor }, ran), 51 * HOUR);
});

test("retention: restic forget's arguments for one app; no policy is never applied", () => {
  assert.deepEqual(forgetArgs("app:notes", { daily: 7, weekly: 4, monthly: 12 }), [
    "forget",
    "--json",
    "--prune",
    "--tag",
    "app:notes",
    "--group-by",
    "host",
    "--keep-daily",
    "7",
    "--keep-weekly",
    "4",
    "--keep-monthly",
    "12",
  ]);
  assert.deepEqual(forgetArgs("app:x", { last: 3, daily: 0 }).slice(-2), ["--keep-last", "3"]);
  assert.equal(hasRetention({}), false);
  assert.equal(hasRetention({ daily: 0 }), false);
  assert.throws(() => forgetArgs("app:x", {}), /keeps nothing/);
});

test("a failed backup is an alert until a later success", () => {
  const base = { target: "usb", appId: "notes", installedAt: 0, schedule: undefined, now: 10 * DAY };
  assert.deepEqual(appAlerts({ ...base, record: undefined }), []);
  const failed = appAlerts({
    ...base,
    record: { lastSuccess: 1000, lastFailure: { at: 2000, error: "restic backup failed: disk full" } },
  });
  assert.equal(failed.length, 1);
  assert.equal(failed[0]?.kind, "backup-failed");
  assert.equal(failed[0]?.since, 2000);
  assert.match(failed[0]?.message ?? "", /last backup to usb failed .*disk full/);
  assert.deepEqual(
    appAlerts({ ...base, record: { lastSuccess: 3000, lastFailure: { at: 2000, error: "x" } } }),
    [],
    "cleared by the next success",
  );
  assert.deepEqual(
    appAlerts({ ...base, installedAt: 2001, record: { lastFailure: { at: 2000, error: "x" } } }),
    [],
    "a failure of an earlier install is not the reinstalled app's",
  );
});

test("overdue: more than one period past the slot that expected a backup, counted from the last success", () => {
  const schedule = parseSchedule("daily 03:00", "s", 1000);
  const setting = { spec: "daily 03:00", since: local(2026, 3, 1, 12) };
  const input = { target: "usb", appId: "notes", installedAt: 0, schedule: { schedule, setting } };
  const lastSuccess = local(2026, 3, 5, 3, 1);
  const record = { lastSuccess };
  // Expected by 03:00 on the 6th; overdue once a day past that.
  assert.deepEqual(appAlerts({ ...input, record, now: local(2026, 3, 7, 3, 0) }), []);
  const late = appAlerts({ ...input, record, now: local(2026, 3, 7, 3, 1) });
  assert.equal(late.length, 1);
  assert.equal(late[0]?.kind, "backup-overdue");
  assert.equal(late[0]?.since, local(2026, 3, 6, 3));
  assert.match(late[0]?.message ?? "", /overdue: the last one succeeded .*daily 03:00 expected one by/);
  // Never a success: counted from when the schedule was set.
  assert.deepEqual(appAlerts({ ...input, record: undefined, now: local(2026, 3, 3, 3, 0) }), []);
  assert.match(
    appAlerts({ ...input, record: undefined, now: local(2026, 3, 3, 3, 1) })[0]?.message ?? "",
    /none has succeeded yet/,
  );
  // An app installed after the schedule was set: counted from its install.
  assert.deepEqual(
    appAlerts({
      ...input,
      installedAt: local(2026, 3, 20, 1),
      record: undefined,
      now: local(2026, 3, 21, 3),
    }),
    [],
  );
  assert.equal(
    appAlerts({
      ...input,
      installedAt: local(2026, 3, 20, 1),
      record: undefined,
      now: local(2026, 3, 21, 3, 1),
    }).length,
    1,
  );
  // A failure and an overdue schedule: both.
  assert.deepEqual(
    appAlerts({
      ...input,
      record: { lastSuccess, lastFailure: { at: local(2026, 3, 6, 3), error: "gone" } },
      now: local(2026, 3, 9),
    }).map((a) => a.kind),
    ["backup-failed", "backup-overdue"],
  );
});

test("a failed check is the target's alert until a check succeeds", () => {
  assert.deepEqual(checkAlerts("usb", undefined), []);
  const failed = checkAlerts("usb", { lastFailure: { at: 5, error: "pack abc is damaged" } });
  assert.deepEqual(
    failed.map((a) => [a.kind, a.appId, a.target]),
    [["check-failed", null, "usb"]],
  );
  assert.match(failed[0]?.message ?? "", /last check of usb failed .*pack abc is damaged/);
  assert.deepEqual(checkAlerts("usb", { lastSuccess: 6, lastFailure: { at: 5, error: "x" } }), []);
});

test("a stored schedule that no longer parses is no schedule, never an exception", () => {
  assert.equal(storedSchedule(null), undefined);
  assert.equal(storedSchedule({ spec: "fortnightly", since: 0 }), undefined);
  assert.deepEqual(storedSchedule({ spec: "every 2s", since: 0 }), { kind: "every", ms: 2000 });
});
