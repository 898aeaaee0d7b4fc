/** Containers through the libpod API: typed results for what the platform uses. */
import type { DnsServer } from "./dns-server.ts";
import { isPodmanError } from "./errors.ts";
import { collectOutput, demultiplex, type OutputChunk } from "./multiplex.ts";
import type { LibpodTransport } from "./transport.ts";

/** One entry of `GET /containers/json` (without size), reduced to what the platform reads. */
export type ContainerSummary = {
  Id: string;
  Names: string[];
  Image: string;
  State: string;
  Labels: Record<string, string> | null;
  Created: string;
  StartedAt: number;
  Exited: boolean;
  ExitedAt: number;
  ExitCode: number;
  Pid: number;
};

/** The parts of `GET /containers/{name}/json` the platform reads. */
export type ContainerInspect = {
  Id: string;
  Name: string;
  Created: string;
  RestartCount?: number;
  State: {
    Status: string;
    Running: boolean;
    ExitCode: number;
    Error?: string;
    StartedAt: string;
    FinishedAt: string;
    OOMKilled?: boolean;
    Pid: number;
    ConmonPid?: number;
  };
  Config: { Labels: Record<string, string> | null; Env?: string[]; StopTimeout?: number; Image?: string };
  HostConfig: {
    RestartPolicy?: { Name: string; MaximumRetryCount: number };
    CapDrop?: string[];
    CapAdd?: string[];
  };
  EffectiveCaps?: string[] | null;
  ImageName?: string;
  Mounts?: Array<{ Type: string; Name?: string; Source: string; Destination: string }>;
  /** `SandboxKey`: the network namespace of the container's run; empty once Podman cleaned it up. */
  NetworkSettings?: { SandboxKey?: string };
};

/** States of a container whose run has ended (Podman cleans up after it). */
const ENDED = new Set(["exited", "stopped"]);
/** Podman's stop timeout for a container created without one. */
const DEFAULT_STOP_TIMEOUT_S = 10;

function sandboxOf(container: ContainerInspect): string {
  return container.NetworkSettings?.SandboxKey ?? "";
}

export type ExecResult = { exitCode: number; stdout: string; stderr: string };

/** How a health probe went (see `Containers.probe`): only the first two are verdicts on the app. */
export type ProbeRun =
  | { kind: "exited"; exitCode: number; output: string }
  | { kind: "timed-out"; output: string }
  | { kind: "not-run"; reason: string };

/**
 * Exit code 125 is Podman's own error (it could not run the command: the exec failed to start,
 * its attach was lost), never the probe's verdict: the generated probes exit 0 or 1.
 */
const PODMAN_FAILED = 125;

function exited(exitCode: number, output: string): ProbeRun {
  if (exitCode === PODMAN_FAILED)
    return {
      kind: "not-run",
      reason: `Podman could not run the probe (exit code 125, its own error)${output ? `: ${output.trim().slice(-200)}` : ""}`,
    };
  return { kind: "exited", exitCode, output };
}

/** A probe's output is kept to explain a verdict: its end is enough. */
const PROBE_OUTPUT_BYTES = 64 * 1024;
/** How often a probe found running past its start call is looked at again. */
const PROBE_POLL_MS = 200;

/** How long a followed log waits for Podman's response headers before it returns (see `logs`). */
const FOLLOW_HEADERS_GRACE_MS = 2_000;

export type ContainersOptions = {
  /** How long a start waits for Podman to clean up the container's last run (see `start`). */
  cleanupTimeoutMs?: number;
  pollMs?: number;
};

export class Containers {
  #http: LibpodTransport;
  #dns: DnsServer | undefined;
  #cleanupTimeoutMs: number;
  #pollMs: number;

  /** `dns` guards starts against Podman 4.3's DNS server race (see dns-server.ts). */
  constructor(http: LibpodTransport, dns?: DnsServer, options: ContainersOptions = {}) {
    this.#http = http;
    this.#dns = dns;
    this.#cleanupTimeoutMs = options.cleanupTimeoutMs ?? 10_000;
    this.#pollMs = options.pollMs ?? 50;
  }

