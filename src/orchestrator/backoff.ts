/** Exponential backoff with jitter, per app, so that failing apps neither spin nor retry in lockstep. */
export type BackoffPolicy = {
  baseMs: number;
  factor: number;
  maxMs: number;
  jitter: number;
  maxAttempts: number;
};

export const DEFAULT_BACKOFF: BackoffPolicy = {
  baseMs: 2_000,
  factor: 2,
  maxMs: 5 * 60_000,
  jitter: 0.2,
  maxAttempts: 5,
};

/** The delay before attempt `attempt + 1`, given a random number in [0, 1). */
export function backoffDelay(
  attempt: number,
  random: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
): number {
  const raw = Math.min(policy.maxMs, policy.baseMs * policy.factor ** Math.max(0, attempt - 1));
  const spread = raw * policy.jitter;
  return Math.max(0, Math.round(raw - spread + random * 2 * spread));
}
