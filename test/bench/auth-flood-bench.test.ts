/**
 * The anonymous-flood benchmark (bench/auth-flood.bench.ts) runs end to end at a tiny size through
 * `bench/run.ts`, answers one JSON object with its three phases measured and the flood really
 * refused (argon2 bounded, deep bodies refused), and removes its temporary data directory. Timing
 * is not asserted: this machine is shared and small.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, it } from "node:test";
import { RPC_CODES } from "../../src/api/rpc/errors.ts";
import { runTinyBench } from "../support/bench-run.ts";

type Phase = {
  requests: number;
  p50: number;
  p99: number;
  max: number;
  attacks: number;
  argon2: number;
  busy: number;
  outcomes: Record<string, number>;
};
type BenchJson = {
  benchmark: string;
  pass: boolean;
  params: { requests: number; attackers: number };
  phases: Record<"quiet" | "flood" | "unlimited", Phase>;
};

const leftovers = () => new Set(readdirSync(tmpdir()).filter((name) => name.startsWith("archy-bench-auth-")));

describe("auth-flood benchmark", () => {
  it("runs at a tiny size through bench/run.ts and cleans up", { timeout: 180_000 }, async () => {
    const before = leftovers();
    const { bench } = await runTinyBench<BenchJson>("auth-flood", ["--requests", "20", "--attackers", "4"]);
    const { quiet, flood, unlimited } = bench.phases;
    for (const phase of [quiet, flood, unlimited]) {
      assert.equal(phase.requests, 20);
      assert.ok(phase.p50 > 0 && phase.p99 >= phase.p50 && phase.max >= phase.p99);
    }
    assert.equal(quiet.attacks, 0);
    for (const phase of [flood, unlimited]) {
      assert.ok(phase.attacks > 0, "the flood ran");
      const answered = Object.values(phase.outcomes).reduce((sum, n) => sum + n, 0);
      assert.equal(answered, phase.attacks);
      for (const outcome of Object.keys(phase.outcomes))
        assert.ok(
          [RPC_CODES.setupState, RPC_CODES.invalidRequest, RPC_CODES.unauthenticated, RPC_CODES.rateLimited]
            .map(String)
            .includes(outcome),
          `every attack is refused: ${JSON.stringify(phase.outcomes)}`,
        );
    }
    // Each checked guess is one argon2 computation (the benchmark's own setup is not counted), and
    // with the login budgets lifted, a rate-limit answer can only be the argon2 queue being full.
    const count = (phase: Phase, code: number) => phase.outcomes[String(code)] ?? 0;
    assert.equal(flood.argon2, count(flood, RPC_CODES.unauthenticated));
    assert.equal(unlimited.argon2, count(unlimited, RPC_CODES.unauthenticated));
    assert.equal(unlimited.busy, count(unlimited, RPC_CODES.rateLimited));
    const left = [...leftovers()].filter((name) => !before.has(name));
    assert.deepEqual(left, [], "temporary data directory left behind");
  });
});
