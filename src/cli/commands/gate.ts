/**
 * `archy gate`: the production gate. Runs the lifecycle matrix (apps × steps × iterations) against a
 * daemon through its API, verifies every step through Podman, and writes a JSON and a Markdown
 * report; exit code 0 only when every cell that ran passed (docs/gate.md).
 */
import { existsSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DaemonClient } from "../../cli/client.ts";
import { type GateOptions, GateSetupError, runGate, SAMPLE_APPS_DIR } from "../../gate/gate.ts";
import { renderMarkdown } from "../../gate/markdown.ts";
import { PlanError, parseSteps, STEPS } from "../../gate/matrix.ts";
import { reportJson } from "../../gate/report.ts";
import { SERVICE_USER } from "../../host/layout.ts";
import { parseCommandLine, UsageError } from "../args.ts";

const USAGE = `Usage: archy gate [--iterations N] [--apps A,B] [--steps S,T] [--report FILE] [--destructive]
                  [--chaos [--seed N]] [--apps-dir DIR] [--timeout-scale X] [--json]
                  [--user NAME] [--work-dir DIR] [--keep] [--no-isolate]
                  [--url URL [--token-file FILE] [--podman-socket PATH] [--data-dir DIR]
                   [--restart-command CMD] [--reboot-command CMD]]

The production gate: for each app and each iteration, install -> UI reachable -> stop -> start ->
restart -> daemon restart survives -> reboot survives -> reinstall -> uninstall (data kept) ->
install again (data and credentials unchanged) -> purge, driven through the daemon's API and
verified through Podman. Writes a JSON and a Markdown report and prints the Markdown one.
Exit code 0 only when every cell that ran passed; 1 otherwise; 2 for bad usage.

  --iterations N        how many times the whole matrix runs (default 1)
  --apps A,B            the apps to gate (default: every app of --apps-dir; dependencies are added)
  --steps S,T           the steps to judge (default all): ${STEPS.join(", ")}
  --report FILE         write FILE.json and FILE.md (default ./gate-report.json and .md)
  --destructive         run the purge step (it deletes the apps' data); skipped without it
  --chaos               inject a fault before every step (kill or remove a container, restart
                        Podman, SIGKILL the daemon during an operation); each step must pass anyway
  --seed N              the seed of the faults' targets and delays (default random; reported)
  --apps-dir DIR        where the apps are (default: the sample apps of this checkout)
  --timeout-scale X     multiply every step's time limit (derived from the manifests) by X
  --json                print the JSON report instead of the Markdown one

The daemon (default: the gate starts its own):
  --user NAME           as root: the user whose rootless Podman runs the apps (default ${SERVICE_USER})
  --work-dir DIR        where the sandbox directory is made (default /tmp)
  --keep                leave the sandbox as the last step left it (apps, data, logs), for inspection
  --no-isolate          gate the apps as written (their ids and host ports) instead of sandbox copies;
                        refused when their ports or containers are in use

An existing daemon (--url): the gate installs and removes the apps it gates there (it refuses apps
that are installed), and verifies through the Podman socket of the daemon's user:
  --url URL             the daemon
  --token-file FILE     its CLI token (default: found as the CLI finds it)
  --podman-socket PATH  the Podman API socket the daemon uses (default: found from the data directory's owner)
  --data-dir DIR        the daemon's data directory (default: the token file's)
  --restart-command CMD how to restart it for the daemon-restart step (e.g. 'systemctl --user restart
                        archipelago'); without it that step is skipped, saying why
  --reboot-command CMD  how to reboot the daemon's node for the reboot step; it returns once the node
                        booted (scripts/gate-node runs the gate against the systemd test node with
                        one); without it that step is skipped, saying why`;

function positiveInteger(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(`${name}: "${value}" is not a whole number of at least 1`);
  return Number(value);
}

/** Where FILE.json and FILE.md go. */
export function reportPaths(file: string | undefined): { json: string; markdown: string } {
  const base = resolve(file ?? "gate-report.json").replace(/\.(json|md)$/, "");
  return { json: `${base}.json`, markdown: `${base}.md` };
}

