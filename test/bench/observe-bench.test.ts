/**
 * The observation benchmark (bench/observe.bench.ts) runs end to end at a tiny size, through
 * `bench/run.ts` and on its own, and leaves nothing behind: no container with its prefix, no
 * Podman service, no socket directory — also when interrupted with Ctrl-C halfway. Timing is not
 * asserted: this machine is shared and small.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { podman } from "../support/rootless.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

type Run = { code: number | null; stdout: string; stderr: string };

/** Runs a bench script with the pinned Node; `onStderr` may signal the child while it runs. */
function runBench(
  script: string,
  args: string[],
  onStderr?: (text: string, child: ReturnType<typeof spawn>) => void,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk;
      onStderr?.(stderr, child);
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function assertNothingLeft(prefix: string): Promise<void> {
  const names = await podman(["ps", "-a", "--filter", `name=^${prefix}-`, "--format", "{{.Names}}"]);
  assert.equal(names.trim(), "", `containers left behind:\n${names}`);
  const dirs = readdirSync("/tmp").filter((name) => name.startsWith(`${prefix}-`));
  assert.deepEqual(dirs, [], "socket directory left behind");
  const processes = readdirSync("/proc")
    .filter((pid) => /^\d+$/.test(pid))
    .map((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      } catch {
        return "";
      }
    })
    .filter((cmdline) => cmdline.includes(`/tmp/${prefix}-`));
  assert.deepEqual(processes, [], "podman service left running");
}

type BenchJson = {
  benchmark: string;
  pass: boolean;
  params: { containers: number; noise: number; rounds: number };
  observed: { ours: number };
  methods: Record<string, { n: number; p50: number; callsPerObservation: number | null }>;
  ratio: { observeToBare: number; target: number };
};

describe("observe benchmark", () => {
  it("runs at a tiny size through bench/run.ts and cleans up", { timeout: 240_000 }, async () => {
    const prefix = `archy-bench-t${process.pid}`;
    const run = await runBench("bench/run.ts", [
      "observe",
      "--containers",
      "10",
      "--noise",
      "3",
      "--rounds",
      "3",
      "--warmup",
      "1",
      "--prefix",
      prefix,
      "--json",
    ]);
    // 0: target met, 1: missed. Either is fine here (no timing assertions); 2 would be an error.
    assert.ok(run.code === 0 || run.code === 1, `exit ${run.code}\n${run.stderr}`);
    const output = JSON.parse(run.stdout) as { pass: boolean; benchmarks: BenchJson[] };
    assert.equal(output.benchmarks.length, 1);
    const bench = output.benchmarks[0] as BenchJson;
    assert.equal(bench.benchmark, "observe");
    assert.equal(output.pass, bench.pass);
    assert.equal(run.code, bench.pass ? 0 : 1);
    assert.equal(bench.params.containers, 10);
    assert.equal(bench.observed.ours, 10);
    for (const method of ["observe", "bare", "list"]) assert.equal(bench.methods[method]?.n, 3, method);
    // One labelled list call per observation, whatever the number of containers.
    assert.equal(bench.methods.observe?.callsPerObservation, 1);
    assert.equal(bench.methods.list?.callsPerObservation, 1);
    assert.equal(bench.methods.bare?.callsPerObservation, null);
    assert.equal(bench.ratio.target, 1.5);
    assert.match(run.stderr, /observe-bench: clean\n/);
    await assertNothingLeft(prefix);
  });

  it("cleans up when interrupted with Ctrl-C while creating", { timeout: 240_000 }, async () => {
    const prefix = `archy-bench-i${process.pid}`;
    let sent = false;
    const run = await runBench(
      "bench/observe.bench.ts",
      ["--containers", "10", "--rounds", "100000", "--prefix", prefix],
      (stderr, child) => {
        if (!sent && stderr.includes("creating")) {
          sent = true;
          child.kill("SIGINT");
        }
      },
    );
    assert.ok(sent, run.stderr);
    assert.equal(run.code, 130, run.stderr);
    assert.match(run.stderr, /observe-bench: clean\n/);
    assert.equal(run.stdout, "");
    await assertNothingLeft(prefix);
  });
});
