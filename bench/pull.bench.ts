/**
 * The pull benchmark: an app's image pulled from a registry by the daemon's install against
 * `podman pull` by hand, in the same run, interleaved. The registry is the tests' (Debian's
 * docker-registry on loopback, TLS from a test CA, basic auth: test/support/registry.ts); the image
 * is the test image plus one layer of `--mib` (200) random MiB, so nothing compresses it away.
 *
 * Each round pulls it once each way, in an order that alternates, with the image removed from the
 * test user's store before each pull:
 * - daemon: an install of an app on that image through the stand-in daemon of the tests
 *   (test/support/orchestrator-driver.ts: the daemon's orchestrator, its pull step and its Podman
 *   API client), timed from the install call to the operation's `pulled IMAGE` line: the
 *   presence check, the size read from the registry, the free-space check and the pull with its
 *   progress. The app is then uninstalled.
 * - by hand: `podman pull --authfile FILE IMAGE` as the test user, spawn to exit.
 *
 *   node bench/pull.bench.ts [--mib 200] [--rounds 3] [--target-ratio 1.1] [--json]
 *
 * Target: p50 daemon / p50 by hand ≤ --target-ratio. Run as root (the registry's and the test
 * user's set-up need it), after `bin/archy doctor --fix`.
 */
import { chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

const log = (message: string) => process.stderr.write(`pull-bench: ${message}\n`);
const MiB = 1024 * 1024;

type Method = "daemon" | "bare";
const LABELS: Record<Method, string> = {
  daemon: "install through the daemon, call to `pulled`",
  bare: "podman pull by hand",
};

async function benchmark(): Promise<number> {
  const { values, json } = benchArgs(
    ["mib", "rounds", "target-ratio"],
    "node bench/pull.bench.ts [--mib 200] [--rounds 3] [--target-ratio 1.1] [--json]",
    log,
  );
  const params = {
    mib: intOption(values.mib, "mib", 200),
    rounds: intOption(values.rounds, "rounds", 3),
    targetRatio: ratioOption(values["target-ratio"], 1.1),
  };
  const stop = stopOnSignal(log, "the current pull");
  // Imported here so that a host without the test user is an error the benchmark reports.
  const { Lab } = await import("../test/support/driver.ts");
  const { buildUniqueImage, forgetImage, startRegistry } = await import("../test/support/registry.ts");
  const { runAsTestUser, testUser } = await import("../test/support/rootless.ts");
  const registry = await startRegistry();
  const lab = await Lab.create();
  const authDir = mkdtempSync(join(tmpdir(), "archy-bench-pull-"));
  let pinned: string | undefined;
  try {
    log(`building and pushing an image with a ${params.mib} MiB layer`);
    const local = await buildUniqueImage(`${lab.prefix}-pull`, params.mib * MiB);
    pinned = (await registry.push(`archy/${lab.prefix}-pull:1`, local)).pinned;
    await forgetImage(local);
    const image = pinned;
    // The by-hand pull's credentials, readable by the test user only (never on a command line).
    const authFile = join(authDir, "auth.json");
    const basic = Buffer.from(`${registry.username}:${registry.password}`).toString("base64");
    writeFileSync(authFile, JSON.stringify({ auths: { [registry.host]: { auth: basic } } }), { mode: 0o600 });
    if (process.getuid?.() === 0) {
      chownSync(authDir, testUser.uid, testUser.gid);
      chownSync(authFile, testUser.uid, testUser.gid);
    }
    const samples: Record<Method, number[]> = { daemon: [], bare: [] };
    const driver = await lab.driver();
    try {
      await driver.call("registry-login", {
        host: registry.host,
        username: registry.username,
        password: registry.password,
      });
      const app = await lab.app("hello-web", { variant: "pull" });
      await lab.editManifest(app, (doc) => {
        (doc.getIn(["containers", "web"]) as { set(key: string, value: unknown): void }).set("image", image);
      });
      const timings: Record<Method, () => Promise<number>> = {
        daemon: async () => {
          const started = Date.now();
          const { operationId } = await driver.call<{ operationId: string }>("install", { path: app.dir });
          const record = await driver.operationDone(operationId, 1_800_000);
          if (record.operation?.state !== "succeeded")
            throw new Error(`the install failed: ${record.operation?.error}`);
          const pulled = record.logs.find((l) => l.message === `pulled ${image}`);
          if (!pulled) throw new Error(`the install pulled nothing: ${JSON.stringify(record.logs)}`);
          await driver.call("uninstall", { app: app.id, purge: true });
          await driver.waitPhase(app.id, "removed", 120_000);
          return pulled.at - started;
        },
        bare: async () => {
          const started = performance.now();
          const result = await runAsTestUser(["podman", "pull", "--quiet", "--authfile", authFile, image], {
            timeoutMs: 1_800_000,
          });
          if (result.code !== 0) throw new Error(`podman pull failed: ${result.stderr}`);
          return performance.now() - started;
        },
      };
      for (let i = 0; i < params.rounds && !stop.requested; i++) {
        const order: Method[] = i % 2 === 0 ? ["daemon", "bare"] : ["bare", "daemon"];
        for (const method of order) {
          if (stop.requested) break;
          await forgetImage(image);
          samples[method].push(await timings[method]());
          log(
            `round ${i + 1}/${params.rounds}: ${method} ${Math.round(samples[method].at(-1) as number)} ms`,
          );
        }
      }
    } finally {
      await driver.exit();
    }
    if (stop.requested) return EXIT_INTERRUPTED;
    const stats = { daemon: summarize(samples.daemon), bare: summarize(samples.bare) };
    const daemonRatio = stats.daemon.p50 / stats.bare.p50;
    const methods: Method[] = ["daemon", "bare"];
    const result = {
      benchmark: "pull",
      date: new Date().toISOString(),
      machine: machine(),
      params,
      image: pinned,
      methods: Object.fromEntries(
        methods.map((m) => [
          m,
          { label: LABELS[m], n: stats[m].n, p50: round(stats[m].p50), max: round(stats[m].max) },
        ]),
      ),
      ratio: round(daemonRatio, 3),
      pass: daemonRatio <= params.targetRatio,
    };
    if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else
      process.stdout.write(
        `${[
          `pull benchmark, ${result.date}: an image with a ${params.mib} MiB layer from a loopback registry (TLS, auth), ${params.rounds} interleaved rounds`,
          `${result.machine.cpus} CPUs (${result.machine.cpuModel}), node ${result.machine.node}, load ${result.machine.loadAverage}`,
          "",
          table(
            ["method", "p50 ms", "max ms", "p50 / by hand"],
            methods.map((m) => [
              LABELS[m],
              stats[m].p50.toFixed(0),
              stats[m].max.toFixed(0),
              (stats[m].p50 / stats.bare.p50).toFixed(2),
            ]),
          ),
          "",
          `target: daemon p50 <= ${params.targetRatio} x podman pull p50: ${result.pass ? "PASS" : "FAIL"}`,
        ].join("\n")}\n`,
      );
    return result.pass ? EXIT_PASS : EXIT_MISSED;
  } finally {
    if (pinned) await forgetImage(pinned);
    await lab.close();
    await registry.stop();
    rmSync(authDir, { recursive: true, force: true });
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
