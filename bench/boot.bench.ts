/**
 * The boot benchmark: from the daemon's start to the first complete app list, with N installed apps
 * (default 100) while Podman answers slowly (every call, `_ping` included, only after
 * `--delay-ms`, default 30 s) — invariant 7: a slow or restarting Podman never makes apps disappear
 * or wait. The same is measured with a Podman that answers at once, for comparison.
 *
 * Setup: a store of N apps, recorded through the lifecycle API as `package.install` records them
 * (a small test manifest on the test image, renamed, on host ports of their own), each marked
 * running with an observation of one running, healthy container five minutes old (the state a
 * reboot leaves). A fake Podman listens on a unix socket in this process: it answers `_ping`, `info`,
 * the container list (empty) and the event stream like Podman, and anything else with an error —
 * each only after the mode's delay. Nothing but that socket and loopback HTTP is used: no root, no
 * real Podman, nothing to clean up but a temporary directory.
 *
 * Each round runs in a fresh process (cold: no code warmed up by an earlier round) on a fresh copy
 * of the store: it starts the daemon in-process (`runDaemon`, the code `archy daemon` runs, with
 * `podmanSocket` on the fake) and calls `package.list` over HTTP with the CLI token the daemon
 * writes (`Authorization: Bearer`) until the answer lists all N apps. Timed: from the `runDaemon`
 * call to that answer (module loading excluded; the time since the process started is reported
 * too). The fake counts what it answered before the list came: 0 in the slow mode, so the list
 * did not wait for Podman.
 *
 *   node bench/boot.bench.ts [--apps 100] [--rounds 10] [--warmup 1] [--delay-ms 30000]
 *                            [--target-ms 200] [--json]
 *
 * Target: slow-Podman p90 < --target-ms. Options it does not know (bench/run.ts passes the same
 * options to every benchmark) are ignored with a note on stderr.
 */
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type FakePodman, listCall, seedStore, startFakePodman } from "./daemon-fixture.ts";
import {
  benchArgs,
  EXIT_ERROR,
  EXIT_INTERRUPTED,
  EXIT_MISSED,
  EXIT_PASS,
  intOption,
  machine,
  round,
  summarize,
  table,
} from "./support.ts";

const log = (message: string) => process.stderr.write(`boot-bench: ${message}\n`);
const TMP_PREFIX = "archy-bench-boot-";

/** What one round (a child process) reports on its stdout. */
type RoundResult = {
  /** From the `runDaemon` call to the first package.list answer listing every app. */
  startToListMs: number;
  /** From the `runDaemon` call until it resolved (the API listens). */
  startToListenMs: number;
  /** From the process's start (performance.timeOrigin) to the same answer. */
  processToListMs: number;
  /** package.list calls until the list was complete (1: the first answer was). */
  calls: number;
  apps: number;
};

// ================================================================ one round (child process)

