/**
 * An in-memory container engine behind the `Runtime` interface, for the orchestrator's pure-logic
 * unit tests (the reconciler's, the hooks'): a call log, fault injection and simulated daemon
 * crashes around mutations. It implements the interface the real `PodmanRuntime` does, so a test
 * can only call what the orchestrator can; what Podman really does is proven by the tests under
 * test/runtime and test/orchestrator, against real rootless Podman.
 */

import { networkName } from "../../src/manifest/naming.ts";
import type { Manifest } from "../../src/manifest/schema.ts";
import type { RenderContext } from "../../src/render/model.ts";
import { podmanPlan } from "../../src/render/podman-spec.ts";
import { resourceKey } from "../../src/render/resources.ts";
import type { VolumeData } from "../../src/runtime/data-dirs.ts";
import { PodmanError } from "../../src/runtime/libpod/errors.ts";
import type { MemoryLimits } from "../../src/runtime/memory-limits.ts";
import type { ObservedContainer } from "../../src/runtime/observed.ts";
import {
  type ContainerMounts,
  type ContainerRef,
  type ExecResult,
  type LegacyName,
  type Observation,
  type OutputChunk,
  type ProbeRun,
  PullFailure,
  type Runtime,
  RuntimeError,
  type StopOutcome,
  type Watch,
  type WatchHandlers,
} from "../../src/runtime/runtime.ts";

export type Mutation =
  | "network"
  | "volumes"
  | "secret"
  | "create"
  | "start"
  | "stop"
  | "restart"
  | "remove"
  | "resources";

