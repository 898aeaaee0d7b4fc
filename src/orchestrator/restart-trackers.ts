/**
 * The daemon's memory of the restarts it made, per app container (`appId/key`), reset by a restart
 * of the daemon: restarts for health (an unhealthy container) and starts after an exit on its own
 * (a crash). Each answers which containers are due now and when the next one will be; the delays
 * come from the pure policy of health-restarts.ts.
 */
import type { ObservedContainer } from "../runtime/observed.ts";
import {
  afterRestart,
  delayBeforeRestart,
  type HealthRestartPolicy,
  NO_RESTARTS,
  observeHealth,
  observeStretch,
  type RestartHistory,
  restartDecision,
  restartDue,
} from "./health-restarts.ts";
import type { Health } from "./planner.ts";
import type { AppRow } from "./store.ts";

export class HealthRestarts {
  readonly #policy: HealthRestartPolicy;
  readonly #clock: () => number;
  readonly #histories = new Map<string, RestartHistory>();
  /** Per app, its unhealthy containers that wait for their next restart, said for the operator. */
  readonly #waits = new Map<string, string[]>();

  constructor(policy: HealthRestartPolicy, clock: () => number) {
    this.#policy = policy;
    this.#clock = clock;
  }

  /**
   * The running containers of an app desired running that are unhealthy and due for a restart,
   * and when the first one not due yet is. An update's window, not this, decides what happens to
   * a new version that is not healthy.
   */
  due(
    app: AppRow,
    health: Record<string, Health>,
    seen: ObservedContainer[],
    updating: boolean,
  ): { due: string[]; wakeInMs: number | undefined } {
    const now = this.#clock();
    const policy = this.#policy;
    const due: string[] = [];
    const waits: string[] = [];
    let wakeInMs: number | undefined;
    for (const [key, verdict] of Object.entries(health)) {
      const id = `${app.id}/${key}`;
      const history = observeHealth(this.#histories.get(id) ?? NO_RESTARTS, verdict, now, policy);
      this.#histories.set(id, history);
      const running = seen.some((c) => c.key === key && c.state === "running");
      if (app.desired !== "running" || updating || !running) continue;
      const decision = restartDecision(history, verdict, now, policy);
      if (decision.kind === "restart") due.push(key);
      else if (decision.kind === "wait") {
        wakeInMs = Math.min(wakeInMs ?? Number.POSITIVE_INFINITY, decision.ms);
        waits.push(
          `${key} is unhealthy: restarting it at ${new Date(now + decision.ms).toISOString()} (restart ${history.restarts + 1} since it was last healthy)`,
        );
      }
    }
    if (waits.length > 0) this.#waits.set(app.id, waits);
    else this.#waits.delete(app.id);
    return { due, wakeInMs };
  }

  /** The app's containers waiting for their next restart for health, in words; undefined when none. */
  waits(appId: string): string[] | undefined {
    return this.#waits.get(appId);
  }

  /** The app is gone. */
  forget(appId: string): void {
    this.#waits.delete(appId);
  }

  /** Counts a restart for health about to happen; returns why, for the operation log. */
  restarting(app: AppRow, key: string, lastProbe: string | undefined): string {
    const id = `${app.id}/${key}`;
    const history = afterRestart(this.#histories.get(id) ?? NO_RESTARTS, this.#clock());
    this.#histories.set(id, history);
    const output = lastProbe?.trim();
    const next = Math.round(delayBeforeRestart(history.restarts, this.#policy) / 1000);
    return `${key} is unhealthy${output ? ` (last probe: ${output.slice(0, 200)})` : ""}: restarting it (restart ${history.restarts} since it was last healthy; another would wait ${next} s)`;
  }
}

/**
 * Starts after an exit on its own: the first exit is started again at once, each later one waits
 * twice as long as the one before (the health-restart policy), and a container that then runs for
 * a while starts from no delay again. An operator's request (a new generation of the app) starts
 * the count again. Without this a container that crashes a few seconds after every start (too late
 * to be caught as a crash at its start) would be started again at once, forever.
 */
export class CrashRestarts {
  readonly #policy: HealthRestartPolicy;
  readonly #clock: () => number;
  readonly #histories = new Map<string, { generation: number; history: RestartHistory }>();

  constructor(policy: HealthRestartPolicy, clock: () => number) {
    this.#policy = policy;
    this.#clock = clock;
  }

  /** The containers of a running app that exited on their own and are not due to start again yet: until when. */
  held(
    app: AppRow,
    seen: ObservedContainer[],
  ): { held: Record<string, number>; wakeInMs: number | undefined } {
    const now = this.#clock();
    const held: Record<string, number> = {};
    let wakeInMs: number | undefined;
    for (const c of seen) {
      if (c.key === undefined) continue;
      const id = `${app.id}/${c.key}`;
      const history = observeStretch(this.#history(app, id), c.state === "running", now, this.#policy);
      this.#histories.set(id, { generation: app.generation, history });
      if (!exitedOnItsOwn(app, c)) continue;
      const decision = restartDue(history, now, this.#policy);
      if (decision.kind === "wait") {
        held[c.key] = now + decision.ms;
        wakeInMs = Math.min(wakeInMs ?? Number.POSITIVE_INFINITY, decision.ms);
      }
    }
    return { held, wakeInMs };
  }

  /** Counts a start after an exit on its own; returns what happened, for the operation log. */
  restarting(app: AppRow, c: ObservedContainer): string {
    const id = `${app.id}/${c.key}`;
    const history = afterRestart(this.#history(app, id), this.#clock());
    this.#histories.set(id, { generation: app.generation, history });
    const next = Math.round(delayBeforeRestart(history.restarts, this.#policy) / 1000);
    return `${c.key} exited on its own (exit code ${c.exitCode ?? "unknown"}): starting it again (start ${history.restarts} since it last ran without a break; another would wait ${next} s)`;
  }

  #history(app: AppRow, id: string): RestartHistory {
    const entry = this.#histories.get(id);
    return entry && entry.generation === app.generation ? entry.history : NO_RESTARTS;
  }
}

/**
 * A container of an app that had reached what its operator last asked (running, or restarting one
 * of its containers since, or waiting for one in a transient state: a Quadlet unit lists its dead
 * container as `removing` before it is gone) and is now exited: it stopped on its own, not by an
 * operator's request nor while the app was being set up.
 */
export function exitedOnItsOwn(app: AppRow, c: ObservedContainer): boolean {
  return (
    app.desired === "running" &&
    app.observedGeneration === app.generation &&
    (app.phase === "running" || app.phase === "restarting" || app.phase === "waiting") &&
    c.state === "exited"
  );
}
