/**
 * What one reconcile of an app tells the driver (reconciler.ts), as controller-runtime's Reconcile
 * returns a Result and an error: the pass says what happened and when it wants to look again; the
 * driver alone schedules the next look, counts attempts, backs off and fails an app for good.
 */
import { isPodmanError } from "../runtime/libpod/errors.ts";
import { RuntimeError } from "../runtime/runtime.ts";
import { NotApprovedError } from "./approvals.ts";
import { HookError } from "./hooks.ts";
import { HostPathError } from "./host-path-guard.ts";
import { ImagePullError } from "./image-pulls.ts";
import { NameClashError } from "./name-clashes.ts";
import { JobError } from "./planner.ts";

export type ReconcileOutcome =
  /** Nothing to do until something changes: an operation, an event, a dependency settling, the resync. */
  | { kind: "done" }
  /** Look again after `afterMs` (0: as soon as this pass has ended). */
  | { kind: "requeue"; afterMs: number }
  /** The pass failed: a retryable failure backs off; a terminal one, or the last attempt, fails the app. */
  | { kind: "failed"; error: unknown; terminal: boolean };

export const DONE: ReconcileOutcome = { kind: "done" };

export function requeue(afterMs: number): ReconcileOutcome {
  return { kind: "requeue", afterMs: Math.max(0, afterMs) };
}

export function failed(error: unknown): ReconcileOutcome {
  return { kind: "failed", error, terminal: isTerminal(error) };
}

/** Errors that retrying cannot fix: the operator must act (or retry explicitly). */
export function isTerminal(error: unknown): boolean {
  if (
    error instanceof HookError ||
    error instanceof NotApprovedError ||
    error instanceof HostPathError ||
    error instanceof NameClashError ||
    error instanceof ImagePullError ||
    error instanceof JobError
  )
    return true;
  if (error instanceof RuntimeError)
    return (
      error.kind === "image-missing" || error.kind === "name-conflict" || error.kind === "backend-unavailable"
    );
  if (isPodmanError(error)) return error.kind === "bad-request";
  return (error as Error)?.name === "RenderError";
}

/**
 * The outcome that also looks again within `wakeInMs` (a restart due later, an update's deadline):
 * the sooner look wins. A failure keeps its own schedule, the backoff's (the app is not looked at
 * before its next attempt anyway).
 */
export function withWakeup(outcome: ReconcileOutcome, wakeInMs: number | undefined): ReconcileOutcome {
  if (wakeInMs === undefined || outcome.kind === "failed") return outcome;
  if (outcome.kind === "requeue" && outcome.afterMs <= wakeInMs) return outcome;
  return requeue(wakeInMs);
}

/** Collects the wake-ups one pass asks for (restarts due later, an update's deadline): the soonest wins. */
export class Wakeups {
  #soonest: number | undefined;

  in(ms: number): void {
    // No deadline (an update without one) is no wake-up; a timer cannot wait that long anyway.
    if (!Number.isFinite(ms)) return;
    this.#soonest = Math.min(this.#soonest ?? Number.POSITIVE_INFINITY, Math.max(0, ms));
  }

  get soonest(): number | undefined {
    return this.#soonest;
  }
}
