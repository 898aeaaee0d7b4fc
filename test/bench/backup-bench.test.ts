/**
 * The backup benchmark (bench/backup.bench.ts) runs end to end at a tiny size through `bench/run.ts`:
 * each step timed both ways (the daemon's operations succeeded, or the benchmark exits 2), the
 * second backup added about the 1% changed and not the whole data, on both sides, and it cleaned up.
 * Timing is not asserted: this machine is shared and small.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runTinyBench } from "../support/bench-run.ts";

type BackupBench = {
  benchmark: string;
  pass: boolean;
  params: { mib: number; rounds: number; targetRatio: number };
  steps: Record<string, { daemon: number; bare: number; ratio: number }>;
  secondBackupBytesAdded: { daemon: number; bare: number; changed: number };
  ratio: number;
};

test("backup benchmark: runs at a tiny size through bench/run.ts, the second backup adds the change only, and it cleans up", {
  timeout: 900_000,
}, async () => {
  const { bench, stderr } = await runTinyBench<BackupBench>("backup", ["--mib", "8", "--rounds", "1"]);
  assert.deepEqual(bench.params, { mib: 8, rounds: 1, targetRatio: 1.2 });
  assert.deepEqual(Object.keys(bench.steps).sort(), ["backup", "restore", "second"]);
  for (const [step, stats] of Object.entries(bench.steps)) {
    assert.ok(stats.daemon > 0, `${step}: daemon timed`);
    assert.ok(stats.bare > 0, `${step}: by hand timed`);
  }
  const { daemon, bare, changed } = bench.secondBackupBytesAdded;
  for (const [side, added] of [
    ["daemon", daemon],
    ["by hand", bare],
  ] as const) {
    assert.ok(
      added >= changed,
      `${side}: the second backup added the changed bytes (${added} >= ${changed})`,
    );
    assert.ok(
      added < 8 * 1024 * 1024,
      `${side}: the second backup did not add the whole data again (${added})`,
    );
  }
  assert.match(stderr, /backup-bench: clean\n/);
});
