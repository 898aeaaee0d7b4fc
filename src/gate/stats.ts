/** Timing statistics of the gate's cells: percentiles by nearest rank, per step and per app. */

/** The `p`-th percentile (0 < p ≤ 100) of `values` by nearest rank; undefined for no values. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile ${p} is not in (0, 100]`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export type Timing = {
  /** The step (or app) the figures are about. */
  key: string;
  /** Cells that ran (passed or failed; skipped cells have no duration). */
  runs: number;
  passed: number;
  failed: number;
  /** null when nothing ran (JSON has no undefined). */
  p50Ms: number | null;
  p95Ms: number | null;
  maxMs: number | null;
};

type Timed = { status: "pass" | "fail" | "skip"; durationMs?: number | undefined };

/** Figures for each group of cells, in the order of `keys`; groups without a run keep their place. */
export function timings<T extends Timed>(
  cells: readonly T[],
  keyOf: (cell: T) => string,
  keys: readonly string[],
): Timing[] {
  return keys.map((key) => {
    const ran = cells.filter((c) => keyOf(c) === key && c.status !== "skip" && c.durationMs !== undefined);
    const durations = ran.map((c) => c.durationMs as number);
    return {
      key,
      runs: ran.length,
      passed: ran.filter((c) => c.status === "pass").length,
      failed: ran.filter((c) => c.status === "fail").length,
      p50Ms: percentile(durations, 50) ?? null,
      p95Ms: percentile(durations, 95) ?? null,
      maxMs: durations.length > 0 ? Math.max(...durations) : null,
    };
  });
}

/** A duration for people: `850 ms`, `12.3 s`, `4 min 05 s`. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === undefined || ms === null) return "–";
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  const total = Math.round(ms / 1_000);
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  return `${minutes} min ${String(seconds).padStart(2, "0")} s`;
}
