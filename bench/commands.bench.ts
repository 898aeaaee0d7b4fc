/**
 * The commands benchmark: `archy install/stop/start` through the CLI, as an operator types them, at
 * a real `archy daemon` (as the test user, over a lab's Podman), against `podman run -d/stop/start`
 * of the equivalent container by hand, in the same run, interleaved. Each side is timed from the
 * command's spawn to its exit: the CLI's start, its calls, the operation to its final event (the
 * app running, or stopped) on one side; Podman's start, its work and its exit on the other.
 *
 * The app is one container of the test image (`serve` on a port, no health check, stop timeout
 * 2 s): a fresh app per round (`<lab prefix>-cmd-rN`), installed, stopped, started. By hand, the same
 * image and command with the platform's confinement (`--cap-drop ALL`, `no-new-privileges`, the
 * port on 127.0.0.1, the same stop timeout) on a network made beforehand, untimed (the daemon makes
 * the app's network inside the timed install). The order of the sides alternates every round.
 *
 *   node bench/commands.bench.ts [--rounds 5] [--warmup 1] [--target-ratio 1.25] [--json]
 *
 * Target: for each command, p50 through the CLI ≤ --target-ratio × p50 by hand. Run as root, after
 * `bin/archy doctor --fix` (the test user, the test image).
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BackupNode } from "../test/backup/support.ts";
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

const log = (message: string) => process.stderr.write(`commands-bench: ${message}\n`);

const COMMANDS = ["install", "stop", "start"] as const;
type Command = (typeof COMMANDS)[number];
type Side = "cli" | "bare";
const BARE: Record<Command, string> = {
  install: "podman run -d",
  stop: "podman stop",
  start: "podman start",
};

const IMAGE = "localhost/archy-test/busybox:1";
const STOP_SECONDS = 2;

/** The benchmark's app: one container serving on a port, nothing else. */
const MANIFEST = `manifest: 1
id: cmd
version: 1.0.0
name: Commands Bench
description: One container serving on a port, for the commands benchmark.
containers:
  web:
    image: ${IMAGE}
    command: [serve]
    environment:
      PORT: 8080
    ports:
      - container: 8080
    stop_timeout: ${STOP_SECONDS}s
`;

/** Runs argv to its exit; the milliseconds from spawn. Throws with its output when it fails. */
function timed(
  argv: string[],
  options: { env: NodeJS.ProcessEnv; uid?: number; gid?: number; cwd?: string },
): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(argv[0] as string, argv.slice(1), { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve(ms);
      else reject(new Error(`${argv.join(" ")} exited ${code}: ${output.slice(-2000)}`));
    });
  });
}

