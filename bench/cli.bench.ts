/**
 * The CLI start benchmark: `archy ls --json` from process spawn to exit, against `node -e 0` (the
 * floor: starting the same Node and doing nothing) in interleaved rounds, so that both meet the same
 * machine load. The TypeScript sources run directly (`node src/cli/main.ts ls --json`, what
 * bin/archy ran before the build) are measured in the same rounds, for comparison.
 *
 * A daemon runs in this process (`runDaemon`) on a temporary store of `--apps` (100) installed apps
 * (bench/daemon-fixture.ts) with a Podman that never answers, so each `ls` gets the complete list
 * from the store (~80 KB of JSON at 100 apps): the command's whole path, its answer included.
 *
 *   node bench/cli.bench.ts [--apps 100] [--rounds 20] [--warmup 2] [--target-ratio 1.5] [--json]
 *
 * Target: p50 of `bin/archy ls --json` ≤ --target-ratio × p50 of `node -e 0`. Needs no Podman.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runDaemon } from "../src/daemon/daemon.ts";
import { CODE_ROOT } from "../src/system/code-root.ts";
import { seedStore, startFakePodman } from "./daemon-fixture.ts";
import {
  benchArgs,
  EXIT_ERROR,
  EXIT_INTERRUPTED,
  EXIT_MISSED,
  EXIT_PASS,
  intOption,
  machine,
  ratioOption,
  round,
  stopOnSignal,
  summarize,
  table,
} from "./support.ts";

const log = (message: string) => process.stderr.write(`cli-bench: ${message}\n`);
const NODE = join(CODE_ROOT, "node_modules", "node", "bin", "node");

type Method = "node" | "build" | "bare-build" | "source";
const LABELS: Record<Method, string> = {
  node: "node -e 0",
  build: "bin/archy ls --json (the build)",
  "bare-build": "node dist/main.js ls --json (the build without bin/archy's staleness check)",
  source: "node src/cli/main.ts ls --json (sources)",
};

/** Runs argv to its exit; the milliseconds from spawn, and what it printed on stdout. */
function timed(argv: string[]): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = performance.now() - started;
      if (code !== 0) reject(new Error(`${argv.join(" ")} exited ${code}: ${stderr.slice(-1000)}`));
      else resolve({ ms, stdout });
    });
  });
}

async function benchmark(): Promise<number> {
  const { values, json } = benchArgs(
    ["apps", "rounds", "warmup", "target-ratio"],
    "node bench/cli.bench.ts [--apps 100] [--rounds 20] [--warmup 2] [--target-ratio 1.5] [--json]",
    log,
  );
  const params = {
    apps: intOption(values.apps, "apps", 100, 0),
    rounds: intOption(values.rounds, "rounds", 20),
    warmup: intOption(values.warmup, "warmup", 2, 0),
    targetRatio: ratioOption(values["target-ratio"], 1.5),
  };
  const stop = stopOnSignal(log, "the current round");
  const dir = mkdtempSync(join(tmpdir(), "archy-bench-cli-"));
  const podman = await startFakePodman(dir, { delayMs: 3_600_000 });
  let daemon: Awaited<ReturnType<typeof runDaemon>> | undefined;
  try {
    const { isStale, buildCli } = await import("../scripts/build.ts");
    if (isStale()) log(`the build was older than the sources: built ${await buildCli()}`);
    const dataDir = join(dir, "data");
    await seedStore(dataDir, params.apps);
    daemon = await runDaemon(
      {
        dataDir,
        listen: { host: "127.0.0.1", port: 0 },
        appsDir: undefined,
        backend: "podman",
        podmanSocket: podman.path,
        allowedHosts: [],
        catalogs: [],
        catalogRefreshMs: 3_600_000,
        resyncMs: 3_600_000,
        logLevel: "warn",
      },
      { destination: { write: () => {} } },
    );
    const connection = [
      "ls",
      "--json",
      "--url",
      daemon.url,
      "--token-file",
      join(dataDir, "state", "cli-token"),
    ];
    const argv: Record<Method, string[]> = {
      node: [NODE, "-e", "0"],
      build: [join(CODE_ROOT, "bin", "archy"), ...connection],
      "bare-build": [NODE, join(CODE_ROOT, "dist", "main.js"), ...connection],
      source: [
        NODE,
        "--disable-warning=ExperimentalWarning",
        join(CODE_ROOT, "src", "cli", "main.ts"),
        ...connection,
      ],
    };
    const methods: Method[] = ["node", "build", "bare-build", "source"];
    const samples: Record<Method, number[]> = { node: [], build: [], "bare-build": [], source: [] };
    let answerBytes = 0;
    for (let i = 0; i < params.warmup + params.rounds && !stop.requested; i++) {
      // The order rotates every round: none always runs first (or right after another).
      const order = methods.map((_, k) => methods[(i + k) % methods.length] as Method);
      for (const method of order) {
        const run = await timed(argv[method]);
        if (method !== "node") {
          const apps = JSON.parse(run.stdout) as unknown[];
          if (apps.length !== params.apps) throw new Error(`${LABELS[method]} listed ${apps.length} apps`);
          answerBytes = run.stdout.length;
        }
        if (i >= params.warmup) samples[method].push(run.ms);
      }
    }
    if (stop.requested) return EXIT_INTERRUPTED;
    const stats = Object.fromEntries(methods.map((m) => [m, summarize(samples[m])])) as Record<
      Method,
      ReturnType<typeof summarize>
    >;
    const buildRatio = stats.build.p50 / stats.node.p50;
    const result = {
      benchmark: "cli",
      date: new Date().toISOString(),
      machine: machine(),
      params,
      answerBytes,
      methods: Object.fromEntries(
        methods.map((m) => [
          m,
          { label: LABELS[m], p50: round(stats[m].p50), p90: round(stats[m].p90), max: round(stats[m].max) },
        ]),
      ),
      ratios: Object.fromEntries(methods.map((m) => [m, round(stats[m].p50 / stats.node.p50, 3)])),
      pass: buildRatio <= params.targetRatio,
    };
    if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else
      process.stdout.write(
        `${[
          `cli benchmark, ${result.date}: spawn to exit, ${params.rounds} interleaved rounds after ${params.warmup} warm-up; ${params.apps} apps listed (${answerBytes} bytes)`,
          `${result.machine.cpus} CPUs (${result.machine.cpuModel}), node ${result.machine.node}, load ${result.machine.loadAverage}`,
          "",
          table(
            ["command", "p50 ms", "p90 ms", "max ms", "p50 / node -e 0"],
            methods.map((m) => [
              LABELS[m],
              stats[m].p50.toFixed(1),
              stats[m].p90.toFixed(1),
              stats[m].max.toFixed(1),
              (stats[m].p50 / stats.node.p50).toFixed(2),
            ]),
          ),
          "",
          `target: archy ls --json p50 <= ${params.targetRatio} x node -e 0: ${result.pass ? "PASS" : "FAIL"}`,
        ].join("\n")}\n`,
      );
    return result.pass ? EXIT_PASS : EXIT_MISSED;
  } finally {
    await daemon?.stop();
    await podman.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

benchmark().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(EXIT_ERROR);
  },
);
