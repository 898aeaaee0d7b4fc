/**
 * The API list benchmark: `package.list` latency (p50/p99/max) and throughput with N installed apps
 * (default 100) under C concurrent clients (default 50), next to a static-file baseline served by
 * the same HTTP stack (Fastify, same version, same process, same event loop) in the same run: a
 * GET of a JSON blob with exactly the bytes of a `package.list` answer, from memory. The ratio says
 * what the API itself costs on top of HTTP: authentication, JSON-RPC dispatch, params and result
 * validation, the store queries and the serialisation.
 *
 * The daemon runs in-process (`runDaemon`) on a temporary data directory whose store holds the apps,
 * recorded through the lifecycle API (as `package.install` would) and each given a fresh
 * observation of one running, healthy container, as the reconciler would after a pass. No container
 * exists: `podmanSocket` names a socket where nothing answers, so the reconciler never starts and
 * the list is served from the store alone (as invariant 7 wants). Clients authenticate with the CLI
 * token (a bearer), and run in a worker thread, so that their own work does not share the server's
 * event loop. Results are checked against their schemas as the build decides (not checked, unless
 * ARCHY_CHECK_RESULTS=1: src/api/rpc/result-checks.ts), since the daemon runs from the build there.
 * The two targets are measured in alternating phases, each of `--requests` requests.
 *
 *   node bench/api-list.bench.ts [--apps 100] [--clients 50] [--requests 2000] [--rounds 5]
 *                                [--warmup 1] [--target-p50-ms 250] [--target-p99-ms 1000] [--json]
 *
 * Target: package.list p50 <= --target-p50-ms and p99 <= --target-p99-ms: with 50 clients asking at
 * once, half of them have their list within a quarter of a second, nearly all within a second. Options it does not know (bench/run.ts passes the same
 * options to every benchmark) are ignored with a note on stderr.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import Fastify from "fastify";
import pino from "pino";
import { Pool } from "undici";
import { resultChecks } from "../src/api/rpc/result-checks.ts";
import { loadConfig } from "../src/daemon/config.ts";
import { runDaemon } from "../src/daemon/daemon.ts";
import { seedApps } from "./seed-apps.ts";
import {
  benchArgs,
  EXIT_ERROR,
  EXIT_INTERRUPTED,
  EXIT_MISSED,
  EXIT_PASS,
  intOption,
  machine,
  percentile,
  round,
  table,
} from "./support.ts";

/** What the daemon run from the build does (this file runs from the sources, where it would check). */
const CHECK_RESULTS = resultChecks(process.env.ARCHY_CHECK_RESULTS, "dist/main.js");
const STATIC_PATH = "/static/package-list.json";
const LIST_BODY = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "package.list", params: {} });

type Target = "list" | "static";
const LABELS: Record<Target, string> = {
  list: "package.list (POST /rpc/v1)",
  static: "static JSON, same bytes (GET)",
};

/** What the worker is told to do: one phase of `requests` requests to one target. */
type PhaseRequest = { target: Target; requests: number };
type PhaseResult = { target: Target; latenciesMs: Float64Array; wallMs: number; bytes: number };
type WorkerSetup = {
  clients: number;
  list: { origin: string; token: string };
  static: { origin: string };
};

// ================================================================ the clients (worker thread)

