/**
 * The anonymous-flood benchmark (bench/auth-flood.bench.ts) runs end to end at a tiny size through
 * `bench/run.ts`, answers one JSON object with its three phases measured and the flood really
 * refused (argon2 bounded, deep bodies refused), and removes its temporary data directory. Timing
 * is not asserted: this machine is shared and small.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { RPC_CODES } from "../../src/api/rpc/errors.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

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
    const args = ["bench/run.ts", "auth-flood", "--requests", "20", "--attackers", "4", "--json"];
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve, reject) => {
        const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => {
          stdout += chunk;
        });
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk;
        });
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr }));
      },
    );
    // 0: target met, 1: missed. Either is fine here; 2 would be an error.
    assert.ok(run.code === 0 || run.code === 1, `exit ${run.code}\n${run.stderr}`);
    const output = JSON.parse(run.stdout) as { benchmarks: BenchJson[] };
    const bench = output.benchmarks[0] as BenchJson;
    assert.equal(bench.benchmark, "auth-flood");
    assert.equal(run.code, bench.pass ? 0 : 1);
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
