/**
 * The daemon under the gate, and how the gate may kill and restart it.
 *
 * By default the gate starts its own `archy daemon` (as the unprivileged user, with a fresh data
 * directory, the gated apps as its apps directory, a free loopback port and the gate's Podman
 * service), so that "daemon restart survives" can SIGKILL it and start it again exactly as a crash
 * and systemd's restart would. An existing daemon (`--url`) can only be restarted with a command
 * the operator gives (`--restart-command`); without one, the step is skipped, saying why.
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { exec, type RunAs } from "../system/exec.ts";
import { exited, signalGroup, spawnAs } from "./run-as.ts";

export type DaemonInfo = { version: string; uptimeMs: number; backend: string; apps: number };

export type DaemonControl = {
  readonly url: string;
  readonly tokenFile: string;
  /** How the daemon-restart step restarts it, in words; undefined when it cannot. */
  readonly restartHow: string | undefined;
  readonly restartUnavailable: string | undefined;
  /** Why the gate cannot SIGKILL it mid-operation (chaos), when it cannot. */
  readonly crashUnavailable: string | undefined;
  /**
   * The daemon-restart step: down and up again; resolves once it answers and is connected to Podman,
   * with when the new daemon started (what it observed since then, it observed after the restart).
   */
  restart(): Promise<{ downMs: number; bootedAt: number }>;
  /** SIGKILL, then started again at once (as systemd's Restart= would). */
  crash(): Promise<{ downMs: number; bootedAt: number }>;
  /** How the reboot step reboots the daemon's node, in words; undefined when it cannot. */
  readonly rebootHow?: string | undefined;
  /**
   * The reboot step: the daemon's node restarted; resolves once the daemon answers again (started
   * after the reboot began), connected to Podman, with when it started.
   */
  reboot?(): Promise<{ downMs: number; bootedAt: number }>;
  /** The daemon's latest warnings and errors (a daemon the gate started), for evidence. */
  logTail(lines: number): string[];
  close(): Promise<void>;
};

/** `system.info` (public: no token needed); undefined when nothing answers as a daemon. */
export async function systemInfo(url: string, timeoutMs = 2_000): Promise<DaemonInfo | undefined> {
  try {
    const response = await fetch(`${url}/rpc/v1`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "system.info", params: {} }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.json()) as { result?: DaemonInfo };
    return body.result;
  } catch {
    return undefined;
  }
}

/** Waits until the daemon answers and is connected to Podman (and, with `bootedAfter`, restarted since). */
export async function waitForDaemon(
  url: string,
  timeoutMs: number,
  options: { alive?: () => boolean; bootedAfter?: number; what?: () => string } = {},
): Promise<DaemonInfo & { bootedAt: number }> {
  const deadline = Date.now() + timeoutMs;
  let last: DaemonInfo | undefined;
  while (Date.now() < deadline) {
    if (options.alive && !options.alive())
      throw new Error(`the daemon exited while starting${options.what ? `:\n${options.what()}` : ""}`);
    const asked = Date.now();
    last = await systemInfo(url);
    const fresh =
      options.bootedAfter === undefined ||
      (last && Date.now() - last.uptimeMs >= options.bootedAfter - 1_000);
    // When it started (its uptime counts from before its first look at Podman): at the latest `asked - uptime`.
    if (last && fresh && last.backend !== "connecting to Podman")
      return { ...last, bootedAt: asked - last.uptimeMs };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `the daemon at ${url} was not ready within ${Math.round(timeoutMs / 1000)} s (${
      last
        ? `it answers, backend: ${last.backend}, up ${Math.round(last.uptimeMs / 1000)} s`
        : "it does not answer"
    })${options.what ? `:\n${options.what()}` : ""}`,
  );
}

/** The warnings and errors of a pino JSON log, as `time level message` lines (the last `lines`). */
export function logWarnings(text: string, lines: number): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const entry = JSON.parse(line) as { level?: number; time?: number; msg?: string };
      if ((entry.level ?? 0) < 40) continue;
      const level = (entry.level ?? 0) >= 50 ? "ERROR" : "WARN";
      out.push(`${entry.time ? new Date(entry.time).toISOString() : "?"} ${level} ${entry.msg ?? ""}`);
    } catch {}
  }
  return out.slice(-lines);
}

export type ManagedDaemonOptions = {
  user: RunAs;
  /** A copy of the code the user can read: `<root>/bin/archy` with the build, the sources and `node_modules`. */
  codeRoot: string;
  dataDir: string;
  appsDir: string;
  listen: { host: string; port: number };
  /** More options of `archy daemon` (tests turning a setting on). */
  extraArgs?: readonly string[];
  podmanSocket: string;
  logFile: string;
  bootTimeoutMs?: number;
  /**
   * A daemon that exits on its own is an incident (reported, failing the run) and is started again
   * a second later, as systemd's `Restart=` would, so the run goes on.
   */
  onIncident?: (message: string) => void;
};

