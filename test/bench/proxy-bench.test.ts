/**
 * The app-access proxy benchmark (bench/proxy.bench.ts) runs end to end at a tiny size through
 * `bench/run.ts`: one JSON object with the small GET, the download and the WebSocket round trip
 * measured both ways (every request answered, every byte of each download received through the
 * proxy as straight from the app), the ratios derived from them, the CPU time per unit of work of the
 * daemon and of the app on each path, the proxy's memory growth reported,
 * and its temporary directory removed. Timing is not asserted: this machine is shared and small.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, it } from "node:test";
import { runTinyBench } from "../support/bench-run.ts";

type Measured = { p50: number; p99: number; throughput: number; samples: number };
type Row = {
  kind: "small" | "download" | "ws";
  direct: Measured;
  proxy: Measured;
  throughputRatio: number;
  p99Ratio: number;
  pass: boolean;
  cpu: Record<"direct" | "proxy", { daemonUs: number; appUs: number }>;
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
    const { bench } = await runTinyBench<BenchJson>("proxy", [
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
    ]);
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
      // CPU time per unit of work, for the daemon and the app on each path (10 ms steps: a tiny run
      // may see none).
      for (const path of ["direct", "proxy"] as const)
        for (const figure of [row.cpu[path].daemonUs, row.cpu[path].appUs])
          assert.ok(
            Number.isFinite(figure) && figure >= 0,
            `${row.kind} ${path}: ${JSON.stringify(row.cpu)}`,
          );
    }
    assert.equal(bench.memory.maxRssGrowthMb, 50);
    assert.ok(bench.memory.rssGrowthMb >= 0 && bench.memory.directRssGrowthMb >= 0);
    assert.equal(bench.pass, bench.rows.every((r) => r.pass) && bench.memory.pass);
    const left = [...leftovers()].filter((name) => !before.has(name));
    assert.deepEqual(left, [], "temporary data directory left behind");
  });
});
