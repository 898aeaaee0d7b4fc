/**
 * Update with rollback: the decisions, pure (no I/O, no clock). The reconciler carries them out.
 *
 * An update moves through stages, each recorded in the store before the work it stands for, so a
 * daemon killed at any point resumes it:
 *
 *   pending       the new manifest is recorded; the old version still runs. Pre-flight (the new
 *                 images are on the node, the disk has room for a snapshot), then the app's
 *                 containers are stopped and its data copied to a snapshot.
 *   applying      the snapshot exists; the new version is created and started, and must be running
 *                 and healthy (its post_update hook done) before the deadline — the update window.
 *   rolling-back  the new version failed (or its window ran out): its containers are removed and the
 *                 data restored from the snapshot, then the previous manifest is put back.
 *   restoring     the previous manifest is in force again; once it has converged, the update's
 *                 operation ends `failed` with the reason and the version it went back to.
 *
 * A refused update (an image missing, no room for the snapshot) goes from `pending` straight to
 * `restoring`: nothing was changed, the old version is left as it was.
 */
import type { Manifest } from "../manifest/schema.ts";
import type { Health } from "./planner.ts";

export type UpdateStage = "pending" | "applying" | "rolling-back" | "restoring";
/** How an update that did not succeed ended: refused before anything changed, or rolled back. */
export type UpdateOutcome = "refused" | "rolled-back";

/** The window when no container has a health check: the new version must only be running. */
export const DEFAULT_UPDATE_WINDOW_MS = 2 * 60_000;
/** Added to the time health checks need: creating and starting containers, a loaded node. */
export const DEFAULT_UPDATE_MARGIN_MS = 20_000;
/** After a daemon restart, the update gets at least this long (bounded by its window) to show its health. */
export const RESUME_GRACE_MS = 30_000;

export type UpdateWindow = {
  ms: number;
  /** How it was derived, for the operation log. */
  explanation: string;
};

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/**
 * How long the new version has to become healthy: along every `depends_on` chain (a container that
 * waits for another to be healthy starts only then), the time each health check needs to declare a
 * container unhealthy — start period plus `retries` probes of interval + timeout — summed, the
 * longest chain taken, plus a margin. Without any health check, a default window.
 */
export function updateWindow(manifest: Manifest, marginMs = DEFAULT_UPDATE_MARGIN_MS): UpdateWindow {
  const containers = manifest.containers;
  const own = (key: string): number => {
    const health = containers[key]?.health;
    return health ? health.start_period + health.retries * (health.interval + health.timeout) : 0;
  };
  const memo = new Map<string, number>();
  const chain = (key: string, visiting: Set<string>): number => {
    const known = memo.get(key);
    if (known !== undefined) return known;
    if (visiting.has(key)) return 0; // a cycle is refused by validation; never loop here
    visiting.add(key);
    const before = Object.keys(containers[key]?.depends_on ?? {}).map((dep) => chain(dep, visiting));
    visiting.delete(key);
    const total = own(key) + Math.max(0, ...before);
    memo.set(key, total);
    return total;
  };
  const keys = Object.keys(containers);
  const checked = keys.filter((key) => containers[key]?.health);
  if (checked.length === 0)
    return {
      ms: DEFAULT_UPDATE_WINDOW_MS,
      explanation: `${seconds(DEFAULT_UPDATE_WINDOW_MS)} (no health check: the default window)`,
    };
  let longest = keys[0] as string;
  for (const key of keys) if (chain(key, new Set()) > chain(longest, new Set())) longest = key;
  const need = chain(longest, new Set());
  return {
    ms: need + marginMs,
    explanation: `${seconds(need + marginMs)} (health checks up to ${longest}: ${seconds(need)}, plus a margin of ${seconds(marginMs)})`,
  };
}

/**
 * The deadline once the new version's jobs are counted: the window is for becoming healthy, and
 * what waits for a job (a migration, which takes what it takes) starts only once it completed, so
 * a whole window follows each job's end. A job still running pushes the deadline a window past
 * now; one that ended, a window past its end. A job that never ends holds the update in its window
 * until the operator stops or retries the app.
 */
export function deadlineAfterJobs(
  deadline: number,
  windowMs: number,
  now: number,
  jobs: ReadonlyArray<{ state: string; finishedAt: number | undefined }>,
): number {
  let after = deadline;
  for (const job of jobs) {
    const end = job.state === "running" ? now : job.finishedAt;
    if (end !== undefined) after = Math.max(after, end + windowMs);
  }
  return after;
}

