/**
 * The marketplace benchmark: a node discovering N apps (default 1,000) from a real relay on
 * loopback (`archy dev relay`'s). Each app is a complete publication (app, release and asset
 * events, 3 per app) by one of `--publishers` (50) developer keys. Measured per round, on a fresh
 * node each round (its own store, in memory):
 *
 * - discovery: one refresh from the relay, every event checked as it arrives (shape, filter,
 *   id and Schnorr signature) and kept;
 * - listing: the first `market.list` of the node (offers, trust), what the operator waits for;
 * - bytes received from the relay, events kept, and the node's RSS growth over the round
 *   (after a garbage collection when run with --expose-gc).
 *
 * Target: every app is listed. Times and memory are reported, not judged.
 *
 *   node [--expose-gc] bench/market.bench.ts [--apps 1000] [--publishers 50] [--rounds 3] [--json]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDevRelay } from "../src/marketplace/dev-relay.ts";
import type { SignedEvent } from "../src/marketplace/events.ts";
import { MAX_LISTED, Marketplace } from "../src/marketplace/market.ts";
import { publish } from "../src/marketplace/relay.ts";
import { buildPublication, generateKeyFile, openKeyFile } from "../src/marketplace/signing.ts";
import { Store } from "../src/orchestrator/store.ts";
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

const log = (message: string) => process.stderr.write(`market: ${message}\n`);

type Round = {
  discoverMs: number;
  listMs: number;
  listed: number;
  bytes: number;
  kept: number;
  rssGrowthMiB: number;
};

function options() {
  const { values, json } = benchArgs(
    ["apps", "publishers", "rounds"],
    "node bench/market.bench.ts [--apps 1000] [--publishers 50] [--rounds 3] [--json]",
    log,
  );
  return {
    params: {
      apps: intOption(values.apps, "apps", 1000),
      publishers: intOption(values.publishers, "publishers", 50),
      rounds: intOption(values.rounds, "rounds", 3),
    },
    json,
  };
}

const gc = (globalThis as { gc?: () => void }).gc;
const rss = () => {
  gc?.();
  return process.memoryUsage().rss;
};

async function benchmark(): Promise<number> {
  const { params, json } = options();
  const stop = stopOnSignal(log, "the current step");
  const dir = mkdtempSync(join(tmpdir(), "archy-bench-market-"));
  const relay = await startDevRelay();
  try {
    // ---- the developers: N publications signed by a few keys, sent to the relay
    const built = performance.now();
    const keys = Array.from({ length: Math.min(params.publishers, params.apps) }, () =>
      openKeyFile(JSON.stringify(generateKeyFile()), "bench key"),
    );
    const events: SignedEvent[] = [];
    for (let i = 0; i < params.apps; i++) {
      const key = keys[i % keys.length] as (typeof keys)[number];
      const id = `bench${i % keys.length}.app-${String(i).padStart(4, "0")}`;
      const p = buildPublication(
        key,
        { id, name: `Bench app ${i}`, description: "An app of the marketplace benchmark", category: "other" },
        {
          version: "1.0.0",
          notes: "",
          bundle: { size: 4096, sha256: "a".repeat(64), blake3: "b".repeat(64) },
          urls: ["http://127.0.0.1:1/bundle.tar"],
        },
        Date.now(),
      );
      events.push(p.asset, p.release, p.app);
    }
    const sent = await publish(relay.url, events, 60_000);
    if (!sent.ok) throw new Error(`the relay refused the benchmark's events: ${sent.message}`);
    log(
      `signed and published ${params.apps} apps (${events.length} events) in ${((performance.now() - built) / 1000).toFixed(1)} s`,
    );

    // ---- the node
    const rounds: Round[] = [];
    for (let i = 0; i < params.rounds && !stop.requested; i++) {
      const store = new Store(":memory:");
      const market = new Marketplace({
        store,
        dir: join(dir, `node-${i}`),
        log: { info: () => {}, warn: log },
        installed: () => store.listApps(),
      });
      market.addRelay(relay.url);
      const before = rss();
      let started = performance.now();
      const [status] = await market.refresh();
      const discoverMs = performance.now() - started;
      if (status?.error) throw new Error(`the refresh failed: ${status.error}`);
      started = performance.now();
      const listed = market.listing().length;
      const listMs = performance.now() - started;
      rounds.push({
        discoverMs,
        listMs,
        listed,
        bytes: status?.received.bytes ?? 0,
        kept: store.marketEventCount(),
        rssGrowthMiB: (rss() - before) / 1024 / 1024,
      });
      store.close();
      log(`round ${i + 1}: discovered in ${round(discoverMs)} ms, listed ${listed} in ${round(listMs)} ms`);
    }
    if (stop.requested) return EXIT_INTERRUPTED;
    const discover = summarize(rounds.map((r) => r.discoverMs));
    const list = summarize(rounds.map((r) => r.listMs));
    const growth = summarize(rounds.map((r) => r.rssGrowthMiB));
    const result = {
      benchmark: "market",
      date: new Date().toISOString(),
      machine: machine(),
      params,
      gc: gc !== undefined,
      discovery: { p50Ms: round(discover.p50), maxMs: round(discover.max) },
      listing: { p50Ms: round(list.p50), maxMs: round(list.max) },
      listed: rounds[0]?.listed ?? 0,
      eventsKept: rounds[0]?.kept ?? 0,
      bytesReceived: rounds[0]?.bytes ?? 0,
      rssGrowthMiB: { p50: round(growth.p50), max: round(growth.max) },
      pass: rounds.length > 0 && rounds.every((r) => r.listed === Math.min(params.apps, MAX_LISTED)),
    };
    if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else
      process.stdout.write(
        [
          `marketplace benchmark, ${result.date}: ${params.apps} apps by ${keys.length} publishers, ${params.rounds} rounds, each on a fresh node, from a relay on loopback`,
          `${result.machine.cpus} CPUs (${result.machine.cpuModel}), node ${result.machine.node}, load ${result.machine.loadAverage}${result.gc ? "" : " (run with --expose-gc for steadier RSS figures)"}`,
          "",
          table(
            ["step", "p50 ms", "max ms"],
            [
              [
                "discovery (refresh: read, verify, keep)",
                result.discovery.p50Ms.toFixed(1),
                result.discovery.maxMs.toFixed(1),
              ],
              [
                "listing (offers and trust)",
                result.listing.p50Ms.toFixed(1),
                result.listing.maxMs.toFixed(1),
              ],
            ],
          ),
          "",
          `bytes received: ${result.bytesReceived}; events kept: ${result.eventsKept}; apps listed: ${result.listed}`,
          `RSS growth over a round: p50 ${result.rssGrowthMiB.p50} MiB, max ${result.rssGrowthMiB.max} MiB`,
          `target: every app listed (at most ${MAX_LISTED} are, the most trusted first): ${result.pass ? "PASS" : "FAIL"}`,
        ]
          .join("\n")
          .concat("\n"),
      );
    return result.pass ? EXIT_PASS : EXIT_MISSED;
  } finally {
    await relay.close();
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