/** Starts `archy daemon` as the user and waits until it answers and is connected to Podman. */
export async function startManagedDaemon(options: ManagedDaemonOptions): Promise<DaemonControl> {
  const url = `http://${options.listen.host}:${options.listen.port}`;
  const bootTimeoutMs = options.bootTimeoutMs ?? 60_000;
  // bin/archy, as the service runs it: the build, with the daemon's Node flags.
  const argv = [
    join(options.codeRoot, "bin", "archy"),
    "daemon",
    "--data-dir",
    options.dataDir,
    "--listen",
    `${options.listen.host}:${options.listen.port}`,
    "--apps-dir",
    options.appsDir,
    "--podman-socket",
    options.podmanSocket,
    ...(options.extraArgs ?? []),
  ];
  let child: ChildProcess | undefined;
  const tail = () => {
    try {
      return readFileSync(options.logFile, "utf8").trimEnd().split("\n").slice(-15).join("\n");
    } catch {
      return "";
    }
  };
  let revivals = 0;
  let closed = false;
  const start = async (): Promise<number> => {
    const started = spawnAs(options.user, argv, options.logFile);
    child = started;
    const bootedAfter = Date.now();
    let bootedAt: number;
    try {
      ({ bootedAt } = await waitForDaemon(url, bootTimeoutMs, {
        alive: () => !exited(started),
        bootedAfter,
        what: tail,
      }));
    } catch (error) {
      child = undefined;
      await signalGroup(started, "SIGKILL", 10_000);
      throw error;
    }
    // Supervised from now on: an exit the gate did not cause is an incident, and a restart.
    const supervise = (code: number | null, signal: NodeJS.Signals | null) => {
      if (child !== started || closed) return; // killed or stopped by the gate
      child = undefined;
      const again = revivals++ < 5;
      options.onIncident?.(
        `the daemon exited on its own (${signal ?? `exit code ${code}`})${again ? "; the gate started it again" : "; not started again (5 times already)"}: ${tail()}`,
      );
      if (again)
        setTimeout(() => {
          if (child || closed) return;
          start().catch((error) =>
            options.onIncident?.(`the daemon did not start again: ${(error as Error).message}`),
          );
        }, 1_000);
    };
    if (exited(started)) supervise(started.exitCode, started.signalCode);
    else started.once("exit", supervise);
    return bootedAt;
  };
  const kill = async () => {
    const current = child;
    child = undefined;
    if (current) await signalGroup(current, "SIGKILL", 10_000);
  };
  await start();
  const crash = async () => {
    const began = Date.now();
    await kill();
    const bootedAt = await start();
    return { downMs: Date.now() - began, bootedAt };
  };
  return {
    url,
    tokenFile: join(options.dataDir, "state", "cli-token"),
    restartHow: "SIGKILL of the daemon, then `archy daemon` started again on the same data",
    restartUnavailable: undefined,
    crashUnavailable: undefined,
    restart: crash,
    crash,
    logTail: (lines) => {
      try {
        return logWarnings(readFileSync(options.logFile, "utf8"), lines);
      } catch {
        return [];
      }
    },
    async close() {
      closed = true;
      const current = child;
      child = undefined;
      if (current && !(await signalGroup(current, "SIGTERM", 20_000)))
        await signalGroup(current, "SIGKILL", 10_000);
    },
  };
}

/** A daemon the gate did not start: restarted (and its node rebooted) only with the operator's commands. */
export function existingDaemon(options: {
  url: string;
  tokenFile: string;
  restartCommand?: string;
  rebootCommand?: string;
}): DaemonControl {
  const { url, restartCommand, rebootCommand } = options;
  // Runs the operator's command, then waits for a daemon that started after it began.
  const runAndWait = async (command: string, flag: string, commandMs: number, bootMs: number) => {
    const began = Date.now();
    const run = await exec("sh", ["-c", command], { timeoutMs: commandMs });
    if (run.code !== 0)
      throw new Error(`${flag} exited ${run.code}: ${(run.stderr || run.stdout).trim().slice(-500)}`);
    const { bootedAt } = await waitForDaemon(url, bootMs, { bootedAfter: began });
    return { downMs: Date.now() - began, bootedAt };
  };
  const restart = async () => {
    if (!restartCommand) throw new Error("no --restart-command");
    return runAndWait(restartCommand, "--restart-command", 300_000, 120_000);
  };
  return {
    url,
    tokenFile: options.tokenFile,
    ...(rebootCommand
      ? {
          rebootHow: `\`${rebootCommand}\` (--reboot-command)`,
          // A node boots within its boot limit (timeouts.ts MARGINS.nodeBootMs), its daemon after.
          reboot: () => runAndWait(rebootCommand, "--reboot-command", 300_000, 180_000),
        }
      : {}),
    restartHow: restartCommand ? `\`${restartCommand}\` (--restart-command)` : undefined,
    restartUnavailable: restartCommand
      ? undefined
      : "the gate did not start this daemon and has no --restart-command to restart it with",
    crashUnavailable: "the gate does not SIGKILL a daemon it did not start",
    restart,
    crash: () => Promise.reject(new Error("the gate cannot crash a daemon it did not start")),
    logTail: () => [],
    close: async () => {},
  };
}
