/**
 * The cost of pure code as CPU time of this process, for tests that must bound work: never a
 * wall-clock time, which measures the machine (a busy node ran a 200-byte manifest for 4.6 s).
 * Compare it with the cost of a baseline measured the same way, in the same process, moments apart:
 * the machine's speed and its load then cancel out, and what is left is what the code does.
 */

/**
 * The CPU time (user + system, ms) this process spends in `run`: the least of `runs` runs after
 * `warmups` unmeasured ones (compiled code, no outlier).
 */
export function cpuTimeMs(run: () => void, runs = 3, warmups = 1): number {
  for (let i = 0; i < warmups; i++) run();
  let least = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const before = process.cpuUsage();
    run();
    const spent = process.cpuUsage(before);
    least = Math.min(least, (spent.user + spent.system) / 1000);
  }
  return least;
}

/** A cost as a multiple of a baseline's, with both CPU times (ms). */
export type CostRatio = { ratio: number; ms: number; baselineMs: number };

export function ratioOf(ms: number, baselineMs: number): CostRatio {
  // process.cpuUsage counts microseconds: a baseline too quick to measure is one tick.
  return { ratio: ms / Math.max(baselineMs, 0.001), ms, baselineMs };
}

/** How many times the cost of `baseline` the cost of `run` is (CPU time, each the least of `runs` runs). */
export function costRatio(run: () => void, baseline: () => void, runs = 3): CostRatio {
  return ratioOf(cpuTimeMs(run, runs), cpuTimeMs(baseline, runs));
}
