/**
 * The app-access proxy benchmark: what reaching an app through the daemon's proxy (host routing,
 * the session check, header rewriting, @fastify/reply-from and http-proxy-3) costs next to reaching
 * it straight on its loopback port, measured side by side in one run, in alternating phases:
 *
 *   - a small GET (1 KiB of JSON), `--clients` at once, `--requests` per phase: throughput and p99;
 *   - a download of `--download-mb` MiB (default 100), `--downloads` per phase, one at a time:
 *     throughput (MiB/s) and p99 of the download's time;
 *   - a WebSocket round trip (a 32-byte message and its echo), `--messages` per phase, one at a
 *     time: p50 and p99.
 *
 * The app is a small Node server in a process of its own (bench/proxy-upstream.ts). The daemon runs
 * in-process (`runDaemon`) with the app installed through the API (the reconciler never starts: no
 * Podman answers), with TLS off so that both paths speak plain HTTP and the ratio is the proxy's
 * alone (TLS is the browser's price for either). The clients run in a process of their own (this
 * file again, with --clients-process): their work shares neither the daemon's event loop nor its
 * memory. The proxy's requests carry an app session got through the login, as a browser's do.
 *
 *   node bench/proxy.bench.ts [--clients 20] [--requests 2000] [--download-mb 100] [--downloads 3]
 *                             [--messages 500] [--rounds 3] [--max-rss-growth-mb 50] [--json]
 *
 * Targets (issue 16): through the proxy, throughput at least 0.8 of the direct one and p99 at most
 * 1.5 times it, for the small GET and the download; WebSocket round trip p99 at most 1.5 times; and
 * memory bounded: the daemon's RSS (this process: the app and the clients are others) grows by at
 * most `--max-rss-growth-mb` (50, the bound of the real-app test) above where it was before each
 * measured download while downloads stream through the proxy, sampled every 20 ms (its growth while downloads
 * go straight to the app, which the daemon does not see, is shown beside it: the noise floor).
 * Options it does not know are ignored with a note on stderr.
 */
import { type ChildProcess, fork, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Pool, request } from "undici";
import WebSocket from "ws";
import { runDaemon } from "../src/daemon/daemon.ts";
import {
  benchArgs,
  cpuMs,
  EXIT_ERROR,
  EXIT_INTERRUPTED,
  EXIT_MISSED,
  EXIT_PASS,
  intOption,
  machine,
  percentile,
  round,
  stopOnSignal,
  table,
} from "./support.ts";

const APP = "bench-app";
const MiB = 1024 * 1024;
type Path = "direct" | "proxy";
type Kind = "small" | "download" | "ws";
type Endpoint = { origin: string; host: string; cookie: string };
type ClientsSetup = { clients: number; endpoints: Record<Path, Endpoint> };
type PhaseRequest = { kind: Kind; path: Path; count: number; bytes: number };
type PhaseResult = { latenciesMs: number[]; wallMs: number; bytes: number };

// ================================================================ the clients (a process of their own)

/** The argument that makes this file the clients' process. */
const CLIENTS = "--clients-process";
const isClients = process.argv.includes(CLIENTS);