  /** All containers (running or not) carrying every given label (`key=value` or `key`). */
  async list(labels: string[], options: { timeoutMs?: number } = {}): Promise<ContainerSummary[]> {
    const { body } = await this.#http.request<ContainerSummary[] | null>({
      method: "GET",
      path: "/containers/json",
      query: { all: true, size: false, filters: JSON.stringify({ label: labels }) },
      operation: "container.list",
      ...options,
    });
    return body ?? [];
  }

  /** Containers with exactly these names (Podman's name filter is a regular expression: anchor it). */
  async listByName(names: string[]): Promise<ContainerSummary[]> {
    if (names.length === 0) return [];
    const patterns = names.map((name) => `^/?${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
    const { body } = await this.#http.request<ContainerSummary[] | null>({
      method: "GET",
      path: "/containers/json",
      query: { all: true, size: false, filters: JSON.stringify({ name: patterns }) },
      operation: "container.list",
    });
    const wanted = new Set(names);
    return (body ?? []).filter((c) => c.Names.some((n) => wanted.has(n)));
  }

  async inspect(nameOrId: string, options: { timeoutMs?: number } = {}): Promise<ContainerInspect> {
    const { body } = await this.#http.request<ContainerInspect>({
      method: "GET",
      path: `/containers/${encodeURIComponent(nameOrId)}/json`,
      operation: "container.inspect",
      ...options,
    });
    return body;
  }

  /** Inspect, or undefined when no such container exists. */
  async find(nameOrId: string): Promise<ContainerInspect | undefined> {
    try {
      return await this.inspect(nameOrId);
    } catch (error) {
      if (isPodmanError(error, "not-found")) return undefined;
      throw error;
    }
  }

  /** Creates a container from a libpod SpecGenerator body (as rendered from the manifest). */
  async create(spec: Record<string, unknown>): Promise<{ id: string; warnings: string[] }> {
    const { body } = await this.#http.request<{ Id: string; Warnings: string[] | null }>({
      method: "POST",
      path: "/containers/create",
      body: spec,
      operation: "container.create",
    });
    return { id: body.Id, warnings: body.Warnings ?? [] };
  }

  /**
   * Starts a container; starting a running one is not an error. Two races of Podman 4.3 are waited
   * out first.
   *
   * A container that died is waited on until Podman has cleaned up its last run. When it dies,
   * conmon runs `podman container cleanup`, which tears down its network: namespace and rootless
   * port forwarder. A start that comes first (a supervisor reacting to the `died` event within
   * ~150 ms) reuses the old namespace and sets up no forwarder, while the old forwarder exits with
   * the old conmon: the container runs, its health probe (inside it) passes, and its published
   * ports refuse every connection; the late cleanup then refuses to touch a running container.
   * Should the cleanup not come in time, the start goes on, and a run found on its predecessor's
   * namespace is restarted, which sets its network up anew.
   *
   * Then a DNS server that just died is waited out, so that the start's network setup starts a new
   * one (see dns-server.ts); in this order, as the cleanup of the last container with DNS is what
   * stops the server.
   */
  async start(nameOrId: string): Promise<void> {
    const before = await this.#afterStartRaces(nameOrId, "start");
    // The namespace of a run (ended, or running at the look); an initialized container's is its own.
    const namespace = before && before.State.Status !== "initialized" ? sandboxOf(before) : "";
    if (!namespace) return;
    // A run that began on the namespace seen before the start: the cleanup did not come in time,
    // or the container died between that look and the start.
    const after = await this.find(nameOrId);
    if (
      after?.State.Running &&
      sandboxOf(after) === namespace &&
      after.State.StartedAt !== before?.State.StartedAt
    )
      await this.restart(nameOrId, after.Config.StopTimeout ?? DEFAULT_STOP_TIMEOUT_S);
  }

  /**
   * Prepares a stopped container for its start without starting it: storage and volumes mounted,
   * network set up (Podman's "initialized"). A copy into a stopped container needs it: Podman 4.3
   * writes into a volume only while it is mounted, and the platform's volumes (bind-backed) are
   * mounted only for an initialized or running container; otherwise the files land under the
   * mount point, hidden once the volume is mounted. Initializing an initialized or running
   * container is not an error; the same races as a start's are waited out.
   */
  async init(nameOrId: string): Promise<void> {
    await this.#afterStartRaces(nameOrId, "init");
  }

  /**
   * `start` or `init` once the dead run's cleanup and a dying DNS server are waited out (in that
   * order: see `start`); 304 (already started or initialized) is not an error. Returns the look
   * taken before the call.
   */
  async #afterStartRaces(nameOrId: string, action: "start" | "init") {
    const before = await this.#awaitCleanup(nameOrId);
    await this.#dns?.settle();
    await this.#http.request({
      method: "POST",
      path: `/containers/${encodeURIComponent(nameOrId)}/${action}`,
      accept: [304],
      operation: `container.${action}`,
    });
    return before;
  }

  /**
   * Waits while a stopped container still holds its last run's network namespace (up to the
   * cleanup time limit); resolves the container as last seen (undefined when there is none). An
   * initialized container holds a namespace of its own, made for its next start: not waited on.
   */
  async #awaitCleanup(nameOrId: string): Promise<ContainerInspect | undefined> {
    const deadline = Date.now() + this.#cleanupTimeoutMs;
    for (;;) {
      const container = await this.find(nameOrId);
      const pending = container && ENDED.has(container.State.Status) && sandboxOf(container) !== "";
      if (!pending || Date.now() >= deadline) return container;
      await new Promise((resolve) => setTimeout(resolve, this.#pollMs));
    }
  }

  /**
   * Stops a container, waiting up to `timeoutSeconds` before Podman sends SIGKILL; stopping a stopped
   * one is not an error. The call's own time limit covers the stop timeout plus a margin.
   */
  async stop(nameOrId: string, timeoutSeconds: number): Promise<void> {
    await this.#http.request({
      method: "POST",
      path: `/containers/${encodeURIComponent(nameOrId)}/stop`,
      query: { timeout: timeoutSeconds },
      accept: [304],
      timeoutMs: (timeoutSeconds + 30) * 1000,
      operation: "container.stop",
    });
  }

  async restart(nameOrId: string, timeoutSeconds: number): Promise<void> {
    await this.#http.request({
      method: "POST",
      path: `/containers/${encodeURIComponent(nameOrId)}/restart`,
      query: { t: timeoutSeconds },
      timeoutMs: (timeoutSeconds + 30) * 1000,
      operation: "container.restart",
    });
  }

  async kill(nameOrId: string, signal = "SIGKILL"): Promise<void> {
    await this.#http.request({
      method: "POST",
      path: `/containers/${encodeURIComponent(nameOrId)}/kill`,
      query: { signal },
      operation: "container.kill",
    });
  }

  /** Removes a container (stopping it first when `force`); volumes are never removed with it. */
  async remove(nameOrId: string, options: { force?: boolean; timeoutSeconds?: number } = {}): Promise<void> {
    await this.#http.request({
      method: "DELETE",
      path: `/containers/${encodeURIComponent(nameOrId)}`,
      query: { force: options.force ?? false, v: false, timeout: options.timeoutSeconds },
      timeoutMs: ((options.timeoutSeconds ?? 10) + 30) * 1000,
      operation: "container.remove",
    });
  }

  /**
   * Extracts a tar archive into the container at `path` (a directory that must exist): how files are
   * copied into containers, whatever tools their image has. Works on stopped containers too.
   */
  async putArchive(nameOrId: string, path: string, archive: Uint8Array): Promise<void> {
    await this.#http.request({
      method: "PUT",
      path: `/containers/${encodeURIComponent(nameOrId)}/archive`,
      query: { path },
      body: archive,
      operation: "container.archive",
    });
  }

  /** Waits until the container reaches a condition (e.g. "stopped"); returns its exit code. */
  async wait(
    nameOrId: string,
    condition: "stopped" | "running" | "exited",
    timeoutMs: number,
  ): Promise<number> {
    const { body } = await this.#http.request<number | string>({
      method: "POST",
      path: `/containers/${encodeURIComponent(nameOrId)}/wait`,
      query: { condition },
      timeoutMs,
      operation: "container.wait",
    });
    return Number(body);
  }

  /** Runs a command inside a running container and captures its output and exit code. */
  async exec(
    nameOrId: string,
    command: string[],
    options: { timeoutMs?: number; maxOutputBytes?: number; env?: Readonly<Record<string, string>> } = {},
  ): Promise<ExecResult> {
    const session = await this.#execCreate(nameOrId, command, options.env);
    const output = await this.#execStart(session, options.timeoutMs, options.maxOutputBytes);
    return { exitCode: (await this.#execState(session)).ExitCode, ...output };
  }

  /**
   * Runs a health probe inside a running container and tells apart what `exec` cannot: a command
   * that ran and exited (with its code), one that ran out of its time, and one Podman never ran —
   * the container was not running, Podman did not answer, or it could not even start the process
   * within the time limit (runc, conmon and the process start are slow on an overloaded node).
   * The last is no verdict on the app. A command found running when its start call timed out is
   * given its whole time limit from then, so Podman's slowness in starting it never counts
   * against the app either.
   */
  async probe(nameOrId: string, command: string[], timeoutMs: number): Promise<ProbeRun> {
    let session: string;
    try {
      session = await this.#execCreate(nameOrId, command);
    } catch (error) {
      if (isPodmanError(error)) return { kind: "not-run", reason: error.message };
      throw error;
    }
    try {
      const output = await this.#execStart(session, timeoutMs, PROBE_OUTPUT_BYTES);
      return exited((await this.#execState(session)).ExitCode, `${output.stdout}${output.stderr}`);
    } catch (error) {
      if (!isPodmanError(error)) throw error;
      if (error.kind !== "timeout") return { kind: "not-run", reason: error.message };
    }
    try {
      let state = await this.#execState(session);
      if (!state.Running && !state.CanRemove)
        return {
          kind: "not-run",
          reason: `Podman did not start the probe within ${timeoutMs} ms (the node is too busy to tell)`,
        };
      const deadline = Date.now() + timeoutMs;
      while (state.Running && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, PROBE_POLL_MS));
        state = await this.#execState(session);
      }
      if (!state.Running) return exited(state.ExitCode, "");
      return { kind: "timed-out", output: `the probe was still running ${timeoutMs} ms after it started` };
    } catch (error) {
      if (isPodmanError(error)) return { kind: "not-run", reason: error.message };
      throw error;
    }
  }

  /** An exec session of `command`; `env`, added to the container's environment, is in the request's body only. */
  async #execCreate(
    nameOrId: string,
    command: string[],
    env: Readonly<Record<string, string>> = {},
  ): Promise<string> {
    const Env = Object.entries(env).map(([name, value]) => `${name}=${value}`);
    const { body } = await this.#http.request<{ Id: string }>({
      method: "POST",
      path: `/containers/${encodeURIComponent(nameOrId)}/exec`,
      body: {
        Cmd: command,
        ...(Env.length > 0 ? { Env } : {}),
        AttachStdout: true,
        AttachStderr: true,
        AttachStdin: false,
        Tty: false,
      },
      operation: "container.exec",
    });
    return body.Id;
  }

  async #execStart(
    session: string,
    timeoutMs = this.#http.defaultTimeoutMs,
    maxOutputBytes = 1024 * 1024,
  ): Promise<{ stdout: string; stderr: string }> {
    const { body: raw } = await this.#http.request<Buffer>({
      method: "POST",
      path: `/exec/${session}/start`,
      body: { Detach: false, Tty: false },
      timeoutMs,
      binary: true,
      operation: "container.exec",
    });
    return collectOutput(raw, maxOutputBytes);
  }

  /** An exec session: never started (not running, not removable), running, or ended (removable). */
  async #execState(session: string): Promise<{ ExitCode: number; Running: boolean; CanRemove: boolean }> {
    const { body } = await this.#http.request<{ ExitCode: number; Running: boolean; CanRemove: boolean }>({
      method: "GET",
      path: `/exec/${session}/json`,
      operation: "container.exec",
    });
    return body;
  }

  /**
   * The container's log, as a stream of stdout/stderr chunks; follows new output when asked.
   *
   * Podman (4.3 at least) sends the response headers of a followed log only with its first line:
   * for a container that has not written anything yet, waiting for them would hold the caller
   * until it does (or fail with a timeout). A followed log therefore waits for the headers only
   * briefly, so that errors such as an unknown container are still thrown here, and otherwise
   * returns at once, the stream opening when the first line arrives.
   */
  async logs(
    nameOrId: string,
    options: { follow?: boolean; tail?: number; since?: number; signal?: AbortSignal } = {},
  ): Promise<AsyncIterable<OutputChunk>> {
    const request = {
      method: "GET" as const,
      path: `/containers/${encodeURIComponent(nameOrId)}/logs`,
      query: {
        stdout: true,
        stderr: true,
        follow: options.follow ?? false,
        tail: options.tail ?? "all",
        since: options.since,
      },
      operation: "container.logs",
      signal: options.signal,
    };
    if (!options.follow) return demultiplex(await this.#http.stream(request));
    const opening = this.#http.stream({ ...request, timeoutMs: 0 });
    let timer: NodeJS.Timeout | undefined;
    const early = await Promise.race([
      opening.then((stream) => ({ stream })),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), FOLLOW_HEADERS_GRACE_MS);
      }),
    ]).finally(() => clearTimeout(timer));
    if (early) return demultiplex(early.stream);
    opening.catch(() => {}); // thrown by the first iteration instead
    return (async function* () {
      yield* demultiplex(await opening);
    })();
  }
}
