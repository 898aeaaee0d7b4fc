/**
 * The CLI start benchmark (bench/cli.bench.ts) runs end to end at a tiny size through `bench/run.ts`:
 * every command it times listed every app (it checks that itself, or exits 2), each method has its
 * rounds, and the temporary directory is gone afterwards. Timing is not asserted: this machine is
 * shared and small.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const leftovers = () => new Set(readdirSync(tmpdir()).filter((name) => name.startsWith("archy-bench-cli-")));

test("cli benchmark: runs at a tiny size through bench/run.ts and cleans up", { timeout: 180_000 }, () => {
  const before = leftovers();
  const run = spawnSync(
    process.execPath,
    ["bench/run.ts", "cli", "--apps", "3", "--rounds", "2", "--warmup", "0", "--json"],
    { cwd: root, encoding: "utf8" },
  );
  // 0: target met, 1: missed. Either is fine here; 2 would be an error.
  assert.ok(run.status === 0 || run.status === 1, `exit ${run.status}\n${run.stderr}`);
  const output = JSON.parse(run.stdout) as {
    benchmarks: Array<{
      benchmark: string;
      pass: boolean;
      answerBytes: number;
      methods: Record<string, { p50: number }>;
      ratios: Record<string, number>;
    }>;
  };
  const bench = output.benchmarks.find((b) => b.benchmark === "cli");
  assert.ok(bench, run.stdout);
  assert.deepEqual(Object.keys(bench.methods).sort(), ["bare-build", "build", "node", "source"]);
  for (const [method, stats] of Object.entries(bench.methods)) assert.ok(stats.p50 > 0, method);
  assert.equal(bench.ratios.node, 1);
  assert.ok(bench.answerBytes > 0, "the list was printed");
  assert.deepEqual(
    [...leftovers()].filter((name) => !before.has(name)),
    [],
    "temporary directory left behind",
  );
});
