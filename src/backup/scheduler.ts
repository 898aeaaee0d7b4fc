/**
 * The timer around schedule.ts: every tick it asks, for each target with a plan, whether its check
 * is due and which installed apps' backups are, and runs them one after the other (one restic at a
 * time; a backup stops its app). Where each schedule stands is on disk (runs.ts), so a daemon
 * restart keeps it, and a daemon that was down owes one run, not one per missed slot.
 */
import type { Orchestrator } from "../orchestrator/orchestrator.ts";
import { dueAt, storedSchedule } from "./schedule.ts";
import type { Backups } from "./service.ts";

export type SchedulerOptions = {
  backups: Backups;
  orchestrator: Orchestrator;
  clock: () => number;
  /** How often it looks (the schedules' precision). */
  tickMs: number;
  log: (level: "info" | "warn", message: string) => void;
};

export class BackupScheduler {
  readonly #o: SchedulerOptions;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #stopped = false;

  constructor(options: SchedulerOptions) {
    this.#o = options;
  }

  start(): void {
    this.#arm();
  }

  /** Stops looking; a run in progress is ended by Backups.stop. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#ticking;
  }

  #arm(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#ticking = this.tick()
        .catch((error: unknown) => this.#o.log("warn", `backup scheduler: ${(error as Error).message}`))
        .finally(() => {
          this.#ticking = undefined;
          this.#arm();
        });
    }, this.#o.tickMs);
    this.#timer.unref();
  }

  /** Runs what is due now: each target's check, then each app's backup. */
  async tick(): Promise<void> {
    const { backups, orchestrator, clock } = this.#o;
    // Backups stop and start apps through the reconciler: nothing runs before Podman answers.
    if (!orchestrator.started) return;
    for (const [target, plan] of [...backups.plans()]) {
      if (this.#stopped) return;
      for (const [what, setting] of [
        ["backup", plan.backup],
        ["check", plan.check],
      ] as const)
        if (setting && !storedSchedule(setting))
          this.#o.log(
            "warn",
            `backup target ${target}: its stored ${what} schedule "${setting.spec}" does not parse; set it again (archy backup targets schedule ${target})`,
          );
      const checks = storedSchedule(plan.check);
      if (checks && plan.check) {
        const now = clock();
        if (now >= dueAt(checks, plan.check, backups.runs.check(target)?.lastScheduled)) {
          await backups.runs.checkScheduled(target, now);
          this.#o.log("info", `scheduled check of backup target ${target}`);
          // The outcome, success or failure, is recorded by checkTarget (a failure is an alert).
          await backups.checkTarget(target).catch(() => {});
        }
      }
      const backupsDue = storedSchedule(plan.backup);
      if (!backupsDue || !plan.backup) continue;
      for (const app of orchestrator.store.listApps()) {
        if (this.#stopped || app.desired === "absent") continue;
        if (clock() < dueAt(backupsDue, plan.backup, backups.runs.app(target, app.id)?.lastScheduled))
          continue;
        // "busy": another operation holds the app; the next tick asks again (overdue is an alert).
        await backups.scheduledBackup(app.id, target);
      }
    }
  }
}