export class FakeRuntime implements Runtime {
  readonly createWith = "podman" as const;
  memoryLimits: MemoryLimits = { enforced: true };
  containers: ObservedContainer[] = [];
  networks = new Set<string>();
  volumes = new Set<string>();
  secrets = new Map<string, string>();
  /** Every call by method name; `observe` is the only read the reconciler makes per pass. */
  calls: string[] = [];
  /** Order in which containers were started (by name). */
  starts: string[] = [];
  /** What each copy put where: the directory and the archive. */
  copies: Array<{ directory: string; archive: Uint8Array }> = [];
  /** The directories copies may go into (a copy elsewhere is `not-found`); undefined: any. */
  directories: ReadonlySet<string> | undefined;
  #ids = 0;
  #mutations = 0;
  readonly #clock: () => number;
  /** Errors to throw from a method, the next `times` calls. */
  #faults: Array<{ method: Mutation; error: () => Error; times: number }> = [];
  observeLatencyMs = 0;
  /** Called after every mutation took effect (to make things happen "during" a reconcile). */
  afterMutation: ((method: Mutation) => void) | undefined;
  /** Containers (by name) that exit with code 1 right after they start. */
  crashing = new Set<string>();
  /** Containers of these images exit with code 1 right after they start. */
  crashingImages = new Set<string>();
  /** What `exec` in a container answers (hooks). */
  execResult: (command: string[], env: Readonly<Record<string, string>>) => ExecResult = () => ({
    exitCode: 0,
    stdout: "",
    stderr: "",
  });
  /** Simulated daemon crash: the n-th mutation never returns (before or after its effect). */
  crashAt: { n: number; afterEffect: boolean } | undefined;
  crashed: Promise<void>;
  #onCrash: () => void = () => {};
  /** The watch the reconciler opened: call it to report a change, as Podman's events would. */
  onChange: ((appId: string) => void) | undefined;
  /** Images that are not on the node (every other image is). */
  missingImages = new Set<string>();

  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
    this.crashed = new Promise((resolve) => {
      this.#onCrash = resolve;
    });
  }

  fail(method: Mutation, error: () => Error, times = Number.POSITIVE_INFINITY): void {
    this.#faults.push({ method, error, times });
  }

  heal(): void {
    this.#faults = [];
    this.crashing.clear();
  }

  /** Mutations performed so far (crash points are counted in these). */
  get mutations(): number {
    return this.#mutations;
  }

  count(method?: string): number {
    return method ? this.calls.filter((c) => c === method).length : this.calls.length;
  }

  /** Every mutation goes through here: counted, maybe failed, maybe the daemon "dies" around it. */
  async #mutate<T>(method: Mutation, effect: () => T): Promise<T> {
    this.calls.push(method);
    const fault = this.#faults.find((f) => f.method === method && f.times > 0);
    if (fault) {
      fault.times--;
      throw fault.error();
    }
    this.#mutations++;
    const crash = this.crashAt && this.crashAt.n === this.#mutations;
    if (crash && !this.crashAt?.afterEffect) return this.#hang();
    const result = effect();
    this.afterMutation?.(method);
    if (crash) return this.#hang();
    return result;
  }

  #hang<T>(): Promise<T> {
    this.#onCrash();
    return new Promise<T>(() => {});
  }

  #find(ref: ContainerRef): ObservedContainer {
    const c = this.containers.find((x) => x.id === ref.id);
    if (!c) throw new Error(`no such container ${ref.id}`);
    return c;
  }

  async observe(legacy: ReadonlyMap<string, LegacyName> = new Map()): Promise<Observation> {
    this.calls.push("observe");
    // Like Podman, the list is taken when the call arrives and answered a moment later.
    const at = this.#clock();
    const containers: ObservedContainer[] = [];
    for (const c of this.containers) {
      if (c.appId) containers.push({ ...c });
      else {
        const owner = legacy.get(c.name);
        if (owner) containers.push({ ...c, appId: owner.appId, key: owner.key });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, this.observeLatencyMs));
    return { at, containers, calls: 1 };
  }

  watch(handlers: WatchHandlers): Watch {
    this.onChange = (appId) => handlers.onChange(appId);
    return { stop: async () => {} };
  }

  async startedAt(ref: ContainerRef): Promise<number | undefined> {
    this.calls.push("inspect");
    return this.containers.find((x) => x.id === ref.id)?.startedAt;
  }

  async imagePresent(reference: string): Promise<boolean> {
    this.calls.push("image-exists");
    return !this.missingImages.has(reference);
  }

  /** A registry that has none of the missing images (in the words Podman's compatible pull says so). */
  async pullImage(reference: string): Promise<void> {
    this.calls.push("image-pull");
    throw new PullFailure(
      "not-found",
      `initializing source docker://${reference}: reading manifest in ${reference}: manifest unknown: manifest unknown`,
    );
  }

  /** What the registry lists for the missing images, and what the storage has free. */
  imageBytes = 0;
  storageFreeBytes = Number.MAX_SAFE_INTEGER;

  async imageDownloadBytes(): Promise<number> {
    return this.imageBytes;
  }

  async imageStorageSpace(): Promise<{ path: string; freeBytes: number }> {
    return { path: "/fake/storage", freeBytes: this.storageFreeBytes };
  }

  async engineDirs(): Promise<Array<{ path: string; what: string }>> {
    return [];
  }

  ensureNetwork(manifest: Manifest): Promise<string | undefined> {
    return this.#mutate("network", () => {
      this.networks.add(networkName(manifest.id));
      return undefined;
    });
  }

  /** Every fake network has the same subnet: what matters here is that it is known once it exists. */
  async networkSubnet(appId: string): Promise<string | undefined> {
    return this.networks.has(networkName(appId)) ? "10.89.200.0/24" : undefined;
  }

  ensureVolumes(manifest: Manifest, ctx: RenderContext): Promise<void> {
    return this.#mutate("volumes", () => {
      for (const v of podmanPlan(manifest, ctx).volumes) this.volumes.add(v.Name);
    });
  }

  ensureSecret(name: string, value: Uint8Array): Promise<boolean> {
    return this.#mutate("secret", () => {
      if (this.secrets.has(name)) return false;
      this.secrets.set(name, Buffer.from(value).toString());
      return true;
    });
  }

  replaceSecret(name: string, value: Uint8Array): Promise<void> {
    return this.#mutate("secret", () => {
      this.secrets.set(name, Buffer.from(value).toString());
    });
  }

  async secretNames(prefix: string): Promise<string[]> {
    return [...this.secrets.keys()].filter((name) => name.startsWith(prefix)).sort();
  }

  removeSecret(name: string): Promise<void> {
    return this.#mutate("secret", () => {
      this.secrets.delete(name);
    });
  }

  removeAppResources(
    manifest: Manifest,
    ctx: RenderContext,
    keep: ReadonlySet<string> = new Set(),
  ): Promise<string[]> {
    return this.#mutate("resources", () => {
      const kept: string[] = [];
      this.networks.delete(networkName(manifest.id));
      for (const v of podmanPlan(manifest, ctx).volumes)
        if (keep.has(resourceKey("volume", v.Name)))
          kept.push(`Podman volume ${v.Name}: another app has that name`);
        else this.volumes.delete(v.Name);
      return kept;
    });
  }

  /** No legacy volumes on this node. */
  async legacyVolumeData(): Promise<VolumeData | undefined> {
    return undefined;
  }

  /** No legacy containers run on this node. */
  async runningMounts(): Promise<ContainerMounts[]> {
    return [];
  }

  create(manifest: Manifest, key: string, ctx: RenderContext): Promise<void> {
    return this.#mutate("create", () => {
      const spec = podmanPlan(manifest, ctx).containers.find((c) => c.key === key);
      if (!spec) throw new Error(`no container ${key}`);
      if (this.missingImages.has(spec.body.image))
        throw new RuntimeError(
          "image-missing",
          `image ${spec.body.image} of ${manifest.id}/${key} is not on this node`,
        );
      if (this.containers.some((c) => c.name === spec.name))
        throw new RuntimeError("name-conflict", `the container name ${spec.name} is already used`);
      this.containers.push({
        id: `c${++this.#ids}`,
        name: spec.name,
        appId: manifest.id,
        key,
        specHash: spec.hash,
        image: spec.body.image,
        state: "created",
        exitCode: 0,
        createdAt: this.#clock(),
        startedAt: undefined,
        finishedAt: undefined,
        backend: "podman",
        unit: undefined,
        labels: {},
      });
    });
  }

  start(ref: ContainerRef): Promise<void> {
    return this.#mutate("start", () => {
      const c = this.#find(ref);
      this.starts.push(c.name);
      Object.assign(c, { state: "running", startedAt: this.#clock(), exitCode: 0 });
      if (this.crashing.has(c.name) || this.crashingImages.has(c.image))
        Object.assign(c, { state: "exited", exitCode: 1 });
    });
  }

  stop(ref: ContainerRef): Promise<StopOutcome> {
    return this.#mutate("stop", () => {
      const c = this.containers.find((x) => x.id === ref.id);
      if (!c) return { via: "api" as const, wasRunning: false };
      const wasRunning = c.state === "running";
      c.state = "exited";
      return { via: "api" as const, wasRunning };
    });
  }

  restart(ref: ContainerRef): Promise<void> {
    return this.#mutate("restart", () => {
      Object.assign(this.#find(ref), { state: "running", startedAt: this.#clock() });
    });
  }

  remove(ref: ContainerRef): Promise<void> {
    return this.#mutate("remove", () => {
      this.containers = this.containers.filter((c) => c.id !== ref.id);
    });
  }

  async init(): Promise<void> {
    this.calls.push("init");
  }

  async copyInto(_ref: ContainerRef, directory: string, archive: Uint8Array): Promise<void> {
    this.calls.push(`copy into ${directory}`);
    if (this.directories && !this.directories.has(directory))
      throw new PodmanError("not-found", "container.archive", `${directory}: no such file or directory`);
    this.copies.push({ directory, archive });
  }

  async exec(
    ref: ContainerRef,
    command: string[],
    _timeoutMs?: number,
    env: Readonly<Record<string, string>> = {},
  ): Promise<ExecResult> {
    this.calls.push("exec");
    this.#find(ref);
    return this.execResult(command, env);
  }

  async probe(): Promise<ProbeRun> {
    this.calls.push("probe");
    return { kind: "exited", exitCode: 0, output: "" };
  }

  /** Containers here write no output. */
  async logs(): Promise<AsyncIterable<OutputChunk>> {
    return (async function* () {})();
  }

  /** A node reboot: every container is stopped. */
  reboot(): void {
    for (const c of this.containers) c.state = "exited";
  }

  of(appId: string): ObservedContainer[] {
    return this.containers.filter((c) => c.appId === appId);
  }
}
