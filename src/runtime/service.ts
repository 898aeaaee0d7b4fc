/**
 * Finds the user's Podman API socket, or starts a Podman service that outlives the daemon.
 *
 * Order: an explicit socket; the socket-activated `podman.socket` of the user's systemd (started
 * when a user systemd answers); else `podman system service --time=0` spawned in a session of its
 * own, so that neither a daemon restart nor a crash (SIGKILL of the daemon's process group) takes
 * the service — or the conmon processes of app containers — with it.
 */
import { spawn } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { exec } from "../system/exec.ts";
import { PodmanClient } from "./libpod/client.ts";

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

async function waitForSocket(socketPath: string, timeoutMs: number): Promise<PodmanClient | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
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
  const ownSocket = join(options.runtimeDir, "archipelago", "podman.sock");
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

  mkdirSync(join(options.runtimeDir, "archipelago"), { recursive: true, mode: 0o700 });
  const logFile = openSync(join(options.runtimeDir, "archipelago", "podman-service.log"), "a", 0o600);
  const child = spawn(
    options.podmanPath ?? "podman",
    ["system", "service", "--time=0", `unix://${ownSocket}`],
    {
      detached: true,
      stdio: ["ignore", logFile, logFile],
      cwd: "/",
      env: { ...process.env, ...env },
    },
  );
  child.unref();
  log(
    `started podman system service (pid ${child.pid}) on ${ownSocket}, in its own session so it outlives the daemon`,
  );
  const client = await waitForSocket(ownSocket, timeoutMs);
  if (!client) throw new Error(`podman system service did not answer on ${ownSocket} within ${timeoutMs} ms`);
  return { client, socketPath: ownSocket, origin: "spawned", pid: child.pid };
}
