/**
 * Backup and check schedules, retention and alerts: pure. A schedule is a set of slots in time
 * (`every 6h` from when it was set, `daily 03:00` or `weekly sun 04:00` in the node's local time);
 * a run is due once the first slot after the last run has come. A node that was down through many
 * slots owes one run, not one per slot: after it, the next slot is the first one after *now*.
 * The timer that asks "is it due?" is the thin shell in scheduler.ts.
 */

export type Schedule =
  | { kind: "every"; ms: number }
  /** `minute`: minutes after local midnight. */
  | { kind: "daily"; minute: number }
  /** `day`: 0 = Sunday, as Date.getDay. */
  | { kind: "weekly"; day: number; minute: number };

export class ScheduleError extends Error {
  override name = "ScheduleError";
}

const DAY_NAMES = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DAY_MS = 86_400_000;

const SCHEDULE_FORMS = `"every 6h" (s, m, h or d), "daily 03:00" or "weekly sun 04:00"`;

function timeOfDay(text: string, field: string): number {
  const match = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(text);
  if (!match) throw new ScheduleError(`${field}: "${text}" is not a time of day; use HH:MM, e.g. 03:00`);
  return Number(match[1]) * 60 + Number(match[2]);
}

/**
 * Reads a schedule as the operator writes it. `minIntervalMs` bounds `every`: a backup stops its
 * app, so a schedule tighter than the node allows is refused rather than obeyed.
 */
export function parseSchedule(text: string, field: string, minIntervalMs: number): Schedule {
  const words = text.trim().toLowerCase().split(/\s+/);
  const [kind, first, second] = words;
  if (kind === "every" && words.length === 2) {
    const match = /^(\d{1,6})([smhd])$/.exec(first ?? "");
    if (!match) throw new ScheduleError(`${field}: "${first}" is not a duration; use e.g. 30m, 6h or 1d`);
    const ms = Number(match[1]) * (UNITS[match[2] as string] as number);
    if (ms < minIntervalMs)
      throw new ScheduleError(
        `${field}: every ${first} is more often than this node allows (at least ${minIntervalMs / 1000} s between runs)`,
      );
    return { kind: "every", ms };
  }
  if (kind === "daily" && words.length === 2) return { kind: "daily", minute: timeOfDay(first ?? "", field) };
  if (kind === "weekly" && words.length === 3) {
    const word = first ?? "";
    const day = DAY_NAMES.findIndex((name) => word.length >= 3 && name.startsWith(word));
    if (day < 0)
      throw new ScheduleError(`${field}: "${first}" is not a day of the week; use sun, mon, … sat`);
    return { kind: "weekly", day, minute: timeOfDay(second ?? "", field) };
  }
  throw new ScheduleError(`${field}: "${text}" is not a schedule; use ${SCHEDULE_FORMS}`);
}