async function benchmark(): Promise<number> {
  const { values, json } = benchArgs(
    ["rounds", "warmup", "target-ratio"],
    "node bench/commands.bench.ts [--rounds 5] [--warmup 1] [--target-ratio 1.25] [--json]",
    log,
  );
  const params = {
    rounds: intOption(values.rounds, "rounds", 5),
    warmup: intOption(values.warmup, "warmup", 1, 0),
    targetRatio: ratioOption(values["target-ratio"], 1.25),
  };
  const stop = stopOnSignal(log, "the current round");
  // Imported here so that a host without the test user is an error the benchmark reports.
  const { Lab } = await import("../test/support/driver.ts");
  const { BackupNode } = await import("../test/backup/support.ts");
  const { testUser, testUserEnv, podman } = await import("../test/support/rootless.ts");
  const { ARCHY } = await import("../test/support/daemon-process.ts");
  const { freePort } = await import("../test/support/samples.ts");
  const lab = await Lab.create();
  let node: BackupNode | undefined;
  const bareNames: string[] = [];
  const installed: string[] = [];
  const network = `${lab.prefix}-bare`;
  try {
    node = await BackupNode.start(lab, "node");
    const on = node;
    const source = join(lab.root, "commands-app");
    mkdirSync(source, { recursive: true });
    writeFileSync(join(source, "manifest.yml"), MANIFEST);
    await podman(["network", "create", network]);
    const asRoot = process.getuid?.() === 0;
    /** Podman by hand: started with the test user's uid, as the operator's shell would. */
    const bare = (args: string[]) =>
      timed(["podman", ...args], {
        env: testUserEnv(),
        cwd: "/tmp",
        ...(asRoot ? { uid: testUser.uid, gid: testUser.gid } : {}),
      });
    /** The CLI as the operator runs it: bin/archy, the daemon's address and token in the environment. */
    const cli = (args: string[]) => timed([ARCHY, ...args], { env: { ...process.env, ...on.env } });

    const samples: Record<Command, Record<Side, number[]>> = {
      install: { cli: [], bare: [] },
      stop: { cli: [], bare: [] },
      start: { cli: [], bare: [] },
    };
    const total = params.warmup + params.rounds;
    for (let i = 0; i < total && !stop.requested; i++) {
      const app = await lab.app(`cmd-r${i}`, { source });
      installed.push(app.id);
      const name = `${lab.prefix}-bare-r${i}`;
      bareNames.push(name);
      const port = await freePort();
      const run = [
        "run",
        "-d",
        "--name",
        name,
        "--network",
        network,
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--stop-timeout",
        String(STOP_SECONDS),
        "-e",
        "PORT=8080",
        "-p",
        `127.0.0.1:${port}:8080`,
        IMAGE,
        "serve",
      ];
      const steps: Record<Command, Record<Side, () => Promise<number>>> = {
        install: { cli: () => cli(["install", app.id]), bare: () => bare(run) },
        stop: { cli: () => cli(["stop", app.id]), bare: () => bare(["stop", name]) },
        start: { cli: () => cli(["start", app.id]), bare: () => bare(["start", name]) },
      };
      const order: Side[] = i % 2 === 0 ? ["cli", "bare"] : ["bare", "cli"];
      const measured = i >= params.warmup;
      for (const command of COMMANDS)
        for (const side of order) {
          const ms = await steps[command][side]();
          if (measured) samples[command][side].push(ms);
          log(
            `${measured ? `round ${i - params.warmup + 1}/${params.rounds}` : "warm-up"}: ${command}, ${side === "cli" ? "archy" : "by hand"}: ${Math.round(ms)} ms`,
          );
        }
      // Untimed: what the round made goes before the next one starts.
      await timed([ARCHY, "uninstall", app.id], { env: { ...process.env, ...on.env } });
      await podman(["rm", "-f", "-t", "0", name]);
    }
    if (stop.requested) return EXIT_INTERRUPTED;
    const p50 = (command: Command, side: Side) => summarize(samples[command][side]).p50;
    const ratios = Object.fromEntries(COMMANDS.map((c) => [c, p50(c, "cli") / p50(c, "bare")])) as Record<
      Command,
      number
    >;
    const result = {
      benchmark: "commands",
      date: new Date().toISOString(),
      // Every container, network and app of the run is named with it (removed at the end).
      prefix: lab.prefix,
      machine: machine(),
      params,
      commands: Object.fromEntries(
        COMMANDS.map((command) => [
          command,
          {
            bare: BARE[command],
            cli: { ...summarize(samples[command].cli) },
            byHand: { ...summarize(samples[command].bare) },
            ratio: round(ratios[command], 3),
          },
        ]),
      ),
      pass: COMMANDS.every((command) => ratios[command] <= params.targetRatio),
    };
    if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else
      process.stdout.write(
        `${[
          `commands benchmark, ${result.date}: archy through the CLI vs podman by hand, ${params.rounds} interleaved rounds after ${params.warmup} warm-up`,
          `${result.machine.cpus} CPUs (${result.machine.cpuModel}), node ${result.machine.node}, load ${result.machine.loadAverage}`,
          "",
          table(
            ["command", "by hand", "archy p50 / p90 ms", "by hand p50 / p90 ms", "archy / by hand"],
            COMMANDS.map((command) => {
              const c = summarize(samples[command].cli);
              const b = summarize(samples[command].bare);
              return [
                `archy ${command}`,
                BARE[command],
                `${c.p50.toFixed(0)} / ${c.p90.toFixed(0)}`,
                `${b.p50.toFixed(0)} / ${b.p90.toFixed(0)}`,
                ratios[command].toFixed(2),
              ];
            }),
          ),
          "",
          `target: each command's p50 <= ${params.targetRatio} x by hand: ${result.pass ? "PASS" : "FAIL"}`,
        ].join("\n")}\n`,
      );
    return result.pass ? EXIT_PASS : EXIT_MISSED;
  } finally {
    if (node) {
      for (const id of installed) await node.cli(["uninstall", id]).catch(() => undefined);
      await node.close();
    }
    for (const name of bareNames) await podman(["rm", "-f", "-t", "0", name]).catch(() => undefined);
    await podman(["network", "rm", "-f", network]).catch(() => undefined);
    await lab.close();
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
