/**
 * Finds the user's Podman API socket, or starts a Podman service that outlives the daemon.
 *
 * Order: an explicit socket; the socket-activated `podman.socket` of the user's systemd (started
 * when a user systemd answers); else `podman system service --time=0` spawned in a session of its
 * own, so that neither a daemon restart nor a crash (SIGKILL of the daemon's process group) takes
 * the service — or the conmon processes of app containers — with it.
 */
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { exec } from "../system/exec.ts";
import { PodmanClient } from "./libpod/client.ts";
import { PAUSE_PROCESS_GONE } from "./pause-process.ts";

export type ServiceOrigin = "configured" | "systemd-socket" | "existing" | "spawned";

export type PodmanConnection = {
  client: PodmanClient;
  socketPath: string;
  origin: ServiceOrigin;
  pid?: number;
};

export type ServiceOptions = {
  /** `$XDG_RUNTIME_DIR` of the user whose Podman the platform drives. */
  runtimeDir: string;
  /** Use exactly this socket (ARCHY_PODMAN_SOCKET): never start a service. */
  socketPath?: string;
  timeoutMs?: number;
  podmanPath?: string;
  /** Where to start a service of the platform's own (default `<runtimeDir>/archipelago/podman.sock`). */
  ownSocketPath?: string;
  log?: (message: string) => void;
};

export function defaultRuntimeDir(): string {
  return process.env.XDG_RUNTIME_DIR ?? `/run/user/${process.getuid?.() ?? 0}`;
}

async function answers(socketPath: string): Promise<PodmanClient | undefined> {
  const client = new PodmanClient(socketPath);
  try {
    await client.ping(2_000);
    return client;
  } catch {
    await client.close();
    return undefined;
  }
}

async function waitForSocket(
  socketPath: string,
  timeoutMs: number,
  gaveUp: () => boolean = () => false,
): Promise<PodmanClient | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !gaveUp()) {
    const client = await answers(socketPath);
    if (client) return client;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return undefined;
}

/** Connects to Podman, starting its service when none answers. Idempotent: call it again after failures. */
export async function connectPodman(options: ServiceOptions): Promise<PodmanConnection> {
  const log = options.log ?? (() => {});
  const timeoutMs = options.timeoutMs ?? 20_000;
  if (options.socketPath) {
    const client = await waitForSocket(options.socketPath, timeoutMs);
    if (!client) throw new Error(`no Podman service answers on ${options.socketPath} (configured socket)`);
    return { client, socketPath: options.socketPath, origin: "configured" };
  }

  const systemdSocket = join(options.runtimeDir, "podman", "podman.sock");
  const ownSocket = ownSocketOf(options);
  for (const [socketPath, origin] of [
    [systemdSocket, "systemd-socket"],
    [ownSocket, "existing"],
  ] as const) {
    const client = await answers(socketPath);
    if (client) return { client, socketPath, origin };
  }

  const env = { XDG_RUNTIME_DIR: options.runtimeDir };
  const systemd = await exec("systemctl", ["--user", "start", "podman.socket"], { env, timeoutMs: 10_000 });
  if (systemd.code === 0) {
    const client = await waitForSocket(systemdSocket, timeoutMs);
    if (client) {
      log(`using the socket-activated podman.socket of the user's systemd (${systemdSocket})`);
      return { client, socketPath: systemdSocket, origin: "systemd-socket" };
    }
  }

  const { client, pid } = await startService(options, ownSocket, timeoutMs);
  return { client, socketPath: ownSocket, origin: "spawned", pid };
}

/**
 * Spawns a service on `socketPath` and waits until it answers. A service that exits first because
 * the user's pause process died (it holds the rootless user namespace; Podman then refuses every
 * command) is started once more after `podman system migrate`, which starts a new pause process and
 * keeps every container and image. Any other early exit is an error quoting the service's last words.
 */
async function startService(
  options: ServiceOptions,
  socketPath: string,
  timeoutMs: number,
): Promise<{ client: PodmanClient; pid: number | undefined }> {
  for (let attempt = 1; ; attempt++) {
    const service = spawnService(options, socketPath);
    const client = await waitForSocket(socketPath, timeoutMs, () => service.exited);
    if (client) return { client, pid: service.pid };
    const output = service.output();
    if (!service.exited)
      throw new Error(`podman system service did not answer on ${socketPath} within ${timeoutMs} ms`);
    const lastWords = output.trim().split("\n").slice(-3).join(" / ") || "no output";
    if (attempt === 1 && PAUSE_PROCESS_GONE.test(output)) {
      options.log?.(
        "the Podman service exited: the user's pause process is gone; running `podman system migrate` (keeps containers and images)",
      );
      const migrate = await exec(options.podmanPath ?? "podman", ["system", "migrate"], {
        env: { XDG_RUNTIME_DIR: options.runtimeDir },
        timeoutMs: 60_000,
      });
      if (migrate.code === 0) continue;
      throw new Error(
        `podman system service exited (${lastWords}) and \`podman system migrate\` failed: ${migrate.stderr.trim() || `exit code ${migrate.code}`}`,
      );
    }
    throw new Error(`podman system service exited before answering on ${socketPath}: ${lastWords}`);
  }
}