if (isClients) {
  const setup = JSON.parse(process.env.PROXY_BENCH_SETUP ?? "{}") as ClientsSetup;
  const pools: Record<Path, Pool> = {
    direct: new Pool(setup.endpoints.direct.origin, { connections: setup.clients }),
    proxy: new Pool(setup.endpoints.proxy.origin, { connections: setup.clients }),
  };
  const headers = (path: Path) => {
    const { host, cookie } = setup.endpoints[path];
    return cookie ? { host, cookie } : { host };
  };
  const get = async (path: Path, url: string) => {
    const response = await pools[path].request({ path: url, method: "GET", headers: headers(path) });
    let bytes = 0;
    for await (const chunk of response.body) bytes += (chunk as Buffer).length;
    if (response.statusCode !== 200) throw new Error(`${path} ${url}: HTTP ${response.statusCode}`);
    return bytes;
  };
  const phases: Record<Kind, (request: PhaseRequest) => Promise<PhaseResult>> = {
    small: async ({ path, count }) => {
      const latenciesMs: number[] = [];
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: setup.clients }, async () => {
          while (next++ < count) {
            const at = performance.now();
            await get(path, "/small");
            latenciesMs.push(performance.now() - at);
          }
        }),
      );
      return { latenciesMs, wallMs: performance.now() - started, bytes: 0 };
    },
    download: async ({ path, count, bytes }) => {
      const latenciesMs: number[] = [];
      const started = performance.now();
      for (let i = 0; i < count; i++) {
        const at = performance.now();
        const got = await get(path, `/bytes?n=${bytes}`);
        if (got !== bytes) throw new Error(`${path}: ${got} of ${bytes} bytes`);
        latenciesMs.push(performance.now() - at);
      }
      return { latenciesMs, wallMs: performance.now() - started, bytes: bytes * count };
    },
    ws: async ({ path, count }) => {
      const { origin, host, cookie } = setup.endpoints[path];
      const socket = new WebSocket(`${origin.replace("http", "ws")}/`, {
        headers: cookie ? { host, cookie, origin: `http://${host}` } : { host },
      });
      await new Promise((resolve, reject) => {
        socket.once("open", resolve);
        socket.once("error", reject);
      });
      const message = Buffer.alloc(32, 7);
      const latenciesMs: number[] = [];
      const started = performance.now();
      for (let i = 0; i < count; i++) {
        const at = performance.now();
        const echoed = new Promise((resolve) => socket.once("message", resolve));
        socket.send(message);
        await echoed;
        latenciesMs.push(performance.now() - at);
      }
      socket.close();
      return { latenciesMs, wallMs: performance.now() - started, bytes: 0 };
    },
  };
  process.on("message", (message: PhaseRequest | "close") => {
    if (message === "close") {
      void Promise.all([pools.direct.close(), pools.proxy.close()]).then(() => process.exit(0));
      return;
    }
    phases[message.kind](message).then(
      (result) => process.send?.(result),
      (error: Error) => process.send?.({ error: error.message }),
    );
  });
}

// ================================================================ the benchmark (main thread)

type Params = {
  maxRssGrowthMb: number;
  clients: number;
  requests: number;
  downloadMb: number;
  downloads: number;
  messages: number;
  rounds: number;
};
type Measured = { p50: number; p99: number; throughput: number; samples: number };
/** CPU time (user + system) per unit of work (a request, a MiB, a message), in microseconds. */
type CpuPerUnit = { daemonUs: number; appUs: number };
type Row = {
  kind: Kind;
  unit: string;
  direct: Measured;
  proxy: Measured;
  throughputRatio: number;
  p99Ratio: number;
  pass: boolean;
  cpu: Record<Path, CpuPerUnit>;
};

const log = (message: string) => process.stderr.write(`proxy-bench: ${message}\n`);

function options(): { params: Params; json: boolean } {
  const { values, json } = benchArgs(
    ["clients", "requests", "download-mb", "downloads", "messages", "rounds", "max-rss-growth-mb"],
    "node bench/proxy.bench.ts [--clients 20] [--requests 2000] [--download-mb 100] [--downloads 3]\n" +
      "                              [--messages 500] [--rounds 3] [--max-rss-growth-mb 50] [--json]",
    log,
  );
  return {
    params: {
      clients: intOption(values.clients, "clients", 20),
      requests: intOption(values.requests, "requests", 2000),
      downloadMb: intOption(values["download-mb"], "download-mb", 100),
      downloads: intOption(values.downloads, "downloads", 3),
      messages: intOption(values.messages, "messages", 500),
      rounds: intOption(values.rounds, "rounds", 3),
      maxRssGrowthMb: intOption(values["max-rss-growth-mb"], "max-rss-growth-mb", 50),
    },
    json,
  };
}