if (!isMainThread) {
  const setup = workerData as WorkerSetup;
  const pools: Record<Target, Pool> = {
    list: new Pool(setup.list.origin, { connections: setup.clients, pipelining: 1 }),
    static: new Pool(setup.static.origin, { connections: setup.clients, pipelining: 1 }),
  };
  const requests: Record<Target, Parameters<Pool["request"]>[0]> = {
    list: {
      path: "/rpc/v1",
      method: "POST",
      headers: { authorization: `Bearer ${setup.list.token}`, "content-type": "application/json" },
      body: LIST_BODY,
    },
    static: { path: STATIC_PATH, method: "GET" },
  };

  async function phase({ target, requests: total }: PhaseRequest): Promise<PhaseResult> {
    const latenciesMs = new Float64Array(total);
    let next = 0;
    let bytes = 0;
    const client = async () => {
      while (next < total) {
        const index = next++;
        const started = performance.now();
        const response = await pools[target].request(requests[target]);
        const body = Buffer.from(await response.body.arrayBuffer());
        latenciesMs[index] = performance.now() - started;
        // Cheap checks on every answer; the first one of a phase is parsed in full.
        if (response.statusCode !== 200 || body.length < 100 || body.includes('"error":'))
          throw new Error(`${LABELS[target]}: HTTP ${response.statusCode}: ${body.toString().slice(0, 300)}`);
        if (index === 0 && !Array.isArray(JSON.parse(body.toString()).result))
          throw new Error(`${LABELS[target]}: no list in ${body.toString().slice(0, 300)}`);
        bytes = body.length;
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: Math.min(setup.clients, total) }, client));
    return { target, latenciesMs, wallMs: performance.now() - started, bytes };
  }

  parentPort?.on("message", (message: PhaseRequest | "close") => {
    if (message === "close") {
      void Promise.all([pools.list.close(), pools.static.close()]).then(() => parentPort?.close());
      return;
    }
    phase(message).then(
      (result) => parentPort?.postMessage(result, [result.latenciesMs.buffer as ArrayBuffer]),
      (error: Error) => parentPort?.postMessage({ error: error.message }),
    );
  });
}

// ================================================================ the benchmark (main thread)

type TargetResult = {
  label: string;
  requests: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
  throughputPerSecond: number;
  responseBytes: number;
};

type Params = {
  apps: number;
  clients: number;
  requests: number;
  rounds: number;
  warmup: number;
  targetP50Ms: number;
  targetP99Ms: number;
  /** The target: package.list p99 within this many times the static answer's p99. */
  targetP99Ratio: number;
};

type Result = {
  benchmark: "api-list";
  date: string;
  machine: ReturnType<typeof machine>;
  params: Params;
  targets: Record<Target, TargetResult>;
  ratio: { p50: number; p99: number; throughput: number };
  /** Store statements that wrote during the measured package.list phases (archy_store_writes_total). */
  storeWritesDuringLists: number;
  pass: boolean;
};

const log = (message: string) => process.stderr.write(`api-list-bench: ${message}\n`);

function options(): { params: Params; json: boolean } {
  const { values, json } = benchArgs(
    ["apps", "clients", "requests", "rounds", "warmup", "target-p50-ms", "target-p99-ms", "target-p99-ratio"],
    "node bench/api-list.bench.ts [--apps 100] [--clients 50] [--requests 2000] [--rounds 5]\n" +
      "                                   [--warmup 1] [--target-p50-ms 250] [--target-p99-ms 1000]\n" +
      "                                   [--target-p99-ratio 2] [--json]",
    log,
  );
  return {
    params: {
      apps: intOption(values.apps, "apps", 100),
      clients: intOption(values.clients, "clients", 50),
      requests: intOption(values.requests, "requests", 2000),
      rounds: intOption(values.rounds, "rounds", 5),
      warmup: intOption(values.warmup, "warmup", 1, 0),
      targetP50Ms: intOption(values["target-p50-ms"], "target-p50-ms", 250),
      targetP99Ms: intOption(values["target-p99-ms"], "target-p99-ms", 1000),
      targetP99Ratio: intOption(values["target-p99-ratio"], "target-p99-ratio", 2),
    },
    json,
  };
}

