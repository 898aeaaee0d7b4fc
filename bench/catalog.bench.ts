/**
 * The catalog benchmark: a node refreshing a signed catalog of N apps (default 1,000) over HTTP on
 * loopback. Measured per round, on a fresh node each round:
 *
 * - first refresh: the whole TUF client workflow from the pinned root (root, timestamp, snapshot,
 *   targets metadata) plus every app's manifest downloaded and verified (length, SHA-256, BLAKE3)
 *   and parsed: the full verification of the catalog;
 * - no-change refresh: the same node again, nothing published in between.
 *
 * Then one node refreshes `--refreshes` (100) more times with nothing published, and its memory is
 * read before and after (heap after a full collection, and RSS).
 *
 * Targets: a no-change refresh transfers only `timestamp.json` (besides the TUF client's probe for
 * the next root version, which the server answers 404 with no body), and the heap grows by at most
 * `--max-growth-mb` (2) over the no-change refreshes. Times are reported, not judged.
 *
 *   node bench/catalog.bench.ts [--apps 1000] [--rounds 5] [--refreshes 100] [--max-growth-mb 2] [--json]
 *
 * The catalog is built once with the publisher's library (what `archy catalog add/sign/publish`
 * run), in a temporary directory removed at the end, also on failure and on Ctrl-C.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { CatalogSource } from "../src/catalog/node/source.ts";
import { addApps, initCatalog, publishCatalog, signCatalog } from "../src/catalog/publisher.ts";
// The tests' static server: a plain node:http file server on 127.0.0.1, as a web server would serve it.
import { manifestText, serve } from "../test/catalog/support.ts";
import {
  benchArgs,
  EXIT_ERROR,
  EXIT_INTERRUPTED,
  EXIT_MISSED,
  EXIT_PASS,
  intOption,
  machine,
  round,
  stopOnSignal,
  summarize,
  table,
} from "./support.ts";

const log = (message: string) => process.stderr.write(`catalog: ${message}\n`);

type Refresh = { ms: number; requests: number; bytes: number; fetched: string[] };

function options() {
  const { values, json } = benchArgs(
    ["apps", "rounds", "refreshes", "max-growth-mb"],
    "node bench/catalog.bench.ts [--apps 1000] [--rounds 5] [--refreshes 100] [--max-growth-mb 2] [--json]",
    log,
  );
  return {
    params: {
      apps: intOption(values.apps, "apps", 1000),
      rounds: intOption(values.rounds, "rounds", 5),
      refreshes: intOption(values.refreshes, "refreshes", 100),
      maxGrowthMb: intOption(values["max-growth-mb"], "max-growth-mb", 2),
    },
    json,
  };
}

async function benchmark(): Promise<number> {
  const { params, json } = options();
  const stop = stopOnSignal(log, "the current step");
  const dir = mkdtempSync(join(tmpdir(), "archy-bench-catalog-"));
  let server: Awaited<ReturnType<typeof serve>> | undefined;
  try {
    // ---- the publisher: N apps, each a manifest and a small file, one catalog
    const repo = join(dir, "repo");
    const out = join(dir, "out");
    const now = Date.now();
    const built = performance.now();
    await initCatalog(repo, {
      keys: { root: 1, targets: 1, snapshot: 1, timestamp: 1 },
      thresholds: { root: 1, targets: 1, snapshot: 1, timestamp: 1 },
      now,
    });
    const paths = Array.from({ length: params.apps }, (_, i) => {
      const id = `bench-app-${String(i + 1).padStart(4, "0")}`;
      const app = join(dir, "apps", id);
      mkdirSync(app, { recursive: true });
      writeFileSync(join(app, "manifest.yml"), manifestText(id, "1.0.0"));
      return app;
    });
    await addApps(repo, paths, { now });
    await signCatalog(repo, { roles: [], keyFiles: [], renew: false, now });
    const { files } = await publishCatalog(repo, out, now);
    const buildMs = performance.now() - built;
    log(
      `built, signed and published ${params.apps} apps (${files} files) in ${(buildMs / 1000).toFixed(1)} s`,
    );
    server = await serve(out);

    // ---- the node
    const first: Refresh[] = [];
    const unchanged: Refresh[] = [];
    for (let i = 0; i < params.rounds && !stop.requested; i++) {
      const node = new CatalogSource(
        { name: "bench", url: server.url, root: join(out, "metadata", "1.root.json") },
        { stateDir: join(dir, `node-${i}`) },
      );
      first.push(await timed(node, params.apps));
      unchanged.push(await timed(node, params.apps));
      log(
        `round ${i + 1}: first ${round(first.at(-1)?.ms ?? 0)} ms, no change ${round(unchanged.at(-1)?.ms ?? 0)} ms`,
      );
    }
    if (stop.requested) return EXIT_INTERRUPTED;

    // ---- memory over many no-change refreshes of one node (already refreshed once)
    const node = new CatalogSource(
      { name: "bench", url: server.url, root: join(out, "metadata", "1.root.json") },
      { stateDir: join(dir, "node-memory") },
    );
    await timed(node, params.apps);
    await timed(node, params.apps);
    const memBefore = memory();
    const repeated: Refresh[] = [];
    for (let i = 0; i < params.refreshes && !stop.requested; i++)
      repeated.push(await timed(node, params.apps));
    if (stop.requested) return EXIT_INTERRUPTED;
    const memAfter = memory();
    const heapGrowthMb = round(memAfter.heapMb - memBefore.heapMb);
    log(
      `${params.refreshes} no-change refreshes: heap ${round(memBefore.heapMb)} -> ${round(memAfter.heapMb)} MB, RSS ${round(memBefore.rssMb)} -> ${round(memAfter.rssMb)} MB`,
    );
    const onlyTimestamp = unchanged.every(onlyTimestampFetched);
    const summary = (rounds: Refresh[]) => {
      const stats = summarize(rounds.map((r) => r.ms));
      return {
        p50Ms: round(stats.p50),
        maxMs: round(stats.max),
        requests: rounds[0]?.requests ?? 0,
        bytes: rounds[0]?.bytes ?? 0,
        fetched: rounds[0]?.fetched.length ?? 0,
      };
    };
    const result = {
      benchmark: "catalog",
      date: new Date().toISOString(),
      machine: machine(),
      params,
      buildMs: round(buildMs),
      firstRefresh: summary(first),
      noChangeRefresh: { ...summary(unchanged), files: unchanged[0]?.fetched ?? [] },
      repeated: {
        refreshes: repeated.length,
        p50Ms: round(summarize(repeated.map((r) => r.ms)).p50),
        onlyTimestamp: repeated.every(onlyTimestampFetched),
        heapMb: { before: round(memBefore.heapMb), after: round(memAfter.heapMb), growth: heapGrowthMb },
        rssMb: { before: round(memBefore.rssMb), after: round(memAfter.rssMb) },
      },
      pass: onlyTimestamp && repeated.every(onlyTimestampFetched) && heapGrowthMb <= params.maxGrowthMb,
    };
    if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else
      process.stdout.write(
        [
          `catalog benchmark, ${result.date}: ${params.apps} apps, ${params.rounds} rounds, each on a fresh node, over HTTP on loopback`,
          `${result.machine.cpus} CPUs (${result.machine.cpuModel}), node ${result.machine.node}, load ${result.machine.loadAverage}`,
          `building the catalog (add, sign, publish): ${(buildMs / 1000).toFixed(1)} s`,
          "",
          table(
            ["refresh", "p50 ms", "max ms", "requests", "files fetched", "bytes"],
            [
              ["first (full verification)", first, result.firstRefresh] as const,
              ["no change", unchanged, result.noChangeRefresh] as const,
            ].map(([name, , s]) => [
              name,
              s.p50Ms.toFixed(1),
              s.maxMs.toFixed(1),
              String(s.requests),
              String(s.fetched),
              String(s.bytes),
            ]),
          ),
          "",
          `no-change refresh fetched: ${result.noChangeRefresh.files.join(", ") || "nothing"} (plus ${result.noChangeRefresh.requests - result.noChangeRefresh.fetched} request(s) answered 404: the next root version)`,
          `${result.repeated.refreshes} more no-change refreshes of one node: p50 ${result.repeated.p50Ms} ms; heap after a full collection ${result.repeated.heapMb.before} -> ${result.repeated.heapMb.after} MB (growth ${result.repeated.heapMb.growth} MB), RSS ${result.repeated.rssMb.before} -> ${result.repeated.rssMb.after} MB`,
          `targets: a no-change refresh transfers only timestamp.json; the heap grows by at most ${params.maxGrowthMb} MB over the no-change refreshes: ${result.pass ? "PASS" : "FAIL"}`,
        ]
          .join("\n")
          .concat("\n"),
      );
    return result.pass ? EXIT_PASS : EXIT_MISSED;
  } finally {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const onlyTimestampFetched = (r: Refresh) =>
  r.fetched.length === 1 && r.fetched[0]?.endsWith("/metadata/timestamp.json") === true;

/** The heap after a full collection, and the resident memory, in MB. */
function memory(): { heapMb: number; rssMb: number } {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
  const usage = process.memoryUsage();
  return { heapMb: usage.heapUsed / 2 ** 20, rssMb: usage.rss / 2 ** 20 };
}

/** One refresh: its time, and what it transferred (files fetched: the answers with a body). */
async function timed(node: CatalogSource, apps: number): Promise<Refresh> {
  const started = performance.now();
  const status = await node.refresh();
  const ms = performance.now() - started;
  if (status.state !== "ok") throw new Error(`refresh failed: ${status.error?.message}`);
  if (node.listing?.apps.length !== apps)
    throw new Error(`the node sees ${node.listing?.apps.length} apps, not ${apps}`);
  const { requests, bytes, files } = status.transferred;
  return {
    ms,
    requests,
    bytes,
    fetched: files.filter((f) => f.status === 200).map((f) => new URL(f.url).pathname),
  };
}

benchmark().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(EXIT_ERROR);
  },
);