/** The Podman socket of an existing daemon's user: the one the daemon uses, by the data directory's owner. */
function podmanSocketFor(dataDir: string): string | undefined {
  const uid = existsSync(dataDir) ? statSync(dataDir).uid : process.getuid?.();
  const runtime =
    uid === process.getuid?.() && process.env.XDG_RUNTIME_DIR
      ? process.env.XDG_RUNTIME_DIR
      : `/run/user/${uid}`;
  return [`${runtime}/podman/podman.sock`, `${runtime}/archipelago/podman.sock`].find((p) => existsSync(p));
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    {
      iterations: { type: "string" },
      apps: { type: "string" },
      steps: { type: "string" },
      report: { type: "string" },
      destructive: { type: "boolean" },
      chaos: { type: "boolean" },
      seed: { type: "string" },
      "apps-dir": { type: "string" },
      "timeout-scale": { type: "string" },
      json: { type: "boolean" },
      user: { type: "string" },
      "work-dir": { type: "string" },
      keep: { type: "boolean" },
      "no-isolate": { type: "boolean" },
      url: { type: "string" },
      "token-file": { type: "string" },
      "podman-socket": { type: "string" },
      "data-dir": { type: "string" },
      "restart-command": { type: "string" },
      "reboot-command": { type: "string" },
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'\n\n${USAGE}`);
  const iterations = positiveInteger(values.iterations, "--iterations", 1);
  let steps: GateOptions["steps"];
  try {
    steps = values.steps !== undefined ? parseSteps(values.steps) : undefined;
  } catch (error) {
    if (error instanceof PlanError) throw new UsageError(error.message);
    throw error;
  }
  const apps = values.apps
    ?.split(",")
    .map((a) => a.trim())
    .filter(Boolean);
  if (apps !== undefined && apps.length === 0) throw new UsageError("--apps: name at least one app");
  const seed = values.seed !== undefined ? Number(values.seed) : undefined;
  if (seed !== undefined && !Number.isInteger(seed))
    throw new UsageError(`--seed: "${values.seed}" is not a whole number`);
  if (seed !== undefined && !values.chaos) throw new UsageError("--seed only means something with --chaos");
  const timeoutScale = values["timeout-scale"] !== undefined ? Number(values["timeout-scale"]) : 1;
  if (!(timeoutScale > 0) || !Number.isFinite(timeoutScale))
    throw new UsageError(`--timeout-scale: "${values["timeout-scale"]}" is not a positive number`);

  const existingOnly = [
    "token-file",
    "podman-socket",
    "data-dir",
    "restart-command",
    "reboot-command",
  ] as const;
  const managedOnly = ["user", "work-dir", "keep", "no-isolate"] as const;
  let mode: GateOptions["mode"];
  if (values.url !== undefined) {
    for (const flag of managedOnly)
      if (values[flag] !== undefined)
        throw new UsageError(`--${flag} is for a daemon the gate starts, not with --url`);
    const client = new DaemonClient({
      url: values.url,
      ...(values["token-file"] ? { tokenFile: values["token-file"] } : {}),
    });
    let tokenFile: string;
    try {
      tokenFile = await client.tokenPath();
    } catch (error) {
      throw new UsageError(`${(error as Error).message}: name the daemon's token with --token-file`);
    }
    const dataDir = values["data-dir"] ?? dirname(dirname(tokenFile));
    const podmanSocket = values["podman-socket"] ?? podmanSocketFor(dataDir);
    if (!podmanSocket)
      throw new UsageError(
        `no Podman socket found for the daemon's user (data directory ${dataDir}): name it with --podman-socket; the gate verifies every step through Podman`,
      );
    mode = {
      kind: "existing",
      url: client.url,
      tokenFile,
      podmanSocket,
      dataDir,
      ...(values["restart-command"] ? { restartCommand: values["restart-command"] } : {}),
      ...(values["reboot-command"] ? { rebootCommand: values["reboot-command"] } : {}),
    };
  } else {
    for (const flag of existingOnly)
      if (values[flag] !== undefined)
        throw new UsageError(`--${flag} is for an existing daemon: use it with --url`);
    mode = {
      kind: "managed",
      ...(values.user ? { user: values.user } : {}),
      ...(values["work-dir"] ? { workDir: values["work-dir"] } : {}),
      keep: values.keep === true,
      isolate: values["no-isolate"] !== true,
    };
  }

  let interrupted = false;
  const onSignal = () => {
    if (interrupted) {
      console.error("archy gate: interrupted twice: exiting without cleaning up");
      process.exit(130);
    }
    interrupted = true;
    console.error(
      "archy gate: interrupted: finishing the current step, then cleaning up (Ctrl-C again to exit at once)",
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const paths = reportPaths(values.report);
  try {
    const report = await runGate({
      iterations,
      ...(apps ? { apps } : {}),
      ...(steps ? { steps } : {}),
      destructive: values.destructive === true,
      chaos: values.chaos === true,
      ...(seed !== undefined ? { seed } : {}),
      timeoutScale,
      appsDir: values["apps-dir"] ?? SAMPLE_APPS_DIR,
      mode,
      progress: (line) => console.error(line),
      interrupted: () => interrupted,
    });
    const markdown = renderMarkdown(report);
    writeFileSync(paths.json, reportJson(report));
    writeFileSync(paths.markdown, markdown);
    process.stdout.write(values.json ? reportJson(report) : markdown);
    console.error(
      `archy gate: ${report.verdict.toUpperCase()}: ${report.summary}; reports: ${paths.json}, ${paths.markdown}`,
    );
    return report.exitCode;
  } catch (error) {
    if (error instanceof GateSetupError) {
      console.error(`archy gate: ${error.message}`);
      return error.usage ? 2 : 1;
    }
    throw error;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
