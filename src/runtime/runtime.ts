/**
 * The runtime: the one door from the orchestrator to a container engine. The reconciler, the
 * executor, hooks, health probes and the API act on containers only through this interface;
 * `PodmanRuntime` (podman-runtime.ts) implements it over the libpod client and the user's systemd,
 * and the unit tests' `FakeRuntime` (test/support/fake-runtime.ts) in memory. Its signatures use
 * the platform's own types only (manifests, render contexts, observed containers and the types
 * below), never an engine's, so that another engine (Kubernetes) can implement it.
 *
 * Failures are typed: `RuntimeError` for what the platform decides (a stop that did not stop, a
 * name held by someone else, a missing image, a backend that cannot run), and the engine's call
 * failures with a `kind` (`not-found`, `conflict`, `timeout`, `unavailable`, `bad-request`,
 * `server`: libpod/errors.ts) that callers decide on, never on message text.
 */

import type { ProtectedDir } from "../manifest/host-paths.ts";
import type { Manifest } from "../manifest/schema.ts";
import type { RenderContext } from "../render/model.ts";
import type { VolumeData } from "./data-dirs.ts";
import type { MemoryLimits } from "./memory-limits.ts";
import type { Backend, ObservedContainer } from "./observed.ts";

export type RuntimeErrorKind = "stop-ineffective" | "name-conflict" | "image-missing" | "backend-unavailable";

export class RuntimeError extends Error {
  readonly kind: RuntimeErrorKind;
  constructor(kind: RuntimeErrorKind, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "RuntimeError";
    this.kind = kind;
  }
}

/** A container to act on: what an observation reported (id, name, backend, unit). */
export type ContainerRef = Pick<ObservedContainer, "id" | "name" | "backend" | "unit">;

/** A legacy container name an installed app adopts: its containers carry none of the platform's labels. */
export type LegacyName = { appId: string; key: string };

/** One look at every container the platform manages. */
export type Observation = {
  /** Unix milliseconds when the observation was taken. */
  at: number;
  containers: ObservedContainer[];
  /** Engine calls made, for metrics and the benchmark. */
  calls: number;
};

/** One blob of an image pull (a layer or the config), by the first 12 hex digits of its digest. */
export type PullProgress = {
  layer: string;
  status: "waiting" | "downloading" | "present" | "done";
  /** Bytes of the blob received so far, and its size, while downloading. */
  current?: number;
  total?: number;
};

/** Credentials for the registry an image comes from (never logged, never in errors). */
export type RegistryAuth = { username: string; password: string; serveraddress: string };

/**
 * Why a registry did not give an image: it refused the credentials (`denied`), has no such image
 * or digest (`not-found`), sent bytes that do not match the digest (`corrupt`), could not be
 * reached (`unreachable`, the only kind worth another try), or the image does not fit in the
 * engine's storage (`no-space`).
 */
export type PullFailureKind = "denied" | "not-found" | "corrupt" | "unreachable" | "no-space";

/** A pull the registry (not the engine) failed; `reason` is the registry's and the engine's own words. */
export class PullFailure extends Error {
  readonly kind: PullFailureKind;
  readonly reason: string;
  constructor(kind: PullFailureKind, reason: string, options: { cause?: unknown } = {}) {
    super(reason, options);
    this.name = "PullFailure";
    this.kind = kind;
    this.reason = reason;
  }
}

export type PullOptions = {
  auth?: RegistryAuth;
  onProgress?: (progress: PullProgress) => void;
  signal?: AbortSignal;
};

export type StopOutcome = { via: "systemd" | "api"; wasRunning: boolean };

/** A running container and what it mounts: volumes by name, and host paths (volume mount points too). */
export type ContainerMounts = { name: string; volumes: string[]; paths: string[] };

export type ExecResult = { exitCode: number; stdout: string; stderr: string };

/** How a health probe went: only the first two are verdicts on the app (see `Containers.probe`). */
export type ProbeRun =
  | { kind: "exited"; exitCode: number; output: string }
  | { kind: "timed-out"; output: string }
  | { kind: "not-run"; reason: string };

/** A piece of a container's output. */
export type OutputChunk = { stream: "stdout" | "stderr"; data: Buffer };

export type LogOptions = { follow?: boolean; tail?: number; signal?: AbortSignal };

/** What a watch reports: an app whose containers changed state, and whether the feed is connected. */
export type WatchHandlers = {
  /** A container of `appId` changed state (created, started, stopped, died, removed…): a hint, not a fact. */
  onChange(appId: string): void;
  onStatus?(status: { connected: boolean; error?: string }): void;
};

export type Watch = { stop(): Promise<void> };

export interface Runtime {
  /** How new containers are created. Existing ones are always handled by their observed backend. */
  readonly createWith: Backend;
  /** Whether Podman enforces a container's memory limit on this host (see memory-limits.ts). */
  readonly memoryLimits: MemoryLimits;