/**
 * The deadline that counts now. After a daemon restart the health monitor starts from nothing, so a
 * deadline that passed while the daemon was down (or passes in a moment) is pushed to give the new
 * version a short grace to show its health: bounded, so an update never waits forever.
 */
export function effectiveDeadline(
  deadline: number,
  windowMs: number,
  resumedAt: number,
  graceMs = RESUME_GRACE_MS,
): number {
  return Math.max(deadline, resumedAt + Math.min(windowMs, graceMs));
}

export type UpdateVerdict =
  | { kind: "commit" }
  | { kind: "wait"; waitingFor: string[]; remainingMs: number }
  | { kind: "rollback"; reason: string };

export type UpdateProgress = {
  now: number;
  /** The effective deadline (see `effectiveDeadline`). */
  deadline: number;
  windowMs: number;
  toVersion: string;
  desired: "running" | "stopped" | "absent";
  /** The planner has nothing left to do for the new version (its containers exist and run). */
  converged: boolean;
  /** What the planner still waits for, when not converged. */
  waiting: string[];
  /** The wanted containers' health, by key. */
  health: Record<string, Health>;
  /** Details for the reason, by key (the last probe output). */
  details?: Record<string, string | undefined>;
};

/**
 * Whether an update in its window is done, must wait, or must be rolled back. Done: converged and
 * every container healthy (one without a health check counts as healthy once running); for an app
 * the operator keeps stopped, converged alone. Rolled back: the deadline passed first.
 */
export function updateVerdict(p: UpdateProgress): UpdateVerdict {
  const unhealthy = Object.entries(p.health)
    .filter(([, health]) => health !== "healthy")
    .map(([key, health]) => {
      const detail = p.details?.[key]?.trim().split("\n").at(-1)?.slice(0, 200);
      const state = health === "unknown" ? "not running" : health === "starting" ? "not healthy yet" : health;
      return `${key} is ${state}${detail ? ` (${detail})` : ""}`;
    });
  if (p.converged && (p.desired !== "running" || unhealthy.length === 0)) return { kind: "commit" };
  const waitingFor = p.converged ? unhealthy : p.waiting.length > 0 ? p.waiting : unhealthy;
  if (p.now < p.deadline) return { kind: "wait", waitingFor, remainingMs: p.deadline - p.now };
  const what = waitingFor.length > 0 ? `: ${waitingFor.join("; ")}` : "";
  return {
    kind: "rollback",
    reason: `${p.toVersion} did not become healthy within its update window of ${seconds(p.windowMs)}${what}`,
  };
}

/** Free space wanted beyond the size of the data: the new version must still be able to write. */
export const ROOM_MARGIN_MIN_BYTES = 64 * 1024 * 1024;

export type RoomCheck =
  | { ok: true; neededBytes: number }
  | { ok: false; neededBytes: number; message: string };

/** Whether a snapshot of `dataBytes` fits in `freeBytes`, with a margin (10 %, at least 64 MiB). */
export function roomCheck(dataBytes: number, freeBytes: number, where: string): RoomCheck {
  const neededBytes = dataBytes + Math.max(Math.ceil(dataBytes / 10), ROOM_MARGIN_MIN_BYTES);
  if (freeBytes >= neededBytes) return { ok: true, neededBytes };
  return {
    ok: false,
    neededBytes,
    message: `not enough free space for a snapshot of the data: it takes ${formatBytes(dataBytes)}, ${formatBytes(neededBytes)} needed with the margin, ${formatBytes(freeBytes)} free on ${where}; free some space and update again`,
  };
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** The operation's error once an update that did not succeed has been undone. */
export function outcomeMessage(
  outcome: UpdateOutcome,
  from: string,
  to: string,
  reason: string | undefined,
): string {
  const why = reason ?? "no reason recorded";
  return outcome === "refused"
    ? `update to ${to} refused: ${why}; ${from} left as it was`
    : `update to ${to} failed (${why}): rolled back to ${from}`;
}

/** The operation's error when undoing the update failed as well. */
export function rollbackFailedMessage(
  from: string,
  to: string,
  reason: string | undefined,
  error: string,
): string {
  return `update to ${to} failed (${reason ?? "no reason recorded"}); going back to ${from} failed too: ${error} (retry to resume)`;
}

/** A snapshot directory's name: the version it holds and when it was taken (UTC, sortable). */
export function snapshotName(version: string, at: number): string {
  return `${version}-${new Date(at).toISOString().replace(/[-:]/g, "")}`;
}
