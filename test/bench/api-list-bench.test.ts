/**
 * The API list benchmark (bench/api-list.bench.ts) runs end to end at a tiny size through
 * `bench/run.ts`, answers one JSON object with both targets measured, and removes its temporary data
 * directory. Timing is not asserted: this machine is shared and small.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, it } from "node:test";
import { runTinyBench } from "../support/bench-run.ts";

type Target = {
  requests: number;
  p50: number;
  p99: number;
  throughputPerSecond: number;
  responseBytes: number;
};
type BenchJson = {
  benchmark: string;
  pass: boolean;
  params: { apps: number; clients: number };
  targets: { list: Target; static: Target };
  ratio: { p50: number; p99: number; throughput: number };
};

const leftovers = () => new Set(readdirSync(tmpdir()).filter((name) => name.startsWith("archy-bench-api-")));

describe("api-list benchmark", () => {
  it("runs at a tiny size through bench/run.ts and cleans up", { timeout: 180_000 }, async () => {
    const before = leftovers();
    const { bench } = await runTinyBench<BenchJson>("api-list", [
      "--apps",
      "5",
      "--clients",
      "3",
      "--requests",
      "30",
      "--rounds",
      "2",
      "--warmup",
      "0",
    ]);
    assert.equal(bench.params.apps, 5);
    for (const target of [bench.targets.list, bench.targets.static]) {
      assert.equal(target.requests, 60);
      assert.ok(target.p50 > 0 && target.p99 >= target.p50 && target.throughputPerSecond > 0);
    }
    // The baseline serves the bytes of one package.list answer: the sizes differ only by the
    // observation ages in it.
    assert.ok(Math.abs(bench.targets.list.responseBytes - bench.targets.static.responseBytes) < 50);
    assert.ok(bench.ratio.throughput > 0);
    const left = [...leftovers()].filter((name) => !before.has(name));
    assert.deepEqual(left, [], "temporary data directory left behind");
  });
});
