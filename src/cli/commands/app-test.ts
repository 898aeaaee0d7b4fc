/**
 * `archy app test DIR`: the production gate (src/gate/) on one app directory, shaped for a
 * developer's loop. The app and the dependencies found beside it (as `app render` finds them) are
 * staged in a directory of their own, so that nothing else beside the app can stop the run, and
 * gated once, without chaos, by the gate's own sandboxed daemon as the invoking user (as root: the
 * service user, or --user). It prints each cell and, for a failure, what was expected, what was
 * observed and the app's last log lines; `--watch` runs it again when a file in DIR changes.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { GateSetupError, runGate } from "../../gate/gate.ts";
import { STEPS } from "../../gate/matrix.ts";
import { type Cell, type GateReport, reportJson } from "../../gate/report.ts";
import { SERVICE_USER } from "../../host/layout.ts";
import { formatIssue } from "../../manifest/issues.ts";
import { loadManifest } from "../../manifest/load.ts";
import { parseCommandLine, UsageError } from "../args.ts";

export const APP_TEST_USAGE = `Usage: archy app test DIR [--watch] [--json] [--user NAME] [--timeout-scale X]

The production gate on one app directory: install, UI reachable, stop, start, restart, daemon
restart, reinstall, uninstall (data kept), install again, purge, each verified through Podman, with
a sandboxed daemon of its own (docs/gate.md). Dependencies are looked up beside DIR. The images must
be in your Podman's store (as root: the service user's); nothing is pulled.
Exit code 0 only when every cell passes; 1 otherwise; 2 for bad usage.

  --watch             run again whenever a file in DIR changes (Ctrl-C stops)
  --json              print the gate's JSON report instead of the cells
  --user NAME         as root: whose rootless Podman runs the app (default ${SERVICE_USER})
  --timeout-scale X   multiply every step's time limit by X (a slow machine)`;

/** Every step but the reboot, which needs the systemd test node (scripts/gate-node). */
const APP_TEST_STEPS = STEPS.filter((s) => s !== "reboot");

/**
 * --watch looks at DIR's files every WATCH_POLL_MS and runs again once they differ from what the
 * last run tested and have stayed the same for WATCH_QUIET_MS (an editor saves in bursts). It does
 * not use fs.watch: on Linux, Node's recursive watch is one inotify watch per file, so one write
 * is reported twice or more (truncate, then write), and a save that renames a new file over the
 * old one (sed -i, "safe write" editors) leaves it watching the gone file: it never reports that
 * path again. What the files are, not what a watcher says about them, decides a run.
 */
const WATCH_POLL_MS = 250;
const WATCH_QUIET_MS = 500;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    {
      watch: { type: "boolean" },
      json: { type: "boolean" },
      user: { type: "string" },
      "timeout-scale": { type: "string" },
    },
    APP_TEST_USAGE,
  );
  if (values.help) {
    console.log(APP_TEST_USAGE);
    return 0;
  }
  if (positionals.length !== 1)
    throw new UsageError(`app test needs exactly one app directory\n\n${APP_TEST_USAGE}`);
  const timeoutScale = values["timeout-scale"] !== undefined ? Number(values["timeout-scale"]) : 1;
  if (!(timeoutScale > 0) || !Number.isFinite(timeoutScale))
    throw new UsageError(`--timeout-scale: "${values["timeout-scale"]}" is not a positive number`);
  const dir = resolve(positionals[0] as string);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new UsageError(
      `app test: ${positionals[0]} is not a directory: name an app directory (one with a manifest.yml)`,
    );
  const options = { dir, json: values.json === true, timeoutScale, user: values.user };

  let interrupted = false;
  let wake: () => void = () => {};
  const onSignal = () => {
    if (interrupted) {
      console.error("archy app test: interrupted twice: exiting without cleaning up");
      process.exit(130);
    }
    interrupted = true;
    wake();
    console.error("archy app test: interrupted: finishing the current step, then cleaning up");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    let tested = treeState(dir);
    let code = await testOnce(options, () => interrupted);
    if (!values.watch) return code;
    while (!interrupted) {
      console.error(`archy app test: watching ${dir} (Ctrl-C stops)`);
      const changed = await nextChange(
        dir,
        tested,
        () => interrupted,
        (w) => (wake = w),
      );
      if (changed === undefined) break;
      tested = changed;
      code = await testOnce(options, () => interrupted);
    }
    return code;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/**
 * Waits until DIR's files differ from `tested` and have stayed the same for WATCH_QUIET_MS; their
 * state then, or undefined when interrupted.
 */
async function nextChange(
  dir: string,
  tested: string,
  interrupted: () => boolean,
  onWake: (wake: () => void) => void,
): Promise<string | undefined> {
  let seen = tested;
  let stableSince = Date.now();
  while (!interrupted()) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, WATCH_POLL_MS);
      onWake(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (interrupted()) break;
    const now = treeState(dir);
    if (now !== seen) {
      seen = now;
      stableSince = Date.now();
    } else if (now !== tested && Date.now() - stableSince >= WATCH_QUIET_MS) return now;
  }
  return undefined;
}

