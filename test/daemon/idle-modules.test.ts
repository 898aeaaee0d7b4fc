/**
 * What an idle daemon has loaded: `archy daemon` from the build, as the product runs it, on a store
 * of installed apps with a fake Podman that lists them converged, records every file it loads
 * (Node's in-thread module hooks, `module.registerHooks`, given with `--import`); once it has served
 * a complete `package.list` and made a reconcile pass, the chunks it read are mapped to the npm
 * packages they hold (`dist/chunks.json`, written by the build). An idle daemon keeps every module
 * it loaded for weeks: what no idle request needs is loaded on first use, and this test fails when
 * such a module is loaded at start again.
 */
import assert from "node:assert/strict";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { httpGet, listCall, metric, seedStore, startFakePodman } from "../../bench/daemon-fixture.ts";
import { buildCli, CHUNKS, isStale } from "../../scripts/build.ts";
import { isRoot, readableBy, resolveUser, signalGroup, spawnAs, stageCode } from "../../src/gate/run-as.ts";
import { SERVICE_USER } from "../../src/host/layout.ts";
import { CODE_ROOT } from "../../src/system/code-root.ts";

/**
 * Packages no idle request needs, each loaded on first use: the app proxy's reply-from (with its own
 * undici) and http-proxy-3 (the first request for an app host); the TUF client and its models (a
 * catalog's first refresh or saved catalog; the publisher's reading of an app for an image archive);
 * nostr-tools with its secp256k1 (the first relay query or event check); @peculiar/x509 with
 * tsyringe (the first certificate signed: a restart serves the node's certificate as kept);
 * multicast-dns with dns-packet (mDNS, off by default). The daemon here serves TLS (the default)
 * and has no catalog source, no relay, no marketplace app, no mDNS.
 */
const LOADED_ON_USE = [
  "@fastify/reply-from",
  "@fastify/reply-from > undici",
  "http-proxy-3",
  "tuf-js",
  "@tufjs/models",
  "minimatch",
  "nostr-tools",
  "nostr-tools > @noble/curves",
  "@peculiar/x509",
  "tsyringe",
  "multicast-dns",
  "dns-packet",
];

/** Appends the URL of every file the process loads to $ARCHY_TEST_LOAD_RECORD. */
const RECORD_HOOK = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from "node:module";
import { appendFileSync } from "node:fs";
const record = process.env.ARCHY_TEST_LOAD_RECORD;
registerHooks({
  load(url, context, next) {
    if (url.startsWith("file:")) appendFileSync(record, url + "\\n");
    return next(url, context);
  },
});`)}`;

const APPS = 5;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

describe("the idle daemon's modules", () => {
  let root: string;
  let loaded: string[] = [];
  let chunks: Record<string, string[]> = {};
  let log = "";

  before(async () => {
    if (isStale()) await buildCli();
    root = mkdtempSync(join(tmpdir(), "archy-idle-modules-"));
    chmodSync(root, 0o755);
    const user = resolveUser(isRoot() ? SERVICE_USER : undefined);
    const code = (await readableBy(user, join(CODE_ROOT, "dist", "main.js")))
      ? CODE_ROOT
      : stageCode(CODE_ROOT, join(root, "code"));
    const dataDir = join(root, "data");
    mkdirSync(dataDir);
    const containers = await seedStore(dataDir, APPS, { prefix: "idle-mod", health: false });
    const podman = await startFakePodman(root, { containers });
    chmodSync(podman.path, 0o666);
    const record = join(root, "loaded");
    writeFileSync(record, "");
    chmodSync(record, 0o666);
    if (isRoot())
      for (const path of [dataDir, join(dataDir, "state"), join(dataDir, "state", "store.db")])
        chownSync(path, user.uid, user.gid);
    // Twice: the first start makes the node's TLS authority and certificate (which signs, and so
    // loads the X.509 library); a restart uses them as kept, and what it loads is what is checked.
    for (const start of ["first start", "restart"]) {
      writeFileSync(record, "");
      const port = await freePort();
      const daemon = spawnAs(
        user,
        [
          join(code, "node_modules", "node", "bin", "node"),
          // The daemon's flags, as bin/archy gives them.
          "--max-semi-space-size=1",
          "--optimize-for-size",
          "--disable-warning=ExperimentalWarning",
          "--import",
          RECORD_HOOK,
          join(code, "dist", "main.js"),
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
        join(root, "daemon.log"),
        { ARCHY_LOG_LEVEL: "warn", ARCHY_TEST_LOAD_RECORD: record },
      );
      try {
        let seen = "nothing yet";
        const waitFor = async (what: string, done: () => Promise<boolean>) => {
          for (let tries = 0; ; tries++) {
            try {
              if (await done()) return;
            } catch (error) {
              seen = (error as Error).message;
            }
            if (daemon.exitCode !== null)
              throw new Error(
                `the daemon exited (${start}): ${readFileSync(join(root, "daemon.log"), "utf8")}`,
              );
            if (tries > 1200) throw new Error(`no ${what} within 120 s (${start}); last seen: ${seen}`);
            await sleep(100);
          }
        };
        await waitFor("complete package.list", async () => {
          const token = readFileSync(join(dataDir, "state", "cli-token"), "utf8").trim();
          const answer = await listCall(port, token);
          seen = answer.slice(0, 300);
          return (JSON.parse(answer) as { result?: unknown[] }).result?.length === APPS;
        });
        await waitFor("reconcile pass", async () => {
          const metrics = await httpGet(port, "/metrics");
          seen = `archy_reconcile_passes_total ${metric(metrics, "archy_reconcile_passes_total")}`;
          return metric(metrics, "archy_reconcile_passes_total") >= 1;
        });
        loaded = readFileSync(record, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((url) => fileURLToPath(url));
      } finally {
        await signalGroup(daemon, "SIGTERM", 10_000);
        await signalGroup(daemon, "SIGKILL", 5_000);
        log = readFileSync(join(root, "daemon.log"), "utf8");
      }
    }
    chunks = JSON.parse(readFileSync(join(code, "dist", CHUNKS), "utf8")) as Record<string, string[]>;
    await podman.close();
  });

  after(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("loads the build, never a TypeScript source (no type stripping at run time)", () => {
    assert.ok(loaded.length > 0, `the hook recorded no file; the daemon said: ${log.slice(-2000)}`);
    assert.deepEqual(
      loaded.filter((path) => path.endsWith(".ts")),
      [],
      "TypeScript sources loaded",
    );
  });

  it("loads no package that no idle request needs (the app proxy's, the TUF client's, nostr-tools, the X.509 library at a restart, mDNS)", () => {
    const packages = new Set(loaded.flatMap((path) => chunks[basename(path)] ?? []));
    assert.ok(
      packages.has("fastify"),
      `the record names the API's own packages: ${[...packages].join(", ")}`,
    );
    // Each name is one the build holds: a renamed or dropped package would make this check vacuous.
    const built = new Set(Object.values(chunks).flat());
    assert.deepEqual(
      LOADED_ON_USE.filter((name) => !built.has(name)),
      [],
      "packages named here that no chunk of the build holds",
    );
    const early = LOADED_ON_USE.filter((name) => packages.has(name));
    assert.deepEqual(early, [], "loaded by an idle daemon, though no idle request needs them");
  });

  it("holds every loaded chunk as one-byte text (a non-ASCII character makes Node keep it as UTF-16)", () => {
    const wide = loaded.filter((path) => readFileSync(path).some((byte) => byte > 0x7f));
    assert.deepEqual(
      wide.map((path) => basename(path)),
      [],
      "chunks with non-ASCII bytes",
    );
  });
});
