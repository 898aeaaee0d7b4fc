/**
 * The idle benchmark: what the daemon costs a small node when nothing happens — its resident memory
 * (RSS) and CPU with 0, 100 and 500 installed apps, next to a bare Node process (`setInterval` and
 * nothing else) measured over the same seconds, plus its start (process spawn to the first
 * `package.list` that lists every app), its reconcile passes and, per pass, its Podman calls and
 * store writes (from its own /metrics: `archy_reconcile_passes_total`,
 * `archy_podman_call_duration_seconds`, `archy_store_writes_total`).
 *
 * For each size: a store of N one-container apps (no health check) recorded as `package.install`
 * records them, a fake Podman (bench/daemon-fixture.ts) that lists every app's container running,
 * so that each pass finds every app converged, and `archy daemon` started as the product starts it —
 * `bin/archy daemon` (the build, the daemon's Node flags) as the service user when run as root —
 * with its default settings (a resync pass every 30 s). `--from source` runs `node src/cli/main.ts
 * daemon` instead (type stripping, no flags: the daemon before the build), for comparison. Once the
 * list is complete and the daemon has connected, it settles (`--settle-seconds`), then RSS and CPU
 * are read from /proc over `--idle-seconds` for the daemon and the bare Node alike.
 *
 *   node bench/idle.bench.ts [--apps 0,100,500] [--idle-seconds 60] [--settle-seconds 10]
 *                            [--from build|source] [--judge-apps 100] [--target-rss-mb 60]
 *                            [--target-cpu-pct 0.5] [--target-start-ms 1000] [--json]
 *
 * Targets, at the sizes in --judge-apps: RSS ≤ --target-rss-mb, CPU ≤ --target-cpu-pct of a core,
 * spawn to the complete list ≤ --target-start-ms. Needs no Podman and no root (as root, the daemon
 * runs as the service user, `archipelago`, from a readable copy of the code when needed).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isRoot, readableBy, resolveUser, signalGroup, spawnAs, stageCode } from "../src/gate/run-as.ts";
import { SERVICE_USER } from "../src/host/layout.ts";
import { CODE_ROOT } from "../src/system/code-root.ts";
import type { RunAs } from "../src/system/exec.ts";
import { httpGet, listCall, metric, seedStore, startFakePodman } from "./daemon-fixture.ts";
import {
  benchArgs,
  cpuMs,
  EXIT_ERROR,
  EXIT_INTERRUPTED,
  EXIT_MISSED,
  EXIT_PASS,
  intOption,
  machine,
  round,
  stopOnSignal,
  table,
} from "./support.ts";

const log = (message: string) => process.stderr.write(`idle-bench: ${message}\n`);
const TMP_PREFIX = "archy-bench-idle-";

type Params = {
  apps: number[];
  idleSeconds: number;
  settleSeconds: number;
  from: "build" | "source";
  judgeApps: number[];
  targetRssMb: number;
  targetCpuPct: number;
  targetStartMs: number;
};

type SizeResult = {
  apps: number;
  /** Process spawn to the first package.list answer listing every app. */
  spawnToListMs: number;
  daemon: { rssMb: number; peakRssMb: number; cpuPct: number };
  bare: { rssMb: number; cpuPct: number };
  /** Over the idle window. */
  passes: number;
  podmanCallsPerPass: number;
  storeWritesPerPass: number;
  podmanCalls: number;
  storeWrites: number;
  /** Requests the fake Podman refused (anything but list, ping, info, events): 0 when converged. */
  podmanRefused: number;
  podmanRefusedExamples: string[];
  pass: boolean;
};

type Result = {
  benchmark: "idle";
  date: string;
  machine: ReturnType<typeof machine>;
  params: Params;
  sizes: SizeResult[];
  pass: boolean;
};

function options(): { params: Params; json: boolean } {
  const { values, json } = benchArgs(
    [
      "apps",
      "idle-seconds",
      "settle-seconds",
      "from",
      "judge-apps",
      "target-rss-mb",
      "target-cpu-pct",
      "target-start-ms",
    ],
    "node bench/idle.bench.ts [--apps 0,100,500] [--idle-seconds 60] [--settle-seconds 10]\n" +
      "                         [--from build|source] [--judge-apps 100] [--target-rss-mb 60]\n" +
      "                         [--target-cpu-pct 0.5] [--target-start-ms 1000] [--json]",
    log,
  );
  const list = (value: string | undefined, name: string, fallback: number[]) =>
    value === undefined ? fallback : value.split(",").map((part) => intOption(part.trim(), name, 0, 0));
  const from = values.from ?? "build";
  if (from !== "build" && from !== "source") {
    process.stderr.write(`--from must be build or source (got '${from}')\n`);
    process.exit(EXIT_ERROR);
  }
  const cpu = Number(values["target-cpu-pct"] ?? 0.5);
  return {
    params: {
      apps: list(values.apps, "apps", [0, 100, 500]),
      idleSeconds: intOption(values["idle-seconds"], "idle-seconds", 60),
      settleSeconds: intOption(values["settle-seconds"], "settle-seconds", 10, 0),
      from,
      judgeApps: list(values["judge-apps"], "judge-apps", [100]),
      targetRssMb: intOption(values["target-rss-mb"], "target-rss-mb", 60),
      targetCpuPct: Number.isFinite(cpu) && cpu > 0 ? cpu : 0.5,
      targetStartMs: intOption(values["target-start-ms"], "target-start-ms", 1000),
    },
    json,
  };
}

