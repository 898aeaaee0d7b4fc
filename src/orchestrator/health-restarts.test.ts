import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  afterRestart,
  delayBeforeRestart,
  type HealthRestartPolicy,
  NO_RESTARTS,
  observeHealth,
  type RestartHistory,
  restartDecision,
} from "./health-restarts.ts";
import type { Health } from "./planner.ts";

const POLICY: HealthRestartPolicy = { baseDelayMs: 10_000, maxDelayMs: 80_000, healthyResetMs: 60_000 };

describe("restarts for health", () => {
  test("delays double from the base after the first restart, up to the maximum", () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 30].map((n) => delayBeforeRestart(n, POLICY)),
      [0, 10_000, 20_000, 40_000, 80_000, 80_000, 80_000],
    );
  });

  test("only an unhealthy container is restarted: the first at once, the next after its delay", () => {
    for (const health of ["healthy", "starting", "unknown"] as Health[])
      assert.deepEqual(restartDecision(NO_RESTARTS, health, 1_000, POLICY), { kind: "none" });
    assert.deepEqual(restartDecision(NO_RESTARTS, "unhealthy", 1_000, POLICY), { kind: "restart" });
    const once = afterRestart(NO_RESTARTS, 1_000);
    assert.deepEqual(restartDecision(once, "unhealthy", 4_000, POLICY), { kind: "wait", ms: 7_000 });
    assert.deepEqual(restartDecision(once, "unhealthy", 11_000, POLICY), { kind: "restart" });
    const twice = afterRestart(once, 11_000);
    assert.deepEqual(restartDecision(twice, "unhealthy", 21_000, POLICY), { kind: "wait", ms: 10_000 });
  });

  test("a healthy stretch as long as the reset time starts the count again; a shorter one does not", () => {
    let history: RestartHistory = afterRestart(afterRestart(NO_RESTARTS, 0), 10_000);
    history = observeHealth(history, "healthy", 20_000, POLICY);
    history = observeHealth(history, "healthy", 50_000, POLICY);
    assert.equal(history.restarts, 2, "30 s healthy is not enough");
    history = observeHealth(history, "unhealthy", 55_000, POLICY);
    history = observeHealth(history, "healthy", 60_000, POLICY);
    history = observeHealth(history, "healthy", 110_000, POLICY);
    assert.equal(history.restarts, 2, "the break restarted the stretch at 60 s");
    history = observeHealth(history, "healthy", 120_000, POLICY);
    assert.equal(history.restarts, 0, "60 s without a break");
    assert.deepEqual(restartDecision(history, "unhealthy", 120_001, POLICY), { kind: "restart" });
  });

  test("property: restarts are never closer together than the delay their count asks for", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            dt: fc.integer({ min: 0, max: 30_000 }),
            health: fc.constantFrom<Health>("healthy", "unhealthy", "starting"),
          }),
          { maxLength: 60 },
        ),
        (steps) => {
          let now = 0;
          let history = NO_RESTARTS;
          const restarts: Array<{ at: number; count: number }> = [];
          for (const step of steps) {
            now += step.dt;
            history = observeHealth(history, step.health, now, POLICY);
            if (restartDecision(history, step.health, now, POLICY).kind === "restart") {
              restarts.push({ at: now, count: history.restarts });
              history = afterRestart(history, now);
            }
          }
          for (let i = 1; i < restarts.length; i++) {
            const { at, count } = restarts[i] as { at: number; count: number };
            const previous = restarts[i - 1] as { at: number };
            assert.ok(at - previous.at >= delayBeforeRestart(count, POLICY), JSON.stringify(restarts));
          }
        },
      ),
    );
  });
});
