/**
 * A real node for tests: Debian 13 with systemd as PID 1, rootless Podman 5 and Quadlet, run as a
 * privileged container of root's Podman by `scripts/systemd-node` (which this module drives, so the
 * script stays the one place that knows how a node is built and booted). Restarting the node is a
 * real reboot: systemd shuts down and boots again, the node user's lingering manager with it.
 *
 *   const node = await startNode();            // builds the image when needed (minutes, cached)
 *   await node.execUser(["systemctl", "--user", "daemon-reload"]);
 *   const api = await startNode({ podmanSocket: true }); // + the node user's Podman API for the host
 *   new PodmanClient(api.podmanSocket as string);
 *   await node.reboot();
 *   await node.destroy();
 *
 * Needs root (the node is a privileged container).
 */
import { rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { type ExecResult, exec, shellJoin } from "../../src/system/exec.ts";

export const NODE_SCRIPT = fileURLToPath(new URL("../../scripts/systemd-node", import.meta.url));
/** The unprivileged user inside the node whose rootless Podman and systemd manager tests drive. */
export const NODE_USER = "node";
export const NODE_UID = 1000;
/** Every node carries this label (value: its name); `scripts/systemd-node list` shows them. */
export const NODE_LABEL = "io.archipelago.systemd-node";
/** Where a node's host directory (`podmanSocket: true`) appears inside the node. */
export const NODE_HOST_MOUNT = "/srv/host";

const NAME_PREFIX = "archy-node-test-";

export type NodeExecOptions = { input?: string; timeoutMs?: number };

export type NodeBuild = {
  /** `localhost/archy-node:HASH`. */
  image: string;
  /** How long `scripts/systemd-node build` took. */
  ms: number;
  /** True when the image existed already and nothing was built. */
  cached: boolean;
  /** The script's progress output (timestamps per phase). */
  log: string;
};

export type SystemdNode = {
  readonly name: string;
  readonly image: string;
  readonly build: NodeBuild;
  /** How long the first boot took, from `podman run` until the node user's manager was up. */
  readonly bootMs: number;
  /**
   * With `podmanSocket: true`: a host directory bind-mounted at `NODE_HOST_MOUNT` in the node
   * (removed with the node), and the node user's Podman API socket in it, which listens again
   * after every reboot. Connect a `PodmanClient` to it from the host (as root).
   */
  readonly hostDir: string | undefined;
  readonly podmanSocket: string | undefined;
  /** Runs `argv` as root inside the node. */
  exec(argv: readonly string[], options?: NodeExecOptions): Promise<ExecResult>;
  /** Runs `argv` as the node user, with the environment `systemctl --user` and Podman need. */
  execUser(argv: readonly string[], options?: NodeExecOptions): Promise<ExecResult>;
  /** `execUser`, throwing (with the command and its output) unless it exits 0; resolves stdout. */
  mustUser(argv: readonly string[], options?: NodeExecOptions): Promise<string>;
  /** `podman restart` of the node, then waits for the boot; resolves how long it all took (ms). */
  reboot(options?: { timeoutMs?: number }): Promise<number>;
  /** Removes the node and its store volume. Never throws. */
  destroy(): Promise<void>;
};

/** The last `lines` lines of `text`, for error messages. */
function tail(text: string, lines = 100): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

function failure(what: string, result: ExecResult): Error {
  const output = tail(`${result.stdout}\n${result.stderr}`);
  return new Error(`${what} failed (exit ${result.code}):\n${output}`);
}

function script(args: readonly string[], options: NodeExecOptions & { env?: Record<string, string> } = {}) {
  return exec(NODE_SCRIPT, args, {
    timeoutMs: options.timeoutMs ?? 120_000,
    ...(options.input !== undefined ? { input: options.input } : {}),
    ...(options.env ? { env: options.env } : {}),
  });
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error("a systemd node needs root (it is a privileged container)");
}

/** Builds the node image unless it is up to date (a cold build runs debootstrap: minutes). */
export async function buildNodeImage(options: { timeoutMs?: number } = {}): Promise<NodeBuild> {
  requireRoot();
  const started = Date.now();
  const result = await script(["build"], { timeoutMs: options.timeoutMs ?? 900_000 });
  if (result.code !== 0) throw failure("scripts/systemd-node build", result);
  const image = result.stdout.trim().split("\n").at(-1) ?? "";
  return {
    image,
    ms: Date.now() - started,
    cached: /is up to date/.test(result.stderr),
    log: result.stderr.trimEnd(),
  };
}

/** Removes nodes that earlier test processes started and left behind (those processes are gone). */
async function removeAbandonedNodes(): Promise<void> {
  const listed = await exec("podman", [
    "ps",
    "-a",
    "--filter",
    `label=${NODE_LABEL}`,
    "--format",
    "{{.Names}}",
  ]);
  for (const name of listed.stdout.split("\n")) {
    const pid = Number(new RegExp(`^${NAME_PREFIX}(\\d+)-`).exec(name)?.[1] ?? Number.NaN);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue; // its process still runs: not ours to remove
    } catch {}
    await script(["rm", name]);
  }
}

