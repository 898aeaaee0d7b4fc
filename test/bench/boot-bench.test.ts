/**
 * The boot benchmark (bench/boot.bench.ts) runs end to end at a tiny size through `bench/run.ts`,
 * answers one JSON object with both modes measured, shows that the list came while the slow Podman
 * had answered nothing, and removes its temporary directory. Timing is not asserted: this machine is
 * shared and small.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, it } from "node:test";
import { runTinyBench } from "../support/bench-run.ts";

type Mode = {
  podmanDelayMs: number;
  rounds: number;
  startToList: { p50: number; p90: number; max: number };
  startToListenP50: number;
  processToListP50: number;
  podmanAnsweredBeforeList: number;
  podmanRequestsBeforeList: number;
  maxCalls: number;
};
type BenchJson = {
  benchmark: string;
  pass: boolean;
  params: { apps: number; rounds: number; delayMs: number; targetMs: number };
  modes: { slow: Mode; fast: Mode };
};

const leftovers = () => new Set(readdirSync(tmpdir()).filter((name) => name.startsWith("archy-bench-boot-")));

describe("boot benchmark", () => {
  it("runs at a tiny size through bench/run.ts and cleans up", { timeout: 180_000 }, async () => {
    const before = leftovers();
    const { bench } = await runTinyBench<BenchJson>("boot", [
      "--apps",
      "5",
      "--rounds",
      "2",
      "--warmup",
      "0",
    ]);
    assert.deepEqual(
      [bench.params.apps, bench.params.rounds, bench.params.delayMs, bench.params.targetMs],
      [5, 2, 30_000, 200],
    );
    for (const mode of [bench.modes.slow, bench.modes.fast]) {
      assert.equal(mode.rounds, 2);
      assert.ok(mode.startToList.p50 > 0 && mode.startToList.max >= mode.startToList.p50);
      assert.ok(mode.startToListenP50 > 0 && mode.startToListenP50 <= mode.startToList.max);
      assert.ok(mode.processToListP50 >= mode.startToList.p50, "the process started before the daemon");
      assert.equal(mode.maxCalls, 1, "the first package.list answer lists every app");
    }
    assert.equal(bench.modes.slow.podmanDelayMs, 30_000);
    assert.equal(bench.modes.fast.podmanDelayMs, 0);
    // The daemon listed the apps without a single answer from the slow Podman.
    assert.equal(bench.modes.slow.podmanAnsweredBeforeList, 0);
    const left = [...leftovers()].filter((name) => !before.has(name));
    assert.deepEqual(left, [], "temporary directory left behind");
  });
});
