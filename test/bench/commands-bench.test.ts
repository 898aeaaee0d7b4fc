/**
 * The commands benchmark (bench/commands.bench.ts) runs end to end at a tiny size through
 * `bench/run.ts`: every command timed on both sides (each `archy` and `podman` command exited 0, or
 * the benchmark exits 2), a ratio per command, and it cleaned up. Timing is not asserted: this
 * machine is shared and small.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runTinyBench } from "../support/bench-run.ts";
import { podman } from "../support/rootless.ts";

type Stats = { n: number; p50: number };
type CommandsBench = {
  benchmark: string;
  pass: boolean;
  prefix: string;
  params: { rounds: number; warmup: number; targetRatio: number };
  commands: Record<string, { bare: string; cli: Stats; byHand: Stats; ratio: number }>;
};

test("commands benchmark: archy install/stop/start and podman run/stop/start each timed in every round, and it cleans up", {
  timeout: 900_000,
}, async () => {
  const { bench, stderr } = await runTinyBench<CommandsBench>("commands", ["--rounds", "1", "--warmup", "0"]);
  assert.deepEqual(bench.params, { rounds: 1, warmup: 0, targetRatio: 1.25 });
  assert.deepEqual(Object.keys(bench.commands), ["install", "stop", "start"]);
  for (const [command, { cli, byHand, ratio }] of Object.entries(bench.commands)) {
    assert.equal(cli.n, 1, `${command}: archy timed once`);
    assert.equal(byHand.n, 1, `${command}: podman timed once`);
    assert.ok(cli.p50 > 0 && byHand.p50 > 0, `${command}: both sides took time`);
    assert.equal(
      ratio,
      Math.round((cli.p50 / byHand.p50) * 1000) / 1000,
      `${command}: the ratio is of the two p50s`,
    );
  }
  assert.match(stderr, /round 1\/1: stop, archy: \d+ ms/);
  assert.match(stderr, /commands-bench: clean\n/);
  const left = await podman(["ps", "-a", "--filter", `name=${bench.prefix}`, "--format", "{{.Names}}"]);
  assert.equal(left.trim(), "", "no container of the run is left");
  const networks = await podman([
    "network",
    "ls",
    "--filter",
    `name=${bench.prefix}`,
    "--format",
    "{{.Name}}",
  ]);
  assert.equal(networks.trim(), "", "no network of the run is left");
});
