/**
 * The peer benchmark (docs/peers.md): an app's image installed from a peer node on loopback
 * against from its registry, in the same run, interleaved, and what each way costs the registry
 * (the origin) in bytes. The registry is the tests' (Debian's docker-registry on loopback, TLS from
 * a test CA, basic auth: test/support/registry.ts); the image is the test image plus one layer of
 * `--mib` (200) random MiB. The peer is the real serving code (src/peers/serve.ts) over a copy of
 * the node's own peer cache (test/support/image-peer.ts), reached over plain HTTP on loopback.
 *
 * Each round installs the app once each way through the tests' stand-in daemon, the order
 * rotating, with the image removed from the test user's store before each install; timed from the
 * install call to the operation's `pulled IMAGE…` line:
 * - registry: the node neither asks peers nor shares: Podman's pull from the registry;
 * - sharing: the node shares (it granted a peer), its cache emptied first: the registry's bytes go
 *   into the cache and from there into Podman's store (skopeo, twice);
 * - peer: the node asks the peer first: skopeo from the peer straight into Podman's store.
 * The registry's access log gives the bytes it sent each way.
 *
 *   node bench/peers.bench.ts [--mib 200] [--rounds 3] [--target-ratio 1.5] [--json]
 *
 * Target: p50 peer / p50 registry ≤ --target-ratio (a peer on loopback is no slower than the
 * registry on loopback, give or take skopeo against Podman) and the registry sent no blob byte for
 * the peer's installs. Run as root (the registry's and the test user's set-up need it), after
 * `bin/archy doctor --fix`.
 */
import { rmSync } from "node:fs";
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

const log = (message: string) => process.stderr.write(`peers-bench: ${message}\n`);
const MiB = 1024 * 1024;

type Method = "registry" | "sharing" | "peer";
const METHODS: Method[] = ["registry", "sharing", "peer"];
const LABELS: Record<Method, string> = {
  registry: "from the registry (Podman's pull)",
  sharing: "from the registry, kept for peers (skopeo via the cache)",
  peer: "from a peer on loopback (skopeo)",
};

/** The bytes of blob responses in registry access-log lines (`"GET /v2/…/blobs/… HTTP/1.1" 200 <bytes>`). */
function blobBytes(lines: readonly string[]): number {
  let bytes = 0;
  for (const line of lines) {
    const match = /"GET \/v2\/\S+\/blobs\/\S+ HTTP\/[\d.]+" \d{3} (\d+)/.exec(line);
    if (match) bytes += Number(match[1]);
  }
  return bytes;
}