const hhmm = (minute: number) =>
  `${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;

function duration(ms: number): string {
  for (const unit of ["d", "h", "m"] as const)
    if (ms % (UNITS[unit] as number) === 0) return `${ms / (UNITS[unit] as number)}${unit}`;
  return `${ms / 1000}s`;
}

/** The canonical spelling of a schedule (what is stored and shown). */
export function formatSchedule(schedule: Schedule): string {
  if (schedule.kind === "every") return `every ${duration(schedule.ms)}`;
  if (schedule.kind === "daily") return `daily ${hhmm(schedule.minute)}`;
  return `weekly ${DAY_NAMES[schedule.day]?.slice(0, 3)} ${hhmm(schedule.minute)}`;
}

/** How far apart the slots are: an overdue run is one missed by more than this. */
export function periodOf(schedule: Schedule): number {
  return schedule.kind === "every" ? schedule.ms : schedule.kind === "daily" ? DAY_MS : 7 * DAY_MS;
}

/** Local midnight-based time `minute` on the day of `date`, set in place (DST-safe: by the calendar). */
function atMinute(date: Date, minute: number): Date {
  date.setHours(Math.floor(minute / 60), minute % 60, 0, 0);
  return date;
}

/**
 * The first slot strictly after `after`. `anchor` is when the schedule was set: `every` counts its
 * slots from it, and never has one at the anchor itself.
 */
export function nextSlot(schedule: Schedule, after: number, anchor: number): number {
  if (schedule.kind === "every") {
    const k = Math.max(1, Math.floor((after - anchor) / schedule.ms) + 1);
    return anchor + k * schedule.ms;
  }
  const date = atMinute(new Date(after), schedule.minute);
  if (schedule.kind === "weekly") {
    date.setDate(date.getDate() + ((schedule.day - date.getDay() + 7) % 7));
    atMinute(date, schedule.minute);
  }
  while (date.getTime() <= after) {
    date.setDate(date.getDate() + (schedule.kind === "weekly" ? 7 : 1));
    atMinute(date, schedule.minute);
  }
  return date.getTime();
}

/** A schedule as stored: its text and when it was set (the anchor of its slots). */
export type ScheduleSetting = { spec: string; since: number };

/**
 * A stored schedule, read again: undefined when it no longer parses (a hand-edited target.json),
 * so that one bad file never breaks the app list or the other targets' schedules.
 */
export function storedSchedule(setting: ScheduleSetting | null): Schedule | undefined {
  if (!setting) return undefined;
  try {
    return parseSchedule(setting.spec, "schedule", 0);
  } catch {
    return undefined;
  }
}

/**
 * When the next run is due: the first slot after the last run (or after the schedule was set, if
 * that is later). A run that is due now and is then made moves the next one past now: one catch-up
 * run after any downtime.
 */
export function dueAt(schedule: Schedule, setting: ScheduleSetting, lastRun: number | undefined): number {
  return nextSlot(schedule, Math.max(setting.since, lastRun ?? Number.NEGATIVE_INFINITY), setting.since);
}

/** How many snapshots of each kind retention keeps (restic forget's --keep-*). */
export type Keep = { last?: number; daily?: number; weekly?: number; monthly?: number };
export const KEEP_KINDS = ["last", "daily", "weekly", "monthly"] as const;

/** Whether a retention policy keeps anything (none set: no snapshot is ever forgotten). */
export const hasRetention = (keep: Keep) => KEEP_KINDS.some((kind) => (keep[kind] ?? 0) > 0);

/**
 * restic's arguments to apply retention to one app's snapshots on a target. The app's snapshots are
 * one group (`--group-by host` within `--tag app:ID`; the host is always Archipelago's), so a change
 * of its volumes does not start a group that escapes the policy. The copies a restore takes first
 * are that app's snapshots too, and count like the others.
 */
export function forgetArgs(appTag: string, keep: Keep): string[] {
  if (!hasRetention(keep)) throw new Error("a retention policy that keeps nothing is never applied");
  return [
    "forget",
    "--json",
    "--prune",
    "--tag",
    appTag,
    "--group-by",
    "host",
    ...KEEP_KINDS.flatMap((kind) => ((keep[kind] ?? 0) > 0 ? [`--keep-${kind}`, String(keep[kind])] : [])),
  ];
}

/** What happened to the last runs of one kind (an app's backups to a target, a target's checks). */
export type RunRecord = {
  /** When the scheduler last started a run (the schedule counts from it). */
  lastScheduled?: number;
  lastSuccess?: number;
  lastFailure?: { at: number; error: string };
};

export type AlertKind = "backup-failed" | "backup-overdue" | "check-failed";
export type Alert = {
  kind: AlertKind;
  target: string;
  /** The app it is about; null for a target's own alert (a failed check). */
  appId: string | null;
  since: number;
  message: string;
};

const iso = (at: number) => new Date(at).toISOString().replace(/\.\d+Z$/, "Z");

/** A failure no success came after: still an alert. */
function unresolved(record: RunRecord | undefined): { at: number; error: string } | undefined {
  const failure = record?.lastFailure;
  return failure && failure.at > (record?.lastSuccess ?? Number.NEGATIVE_INFINITY) ? failure : undefined;
}

/**
 * An app's alerts about one target: its last backup there failed (until one succeeds), or its
 * schedule expected a backup more than one period ago and none succeeded since. An app installed
 * after the schedule was set is counted from its install, and its earlier installs' failures are not its own.
 */
export function appAlerts(input: {
  target: string;
  appId: string;
  installedAt: number;
  schedule: { schedule: Schedule; setting: ScheduleSetting } | undefined;
  record: RunRecord | undefined;
  now: number;
}): Alert[] {
  const { target, appId, schedule, record, now } = input;
  const alerts: Alert[] = [];
  const failure = unresolved(record);
  // A failure of an earlier install of the app (purged and installed again) is not this one's.
  if (failure && failure.at >= input.installedAt)
    alerts.push({
      kind: "backup-failed",
      target,
      appId,
      since: failure.at,
      message: `the last backup to ${target} failed (${iso(failure.at)}): ${failure.error}`,
    });
  if (schedule) {
    const from = Math.max(schedule.setting.since, input.installedAt, record?.lastSuccess ?? 0);
    const expected = nextSlot(schedule.schedule, from, schedule.setting.since);
    if (now > expected + periodOf(schedule.schedule))
      alerts.push({
        kind: "backup-overdue",
        target,
        appId,
        since: expected,
        message: `backup to ${target} overdue: ${record?.lastSuccess ? `the last one succeeded ${iso(record.lastSuccess)}` : "none has succeeded yet"}; ${schedule.setting.spec} expected one by ${iso(expected)}`,
      });
  }
  return alerts;
}

/** A target's own alert: its last check failed (until one succeeds). */
export function checkAlerts(target: string, record: RunRecord | undefined): Alert[] {
  const failure = unresolved(record);
  return failure
    ? [
        {
          kind: "check-failed",
          target,
          appId: null,
          since: failure.at,
          message: `the last check of ${target} failed (${iso(failure.at)}): ${failure.error}`,
        },
      ]
    : [];
}