function ownSocketOf(options: ServiceOptions): string {
  return options.ownSocketPath ?? join(options.runtimeDir, "archipelago", "podman.sock");
}

/** A service this process started: its pid, whether it exited, and what it printed since. */
type SpawnedService = { pid: number | undefined; readonly exited: boolean; output(): string };

/** Starts `podman system service` on `socketPath` in a session of its own. */
function spawnService(options: ServiceOptions, socketPath: string): SpawnedService {
  const dir = dirname(socketPath);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const logPath = join(dir, "podman-service.log");
  const logFile = openSync(logPath, "a", 0o600);
  const from = statSync(logPath).size;
  const child = spawn(
    options.podmanPath ?? "podman",
    ["system", "service", "--time=0", `unix://${socketPath}`],
    {
      detached: true,
      stdio: ["ignore", logFile, logFile],
      cwd: "/",
      env: { ...process.env, XDG_RUNTIME_DIR: options.runtimeDir },
    },
  );
  closeSync(logFile);
  child.unref();
  let exited = false;
  child.on("error", () => {
    exited = true;
  });
  child.on("exit", () => {
    exited = true;
  });
  options.log?.(
    `started podman system service (pid ${child.pid}) on ${socketPath}, in its own session so it outlives the daemon`,
  );
  return {
    pid: child.pid,
    get exited() {
      return exited;
    },
    output: () => {
      try {
        return readFileSync(logPath).subarray(from).toString("utf8");
      } catch {
        return "";
      }
    },
  };
}

export type ServiceKeeper = {
  /** How many times the service was started again. */
  readonly revivals: number;
  /** The pid of the service this keeper last started, if it started one. */
  readonly pid: number | undefined;
  stop(): void;
};

/**
 * Keeps a connection's service answering, so a daemon survives a Podman restart or crash: when a
 * call fails because no service answers (`unavailable`), a service the platform started — or found
 * on its own socket, started by an earlier daemon — is started again on the same socket, and a
 * socket-activated one is activated again. The client is bound to the socket path, not to a
 * connection, so every user of it (the reconciler, the event stream) reconnects on its next call.
 * A configured socket belongs to whoever configured it: it is only waited for.
 */
export function keepServiceAlive(
  connection: PodmanConnection,
  options: ServiceOptions & { minIntervalMs?: number },
): ServiceKeeper {
  const log = options.log ?? (() => {});
  const minIntervalMs = options.minIntervalMs ?? 2_000;
  let reviving = false;
  let lastAttempt = 0;
  let revivals = 0;
  let pid = connection.pid;
  let stopped = false;

  async function revive(): Promise<void> {
    if (reviving || stopped || Date.now() - lastAttempt < minIntervalMs) return;
    reviving = true;
    lastAttempt = Date.now();
    try {
      if (await answers(connection.socketPath).then((c) => c?.close().then(() => true))) return;
      if (connection.origin === "configured") {
        log(`no Podman service answers on ${connection.socketPath} (configured): waiting for it`);
        return;
      }
      if (connection.origin === "systemd-socket") {
        const env = { XDG_RUNTIME_DIR: options.runtimeDir };
        await exec("systemctl", ["--user", "start", "podman.socket"], { env, timeoutMs: 10_000 });
      } else {
        log(`the Podman service on ${connection.socketPath} is gone: starting it again`);
        const started = await startService(
          { ...options, log },
          connection.socketPath,
          options.timeoutMs ?? 20_000,
        );
        pid = started.pid;
        await started.client.close();
        revivals++;
        log(`the Podman service answers again on ${connection.socketPath}`);
        return;
      }
      if (
        await waitForSocket(connection.socketPath, options.timeoutMs ?? 20_000).then((c) =>
          c?.close().then(() => true),
        )
      ) {
        revivals++;
        log(`the Podman service answers again on ${connection.socketPath}`);
      }
    } catch (error) {
      log(`could not start the Podman service again: ${(error as Error).message}`);
    } finally {
      lastAttempt = Date.now();
      reviving = false;
    }
  }

  const unsubscribe = connection.client.observe((call) => {
    if (call.outcome === "unavailable") void revive();
  });
  return {
    get revivals() {
      return revivals;
    },
    get pid() {
      return pid;
    },
    stop() {
      stopped = true;
      unsubscribe();
    },
  };
}
