/**
 * The peers benchmark (bench/peers.bench.ts) runs end to end at a tiny size through `bench/run.ts`:
 * the image installed each way each round (from the registry, through the sharing node's cache, from
 * the stand-in peer; an install that fails or pulls nothing makes the benchmark exit 2), the peer's
 * installs asked the registry for no blob, and nothing is left behind. Timing is not asserted: this
 * machine is shared and small.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { test } from "node:test";
import { runTinyBench } from "../support/bench-run.ts";
import { podman } from "../support/rootless.ts";

type PeersBench = {
  benchmark: string;
  pass: boolean;
  image: string;
  params: { mib: number; rounds: number; targetRatio: number };
  methods: Record<string, { n: number; p50: number; originBlobBytes: number[] }>;
  ratio: number;
};

/** The stand-in peer's scratch directories (the registry's and the lab's are theirs to remove). */
const ours = () => new Set(readdirSync(tmpdir()).filter((name) => name.startsWith("archy-image-peer-")));

test("peers benchmark: runs at a tiny size through bench/run.ts, the peer spares the registry every blob, and it cleans up", {
  timeout: 600_000,
}, async () => {
  const before = ours();
  const { bench, stderr } = await runTinyBench<PeersBench>("peers", ["--mib", "1", "--rounds", "1"]);
  assert.deepEqual(bench.params, { mib: 1, rounds: 1, targetRatio: 1.5 });
  assert.deepEqual(Object.keys(bench.methods).sort(), ["peer", "registry", "sharing"]);
  for (const [method, stats] of Object.entries(bench.methods)) {
    assert.equal(stats.n, 1, method);
    assert.ok(stats.p50 > 0, method);
  }
  assert.deepEqual(
    bench.methods.peer?.originBlobBytes,
    [0],
    "the registry sent no blob for the peer's install",
  );
  assert.ok(
    (bench.methods.registry?.originBlobBytes[0] ?? 0) > 512 * 1024,
    "the registry sent the 1 MiB layer",
  );
  assert.match(bench.image, /^127\.0\.0\.1:\d+\/archy\/.+@sha256:[0-9a-f]{64}$/);
  assert.match(stderr, /peers-bench: clean\n/);
  await assert.rejects(podman(["image", "exists", bench.image]), "the pulled image is removed");
  assert.deepEqual(
    [...ours()].filter((name) => !before.has(name)),
    [],
    "temporary directory left behind",
  );
});
