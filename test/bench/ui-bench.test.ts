/**
 * The web UI benchmark (bench/ui.bench.ts) runs end to end at a tiny size through `bench/run.ts`:
 * one JSON object with its three measures taken, and its temporary data directory removed. Timing
 * is not asserted (this machine is shared and small); the weight is: it is a count of bytes.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

type BenchJson = {
  benchmark: string;
  pass: boolean;
  params: { apps: number; rounds: number };
  weight: {
    bytes: number;
    budgetBytes: number;
    files: Array<{ path: string; bytes: number }>;
    pass: boolean;
  };
  myApps: { p50: number; loginP50: number };
  memory: { startBytes: number; endBytes: number; events: number };
};

const leftovers = () => new Set(readdirSync(tmpdir()).filter((name) => name.startsWith("archy-bench-ui-")));

describe("ui benchmark", () => {
  it("runs at a tiny size through bench/run.ts, within the weight budget, and cleans up", {
    timeout: 300_000,
  }, async () => {
    const before = leftovers();
    const args = [
      "bench/run.ts",
      "ui",
      "--apps",
      "5",
      "--rounds",
      "2",
      "--seconds",
      "2",
      "--rate",
      "10",
      "--json",
    ];
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
    // 0: targets met, 1: one missed (timings on a busy machine). 2 would be an error.
    assert.ok(run.code === 0 || run.code === 1, `exit ${run.code}\n${run.stderr}`);
    const output = JSON.parse(run.stdout) as { pass: boolean; benchmarks: BenchJson[] };
    const bench = output.benchmarks[0] as BenchJson;
    assert.equal(bench.benchmark, "ui");
    assert.equal(run.code, bench.pass ? 0 : 1);
    assert.equal(bench.params.apps, 5);
    assert.deepEqual(
      bench.weight.files.map((f) => f.path.replace(/-[\w-]+\./, ".")),
      ["/assets/index.js", "/assets/index.css"],
      "the first page loads one script and one style sheet",
    );
    assert.ok(bench.weight.bytes > 10_000, "the weight counts the transferred files");
    assert.ok(
      bench.weight.pass,
      `the first page's JS+CSS, ${bench.weight.bytes} B gzipped, is within ${bench.weight.budgetBytes} B`,
    );
    assert.ok(bench.myApps.p50 > 0 && bench.myApps.loginP50 > 0);
    assert.ok(bench.memory.startBytes > 0 && bench.memory.endBytes > 0 && bench.memory.events > 0);
    const left = [...leftovers()].filter((name) => !before.has(name));
    assert.deepEqual(left, [], "temporary data directory left behind");
  });
});
