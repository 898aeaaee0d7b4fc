/**
 * The web UI benchmark (bench/ui.bench.ts) runs end to end at a tiny size through `bench/run.ts`:
 * one JSON object with its three measures taken, and its temporary data directory removed. Timing
 * is not asserted (this machine is shared and small); the weight is: it is a count of bytes.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, it } from "node:test";
import { runTinyBench } from "../support/bench-run.ts";

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
    const { bench } = await runTinyBench<BenchJson>("ui", [
      "--apps",
      "5",
      "--rounds",
      "2",
      "--seconds",
      "2",
      "--rate",
      "10",
    ]);
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
