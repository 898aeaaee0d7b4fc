/**
 * A dedicated libpod API for one test file: `podman system service --time=0` started as the rootless
 * test user on a unique unix socket (`/tmp/archy-<prefix>.sock`), in a process group of its own so a
 * test can stop it, crash it or restart it while its containers keep running (they belong to conmon,
 * which Podman starts in a session of its own). Root connects to the socket the test user owns.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, rmSync } from "node:fs";
import { TEST_USER } from "../../src/host/layout.ts";
import { PodmanClient } from "../../src/runtime/libpod/client.ts";
import { testUserEnv } from "./rootless.ts";

const isRoot = process.getuid?.() === 0;

export type TestPodmanService = {
  readonly socketPath: string;
  /** A client of the platform over the socket; it survives restarts (it reconnects per call). */
  readonly client: PodmanClient;
  /** The process group of the running service (runuser and podman), undefined when stopped. */
  readonly pid: number | undefined;
  /** Starts the service again after `stop()` or `crash()` and waits until it answers. */
  start(): Promise<void>;
  /** SIGTERM to the service's process group; waits until it has exited. Containers keep running. */
  stop(): Promise<void>;
  /** SIGKILL to the service's process group: a crash (the socket file stays behind). */
  crash(): Promise<void>;
  /** `stop()` then `start()`: the same socket path, a new process. */
  restart(): Promise<void>;
  /** Stops the service, closes the client and removes the socket and log files. */
  close(): Promise<void>;
  /** The last lines the service wrote, for failure messages. */
  log(): string;
};

const running = new Set<ChildProcess>();
function killAll(): void {
  for (const child of running)
    try {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    } catch {}
}
// A test process that ends early (an uncaught error, Ctrl-C, the runner's SIGTERM) must not leave
// services behind. After a signal, the signal is raised again for its default action.
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => {
    killAll();
    process.kill(process.pid, signal);
  });

function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Starts a dedicated Podman service for `prefix` and waits until it answers `_ping`. */
export async function startPodmanService(
  prefix: string,
  options: { timeoutMs?: number; clientTimeoutMs?: number } = {},
): Promise<TestPodmanService> {
  const socketPath = `/tmp/archy-${prefix}.sock`;
  const logPath = `/tmp/archy-${prefix}-service.log`;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const client = new PodmanClient(socketPath, { timeoutMs: options.clientTimeoutMs ?? 60_000 });
  let child: ChildProcess | undefined;

  const log = () => {
    try {
      return readFileSync(logPath, "utf8").slice(-3000);
    } catch {
      return "";
    }
  };

  async function start(): Promise<void> {
    if (child) return;
    const env = testUserEnv();
    const argv = ["podman", "system", "service", "--time=0", `unix://${socketPath}`];
    const [file, args] = isRoot
      ? [
          "runuser",
          ["-u", TEST_USER, "--", "env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv],
        ]
      : [argv[0] as string, argv.slice(1)];
    const out = openSync(logPath, "a", 0o644);
    const started = spawn(file, args, { cwd: "/tmp", env, detached: true, stdio: ["ignore", out, out] });
    closeSync(out);
    started.unref();
    child = started;
    running.add(started);
    started.once("exit", () => running.delete(started));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (started.exitCode !== null || started.signalCode !== null) {
        child = undefined;
        throw new Error(`podman system service on ${socketPath} exited at once:\n${log()}`);
      }
      try {
        await client.ping(1_000);
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await signalAndWait("SIGKILL", 5_000);
    throw new Error(
      `podman system service did not answer on ${socketPath} within ${timeoutMs} ms:\n${log()}`,
    );
  }

  async function signalAndWait(signal: NodeJS.Signals, waitMs: number): Promise<boolean> {
    const current = child;
    if (!current?.pid) return true;
    try {
      process.kill(-current.pid, signal);
    } catch {}
    const done = await exited(current, waitMs);
    if (done) child = undefined;
    return done;
  }

  async function stop(): Promise<void> {
    // runuser waits a little for podman before it exits itself; podman removes its socket on SIGTERM.
    if (!(await signalAndWait("SIGTERM", 10_000))) await signalAndWait("SIGKILL", 5_000);
  }

  async function crash(): Promise<void> {
    await signalAndWait("SIGKILL", 5_000);
  }

  await start();
  return {
    socketPath,
    client,
    get pid() {
      return child?.pid;
    },
    start,
    stop,
    crash,
    async restart() {
      await stop();
      await start();
    },
    async close() {
      await stop();
      await client.close();
      rmSync(socketPath, { force: true });
      rmSync(logPath, { force: true });
    },
    log,
  };
}
