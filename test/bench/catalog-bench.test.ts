/**
 * The catalog benchmark (bench/catalog.bench.ts) runs end to end at a tiny size through
 * `bench/run.ts`, meets its target (a no-change refresh fetches only timestamp.json), and removes
 * its temporary directory. Timing is not asserted: this machine is shared and small.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const leftovers = () =>
  new Set(readdirSync(tmpdir()).filter((name) => name.startsWith("archy-bench-catalog-")));

test("catalog benchmark: runs at a tiny size through bench/run.ts and cleans up", {
  timeout: 120_000,
}, () => {
  const before = leftovers();
  const run = spawnSync(
    process.execPath,
    ["bench/run.ts", "catalog", "--apps", "5", "--rounds", "2", "--refreshes", "5", "--json"],
    {
      cwd: root,
      encoding: "utf8",
    },
  );
  assert.equal(run.status, 0, `exit ${run.status}\n${run.stderr}`);
  const output = JSON.parse(run.stdout) as {
    benchmarks: Array<{
      benchmark: string;
      pass: boolean;
      firstRefresh: { fetched: number; bytes: number };
      noChangeRefresh: { files: string[]; bytes: number };
      repeated: { refreshes: number; onlyTimestamp: boolean; heapMb: { growth: number } };
    }>;
  };
  const [bench] = output.benchmarks;
  assert.equal(bench?.benchmark, "catalog");
  assert.equal(bench?.pass, true);
  assert.ok(
    (bench?.firstRefresh.fetched ?? 0) === 5 + 3,
    "timestamp, snapshot, targets and every manifest on the first refresh",
  );
  assert.deepEqual(bench?.noChangeRefresh.files, ["/metadata/timestamp.json"]);
  assert.ok((bench?.noChangeRefresh.bytes ?? 0) < (bench?.firstRefresh.bytes ?? 0));
  assert.equal(bench?.repeated.refreshes, 5);
  assert.equal(bench?.repeated.onlyTimestamp, true);
  assert.equal(typeof bench?.repeated.heapMb.growth, "number");
  assert.deepEqual(
    [...leftovers()].filter((name) => !before.has(name)),
    [],
    "temporary directory left behind",
  );
});