async function roundChild(dataDir: string, socket: string, apps: number): Promise<void> {
  // Imported here, before the clock starts: what is timed is the daemon's start, not module loading.
  const { runDaemon } = await import("../src/daemon/daemon.ts");
  let lines = 0;
  const started = performance.now();
  const daemon = await runDaemon(
    {
      dataDir,
      listen: { host: "127.0.0.1", port: 0 },
      appsDir: undefined,
      backend: "podman",
      podmanSocket: socket,
      allowedHosts: [],
      catalogs: [],
      catalogRefreshMs: 3_600_000,
      resyncMs: 3_600_000,
      logLevel: "info",
    },
    { destination: { write: () => void lines++ } },
  );
  const listening = performance.now();
  const token = readFileSync(join(dataDir, "state", "cli-token"), "utf8").trim();
  const { port } = new URL(daemon.url);
  let calls = 0;
  let listed = 0;
  while (listed < apps) {
    calls++;
    const answer = JSON.parse(await listCall(Number(port), token)) as { result?: unknown[]; error?: unknown };
    if (!Array.isArray(answer.result))
      throw new Error(`package.list answered ${JSON.stringify(answer.error)}`);
    listed = answer.result.length;
    if (calls > 1000) throw new Error(`package.list lists ${listed} of ${apps} apps after 1000 calls`);
  }
  const done = performance.now();
  const result: RoundResult = {
    startToListMs: done - started,
    startToListenMs: listening - started,
    processToListMs: done,
    calls,
    apps: listed,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // The connection attempt to the slow Podman is still waiting: a stop does not wait for it.
  await daemon.stop();
  process.exit(0);
}

// ================================================================ the benchmark

type Params = { apps: number; rounds: number; warmup: number; delayMs: number; targetMs: number };
type Mode = "slow" | "fast";
type ModeResult = {
  label: string;
  podmanDelayMs: number;
  rounds: number;
  startToList: { p50: number; p90: number; max: number; min: number; mean: number };
  startToListenP50: number;
  processToListP50: number;
  /** The most Podman requests answered before the list came, over the rounds. */
  podmanAnsweredBeforeList: number;
  podmanRequestsBeforeList: number;
  maxCalls: number;
};
type Result = {
  benchmark: "boot";
  date: string;
  machine: ReturnType<typeof machine>;
  params: Params;
  modes: Record<Mode, ModeResult>;
  pass: boolean;
};

function options(): { params: Params; json: boolean; child?: { dataDir: string; socket: string } } {
  const { values, json } = benchArgs(
    // round-data-dir and round-socket are internal: one round in this process.
    ["apps", "rounds", "warmup", "delay-ms", "target-ms", "round-data-dir", "round-socket"],
    "node bench/boot.bench.ts [--apps 100] [--rounds 10] [--warmup 1] [--delay-ms 30000]\n" +
      "                                [--target-ms 200] [--json]",
    log,
  );
  const dataDir = values["round-data-dir"];
  const socket = values["round-socket"];
  return {
    params: {
      apps: intOption(values.apps, "apps", 100),
      rounds: intOption(values.rounds, "rounds", 10),
      warmup: intOption(values.warmup, "warmup", 1, 0),
      delayMs: intOption(values["delay-ms"], "delay-ms", 30_000, 0),
      targetMs: intOption(values["target-ms"], "target-ms", 200),
    },
    json,
    ...(dataDir && socket ? { child: { dataDir, socket } } : {}),
  };
}

/** Runs one round in a fresh process; resolves with its result and what the fake had answered. */
function runRound(
  template: string,
  dir: string,
  podman: FakePodman,
  apps: number,
): Promise<RoundResult & { podmanReceived: number; podmanAnswered: number }> {
  const dataDir = join(dir, "data");
  rmSync(dataDir, { recursive: true, force: true });
  cpSync(template, dataDir, { recursive: true });
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        fileURLToPath(import.meta.url),
        "--apps",
        String(apps),
        "--round-data-dir",
        dataDir,
        "--round-socket",
        podman.path,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    let counts: { podmanReceived: number; podmanAnswered: number } | undefined;
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk;
      // What Podman had answered when the list came (read as soon as the child reports it).
      if (!counts && stdout.includes("\n"))
        counts = { podmanReceived: podman.received(), podmanAnswered: podman.answered() };
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const line = stdout.split("\n")[0] ?? "";
      if (code !== 0 || !counts || line === "")
        return reject(new Error(`round process exited ${code}:\n${stderr.slice(-3000)}`));
      resolve({ ...(JSON.parse(line) as RoundResult), ...counts });
    });
  });
}

