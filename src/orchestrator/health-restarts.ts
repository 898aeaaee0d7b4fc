/**
 * When to restart a container that its health checks call unhealthy. Pure.
 *
 * The probe's hysteresis (`retries` failures in a row, none during the start period) already keeps a
 * slow probe from counting; this adds growing delays between restarts of the same container, so
 * that a container that cannot get healthy is not restarted in a tight loop on a loaded node, and a
 * reset once it has stayed healthy for a while, so that a rare failure next week starts from the
 * shortest delay again.
 */
import type { Health } from "./planner.ts";

export type HealthRestartPolicy = {
  /** Wait before the second restart; each later one waits twice as long as the one before. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Healthy without a break for this long: the count of restarts starts again from zero. */
  healthyResetMs: number;
};

export const DEFAULT_HEALTH_RESTART_POLICY: HealthRestartPolicy = {
  baseDelayMs: 10_000,
  maxDelayMs: 5 * 60_000,
  healthyResetMs: 10 * 60_000,
};

export type RestartHistory = {
  /** Restarts for health since the last healthy stretch. */
  restarts: number;
  lastRestartAt: number | undefined;
  /** Since when the container has been healthy without a break; undefined while it is not. */
  healthySince: number | undefined;
};

export const NO_RESTARTS: RestartHistory = { restarts: 0, lastRestartAt: undefined, healthySince: undefined };

/** The history after a look at the container's health. */
export function observeHealth(
  history: RestartHistory,
  health: Health,
  now: number,
  policy: HealthRestartPolicy,
): RestartHistory {
  return observeStretch(history, health === "healthy", now, policy);
}

/**
 * The history after a look at the container: `good` is healthy for health restarts, running for
 * restarts after an exit.
 */
export function observeStretch(
  history: RestartHistory,
  good: boolean,
  now: number,
  policy: HealthRestartPolicy,
): RestartHistory {
  if (!good) return { ...history, healthySince: undefined };
  const healthySince = history.healthySince ?? now;
  if (history.restarts > 0 && now - healthySince >= policy.healthyResetMs)
    return { restarts: 0, lastRestartAt: history.lastRestartAt, healthySince };
  return { ...history, healthySince };
}

/** The delay that must pass after the last restart before the next one. */
export function delayBeforeRestart(restarts: number, policy: HealthRestartPolicy): number {
  if (restarts === 0) return 0;
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (restarts - 1));
}

export type RestartDecision = { kind: "none" } | { kind: "restart" } | { kind: "wait"; ms: number };

/** Whether an unhealthy container is restarted now, later (and when), or not at all. */
export function restartDecision(
  history: RestartHistory,
  health: Health,
  now: number,
  policy: HealthRestartPolicy,
): RestartDecision {
  if (health !== "unhealthy") return { kind: "none" };
  return restartDue(history, now, policy);
}

/** Whether a container that needs a restart gets it now or waits (and how long). */
export function restartDue(
  history: RestartHistory,
  now: number,
  policy: HealthRestartPolicy,
): { kind: "restart" } | { kind: "wait"; ms: number } {
  const dueAt = (history.lastRestartAt ?? 0) + delayBeforeRestart(history.restarts, policy);
  return now >= dueAt ? { kind: "restart" } : { kind: "wait", ms: dueAt - now };
}

export function afterRestart(history: RestartHistory, now: number): RestartHistory {
  return { restarts: history.restarts + 1, lastRestartAt: now, healthySince: undefined };
}
