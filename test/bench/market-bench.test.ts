/**
 * The marketplace benchmark (bench/market.bench.ts) runs end to end at a tiny size through
 * `bench/run.ts`, meets its target (every app published is listed), reports what it received, and
 * removes its temporary directory. Timing is not asserted: this machine is shared and small.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const leftovers = () =>
  new Set(readdirSync(tmpdir()).filter((name) => name.startsWith("archy-bench-market-")));

test("marketplace benchmark: runs at a tiny size through bench/run.ts and cleans up", {
  timeout: 120_000,
}, () => {
  const before = leftovers();
  const run = spawnSync(
    process.execPath,
    ["bench/run.ts", "market", "--apps", "6", "--publishers", "2", "--rounds", "1", "--json"],
    {
      cwd: root,
      encoding: "utf8",
    },
  );
  assert.equal(run.status, 0, `exit ${run.status}\n${run.stderr}`);
  const [bench] = (
    JSON.parse(run.stdout) as {
      benchmarks: Array<{
        benchmark: string;
        pass: boolean;
        listed: number;
        eventsKept: number;
        bytesReceived: number;
      }>;
    }
  ).benchmarks;
  assert.equal(bench?.benchmark, "market");
  assert.equal(bench?.pass, true);
  assert.equal(bench?.listed, 6);
  assert.equal(bench?.eventsKept, 18, "an app, a release and an asset per app");
  assert.ok((bench?.bytesReceived ?? 0) > 0);
  assert.deepEqual(
    [...leftovers()].filter((name) => !before.has(name)),
    [],
    "temporary directory left behind",
  );
});