/** Resident memory now and at its peak (MB), from /proc. */
function memory(pid: number): { rssMb: number; peakRssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb("VmRSS") / 1024, peakRssMb: kb("VmHWM") / 1024 };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The daemon's user and a copy of the code it can read. */
async function daemonUser(root: string): Promise<{ user: RunAs; codeRoot: string }> {
  const user = resolveUser(isRoot() ? SERVICE_USER : undefined);
  const readable = await readableBy(user, join(CODE_ROOT, "bin", "archy"));
  return { user, codeRoot: readable ? CODE_ROOT : stageCode(CODE_ROOT, join(root, "code")) };
}

async function measureSize(
  apps: number,
  params: Params,
  root: string,
  who: { user: RunAs; codeRoot: string },
  live: Set<ChildProcess>,
): Promise<SizeResult> {
  const dir = join(root, `apps-${apps}`);
  const dataDir = join(dir, "data");
  mkdirSync(dataDir, { recursive: true });
  chmodSync(dir, 0o755);
  const containers = await seedStore(dataDir, apps, { prefix: "idle", health: false });
  const podman = await startFakePodman(dir, { containers });
  chmodSync(podman.path, 0o666);
  if (isRoot())
    for (const path of [dataDir, join(dataDir, "state"), join(dataDir, "state", "store.db")])
      chownSync(path, who.user.uid, who.user.gid);
  const port = await freePort();
  const entry =
    params.from === "build"
      ? [join(who.codeRoot, "bin", "archy")]
      : [
          join(who.codeRoot, "node_modules", "node", "bin", "node"),
          "--disable-warning=ExperimentalWarning",
          join(who.codeRoot, "src", "cli", "main.ts"),
        ];
  const bare = spawn(
    join(CODE_ROOT, "node_modules", "node", "bin", "node"),
    ["-e", "setInterval(() => {}, 2 ** 30)"],
    {
      stdio: "ignore",
    },
  );
  live.add(bare);
  const spawned = performance.now();
  const daemon = spawnAs(
    who.user,
    [
      ...entry,
      "daemon",
      "--data-dir",
      dataDir,
      "--listen",
      `127.0.0.1:${port}`,
      "--backend",
      "podman",
      "--podman-socket",
      podman.path,
    ],
    join(dir, "daemon.log"),
    { ARCHY_LOG_LEVEL: "warn" },
  );
  live.add(daemon);
  try {
    // Spawn to the first complete list: the token file appears, then the API answers.
    let spawnToListMs = Number.NaN;
    for (let tries = 0; Number.isNaN(spawnToListMs); tries++) {
      if (daemon.exitCode !== null)
        throw new Error(`the daemon exited: ${readFileSync(join(dir, "daemon.log"), "utf8").slice(-2000)}`);
      if (tries > 6000) throw new Error("no complete package.list within 60 s");
      try {
        const token = readFileSync(join(dataDir, "state", "cli-token"), "utf8").trim();
        const answer = JSON.parse(await listCall(port, token)) as { result?: unknown[] };
        if (answer.result?.length === apps) spawnToListMs = performance.now() - spawned;
      } catch {
        await sleep(5);
      }
    }
    for (let tries = 0; metric(await httpGet(port, "/metrics"), "archy_podman_connected") !== 1; tries++) {
      if (tries > 600) throw new Error("the daemon did not connect to the fake Podman within 60 s");
      await sleep(100);
    }
    await sleep(params.settleSeconds * 1000);
    const pid = daemon.pid as number;
    const before = {
      metrics: await httpGet(port, "/metrics"),
      daemon: cpuMs(pid),
      bare: cpuMs(bare.pid as number),
    };
    const refusedBefore = podman.refused();
    const windowStart = performance.now();
    await sleep(params.idleSeconds * 1000);
    const windowMs = performance.now() - windowStart;
    const after = {
      metrics: await httpGet(port, "/metrics"),
      daemon: cpuMs(pid),
      bare: cpuMs(bare.pid as number),
    };
    const delta = (name: string) => metric(after.metrics, name) - metric(before.metrics, name);
    const passes = delta("archy_reconcile_passes_total");
    const podmanCalls = delta("archy_podman_call_duration_seconds_count");
    const storeWrites = delta("archy_store_writes_total");
    const mem = memory(pid);
    const result: SizeResult = {
      apps,
      spawnToListMs: round(spawnToListMs, 1),
      daemon: {
        rssMb: round(mem.rssMb, 1),
        peakRssMb: round(mem.peakRssMb, 1),
        cpuPct: round(((after.daemon - before.daemon) / windowMs) * 100, 2),
      },
      bare: {
        rssMb: round(memory(bare.pid as number).rssMb, 1),
        cpuPct: round(((after.bare - before.bare) / windowMs) * 100, 2),
      },
      passes,
      podmanCalls,
      storeWrites,
      podmanCallsPerPass: passes > 0 ? round(podmanCalls / passes, 1) : Number.NaN,
      storeWritesPerPass: passes > 0 ? round(storeWrites / passes, 1) : Number.NaN,
      podmanRefused: podman.refused() - refusedBefore,
      podmanRefusedExamples: podman.refusedExamples(),
      pass: true,
    };
    result.pass =
      !params.judgeApps.includes(apps) ||
      (result.daemon.rssMb <= params.targetRssMb &&
        result.daemon.cpuPct <= params.targetCpuPct &&
        result.spawnToListMs <= params.targetStartMs);
    return result;
  } finally {
    await signalGroup(daemon, "SIGTERM", 10_000);
    await signalGroup(daemon, "SIGKILL", 5_000);
    live.delete(daemon);
    bare.kill("SIGKILL");
    live.delete(bare);
    await podman.close();
  }
}

