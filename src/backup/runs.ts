/**
 * What became of each target's backups and checks: per app, when the scheduler last ran its backup,
 * the last success and the last failure; for the target, the same of its checks. Kept in memory
 * (alerts are read on every app list) and written through to `targets/<name>/runs.json` (0600,
 * renamed into place), so a daemon restart keeps the schedule's place and the alerts.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { RunRecord } from "./schedule.ts";
import { writeFileAtomic } from "./targets.ts";

const Record_ = z.strictObject({
  lastScheduled: z.number().optional(),
  lastSuccess: z.number().optional(),
  lastFailure: z.strictObject({ at: z.number(), error: z.string() }).optional(),
});
const TargetRuns = z.strictObject({ apps: z.record(z.string(), Record_), check: Record_ });
type TargetRuns = z.infer<typeof TargetRuns>;

export type RunOutcome = { at: number; error?: string | undefined };

export class RunLog {
  readonly #root: string;
  readonly #targets = new Map<string, TargetRuns>();

  constructor(targetsRoot: string) {
    this.#root = targetsRoot;
  }

  /** Reads the runs of these targets (at start); a missing or unreadable file is no runs yet. */
  async load(targets: readonly string[]): Promise<void> {
    this.#targets.clear();
    for (const name of targets) {
      const text = await readFile(join(this.#root, name, "runs.json"), "utf8").catch(() => undefined);
      const parsed = text === undefined ? undefined : TargetRuns.safeParse(safeJson(text));
      this.#targets.set(name, parsed?.success ? parsed.data : { apps: {}, check: {} });
    }
  }

  #of(target: string): TargetRuns {
    let runs = this.#targets.get(target);
    if (!runs) {
      runs = { apps: {}, check: {} };
      this.#targets.set(target, runs);
    }
    return runs;
  }

  app(target: string, appId: string): RunRecord | undefined {
    return this.#targets.get(target)?.apps[appId];
  }

  check(target: string): RunRecord | undefined {
    return this.#targets.get(target)?.check;
  }

  /** The apps with a record on `target`. */
  apps(target: string): string[] {
    return Object.keys(this.#targets.get(target)?.apps ?? {});
  }

  /** The scheduler starts a backup of `appId` (its schedule counts from now, whatever comes of it). */
  async scheduled(target: string, appId: string, at: number): Promise<void> {
    const runs = this.#of(target);
    runs.apps[appId] = { ...runs.apps[appId], lastScheduled: at };
    await this.#write(target);
  }

  async checkScheduled(target: string, at: number): Promise<void> {
    const runs = this.#of(target);
    runs.check = { ...runs.check, lastScheduled: at };
    await this.#write(target);
  }

  async backedUp(target: string, appId: string, outcome: RunOutcome): Promise<void> {
    const runs = this.#of(target);
    runs.apps[appId] = withOutcome(runs.apps[appId], outcome);
    await this.#write(target);
  }

  async checked(target: string, outcome: RunOutcome): Promise<void> {
    const runs = this.#of(target);
    runs.check = withOutcome(runs.check, outcome);
    await this.#write(target);
  }

  /** An app uninstalled: its records go (a reinstalled app starts afresh). */
  async forgetApp(appId: string): Promise<void> {
    for (const [target, runs] of this.#targets)
      if (runs.apps[appId]) {
        delete runs.apps[appId];
        await this.#write(target);
      }
  }

  /** A target removed: its records went with its directory. */
  forgetTarget(target: string): void {
    this.#targets.delete(target);
  }

  async #write(target: string): Promise<void> {
    const runs = this.#targets.get(target);
    if (runs) await writeFileAtomic(join(this.#root, target, "runs.json"), JSON.stringify(runs));
  }
}

function withOutcome(record: RunRecord | undefined, outcome: RunOutcome): RunRecord {
  return outcome.error === undefined
    ? { ...record, lastSuccess: outcome.at }
    : { ...record, lastFailure: { at: outcome.at, error: outcome.error } };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