function startUpstream(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL("proxy-upstream.ts", import.meta.url))], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.stdout?.once("data", (chunk: Buffer) => resolve({ child, port: Number(chunk.toString().trim()) }));
  });
}

/** An app session as a browser gets one: the app host, the node's login form, the ticket. */
async function appCookie(port: number, password: string): Promise<string> {
  const origin = `http://127.0.0.1:${port}`;
  const appHost = `${APP}.localhost:${port}`;
  const to = `http://${appHost}/`;
  const posted = await request(`${origin}/app-login`, {
    method: "POST",
    headers: { host: `localhost:${port}`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ password, to }).toString(),
  });
  await posted.body.dump();
  const ticket = new URL(String(posted.headers.location));
  const landed = await request(`${origin}${ticket.pathname}${ticket.search}`, { headers: { host: appHost } });
  await landed.body.dump();
  const cookie = [landed.headers["set-cookie"]].flat().find((c) => c?.startsWith("archy_app="));
  if (!cookie) throw new Error(`no app session: HTTP ${posted.statusCode}, ${landed.statusCode}`);
  return cookie.split(";")[0] as string;
}

function measured(results: PhaseResult[], unitBytes: boolean, count: number): Measured {
  const sorted = results.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  const wallMs = results.reduce((sum, r) => sum + r.wallMs, 0);
  const bytes = results.reduce((sum, r) => sum + r.bytes, 0);
  return {
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    throughput: round(
      unitBytes ? bytes / MiB / (wallMs / 1000) : (count * results.length) / (wallMs / 1000),
      1,
    ),
    samples: sorted.length,
  };
}

