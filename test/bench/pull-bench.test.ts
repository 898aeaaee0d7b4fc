/**
 * The pull benchmark (bench/pull.bench.ts) runs end to end at a tiny size through `bench/run.ts`:
 * the image pulled both ways each round (the daemon's install succeeded and logged its pull, or the
 * benchmark exits 2), and nothing left behind: the image, the app's containers, the lab's
 * directories. Timing is not asserted: this machine is shared and small.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { test } from "node:test";
import { runTinyBench } from "../support/bench-run.ts";
import { podman } from "../support/rootless.ts";

type PullBench = {
  benchmark: string;
  pass: boolean;
  image: string;
  params: { mib: number; rounds: number; targetRatio: number };
  methods: Record<string, { n: number; p50: number }>;
  ratio: number;
};

const ours = () => new Set(readdirSync(tmpdir()).filter((name) => name.startsWith("archy-bench-pull-")));

test("pull benchmark: runs at a tiny size through bench/run.ts and cleans up", {
  timeout: 600_000,
}, async () => {
  const before = ours();
  const { bench, stderr } = await runTinyBench<PullBench>("pull", ["--mib", "1", "--rounds", "1"]);
  assert.deepEqual(bench.params, { mib: 1, rounds: 1, targetRatio: 1.1 });
  assert.deepEqual(Object.keys(bench.methods).sort(), ["bare", "daemon"]);
  for (const [method, stats] of Object.entries(bench.methods)) {
    assert.equal(stats.n, 1, method);
    assert.ok(stats.p50 > 0, method);
  }
  assert.ok(bench.ratio > 0);
  assert.match(bench.image, /^127\.0\.0\.1:\d+\/archy\/.+@sha256:[0-9a-f]{64}$/);
  assert.match(stderr, /pull-bench: clean\n/);
  await assert.rejects(podman(["image", "exists", bench.image]), "the pulled image is removed");
  assert.deepEqual(
    [...ours()].filter((name) => !before.has(name)),
    [],
    "temporary directory left behind",
  );
});