let counter = 0;

/**
 * Builds the image if needed, starts a node and waits until it booted: systemd running (or
 * degraded), the node user's manager up, the test image in the node user's storage.
 */
export async function startNode(
  options: { name?: string; bootTimeoutMs?: number; buildTimeoutMs?: number; podmanSocket?: boolean } = {},
): Promise<SystemdNode> {
  requireRoot();
  await removeAbandonedNodes();
  const build = await buildNodeImage({ timeoutMs: options.buildTimeoutMs ?? 900_000 });
  const name = options.name ?? `${NAME_PREFIX}${process.pid}-${++counter}`;
  const bootTimeoutMs = options.bootTimeoutMs ?? 240_000;
  const bootEnv = { ARCHY_NODE_BOOT_TIMEOUT: String(Math.ceil(bootTimeoutMs / 1000)) };
  // The script creates it (it must not exist yet) and `rm` removes it with the node.
  const hostDir = options.podmanSocket ? `/tmp/archy-node-${name}` : undefined;
  if (hostDir) await rm(hostDir, { recursive: true, force: true });
  const started = Date.now();
  const result = await script(["start", "--name", name, ...(hostDir ? ["--host-dir", hostDir] : [])], {
    timeoutMs: bootTimeoutMs + 60_000,
    env: bootEnv,
  });
  const bootMs = Date.now() - started;
  if (result.code !== 0) {
    await script(["rm", name]);
    if (hostDir) await rm(hostDir, { recursive: true, force: true });
    throw failure(`starting systemd node ${name}`, result);
  }

  const node: SystemdNode = {
    name,
    image: build.image,
    build,
    bootMs,
    hostDir,
    podmanSocket: hostDir ? `${hostDir}/podman.sock` : undefined,
    exec: (argv, execOptions = {}) => script(["exec", name, ...argv], execOptions),
    execUser: (argv, execOptions = {}) => script(["exec-user", name, ...argv], execOptions),
    async mustUser(argv, execOptions = {}) {
      const run = await node.execUser(argv, execOptions);
      if (run.code !== 0) throw failure(`in node ${name} as ${NODE_USER}: ${shellJoin(argv)}`, run);
      return run.stdout;
    },
    async reboot(rebootOptions = {}) {
      const timeoutMs = rebootOptions.timeoutMs ?? bootTimeoutMs;
      const begun = Date.now();
      const env = { ARCHY_NODE_BOOT_TIMEOUT: String(Math.ceil(timeoutMs / 1000)) };
      const run = await script(["reboot", name], { timeoutMs: timeoutMs + 60_000, env });
      if (run.code !== 0) throw failure(`rebooting systemd node ${name}`, run);
      return Date.now() - begun;
    },
    async destroy() {
      await script(["rm", name]);
      if (hostDir) await rm(hostDir, { recursive: true, force: true }).catch(() => {});
    },
  };
  return node;
}