async function benchmark(): Promise<number> {
  const { params, json } = options();
  const stop = stopOnSignal(log, "the current phase");
  const dir = mkdtempSync(join(tmpdir(), "archy-bench-proxy-"));
  let upstream: ChildProcess | undefined;
  let daemon: Awaited<ReturnType<typeof runDaemon>> | undefined;
  let clients: ChildProcess | undefined;
  try {
    const started = await startUpstream();
    upstream = started.child;
    mkdirSync(join(dir, "apps", APP), { recursive: true });
    writeFileSync(
      join(dir, "apps", APP, "manifest.yml"),
      `manifest: 1
id: ${APP}
version: 1.0.0
name: Bench app
description: The app behind the proxy benchmark
containers:
  web:
    image: localhost/archy-test/busybox:1
    ports: [{ container: 8080, host: ${started.port} }]
interfaces:
  ui: { container: web, port: 8080 }
`,
    );
    daemon = await runDaemon(
      {
        dataDir: join(dir, "data"),
        listen: { host: "127.0.0.1", port: 0 },
        appsDir: join(dir, "apps"),
        backend: "podman",
        podmanSocket: join(dir, "nothing-answers-here.sock"),
        allowedHosts: [],
        resyncMs: 3_600_000,
        logLevel: "error",
        catalogs: [],
        catalogRefreshMs: 3_600_000,
        access: { nodeName: "localhost", tls: false, redirectHttp: false },
      },
      { destination: { write: () => {} } },
    );
    const port = Number(new URL(daemon.url).port);
    const token = readFileSync(join(dir, "data", "state", "cli-token"), "utf8").trim();
    const rpc = async (method: string, params: unknown, bearer?: string) => {
      const response = await fetch(`${daemon?.url}/rpc/v1`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      });
      const body = (await response.json()) as { error?: { message: string } };
      if (body.error) throw new Error(`${method}: ${body.error.message}`);
    };
    const password = "benchmark password";
    await rpc("auth.setup", { password });
    await rpc("package.install", { id: APP }, token);
    const cookie = await appCookie(port, password);
    log(`the app listens on 127.0.0.1:${started.port}; the proxy on ${daemon.url} as ${APP}.localhost`);

    const setup: ClientsSetup = {
      clients: params.clients,
      endpoints: {
        direct: { origin: `http://127.0.0.1:${started.port}`, host: `127.0.0.1:${started.port}`, cookie: "" },
        proxy: { origin: `http://127.0.0.1:${port}`, host: `${APP}.localhost:${port}`, cookie },
      },
    };
    const running = fork(fileURLToPath(import.meta.url), [CLIENTS], {
      env: { ...process.env, PROXY_BENCH_SETUP: JSON.stringify(setup) },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    clients = running;
    const phase = (request: PhaseRequest) =>
      new Promise<PhaseResult>((resolve, reject) => {
        const died = (code: number | null) => reject(new Error(`the clients' process exited (${code})`));
        running.once("exit", died);
        running.once("message", (message: PhaseResult | { error: string }) => {
          running.off("exit", died);
          if ("error" in message) reject(new Error(message.error));
          else resolve(message);
        });
        running.send(request);
      });
    // The highest RSS seen while downloads of the measured rounds stream, against the RSS right
    // before each (the warm-up's download sized V8's young generation once: it grows to its maximum
    // under steady allocation, then never again); the direct path's growth (the daemon idle
    // meanwhile) is the noise floor, for reference.
    const rssGrowth: Record<Path, number> = { direct: 0, proxy: 0 };
    const rssSampled = async (request: PhaseRequest) => {
      if (request.kind !== "download") return phase(request);
      const before = process.memoryUsage.rss();
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage.rss());
      }, 20);
      try {
        return await phase(request);
      } finally {
        clearInterval(sampler);
        const growth = Math.max(peak, process.memoryUsage.rss()) - before;
        rssGrowth[request.path] = Math.max(rssGrowth[request.path], growth);
      }
    };
    // CPU time spent by the daemon (this process) and the app in each measured phase: what a
    // request costs each of them whatever else the machine runs (the wall-clock ratios are skewed
    // by the load: three processes wait for two cores).
    const cpuSpent: Record<Kind, Record<Path, { daemon: number; app: number }>> = {
      small: { direct: { daemon: 0, app: 0 }, proxy: { daemon: 0, app: 0 } },
      download: { direct: { daemon: 0, app: 0 }, proxy: { daemon: 0, app: 0 } },
      ws: { direct: { daemon: 0, app: 0 }, proxy: { daemon: 0, app: 0 } },
    };
    const appPid = started.child.pid as number;
    const timed = async (request: PhaseRequest) => {
      const daemonBefore = cpuMs(process.pid);
      const appBefore = cpuMs(appPid);
      const result = await rssSampled(request);
      const spent = cpuSpent[request.kind][request.path];
      spent.daemon += cpuMs(process.pid) - daemonBefore;
      spent.app += cpuMs(appPid) - appBefore;
      return result;
    };
    const counts: Record<Kind, number> = {
      small: params.requests,
      download: params.downloads,
      ws: params.messages,
    };
    const bytes = params.downloadMb * MiB;
    const results: Record<Kind, Record<Path, PhaseResult[]>> = {
      small: { direct: [], proxy: [] },
      download: { direct: [], proxy: [] },
      ws: { direct: [], proxy: [] },
    };
    // One round unmeasured (JIT, pools, the heap), then alternating phases.
    for (let roundIndex = 0; roundIndex <= params.rounds && !stop.requested; roundIndex++)
      for (const kind of ["small", "download", "ws"] as const) {
        const order: Path[] = roundIndex % 2 === 0 ? ["direct", "proxy"] : ["proxy", "direct"];
        for (const path of order) {
          const request = { kind, path, count: counts[kind], bytes };
          if (roundIndex === 0) await phase({ ...request, count: Math.ceil(counts[kind] / 4) });
          else results[kind][path].push(await timed(request));
        }
        if (roundIndex === 0) log(`warm-up of ${kind} done`);
      }
    if (stop.requested) return EXIT_INTERRUPTED;
    const rows: Row[] = (["small", "download", "ws"] as const).map((kind) => {
      const direct = measured(results[kind].direct, kind === "download", counts[kind]);
      const proxy = measured(results[kind].proxy, kind === "download", counts[kind]);
      const throughputRatio = round(proxy.throughput / direct.throughput, 3);
      const p99Ratio = round(proxy.p99 / direct.p99, 3);
      const pass = kind === "ws" ? p99Ratio <= 1.5 : throughputRatio >= 0.8 && p99Ratio <= 1.5;
      const unit = kind === "download" ? "MiB/s" : kind === "small" ? "req/s" : "round trips/s";
      const units =
        params.rounds * (kind === "download" ? params.downloads * params.downloadMb : counts[kind]);
      const perUnit = (path: Path): CpuPerUnit => ({
        daemonUs: round((cpuSpent[kind][path].daemon * 1000) / units, 1),
        appUs: round((cpuSpent[kind][path].app * 1000) / units, 1),
      });
      const cpu = { direct: perUnit("direct"), proxy: perUnit("proxy") };
      return { kind, unit, direct, proxy, throughputRatio, p99Ratio, pass, cpu };
    });
    const memory = {
      rssGrowthMb: round(rssGrowth.proxy / MiB, 1),
      directRssGrowthMb: round(rssGrowth.direct / MiB, 1),
      maxRssGrowthMb: params.maxRssGrowthMb,
      pass: rssGrowth.proxy <= params.maxRssGrowthMb * MiB,
    };
    const result = {
      benchmark: "proxy",
      date: new Date().toISOString(),
      machine: machine(),
      params,
      rows,
      memory,
      pass: rows.every((r) => r.pass) && memory.pass,
    };
    process.stdout.write(
      json
        ? `${JSON.stringify(result, null, 2)}\n`
        : `${table(
            [
              "",
              "direct p50 / p99 ms",
              "proxy p50 / p99 ms",
              "p99 ×",
              "direct",
              "proxy",
              "throughput ×",
              "target",
            ],
            rows.map((r) => [
              r.kind === "small"
                ? "small GET"
                : r.kind === "download"
                  ? `${params.downloadMb} MiB download`
                  : "WebSocket round trip",
              `${r.direct.p50} / ${r.direct.p99}`,
              `${r.proxy.p50} / ${r.proxy.p99}`,
              String(r.p99Ratio),
              `${r.direct.throughput} ${r.unit}`,
              `${r.proxy.throughput} ${r.unit}`,
              String(r.throughputRatio),
              r.pass ? "met" : "missed",
            ]),
          )}\n\n${table(
            ["CPU time per unit, µs", "unit", "direct: app", "proxy: daemon", "proxy: app", "daemon / app"],
            rows.map((r) => [
              r.kind === "small" ? "small GET" : r.kind === "download" ? "download" : "WebSocket round trip",
              r.kind === "download" ? "MiB" : r.kind === "small" ? "request" : "message",
              String(r.cpu.direct.appUs),
              String(r.cpu.proxy.daemonUs),
              String(r.cpu.proxy.appUs),
              r.cpu.direct.appUs > 0 ? String(round(r.cpu.proxy.daemonUs / r.cpu.direct.appUs, 2)) : "-",
            ]),
          )}\n\nRSS growth while ${params.downloadMb} MiB downloads streamed through the proxy: ${memory.rssGrowthMb} MiB (bound ${memory.maxRssGrowthMb} MiB: ${memory.pass ? "met" : "missed"}; straight to the app: ${memory.directRssGrowthMb} MiB); load ${result.machine.loadAverage}\n`,
    );
    return result.pass ? EXIT_PASS : EXIT_MISSED;
  } finally {
    if (clients && clients.exitCode === null) {
      const exited = new Promise((resolve) => clients?.once("exit", resolve));
      clients.send("close");
      await exited;
    }
    await daemon?.stop();
    upstream?.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

if (!isClients)
  benchmark().then(
    (code) => process.exit(code),
    (error: Error) => {
      log(`could not run: ${error.stack ?? error.message}`);
      process.exit(EXIT_ERROR);
    },
  );