/** Every file under `dir` with its size and modification time: equal when nothing changed. */
function treeState(dir: string): string {
  const entries = readdirSync(dir, { recursive: true, withFileTypes: true });
  return entries
    .map((e) => join(e.parentPath, e.name))
    .sort()
    .map((path) => {
      const s = statSync(path, { throwIfNoEntry: false });
      return `${path} ${s?.size ?? "-"} ${s?.mtimeMs ?? "-"}`;
    })
    .join("\n");
}

type TestOptions = { dir: string; json: boolean; timeoutScale: number; user: string | undefined };

/** One gate run over the app in `dir`: 0 when every cell passed. */
async function testOnce(options: TestOptions, interrupted: () => boolean): Promise<number> {
  const app = await loadManifest(options.dir);
  if (!app.ok) {
    for (const issue of app.issues) console.error(formatIssue(issue));
    console.error("archy app test: the manifest is invalid; nothing was tested");
    return 1;
  }
  const { loadDependencies } = await import("./app.ts");
  const deps = await loadDependencies(app.manifest, dirname(app.dir), []);
  if (typeof deps === "string") {
    console.error(`archy app test: ${deps}`);
    return 1;
  }
  // The app and its dependencies only, each in a directory named after its id.
  const stage = mkdtempSync(join(tmpdir(), "archy-app-test-"));
  try {
    cpSync(app.dir, join(stage, app.manifest.id), { recursive: true });
    for (const [id, dep] of Object.entries(deps.found))
      cpSync(dirname(dep.file), join(stage, id), { recursive: true });
    const report = await runGate({
      iterations: 1,
      apps: [app.manifest.id],
      steps: [...APP_TEST_STEPS],
      destructive: true,
      chaos: false,
      stopAtFailure: true,
      timeoutScale: options.timeoutScale,
      appsDir: stage,
      mode: {
        kind: "managed",
        ...(options.user ? { user: options.user } : {}),
        keep: false,
        isolate: true,
      },
      progress: (line) => console.error(line),
      interrupted,
    });
    if (options.json) process.stdout.write(reportJson(report));
    else process.stdout.write(summary(report, app.manifest.id));
    return report.exitCode;
  } catch (error) {
    if (error instanceof GateSetupError) {
      console.error(`archy app test: ${error.message}`);
      return error.usage ? 2 : 1;
    }
    throw error;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** How many of an unfinished operation's last log lines a failure shows (what it was doing when time ran out). */
const OPERATION_STEPS_SHOWN = 5;

/** The cells of one run as a developer reads them: one line each, the evidence under a failure. */
export function summary(report: GateReport, appId: string): string {
  const lines: string[] = [];
  const ordered = [...report.cells].sort((a, b) => Number(a.app !== appId) - Number(b.app !== appId));
  for (const cell of ordered) lines.push(...cellLines(cell, cell.app !== appId));
  if (report.aborted) lines.push(`aborted: ${report.aborted}`);
  for (const incident of report.incidents) lines.push(`incident: ${incident}`);
  for (const start of report.restarts.unexpected)
    lines.push(`unexpected restart: ${start.app} ${start.container} (${start.during})`);
  lines.push(`${report.verdict.toUpperCase()}: ${report.summary}`);
  return `${lines.join("\n")}\n`;
}

function cellLines(cell: Cell, dependency: boolean): string[] {
  const name = `${cell.step}${dependency ? ` (dependency ${cell.app})` : ""}`.padEnd(14);
  const time = cell.durationMs !== undefined ? ` ${(cell.durationMs / 1000).toFixed(1)}s` : "";
  if (cell.status === "pass") return [`pass  ${name}${time}`];
  if (cell.status === "skip") return [`skip  ${name} ${cell.reason ?? ""}`];
  const lines = [`FAIL  ${name}${time}  ${cell.reason ?? ""}`];
  const evidence = cell.evidence;
  if (evidence) {
    lines.push(`      expected: ${evidence.expected}`, ...labelled("observed", evidence.observed));
    const operation = evidence.operation;
    if (operation?.error) lines.push(...labelled("operation error", operation.error));
    else if (operation && operation.state !== "succeeded" && operation.log.length > 0)
      lines.push(
        `      the ${operation.kind}'s last steps (${operation.state}):`,
        ...collapseRepeats(operation.log.slice(-OPERATION_STEPS_SHOWN)).map((l) => `        ${l}`),
      );
    if (evidence.logs?.length)
      lines.push(
        "      the app's last log lines:",
        ...collapseRepeats(evidence.logs).map((l) => `        ${l}`),
      );
  }
  return lines;
}

/** `label: text`, a text of several lines (a daemon's reason quotes the app's output) indented under it. */
function labelled(label: string, text: string): string[] {
  const [first, ...rest] = collapseRepeats(text.split("\n"));
  return [`      ${label}: ${first}`, ...rest.map((l) => `        ${l}`)];
}

/** Consecutive equal lines as one, with how many there were: a crash loop prints the same line per start. */
export function collapseRepeats(lines: readonly string[]): string[] {
  const out: Array<{ line: string; count: number }> = [];
  for (const line of lines) {
    const last = out.at(-1);
    if (last?.line === line) last.count++;
    else out.push({ line, count: 1 });
  }
  return out.map(({ line, count }) => (count > 1 ? `${line}  (${count} times)` : line));
}
