/**
 * What every benchmark in bench/ shares: summary statistics, a plain-text table, the machine it ran
 * on, and the exit codes `bench/run.ts` reads (0: target met, 1: target missed, 2: could not run,
 * 130: interrupted). A benchmark prints progress on stderr and its result on stdout: a table, or
 * with `--json` one JSON object with at least `{ benchmark, pass }`.
 */
import { readFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { parseArgs } from "node:util";

export const EXIT_PASS = 0;
export const EXIT_MISSED = 1;
export const EXIT_ERROR = 2;
export const EXIT_INTERRUPTED = 130;

export type Stats = { n: number; min: number; p50: number; p90: number; max: number; mean: number };

/** The nearest-rank percentile (p in 0..100) of ascending samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

export function summarize(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((total, x) => total + x, 0);
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
  };
}

/** Rounds for JSON output: milliseconds to 0.01 ms, ratios to 0.001. */
export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** Left-aligned first column, right-aligned others. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? "").length)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export type Machine = {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  /** The 1-minute load average when the numbers were taken: other work on the machine skews them. */
  loadAverage: number;
};

export function machine(): Machine {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    loadAverage: round(loadavg()[0] ?? 0),
  };
}

const CLOCK_TICK_MS = 10; // USER_HZ = 100 on Linux

/** CPU time a process has used so far (user + system), in milliseconds (10 ms steps), from /proc. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
}

/** A positive integer option, or the default; exits with a usage error otherwise. */
/**
 * A benchmark's command line: its string options (numbers are read with `intOption`), `--json`
 * and `--help` (prints `usage` and exits). `bench/run.ts` passes the same options to every
 * benchmark, so the ones meant for others are ignored with a note, never an error.
 */
export function benchArgs(
  names: readonly string[],
  usage: string,
  log: (message: string) => void,
): { values: Record<string, string | undefined>; json: boolean } {
  const { values, tokens } = parseArgs({
    options: {
      ...Object.fromEntries(names.map((name) => [name, { type: "string" as const }])),
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: false,
    tokens: true,
  });
  if (values.help) {
    process.stdout.write(`usage: ${usage}\n`);
    process.exit(EXIT_PASS);
  }
  const known = new Set([...names, "json", "help"]);
  const unknown = tokens.flatMap((t) => (t.kind === "option" && !known.has(t.name) ? [t.rawName] : []));
  if (unknown.length > 0) log(`ignoring options meant for other benchmarks: ${unknown.join(" ")}`);
  const strings: Record<string, string | undefined> = {};
  for (const name of names) strings[name] = typeof values[name] === "string" ? values[name] : undefined;
  return { values: strings, json: values.json === true };
}

export function intOption(value: string | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) {
    process.stderr.write(`--${name} must be an integer >= ${min} (got '${value}')\n`);
    process.exit(EXIT_ERROR);
  }
  return parsed;
}

/** A positive ratio option (a benchmark's target), or `fallback` when absent or not a positive number. */
export function ratioOption(value: string | undefined, fallback: number): number {
  const ratio = Number(value ?? fallback);
  return Number.isFinite(ratio) && ratio > 0 ? ratio : fallback;
}

/**
 * A benchmark's stop switch: the first SIGINT, SIGTERM or SIGHUP asks it to stop after `what` and
 * clean up (`requested` turns true); a second one exits at once.
 */
export function stopOnSignal(log: (message: string) => void, what: string): { readonly requested: boolean } {
  const state = { requested: false };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.on(signal, () => {
      if (state.requested) process.exit(EXIT_INTERRUPTED);
      state.requested = true;
      log(`${signal}: stopping after ${what}, then cleaning up (again to exit at once)`);
    });
  return state;
}

/** Runs `fn` over `items` with at most `concurrency` calls in flight; stops early when `stop()` says so. */
export async function pool<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
  stop: () => boolean = () => false,
): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length && failure === undefined && !stop()) {
      const index = next++;
      try {
        await fn(items[index] as T, index);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (failure !== undefined) throw failure;
}
