/**
 * Runs every benchmark in bench/ (`*.bench.ts`, in name order), one after the other, each in a
 * process of its own, and exits non-zero when one misses its target or cannot run.
 *
 *   npm run bench                       every benchmark, tables
 *   npm run bench -- observe            only those whose file name contains "observe"
 *   npm run bench -- --rounds 5 --json  options are passed to every benchmark; with --json the
 *                                       output is one JSON object: { pass, benchmarks: [...] }
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { EXIT_ERROR, EXIT_INTERRUPTED, EXIT_MISSED, EXIT_PASS } from "./support.ts";

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const json = argv.includes("--json");
// Leading bare words select benchmarks; everything from the first option on goes to each of them.
const firstOption = argv.findIndex((arg) => arg.startsWith("-"));
const filters = firstOption === -1 ? argv : argv.slice(0, firstOption);
const forwarded = firstOption === -1 ? [] : argv.slice(firstOption);

const files = readdirSync(here)
  .filter((name) => name.endsWith(".bench.ts"))
  .filter((name) => filters.length === 0 || filters.some((f) => name.includes(f)))
  .sort();
if (files.length === 0) {
  process.stderr.write(`bench: no benchmark matches ${filters.join(", ")}\n`);
  process.exit(EXIT_ERROR);
}

// Ctrl-C reaches the running benchmark too (same process group): let it clean up, then stop.
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
  process.on(signal, () => {
    interrupted = true;
  });

type Outcome = { name: string; code: number; seconds: number; result?: unknown };

function runOne(file: string): Promise<Outcome> {
  const name = basename(file, ".bench.ts");
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(here, file), ...forwarded], {
      stdio: ["ignore", json ? "pipe" : "inherit", "inherit"],
    });
    let stdout = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk;
    });
    child.on("error", (error) => {
      process.stderr.write(`bench: ${name}: ${error.message}\n`);
      resolve({ name, code: EXIT_ERROR, seconds: 0 });
    });
    child.on("close", (code, signal) => {
      const seconds = (performance.now() - started) / 1000;
      let result: unknown;
      if (json && stdout.trim() !== "") {
        try {
          result = JSON.parse(stdout);
        } catch {
          process.stderr.write(`bench: ${name} printed no valid JSON:\n${stdout}\n`);
        }
      }
      resolve({ name, code: code ?? (signal ? EXIT_INTERRUPTED : EXIT_ERROR), seconds, result });
    });
  });
}

const outcomes: Outcome[] = [];
for (const file of files) {
  if (interrupted) break;
  if (!json) process.stdout.write(`\n== ${file}\n`);
  outcomes.push(await runOne(file));
}

const verdict = (code: number) =>
  code === EXIT_PASS
    ? "PASS"
    : code === EXIT_MISSED
      ? "FAIL (target missed)"
      : code === EXIT_INTERRUPTED
        ? "interrupted"
        : `ERROR (exit ${code})`;
const pass = !interrupted && outcomes.every((o) => o.code === EXIT_PASS);

if (json) {
  const benchmarks = outcomes.map((o) => o.result ?? { benchmark: o.name, pass: false, exitCode: o.code });
  process.stdout.write(`${JSON.stringify({ pass, benchmarks }, null, 2)}\n`);
} else {
  process.stdout.write("\n== summary\n");
  for (const o of outcomes)
    process.stdout.write(`${o.name}: ${verdict(o.code)} in ${o.seconds.toFixed(0)} s\n`);
  process.stdout.write(`bench: ${interrupted ? "interrupted" : pass ? "all targets met" : "FAILED"}\n`);
}
process.exit(
  interrupted ? EXIT_INTERRUPTED : pass ? EXIT_PASS : Math.max(...outcomes.map((o) => o.code), EXIT_MISSED),
);