  // ---- observation

  /** Every container the platform manages (and the legacy ones named in `legacy`), in one look. */
  observe(legacy?: ReadonlyMap<string, LegacyName>): Promise<Observation>;
  /** Reports state changes of the platform's containers until stopped; they are hints to look again. */
  watch(handlers: WatchHandlers): Watch;
  /**
   * When a running container started, to the millisecond (observations may round it to the
   * second); undefined when that cannot be told (the container is gone, the engine does not say).
   */
  startedAt(container: ContainerRef): Promise<number | undefined>;
  /** Whether an image is present on the node (nothing is pulled). */
  imagePresent(reference: string): Promise<boolean>;
  /**
   * Pulls an image from its registry (a digest in the reference is verified against what arrives),
   * reporting each blob's progress. What the registry failed is a `PullFailure`; an engine that
   * does not answer fails as any other call does.
   */
  pullImage(reference: string, options?: PullOptions): Promise<void>;
  /**
   * The bytes an image's pull downloads (its config and layers, compressed), as its registry lists
   * them; rejects with the reason when the registry cannot say.
   */
  imageDownloadBytes(reference: string, auth?: RegistryAuth): Promise<number>;
  /** Where the engine keeps images and how many bytes are free there. */
  imageStorageSpace(): Promise<{ path: string; freeBytes: number }>;
  /** The directories the engine keeps (its storage, its socket): no app may mount them. */
  engineDirs(): Promise<ProtectedDir[]>;

  // ---- an app's resources

  /** Creates the app's network unless it exists; returns its IPv4 subnet when it has one. */
  ensureNetwork(manifest: Manifest, ctx: RenderContext): Promise<string | undefined>;
  /** The IPv4 subnet of an app's network; undefined while it does not exist. */
  networkSubnet(appId: string): Promise<string | undefined>;
  /** Creates the app's volumes unless they exist; a volume of that name that is not the app's is a `name-conflict`. */
  ensureVolumes(manifest: Manifest, ctx: RenderContext): Promise<void>;
  /** Stores a secret unless one of that name exists; returns whether it was created. */
  ensureSecret(name: string, value: Uint8Array): Promise<boolean>;
  /** Stores a secret, replacing one of that name. */
  replaceSecret(name: string, value: Uint8Array): Promise<void>;
  /** Removes a secret; one that does not exist is not an error. */
  removeSecret(name: string): Promise<void>;
  /** The names of the secrets that start with `prefix`, sorted. */
  secretNames(prefix: string): Promise<string[]>;
  /**
   * Removes what an app's network and volumes were made from (never the data), except the names in
   * `keep` (`resourceKey`s another app has too); returns what it kept, in words.
   */
  removeAppResources(manifest: Manifest, ctx: RenderContext, keep?: ReadonlySet<string>): Promise<string[]>;
  /** Where a legacy volume keeps its data, for an app that takes it over; undefined when there is none. */
  legacyVolumeData(name: string): Promise<VolumeData | undefined>;
  /** The containers among `names` that run (or are paused), with what they mount. */
  runningMounts(names: readonly string[]): Promise<ContainerMounts[]>;

  // ---- containers

  /** Creates one container of an app with `backend` (default `createWith`); a name held by another is a `name-conflict`. */
  create(manifest: Manifest, key: string, ctx: RenderContext, backend?: Backend): Promise<void>;
  start(container: ContainerRef): Promise<void>;
  /** Stops a container and checks that it stopped: one still running is a `stop-ineffective` error. */
  stop(container: ContainerRef, timeoutSeconds: number): Promise<StopOutcome>;
  restart(container: ContainerRef, timeoutSeconds: number): Promise<void>;
  /** Removes a container (never its volumes or data); one already gone is not an error. */
  remove(container: ContainerRef, timeoutSeconds: number): Promise<void>;
  /** Prepares a stopped container for a copy into it: volumes mounted, network set up, not started. */
  init(container: ContainerRef): Promise<void>;
  /** Extracts a tar archive into `directory` of the container, which must exist (else `not-found`). */
  copyInto(container: ContainerRef, directory: string, archive: Uint8Array): Promise<void>;
  /**
   * Runs a command in a running container (a `timeout` failure past `timeoutMs`), with `env` added
   * to the container's environment: values the command needs that must not be in its arguments.
   */
  exec(
    container: ContainerRef,
    command: string[],
    timeoutMs: number,
    env?: Readonly<Record<string, string>>,
  ): Promise<ExecResult>;
  /** A health probe: exited, timed out, or not run by the engine (no verdict). */
  probe(container: ContainerRef, command: string[], timeoutMs: number): Promise<ProbeRun>;
  /** A container's output, also of one that is down. */
  logs(container: ContainerRef, options: LogOptions): Promise<AsyncIterable<OutputChunk>>;
}
