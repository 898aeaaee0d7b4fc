/** Exponential backoff with jitter. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from "./backoff.ts";

const POLICY: BackoffPolicy = { baseMs: 1_000, factor: 2, maxMs: 60_000, jitter: 0.2, maxAttempts: 5 };

describe("backoff", () => {
  test("the delay doubles from the base (without jitter: random 0.5) and stops at the cap", () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => backoffDelay(attempt, 0.5, POLICY)),
      [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000],
    );
    assert.equal(backoffDelay(0, 0.5, POLICY), 1_000, "attempt 0 waits the base delay");
    assert.equal(backoffDelay(1_000, 0.5, POLICY), 60_000, "huge attempts do not overflow");
  });

  test("jitter spreads the delay by ±jitter around the exponential value", () => {
    assert.equal(backoffDelay(3, 0, POLICY), 3_200);
    assert.equal(backoffDelay(3, 0.999_999_999, POLICY), 4_800);
    assert.equal(
      backoffDelay(7, 0, POLICY),
      48_000,
      "the cap is jittered too, so capped apps do not retry in lockstep",
    );
  });

  test("the default policy: 2 s, doubling, 5 min cap, ±20 %, 5 attempts", () => {
    assert.deepEqual(DEFAULT_BACKOFF, {
      baseMs: 2_000,
      factor: 2,
      maxMs: 300_000,
      jitter: 0.2,
      maxAttempts: 5,
    });
    assert.equal(backoffDelay(1, 0.5), 2_000);
  });

  test("property: within bounds, never negative, non-decreasing in the attempt for a given random", () => {
    fc.assert(
      fc.property(
        fc.record({
          baseMs: fc.integer({ min: 1, max: 10_000 }),
          factor: fc.double({ min: 1, max: 4, noNaN: true }),
          maxMs: fc.integer({ min: 10_000, max: 10_000_000 }),
          jitter: fc.double({ min: 0, max: 0.9, noNaN: true }),
          maxAttempts: fc.constant(5),
        }),
        fc.integer({ min: 1, max: 60 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (policy, attempt, random) => {
          const delay = backoffDelay(attempt, random, policy);
          const raw = Math.min(policy.maxMs, policy.baseMs * policy.factor ** (attempt - 1));
          assert.ok(delay >= 0);
          assert.ok(delay >= Math.floor(raw * (1 - policy.jitter)), `${delay} below ${raw}`);
          assert.ok(delay <= Math.ceil(raw * (1 + policy.jitter)), `${delay} above ${raw}`);
          assert.ok(backoffDelay(attempt + 1, random, policy) >= delay);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
