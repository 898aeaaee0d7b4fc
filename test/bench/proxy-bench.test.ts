/**
 * The app-access proxy benchmark (bench/proxy.bench.ts) runs end to end at a tiny size through
 * `bench/run.ts`: one JSON object with the small GET, the download and the WebSocket round trip
 * measured both ways (every request answered, every byte of each download received through the
 * proxy as straight from the app), the ratios derived from them, the proxy's memory growth reported,
 * and its temporary directory removed. Timing is not asserted: this machine is shared and small.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

type Measured = { p50: number; p99: number; throughput: number; samples: number };
type Row = {
  kind: "small" | "download" | "ws";
  direct: Measured;
  proxy: Measured;
  throughputRatio: number;
  p99Ratio: number;
  pass: boolean;
};
type BenchJson = {
  benchmark: string;
  pass: boolean;
  rows: Row[];
  memory: { rssGrowthMb: number; directRssGrowthMb: number; maxRssGrowthMb: number; pass: boolean };
};

const leftovers = () =>
  new Set(readdirSync(tmpdir()).filter((name) => name.startsWith("archy-bench-proxy-")));

describe("proxy benchmark", () => {
  it("runs at a tiny size through bench/run.ts, both paths measured side by side, and cleans up", {
    timeout: 180_000,
  }, async () => {
    const before = leftovers();
    const args = [
      "bench/run.ts",
      "proxy",
      "--clients",
      "2",
      "--requests",
      "20",
      "--download-mb",
      "2",
      "--downloads",
      "2",
      "--messages",
      "10",
      "--rounds",
      "1",
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
    // 0: targets met, 1: missed. Either is fine here; 2 would be an error.
    assert.ok(run.code === 0 || run.code === 1, `exit ${run.code}\n${run.stderr}`);
    const output = JSON.parse(run.stdout) as { benchmarks: BenchJson[] };
    const bench = output.benchmarks[0] as BenchJson;
    assert.equal(bench.benchmark, "proxy");
    assert.equal(run.code, bench.pass ? 0 : 1);
    assert.deepEqual(
      bench.rows.map((r) => r.kind),
      ["small", "download", "ws"],
    );
    // One measured round: every request of a phase is one latency sample, on both paths.
    const samples = { small: 20, download: 2, ws: 10 };
    for (const row of bench.rows) {
      for (const measured of [row.direct, row.proxy]) {
        assert.equal(measured.samples, samples[row.kind], `${row.kind}: ${JSON.stringify(measured)}`);
        assert.ok(measured.p50 > 0 && measured.p99 >= measured.p50 && measured.throughput > 0);
      }
      assert.ok(Math.abs(row.p99Ratio - row.proxy.p99 / row.direct.p99) < 0.01, "p99 ratio derived");
      assert.ok(
        Math.abs(row.throughputRatio - row.proxy.throughput / row.direct.throughput) < 0.01,
        "throughput ratio derived",
      );
    }
    assert.equal(bench.memory.maxRssGrowthMb, 50);
    assert.ok(bench.memory.rssGrowthMb >= 0 && bench.memory.directRssGrowthMb >= 0);
    assert.equal(bench.pass, bench.rows.every((r) => r.pass) && bench.memory.pass);
    const left = [...leftovers()].filter((name) => !before.has(name));
    assert.deepEqual(left, [], "temporary data directory left behind");
  });
});
