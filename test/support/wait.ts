/**
 * The one way a test waits for something to become true: polling a condition under a ceiling. The
 * ceiling is not a judgement of speed (no test bounds how long the platform takes: benchmarks do,
 * in bench/), only a guard against waiting for ever, so it is generous: enough for a machine five
 * times slower than a quiet test machine, or a busy one. A wait that runs out says what it waited
 * for, for how long, and what it saw last.
 */

export type WaitOptions = {
  /** What is awaited, for the message: "the app to be running". */
  what: string;
  /** The ceiling (default 60 s). */
  timeoutMs?: number;
  /** Between two looks (default 250 ms). */
  intervalMs?: number;
  /** Describes the current state when the wait runs out (default: the condition's last answer). */
  seen?: () => unknown;
};

export const DEFAULT_WAIT_MS = 60_000;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `condition` until it returns something other than `undefined` or `false`, and returns
 * that. A condition that throws is asked again (its last error is reported if the wait runs out).
 */
export async function waitFor<T>(
  condition: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
  const started = Date.now();
  let last: { value?: unknown; error?: unknown } = {};
  for (let looks = 1; ; looks++) {
    try {
      const value = await condition();
      if (value !== undefined && value !== false) return value as T;
      last = { value };
    } catch (error) {
      last = { error };
    }
    const waited = Date.now() - started;
    if (waited >= timeoutMs) {
      let seen: string;
      try {
        seen = options.seen ? describe(await options.seen()) : describeLast(last);
      } catch (error) {
        seen = `(describing it failed: ${(error as Error).message})`;
      }
      throw new Error(
        `waited ${Math.round(waited / 1000)} s (${looks} looks) for ${options.what}, in vain; last seen: ${seen}`,
      );
    }
    await sleep(Math.min(options.intervalMs ?? 250, timeoutMs - waited));
  }
}

function describeLast(last: { value?: unknown; error?: unknown }): string {
  if (last.error !== undefined) return `error: ${(last.error as Error)?.message ?? String(last.error)}`;
  return describe(last.value);
}

function describe(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * `promise`, or a failure saying what it was waiting for once `timeoutMs` (default 60 s) has
 * passed: a ceiling for one call that must not hang, never a judgement of its speed.
 */
export async function within<T>(promise: Promise<T>, options: Omit<WaitOptions, "intervalMs">): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
  let timer: NodeJS.Timeout | undefined;
  const ceiling = new Promise<never>((_, reject) => {
    timer = setTimeout(async () => {
      let seen = "";
      try {
        if (options.seen) seen = `; last seen: ${describe(await options.seen())}`;
      } catch {}
      reject(new Error(`waited ${Math.round(timeoutMs / 1000)} s for ${options.what}, in vain${seen}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([promise, ceiling]);
  } finally {
    clearTimeout(timer);
  }
}