async function benchmark(): Promise<number> {
  const { params, json } = options();
  let interrupted: NodeJS.Signals | undefined;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.on(signal, () => {
      if (interrupted) process.exit(EXIT_INTERRUPTED);
      interrupted = signal;
      log(`${signal}: stopping after the current phase, then cleaning up (again to exit at once)`);
    });

  const dataDir = mkdtempSync(join(tmpdir(), "archy-bench-api-"));
  let daemon: Awaited<ReturnType<typeof runDaemon>> | undefined;
  let baseline: { close(): Promise<unknown> } | undefined;
  let worker: Worker | undefined;
  try {
    // ---- the store: N apps, as installed and observed running
    seedApps(dataDir, params.apps);
    log(`recorded ${params.apps} apps in ${join(dataDir, "state", "store.db")}`);

    // ---- the daemon, in-process; Podman never answers, so nothing but the API runs
    let podmanGaveUp: () => void = () => {};
    const gaveUp = new Promise<void>((resolve) => {
      podmanGaveUp = resolve;
    });
    const destination = {
      write(line: string) {
        if (line.includes("cannot connect to Podman")) podmanGaveUp();
        else if (/"level":(50|60)/.test(line)) process.stderr.write(`daemon: ${line}`);
      },
    };
    const connectStarted = performance.now();
    // The daemon's own configuration, as `archy daemon` would load it, on a port of the system's choice.
    const config = loadConfig({
      flags: {
        "data-dir": dataDir,
        backend: "podman",
        "podman-socket": join(dataDir, "nothing-answers-here.sock"),
      },
      env: {},
    });
    daemon = await runDaemon(
      { ...config, listen: { host: "127.0.0.1", port: 0 }, resyncMs: 3_600_000, logLevel: "info" },
      { destination, checkResults: CHECK_RESULTS },
    );
    const token = readFileSync(join(dataDir, "state", "cli-token"), "utf8").trim();
    log(`daemon listens on ${daemon.url}`);

    // ---- the baseline: the same stack, serving the very bytes of one package.list answer
    const sample = await fetch(`${daemon.url}/rpc/v1`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: LIST_BODY,
    });
    const blob = Buffer.from(await sample.arrayBuffer());
    const listed = JSON.parse(blob.toString()).result;
    if (!Array.isArray(listed) || listed.length !== params.apps)
      throw new Error(`package.list answered ${blob.toString().slice(0, 300)}`);
    const server = Fastify({
      loggerInstance: pino({ level: "warn" }, { write: () => {} }),
      disableRequestLogging: true,
    });
    baseline = server;
    server.get(STATIC_PATH, (_request, reply) =>
      reply
        .header("content-type", "application/json; charset=utf-8")
        .header("cache-control", "no-store")
        .send(blob),
    );
    await server.listen({ host: "127.0.0.1", port: 0 });
    const address = server.server.address();
    const staticOrigin = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    log(`baseline serves the same ${blob.length} bytes at ${staticOrigin}${STATIC_PATH}`);

    // ---- the clients
    const setup: WorkerSetup = {
      clients: params.clients,
      list: { origin: daemon.url, token },
      static: { origin: staticOrigin },
    };
    const running = new Worker(fileURLToPath(import.meta.url), { workerData: setup });
    worker = running;
    running.on("error", (error) => log(`worker failed: ${error.message}`));
    const runPhase = (request: PhaseRequest) =>
      new Promise<PhaseResult>((resolve, reject) => {
        running.once("message", (message: PhaseResult | { error: string }) =>
          "error" in message ? reject(new Error(message.error)) : resolve(message),
        );
        running.postMessage(request);
      });

    const samples: Record<Target, number[]> = { list: [], static: [] };
    let storeWritesDuringLists = 0;
    const wall: Record<Target, number> = { list: 0, static: 0 };
    const bytes: Record<Target, number> = { list: 0, static: 0 };
    const phases = async (rounds: number, measured: boolean) => {
      for (let roundIndex = 0; roundIndex < rounds && !interrupted; roundIndex++) {
        // Alternate which target goes first, so neither always runs on a cold or a warm process.
        const order: Target[] = roundIndex % 2 === 0 ? ["list", "static"] : ["static", "list"];
        for (const target of order) {
          const writes = () => daemon?.orchestrator.store.writes ?? 0;
          const writesBefore = writes();
          const result = await runPhase({ target, requests: params.requests });
          if (!measured) continue;
          if (target === "list") storeWritesDuringLists += writes() - writesBefore;
          samples[target].push(...result.latenciesMs);
          wall[target] += result.wallMs;
          bytes[target] = result.bytes;
        }
      }
    };
    await phases(params.warmup, false);
    // The daemon polls the socket for a while before it gives up on Podman; the measured rounds
    // start once it did, so that they see an idle daemon.
    const gave = await Promise.race([gaveUp.then(() => true), sleep(30_000).then(() => false)]);
    log(
      gave
        ? `warm-up done, the daemon gave up on Podman after ${((performance.now() - connectStarted) / 1000).toFixed(0)} s; measuring ${params.rounds} rounds of ${params.requests} requests per target`
        : "the daemon still tries to reach Podman; measuring anyway",
    );
    await phases(params.rounds, true);
    if (interrupted) return EXIT_INTERRUPTED;

    const targets = {} as Record<Target, TargetResult>;
    for (const target of ["list", "static"] as const) {
      const sorted = [...samples[target]].sort((a, b) => a - b);
      targets[target] = {
        label: LABELS[target],
        requests: sorted.length,
        p50: round(percentile(sorted, 50)),
        p99: round(percentile(sorted, 99)),
        max: round(sorted.at(-1) ?? Number.NaN),
        mean: round(sorted.reduce((sum, x) => sum + x, 0) / sorted.length),
        throughputPerSecond: round(sorted.length / (wall[target] / 1000), 0),
        responseBytes: bytes[target],
      };
    }
    const result: Result = {
      benchmark: "api-list",
      date: new Date().toISOString(),
      machine: machine(),
      params,
      targets,
      ratio: {
        p50: round(targets.list.p50 / targets.static.p50, 3),
        p99: round(targets.list.p99 / targets.static.p99, 3),
        throughput: round(targets.static.throughputPerSecond / targets.list.throughputPerSecond, 3),
      },
      storeWritesDuringLists,
      pass:
        targets.list.p50 <= params.targetP50Ms &&
        targets.list.p99 <= params.targetP99Ms &&
        targets.list.p99 <= params.targetP99Ratio * targets.static.p99,
    };
    process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : `${report(result)}\n`);
    return result.pass ? EXIT_PASS : EXIT_MISSED;
  } finally {
    if (worker) {
      const exited = new Promise((resolve) => worker?.once("exit", resolve));
      worker.postMessage("close");
      await Promise.race([exited, sleep(2_000)]);
      await worker.terminate();
    }
    await baseline?.close();
    await daemon?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function report(result: Result): string {
  const ms = (x: number) => x.toFixed(2);
  const p = result.params;
  const rows = (["list", "static"] as const).map((target) => {
    const t = result.targets[target];
    return [
      t.label,
      ms(t.p50),
      ms(t.p99),
      ms(t.max),
      t.throughputPerSecond.toFixed(0),
      String(t.responseBytes),
    ];
  });
  return [
    `api-list benchmark, ${result.date}: ${p.apps} installed apps, ${p.clients} concurrent clients (keep-alive)`,
    `${result.machine.cpus} CPUs (${result.machine.cpuModel}), ${result.machine.memoryGiB} GiB, node ${result.machine.node}, load ${result.machine.loadAverage}`,
    `${p.rounds} rounds of ${p.requests} requests per target after ${p.warmup} warm-up, the two targets alternating; milliseconds; results ${CHECK_RESULTS ? "checked" : "not checked"} against their schemas`,
    "",
    table(["target", "p50", "p99", "max", "req/s", "bytes"], rows),
    "",
    `package.list / static: p50 ${result.ratio.p50.toFixed(2)}x, p99 ${result.ratio.p99.toFixed(2)}x, throughput ${result.ratio.throughput.toFixed(2)}x lower`,
    `store writes during the measured package.list calls: ${result.storeWritesDuringLists}`,
    `package.list p50 ${ms(result.targets.list.p50)} ms / p99 ${ms(result.targets.list.p99)} ms, targets <= ${p.targetP50Ms} / ${p.targetP99Ms} ms and p99 <= ${p.targetP99Ratio}x static: ${result.pass ? "PASS" : "FAIL"}`,
  ].join("\n");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

if (isMainThread)
  benchmark().then(
    (code) => process.exit(code),
    (error: unknown) => {
      log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      process.exit(EXIT_ERROR);
    },
  );
