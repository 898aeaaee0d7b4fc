/**
 * The Podman the gate verifies through. A gate that starts its own daemon also starts the Podman
 * service that daemon talks to (`podman system service --time=0` on a socket in the sandbox, as the
 * daemon's user), so that the chaos fault "restart the Podman service" restarts exactly that one and
 * nobody else's; the app containers outlive it (conmon holds them). For an existing daemon the gate
 * only connects to a socket it is given.
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { PodmanClient } from "../runtime/libpod/client.ts";
import type { RunAs } from "../system/exec.ts";
import { exited, signalGroup, spawnAs } from "./run-as.ts";

export type GatePodman = {
  readonly socketPath: string;
  readonly client: PodmanClient;
  /** Why the gate cannot restart it, when it cannot. */
  readonly restartUnavailable: string | undefined;
  /** Stops the service and starts it again on the same socket; resolves once it answers. */
  restart(): Promise<{ downMs: number }>;
  close(): Promise<void>;
};

async function waitForPing(client: PodmanClient, timeoutMs: number, alive: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive()) return false;
    try {
      await client.ping(1_000);
      return true;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return false;
}

/** Starts a Podman service of the gate's own on `socketPath` as `user`. */
export async function startPodmanService(
  user: RunAs,
  socketPath: string,
  logFile: string,
  /** A service that exits on its own is an incident (failing the run); it is started again, as systemd would. */
  onIncident?: (message: string) => void,
): Promise<GatePodman> {
  const client = new PodmanClient(socketPath, { timeoutMs: 60_000 });
  let child: ChildProcess | undefined;
  let revivals = 0;
  const log = () => {
    try {
      return readFileSync(logFile, "utf8").trimEnd().split("\n").slice(-20).join("\n");
    } catch {
      return "";
    }
  };
  let closed = false;
  const start = async (): Promise<void> => {
    const started = spawnAs(
      user,
      ["podman", "system", "service", "--time=0", `unix://${socketPath}`],
      logFile,
    );
    child = started;
    if (!(await waitForPing(client, 30_000, () => !exited(started)))) {
      child = undefined;
      await signalGroup(started, "SIGKILL", 5_000);
      throw new Error(`podman system service did not answer on ${socketPath} within 30 s:\n${log()}`);
    }
    // Supervised from now on: an exit the gate did not cause is an incident, and a restart.
    const supervise = (code: number | null, signal: NodeJS.Signals | null) => {
      if (child !== started || closed) return; // stopped by the gate
      child = undefined;
      const again = revivals++ < 5;
      onIncident?.(
        `the Podman service on ${socketPath} exited on its own (${signal ?? `exit code ${code}`})${again ? "; the gate started it again" : ""}: ${log()}`,
      );
      if (again)
        setTimeout(() => {
          if (child || closed) return;
          start().catch((error) =>
            onIncident?.(`the Podman service did not start again: ${(error as Error).message}`),
          );
        }, 1_000);
    };
    if (exited(started)) supervise(started.exitCode, started.signalCode);
    else started.once("exit", supervise);
  };
  const stop = async () => {
    const current = child;
    child = undefined;
    if (!current) return;
    if (!(await signalGroup(current, "SIGTERM", 10_000))) await signalGroup(current, "SIGKILL", 5_000);
  };
  await start();
  return {
    socketPath,
    client,
    restartUnavailable: undefined,
    async restart() {
      const began = Date.now();
      await stop();
      await start();
      return { downMs: Date.now() - began };
    },
    async close() {
      closed = true;
      await stop();
      await client.close();
    },
  };
}

/** A Podman service someone else runs (an existing daemon's): the gate only connects to it. */
export async function connectPodmanSocket(socketPath: string): Promise<GatePodman> {
  const client = new PodmanClient(socketPath, { timeoutMs: 60_000 });
  try {
    await client.ping(5_000);
  } catch (error) {
    await client.close();
    throw new Error(`no Podman service answers on ${socketPath}: ${(error as Error).message}`);
  }
  return {
    socketPath,
    client,
    restartUnavailable: "the gate does not own the Podman service of a daemon it did not start",
    restart: () => Promise.reject(new Error("the gate cannot restart a Podman service it did not start")),
    close: () => client.close(),
  };
}
