/**
 * Runs one benchmark at a tiny size the way an operator does (`bench/run.ts NAME ARGS --json`) and
 * hands back its JSON, once the run is known to be a verdict and not an error: exit 0 (targets
 * met) or 1 (one missed: timings on a busy machine), matching the benchmark's own `pass`; exit 2
 * (could not run) fails with what it printed on stderr. Timing is never asserted by the tests.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { CODE_ROOT } from "../../src/system/code-root.ts";

export type BenchVerdict = { benchmark: string; pass: boolean };

export async function runTinyBench<J extends BenchVerdict>(
  name: string,
  args: readonly string[],
): Promise<{ bench: J; stderr: string }> {
  const argv = ["bench/run.ts", name, ...args, "--json"];
  const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(process.execPath, argv, { cwd: CODE_ROOT, stdio: ["ignore", "pipe", "pipe"] });
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
  assert.ok(run.code === 0 || run.code === 1, `bench ${name}: exit ${run.code}\n${run.stderr}`);
  const output = JSON.parse(run.stdout) as { benchmarks: J[] };
  assert.equal(output.benchmarks.length, 1, `bench ${name}: one benchmark's result`);
  const bench = output.benchmarks[0] as J;
  assert.equal(bench.benchmark, name);
  assert.equal(run.code, bench.pass ? 0 : 1, `bench ${name}: the exit code says what the result says`);
  return { bench, stderr: run.stderr };
}