async function benchmark(): Promise<number> {
  const { params, json } = options();
  const live = new Set<ChildProcess>();
  const stop = stopOnSignal(log, "the current size");
  const root = mkdtempSync(join(tmpdir(), TMP_PREFIX));
  chmodSync(root, 0o755);
  try {
    if (params.from === "build") {
      // What `npm ci` and bin/archy do: a build older than the sources is made again (as root here;
      // the daemon's user could not, and would run the sources instead).
      const { isStale, buildCli } = await import("../scripts/build.ts");
      if (isStale()) log(`the build was older than the sources: built ${await buildCli()}`);
    }
    const who = await daemonUser(root);
    log(`the daemon runs as ${who.user.name} from ${who.codeRoot} (${params.from})`);
    const sizes: SizeResult[] = [];
    for (const apps of params.apps) {
      if (stop.requested) return EXIT_INTERRUPTED;
      const size = await measureSize(apps, params, root, who, live);
      log(
        `${apps} apps: RSS ${size.daemon.rssMb} MB (bare Node ${size.bare.rssMb}), CPU ${size.daemon.cpuPct} % ` +
          `(bare ${size.bare.cpuPct} %), spawn to list ${size.spawnToListMs} ms, ${size.passes} passes, ` +
          `${size.podmanCalls} Podman calls, ${size.storeWrites} store writes` +
          (size.podmanRefused > 0
            ? `; Podman requests refused: ${size.podmanRefusedExamples.join(", ")}`
            : ""),
      );
      sizes.push(size);
    }
    const result: Result = {
      benchmark: "idle",
      date: new Date().toISOString(),
      machine: machine(),
      params,
      sizes,
      pass: sizes.every((s) => s.pass),
    };
    process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : `${report(result)}\n`);
    return result.pass ? EXIT_PASS : EXIT_MISSED;
  } finally {
    for (const child of live) child.kill("SIGKILL");
    rmSync(root, { recursive: true, force: true });
  }
}

function report(result: Result): string {
  const p = result.params;
  const m = result.machine;
  const rows = result.sizes.map((s) => [
    String(s.apps),
    `${s.daemon.rssMb} (peak ${s.daemon.peakRssMb})`,
    String(s.bare.rssMb),
    (s.daemon.rssMb / s.bare.rssMb).toFixed(2),
    `${s.daemon.cpuPct} / ${s.bare.cpuPct}`,
    String(s.spawnToListMs),
    String(s.passes),
    Number.isNaN(s.podmanCallsPerPass) ? "-" : String(s.podmanCallsPerPass),
    Number.isNaN(s.storeWritesPerPass) ? "-" : String(s.storeWritesPerPass),
    String(s.podmanRefused),
    p.judgeApps.includes(s.apps) ? (s.pass ? "PASS" : "FAIL") : "-",
  ]);
  return [
    `idle benchmark, ${result.date}: the daemon (${p.from}) idle with N apps next to a bare Node, over ${p.idleSeconds} s after ${p.settleSeconds} s`,
    `${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, node ${m.node}, load ${m.loadAverage}`,
    "",
    table(
      [
        "apps",
        "daemon RSS MB",
        "bare RSS MB",
        "ratio",
        "CPU % daemon / bare",
        "spawn to list ms",
        "passes",
        "Podman calls/pass",
        "store writes/pass",
        "refused",
        "verdict",
      ],
      rows,
    ),
    "",
    `targets at ${p.judgeApps.join(", ")} apps: RSS <= ${p.targetRssMb} MB, CPU <= ${p.targetCpuPct} %, spawn to list <= ${p.targetStartMs} ms: ${result.pass ? "PASS" : "FAIL"}`,
  ].join("\n");
}

benchmark().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(EXIT_ERROR);
  },
);
