/**
 * The idle benchmark (bench/idle.bench.ts) runs end to end at a tiny size through `bench/run.ts`:
 * the daemon starts from the build as the product starts it, lists every app, connects to the fake
 * Podman and finds every app converged (no request refused), is measured next to a bare Node, and
 * the temporary directory and both processes are gone afterwards. Timing and memory are not
 * asserted: this machine is shared and small.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, it } from "node:test";
import { runTinyBench } from "../support/bench-run.ts";

type Size = {
  apps: number;
  spawnToListMs: number;
  daemon: { rssMb: number; peakRssMb: number; cpuPct: number };
  bare: { rssMb: number; cpuPct: number };
  passes: number;
  podmanCalls: number;
  storeWrites: number;
  podmanRefused: number;
};
type BenchJson = {
  benchmark: string;
  pass: boolean;
  params: { apps: number[]; from: string };
  sizes: Size[];
};

const leftovers = () => new Set(readdirSync(tmpdir()).filter((name) => name.startsWith("archy-bench-idle-")));

describe("idle benchmark", () => {
  it("runs at a tiny size through bench/run.ts and cleans up", { timeout: 240_000 }, async () => {
    const before = leftovers();
    const { bench } = await runTinyBench<BenchJson>("idle", [
      "--apps",
      "0,3",
      "--idle-seconds",
      "2",
      "--settle-seconds",
      "1",
    ]);
    assert.equal(bench.params.from, "build");
    assert.deepEqual(
      bench.sizes.map((s) => s.apps),
      [0, 3],
    );
    for (const size of bench.sizes) {
      assert.ok(size.spawnToListMs > 0, "the list came");
      assert.ok(size.daemon.rssMb > 0 && size.bare.rssMb > 0, "both processes were measured");
      assert.ok(size.daemon.peakRssMb >= size.daemon.rssMb);
      assert.equal(size.podmanRefused, 0, "the fake Podman served everything the converged daemon asked");
    }
    const left = [...leftovers()].filter((name) => !before.has(name));
    assert.deepEqual(left, [], "temporary directory left behind");
  });
});