async function benchmark(): Promise<number> {
  const { params, json, child } = options();
  if (child) {
    await roundChild(child.dataDir, child.socket, params.apps);
    return EXIT_PASS;
  }
  let interrupted: NodeJS.Signals | undefined;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.on(signal, () => {
      if (interrupted) process.exit(EXIT_INTERRUPTED);
      interrupted = signal;
      log(`${signal}: stopping after the current round, then cleaning up (again to exit at once)`);
    });

  const root = mkdtempSync(join(tmpdir(), TMP_PREFIX));
  const fakes: FakePodman[] = [];
  try {
    const template = join(root, "template");
    await seedStore(template, params.apps);
    log(`recorded ${params.apps} apps in ${join(template, "state", "store.db")}`);

    const modes = {} as Record<Mode, ModeResult>;
    for (const mode of ["slow", "fast"] as const) {
      const delayMs = mode === "slow" ? params.delayMs : 0;
      const samples: Array<RoundResult & { podmanReceived: number; podmanAnswered: number }> = [];
      for (let i = 0; i < params.warmup + params.rounds && !interrupted; i++) {
        // A fresh fake per round: nothing left waiting from the round before.
        const dir = join(root, `${mode}-${i}`);
        mkdirSync(dir, { recursive: true });
        const podman = await startFakePodman(dir, { delayMs });
        fakes.push(podman);
        try {
          const result = await runRound(template, dir, podman, params.apps);
          if (i >= params.warmup) samples.push(result);
          log(
            `${mode} Podman (${delayMs} ms) round ${i + 1 - params.warmup}${i < params.warmup ? " (warm-up)" : ""}: ` +
              `${result.startToListMs.toFixed(1)} ms to the list of ${result.apps} apps; ` +
              `Podman answered ${result.podmanAnswered} of ${result.podmanReceived} requests before it`,
          );
        } finally {
          await podman.close();
          fakes.splice(fakes.indexOf(podman), 1);
          rmSync(dir, { recursive: true, force: true });
        }
      }
      if (interrupted) return EXIT_INTERRUPTED;
      const stats = summarize(samples.map((s) => s.startToListMs));
      modes[mode] = {
        label: mode === "slow" ? `Podman answers after ${delayMs / 1000} s` : "Podman answers at once",
        podmanDelayMs: delayMs,
        rounds: samples.length,
        startToList: {
          p50: round(stats.p50),
          p90: round(stats.p90),
          max: round(stats.max),
          min: round(stats.min),
          mean: round(stats.mean),
        },
        startToListenP50: round(summarize(samples.map((s) => s.startToListenMs)).p50),
        processToListP50: round(summarize(samples.map((s) => s.processToListMs)).p50),
        podmanAnsweredBeforeList: Math.max(...samples.map((s) => s.podmanAnswered)),
        podmanRequestsBeforeList: Math.max(...samples.map((s) => s.podmanReceived)),
        maxCalls: Math.max(...samples.map((s) => s.calls)),
      };
    }
    const slow = modes.slow;
    const result: Result = {
      benchmark: "boot",
      date: new Date().toISOString(),
      machine: machine(),
      params,
      modes,
      // The slow Podman must not have answered anything (else the list may have waited for it).
      pass:
        slow.startToList.p90 < params.targetMs &&
        (params.delayMs < 10_000 || slow.podmanAnsweredBeforeList === 0),
    };
    process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : `${report(result)}\n`);
    return result.pass ? EXIT_PASS : EXIT_MISSED;
  } finally {
    for (const fake of fakes) await fake.close();
    rmSync(root, { recursive: true, force: true });
  }
}

function report(result: Result): string {
  const ms = (x: number) => x.toFixed(1);
  const p = result.params;
  const rows = (["slow", "fast"] as const).map((mode) => {
    const m = result.modes[mode];
    return [
      m.label,
      ms(m.startToList.p50),
      ms(m.startToList.p90),
      ms(m.startToList.max),
      ms(m.startToListenP50),
      ms(m.processToListP50),
      `${m.podmanAnsweredBeforeList}/${m.podmanRequestsBeforeList}`,
    ];
  });
  const slow = result.modes.slow.startToList;
  return [
    `boot benchmark, ${result.date}: daemon start to the first complete package.list, ${p.apps} installed apps`,
    `${result.machine.cpus} CPUs (${result.machine.cpuModel}), ${result.machine.memoryGiB} GiB, node ${result.machine.node}, load ${result.machine.loadAverage}`,
    `${p.rounds} rounds per mode after ${p.warmup} warm-up, each in a fresh process on a fresh copy of the store; milliseconds`,
    "",
    table(["Podman", "p50", "p90", "max", "listen p50", "since process p50", "Podman answered"], rows),
    "",
    `"Podman answered": the most requests the fake Podman had answered / received when the list came, over the rounds.`,
    `slow Podman: p50 ${ms(slow.p50)} / p90 ${ms(slow.p90)} / max ${ms(slow.max)} ms, target p90 < ${p.targetMs} ms: ${result.pass ? "PASS" : "FAIL"}`,
  ].join("\n");
}

benchmark().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(EXIT_ERROR);
  },
);