async function benchmark(): Promise<number> {
  const { values, json } = benchArgs(
    ["mib", "rounds", "target-ratio"],
    "node bench/peers.bench.ts [--mib 200] [--rounds 3] [--target-ratio 1.5] [--json]",
    log,
  );
  const params = {
    mib: intOption(values.mib, "mib", 200),
    rounds: intOption(values.rounds, "rounds", 3),
    targetRatio: ratioOption(values["target-ratio"], 1.5),
  };
  const stop = stopOnSignal(log, "the current install");
  // Imported here so that a host without the test user is an error the benchmark reports.
  const { Lab } = await import("../test/support/driver.ts");
  const { buildUniqueImage, forgetImage, startRegistry } = await import("../test/support/registry.ts");
  const { startImagePeer } = await import("../test/support/image-peer.ts");
  const { peerImageCacheDir } = await import("../src/peers/image-cache.ts");
  const registry = await startRegistry();
  const lab = await Lab.create();
  let pinned: string | undefined;
  let peer: Awaited<ReturnType<typeof startImagePeer>> | undefined;
  try {
    log(`building and pushing an image with a ${params.mib} MiB layer`);
    const local = await buildUniqueImage(`${lab.prefix}-peers`, params.mib * MiB);
    pinned = (await registry.push(`archy/${lab.prefix}-peers:1`, local)).pinned;
    await forgetImage(local);
    const image = pinned;
    const samples: Record<Method, number[]> = { registry: [], sharing: [], peer: [] };
    const originBytes: Record<Method, number[]> = { registry: [], sharing: [], peer: [] };
    const driver = await lab.driver();
    try {
      await driver.call("registry-login", {
        host: registry.host,
        username: registry.username,
        password: registry.password,
      });
      const app = await lab.app("hello-web", { variant: "peers" });
      await lab.editManifest(app, (doc) => {
        (doc.getIn(["containers", "web"]) as { set(key: string, value: unknown): void }).set("image", image);
      });
      const install = async (): Promise<number> => {
        const started = Date.now();
        const { operationId } = await driver.call<{ operationId: string }>("install", { path: app.dir });
        const record = await driver.operationDone(operationId, 1_800_000);
        if (record.operation?.state !== "succeeded")
          throw new Error(`the install failed: ${record.operation?.error}`);
        const pulled = record.logs.find((l) => l.message.startsWith(`pulled ${image}`));
        if (!pulled) throw new Error(`the install pulled nothing: ${JSON.stringify(record.logs)}`);
        await driver.call("uninstall", { app: app.id, purge: true });
        await driver.waitPhase(app.id, "removed", 120_000);
        return pulled.at - started;
      };
      // The peer's cache: the node's own, filled by one install while it shares.
      log("filling the node's peer cache, for the peer to serve");
      await forgetImage(image);
      await driver.call("peers-grant", { name: "bench" });
      await install();
      await driver.call("peers-revoke", { name: "bench" });
      peer = await startImagePeer(peerImageCacheDir(lab.dataDir));
      const peerUrl = peer.url;
      const peerToken = peer.token;
      const setUp: Record<Method, () => Promise<unknown>> = {
        registry: async () => {},
        sharing: async () => {
          rmSync(peerImageCacheDir(lab.dataDir), { recursive: true, force: true });
          await driver.call("peers-grant", { name: "bench" });
        },
        peer: () => driver.call("peers-add", { url: peerUrl, token: peerToken }),
      };
      const tearDown: Record<Method, () => Promise<unknown>> = {
        registry: async () => {},
        sharing: () => driver.call("peers-revoke", { name: "bench" }),
        peer: () => driver.call("peers-remove", { url: peerUrl }),
      };
      for (let i = 0; i < params.rounds && !stop.requested; i++) {
        const order = METHODS.map((_, k) => METHODS[(i + k) % METHODS.length] as Method);
        for (const method of order) {
          if (stop.requested) break;
          await forgetImage(image);
          await setUp[method]();
          const from = registry.requests().length;
          samples[method].push(await install());
          originBytes[method].push(blobBytes(registry.requests().slice(from)));
          await tearDown[method]();
          log(
            `round ${i + 1}/${params.rounds}: ${method} ${Math.round(samples[method].at(-1) as number)} ms, the registry sent ${originBytes[method].at(-1)} blob bytes`,
          );
        }
      }
    } finally {
      await driver.exit();
    }
    if (stop.requested) return EXIT_INTERRUPTED;
    const stats = Object.fromEntries(METHODS.map((m) => [m, summarize(samples[m])])) as Record<
      Method,
      ReturnType<typeof summarize>
    >;
    const ratio = stats.peer.p50 / stats.registry.p50;
    const peerOriginBytes = Math.max(...originBytes.peer);
    const result = {
      benchmark: "peers",
      date: new Date().toISOString(),
      machine: machine(),
      params,
      image: pinned,
      methods: Object.fromEntries(
        METHODS.map((m) => [
          m,
          {
            label: LABELS[m],
            n: stats[m].n,
            p50: round(stats[m].p50),
            max: round(stats[m].max),
            originBlobBytes: originBytes[m],
          },
        ]),
      ),
      ratio: round(ratio, 3),
      pass: ratio <= params.targetRatio && peerOriginBytes === 0,
    };
    if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else
      process.stdout.write(
        `${[
          `peers benchmark, ${result.date}: an image with a ${params.mib} MiB layer, ${params.rounds} interleaved rounds`,
          `${result.machine.cpus} CPUs (${result.machine.cpuModel}), node ${result.machine.node}, load ${result.machine.loadAverage}`,
          "",
          table(
            ["method", "p50 ms", "max ms", "p50 / registry", "registry blob MiB per install"],
            METHODS.map((m) => [
              LABELS[m],
              stats[m].p50.toFixed(0),
              stats[m].max.toFixed(0),
              (stats[m].p50 / stats.registry.p50).toFixed(2),
              (Math.max(...originBytes[m]) / MiB).toFixed(1),
            ]),
          ),
          "",
          `target: peer p50 <= ${params.targetRatio} x registry p50, and no blob byte from the registry for the peer's installs: ${result.pass ? "PASS" : "FAIL"}`,
        ].join("\n")}\n`,
      );
    return result.pass ? EXIT_PASS : EXIT_MISSED;
  } finally {
    await peer?.close();
    if (pinned) await forgetImage(pinned);
    await lab.close();
    await registry.stop();
    log("clean");
  }
}

benchmark().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(EXIT_ERROR);
  },
);
