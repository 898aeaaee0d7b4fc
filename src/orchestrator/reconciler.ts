/**
 * The reconciler: level-triggered convergence of every app to its desired state. A periodic resync
 * (30 s by default), Podman events (hints only) and new operations queue apps; one worker per app at
 * a time observes, plans (pure), executes, and observes again until the plan is empty. Failures back
 * off exponentially with jitter and end in a terminal `failed` phase with the reason, until a retry or
 * a new intent. Observations are shared between workers, so a pass over many unchanged apps costs one
 * Podman call.
 */
import { LABELS } from "../manifest/naming.ts";
import { type PermissionRequest, requestedPermissions } from "../manifest/permissions.ts";
import type { HookName, Manifest } from "../manifest/schema.ts";
import type { RenderContext } from "../render/model.ts";
import { podmanPlan } from "../render/podman-spec.ts";
import { isPodmanError } from "../runtime/libpod/errors.ts";
import type { EventStream } from "../runtime/libpod/events.ts";
import type { RegistryAuth } from "../runtime/libpod/images.ts";
import type { LegacyName, Observation } from "../runtime/observe.ts";
import type { ObservedContainer } from "../runtime/observed.ts";
import { MANAGED_FILTER } from "../runtime/observed.ts";
import { type ContainerRef, type Runtime, RuntimeError } from "../runtime/runtime.ts";
import { awaitingApproval, listPermissions, NotApprovedError, unapprovedOf } from "./approvals.ts";
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from "./backoff.ts";
import type { Executor, Note } from "./executor.ts";
import {
  afterRestart,
  DEFAULT_HEALTH_RESTART_POLICY,
  delayBeforeRestart,
  type HealthRestartPolicy,
  NO_RESTARTS,
  observeHealth,
  observeStretch,
  type RestartHistory,
  restartDecision,
  restartDue,
} from "./health-restarts.ts";
import { type AppPackage, HookError, hookTargets, runHook } from "./hooks.ts";
import { HostPathError, type HostPathGuard } from "./host-path-guard.ts";
import { ImagePullError, type LayerProgress, type PullPolicy, pullMissing } from "./image-pulls.ts";
import type { ManifestCache, ParsedStoredManifest } from "./manifest-cache.ts";
import type { OperationLogLine, Phase, StoredContainer } from "./model.ts";
import { InstalledNames, NameClashError } from "./name-clashes.ts";
import { type Health, type Plan, type PlanInput, plan, type WantedContainer } from "./planner.ts";
import { registryOf } from "./registry-credentials.ts";
import { DataSnapshots, type Snapshots } from "./snapshots.ts";
import type { AppRow, Store, UpdateRow } from "./store.ts";
import {
  DEFAULT_UPDATE_MARGIN_MS,
  effectiveDeadline,
  formatBytes,
  outcomeMessage,
  rollbackFailedMessage,
  roomCheck,
  type UpdateVerdict,
  updateVerdict,
  updateWindow,
} from "./update.ts";
import { WorkQueue } from "./work-queue.ts";

/** Where the planner learns whether containers are healthy (the daemon's own probes). */
export interface HealthSource {
  healthOf(appId: string, key: string, container: ObservedContainer | undefined): Health;
  /** The last probe's output, to explain an unhealthy verdict. */
  detail?(appId: string, key: string, container: ObservedContainer | undefined): string | undefined;
}

export type ReconcilerEvent =
  | { type: "app"; appId: string; phase: Phase; reason: string | undefined }
  | { type: "app-removed"; appId: string }
  | {
      type: "operation";
      operationId: string;
      appId: string;
      state: "running" | "succeeded" | "failed";
      error?: string;
    }
  | { type: "log"; appId: string; line: OperationLogLine }
  | ({ type: "pull"; appId: string; operationId: string } & LayerProgress);

export type Logger = {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
};

export type ReconcilerOptions = {
  store: Store;
  manifests: ManifestCache;
  runtime: Runtime;
  executor: Executor;
  dataRoot: string;
  /** Checks host paths while containers run and at every hook copy (the executor, at every start). */
  hostPaths: HostPathGuard;
  health: HealthSource;
  log: Logger;
  clock?: () => number;
  random?: () => number;
  resyncMs?: number;
  concurrency?: number;
  backoff?: BackoffPolicy;
  /** How old a shared observation may be before a worker takes a new one. */
  observationMaxAgeMs?: number;
  onEvent?: (event: ReconcilerEvent) => void;
  /** Snapshots of app data taken before updates (default: copies under the data root). */
  snapshots?: Snapshots;
  /** Added to the time the new version's health checks need, to make an update's window. */
  updateMarginMs?: number;
  /** Delays between restarts of an unhealthy container (default: 10 s doubling to 5 min, reset after 10 min healthy). */
  healthRestarts?: HealthRestartPolicy;
  /** The package of an installed app (hooks copy from it); default: `local:` sources only. */
  packageOf?: (app: Pick<AppRow, "id" | "source" | "version">) => AppPackage | undefined;
  /** The names installed apps take on the node (default: from the store and the manifests). */
  names?: InstalledNames;
  /** The credentials for the registry of an image (default: none). */
  registryAuth?: (image: string) => RegistryAuth | undefined;
  /** Retries of a pull whose registry cannot be reached (default: image-pulls.ts). */
  pullPolicy?: PullPolicy;
};

/** A local app's package is the directory its manifest came from. */
export function localPackage(app: Pick<AppRow, "source">): AppPackage | undefined {
  return app.source.startsWith("local:") ? { dir: app.source.slice("local:".length) } : undefined;
}

/** Errors that retrying cannot fix: the operator must act (or retry explicitly). */
function isTerminal(error: unknown): boolean {
  if (
    error instanceof HookError ||
    error instanceof NotApprovedError ||
    error instanceof HostPathError ||
    error instanceof NameClashError ||
    error instanceof ImagePullError
  )
    return true;
  if (error instanceof RuntimeError)
    return (
      error.kind === "image-missing" || error.kind === "name-conflict" || error.kind === "backend-unavailable"
    );
  if (isPodmanError(error)) return error.kind === "bad-request";
  return (error as Error)?.name === "RenderError";
}

const MAX_ROUNDS = 40;
/** How many of its last log lines explain a container that exits as soon as it starts. */
const CRASH_LOG_LINES = 10;

/**
 * Container events that may change what the planner sees. Health probes run `exec` every few
 * seconds: their events (and attach/checkpoint chatter) would only discard shared observations.
 */
const STATE_CHANGING = new Set([
  "create",
  "init",
  "start",
  "restart",
  "stop",
  "kill",
  "die",
  "died",
  "remove",
  "cleanup",
  "pause",
  "unpause",
  "oom",
  "rename",
]);
/** Podman's default, for a container the manifest no longer names. */
const DEFAULT_STOP_TIMEOUT_S = 10;

type Settings = Required<ReconcilerOptions>;

export class Reconciler {
  readonly #o: Settings;
  readonly #queue: WorkQueue;
  /** Wake-ups due per app (the earliest one wins). */
  readonly #timers = new Map<string, { timer: NodeJS.Timeout; at: number }>();
  /** When this reconciler (this daemon run) started: updates resumed after a restart get a grace. */
  readonly #resumedAt: number;
  /** App networks' subnets by app id, as learnt from Podman (see `#learnSubnets`). */
  readonly #subnets = new Map<string, string>();
  /** Restarts for health per app container (`appId/key`); the daemon's memory, reset by a restart of it. */
  readonly #healthRestarts = new Map<string, RestartHistory>();
  /** Per app, its unhealthy containers that wait for their next restart, said for the operator. */
  readonly #healthWaits = new Map<string, string[]>();
  /**
   * Starts after an exit on its own, per app container (`appId/key`), likewise; an operator's
   * request (a new generation of the app) starts the count again.
   */
  readonly #crashRestarts = new Map<string, { generation: number; history: RestartHistory }>();
  #observation: Observation | undefined;
  #last: Observation | undefined;
  #inFlight: { call: Promise<Observation>; epoch: number } | undefined;
  #epoch = 0;
  /** The legacy names the current observation looked for. */
  #legacySeen = "";
  #resync: NodeJS.Timeout | undefined;
  #events: EventStream | undefined;
  #passes = 0;

  constructor(options: ReconcilerOptions) {
    this.#o = {
      clock: Date.now,
      random: Math.random,
      resyncMs: 30_000,
      concurrency: 4,
      backoff: DEFAULT_BACKOFF,
      observationMaxAgeMs: 1_000,
      onEvent: () => {},
      updateMarginMs: DEFAULT_UPDATE_MARGIN_MS,
      healthRestarts: DEFAULT_HEALTH_RESTART_POLICY,
      packageOf: localPackage,
      registryAuth: () => undefined,
      pullPolicy: undefined,
      ...options,
    } as Settings;
    this.#o.names ??= new InstalledNames(this.#o.store, this.#o.manifests);
    this.#o.snapshots ??= new DataSnapshots({ dataRoot: this.#o.dataRoot });
    this.#resumedAt = this.#o.clock();
    this.#queue = new WorkQueue({
      concurrency: this.#o.concurrency,
      work: (appId) => this.reconcileApp(appId),
      onError: (appId, error) =>
        this.#o.log.error(`reconcile of ${appId} crashed: ${(error as Error)?.stack ?? String(error)}`),
    });
  }

  /** The most recent observation, shared with the health monitor. */
  get lastObservation(): Observation | undefined {
    return this.#observation ?? this.#last;
  }

  get passes(): number {
    return this.#passes;
  }

  /** Starts the periodic resync and the event subscription; runs a first pass at once. */
  start(): void {
    this.#events = this.#o.runtime.client.events({
      labels: [MANAGED_FILTER],
      onEvent: (event) => {
        const appId = event.labels[LABELS.app];
        if (event.type !== "container" || !appId || !STATE_CHANGING.has(event.action)) return;
        if (!this.#o.store.getApp(appId)) return;
        // The event is news the shared observation may predate: the woken worker must look again.
        this.#invalidate();
        this.enqueue(appId);
      },
      onStatus: (status) => {
        if (!status.connected)
          this.#o.log.warn(`Podman event stream: ${status.error ?? "disconnected"}; resync continues`);
      },
    });
    this.#resync = setInterval(
      () => void this.syncAll().catch((e) => this.#o.log.error(`resync failed: ${(e as Error).message}`)),
      this.#o.resyncMs,
    );
    this.#resync.unref();
    void this.syncAll().catch((e) => this.#o.log.error(`first pass failed: ${(e as Error).message}`));
  }

  async stop(): Promise<void> {
    if (this.#resync) clearInterval(this.#resync);
    for (const { timer } of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    await this.#queue.stop();
    await this.#events?.stop();
  }

  enqueue(appId: string): void {
    this.#queue.enqueue(appId);
  }

  /** Resolves when every queued reconcile has run. */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  /** One pass: a fresh observation, then every app queued. */
  async syncAll(): Promise<void> {
    this.#passes++;
    await this.#observe(0);
    for (const app of this.#o.store.listAppHeads()) this.enqueue(app.id);
  }

  /** Every installed app's parsed manifest; stored texts are read only for manifests not seen yet. */
  #installedManifests(): Array<{ id: string; manifest: Manifest | undefined }> {
    return this.#o.store.listAppHeads().map(({ id, manifestHash }) => {
      const known = this.#o.manifests.cached(manifestHash);
      if (known) return { id, manifest: known.manifest };
      const row = this.#o.store.getApp(id);
      return { id, manifest: row ? this.manifestOf(row).manifest : undefined };
    });
  }

  manifestOf(app: AppRow): ParsedStoredManifest {
    return this.#o.manifests.of(app);
  }

  /**
   * Legacy container names of installed apps, so adoption finds containers without our labels. A
   * name two apps list (installs refuse that now; earlier ones did not) is adopted by neither.
   */
  #legacyNames(): Map<string, LegacyName> {
    const legacy = new Map<string, LegacyName>();
    const ambiguous = new Set<string>();
    for (const { id, manifest } of this.#installedManifests())
      for (const [key, names] of Object.entries(manifest?.adoption.containers ?? {}))
        for (const name of names) {
          const other = legacy.get(name);
          if (other && other.appId !== id) ambiguous.add(name);
          legacy.set(name, { appId: id, key });
        }
    for (const name of ambiguous) legacy.delete(name);
    return legacy;
  }

  /**
   * A shared observation no older than `maxAgeMs`; concurrent callers share one Podman call. A call
   * already in flight is only shared if nothing was done since it was sent (same epoch): a worker
   * that has just created a container must not be handed a list taken before it, or it would create
   * the container again (a name conflict, which is terminal).
   */
  async #observe(maxAgeMs: number): Promise<Observation> {
    const now = this.#o.clock();
    // Legacy names come from the installed apps' manifests: a list taken before an app that adopts
    // was installed has not looked for its legacy containers (the worker would create a second one).
    const legacy = this.#legacyNames();
    const names = [...legacy.keys()].sort().join("\n");
    if (this.#legacySeen !== names) this.#invalidate();
    this.#legacySeen = names;
    if (this.#observation && now - this.#observation.at <= maxAgeMs) return this.#observation;
    if (!this.#inFlight || this.#inFlight.epoch !== this.#epoch) {
      const epoch = this.#epoch;
      const call: Promise<Observation> = this.#o.runtime
        .observe(legacy)
        .then((observation) => {
          if (epoch === this.#epoch) this.#observation = observation;
          this.#last = observation;
          return observation;
        })
        .finally(() => {
          if (this.#inFlight?.call === call) this.#inFlight = undefined;
        });
      this.#inFlight = { call, epoch };
    }
    return this.#inFlight.call;
  }

  /** Something was done: observations taken (or sent) before now are stale. */
  #invalidate(): void {
    this.#observation = undefined;
    this.#epoch++;
  }

  #renderContext(manifest: Manifest): RenderContext {
    const dependencies: Record<string, Manifest> = {};
    for (const dependency of manifest.dependencies) {
      const row = this.#o.store.getApp(dependency.id);
      const parsed = row ? this.manifestOf(row).manifest : undefined;
      if (parsed) dependencies[dependency.id] = parsed;
    }
    const subnets: Record<string, string> = {};
    for (const id of [manifest.id, ...Object.keys(dependencies)]) {
      const subnet = this.#subnets.get(id);
      if (subnet) subnets[id] = subnet;
    }
    const naming: RenderContext["naming"] = {};
    for (const id of [manifest.id, ...Object.keys(dependencies)]) {
      const row = this.#o.store.getApp(id);
      if (row) naming[id] = row.naming;
    }
    return { dataRoot: this.#o.dataRoot, dependencies, subnets, naming };
  }

  /**
   * Learns the subnets of the networks of an app and of its dependencies that this daemon does
   * not know yet (fixed addresses and hosts entries are rendered from them: render/addresses.ts).
   */
  async #learnSubnets(manifest: Manifest): Promise<void> {
    for (const id of [manifest.id, ...manifest.dependencies.map((d) => d.id)]) {
      if (this.#subnets.has(id)) continue;
      const subnet = await this.#o.runtime.networkSubnet(id);
      if (subnet) this.#subnets.set(id, subnet);
    }
  }

  /**
   * What other apps this one still waits for, described for the operator. A dependency's stored
   * phase is not enough: after a reboot it still says `running` while its containers are down, and
   * `healthy` needs its containers' health. So its containers in the current observation count too.
   */
  #blockedBy(manifest: Manifest, observation: Observation): string[] {
    const blocked: string[] = [];
    for (const dependency of manifest.dependencies) {
      const row = this.#o.store.getApp(dependency.id);
      if (!row || row.desired === "absent") {
        blocked.push(`dependency ${dependency.id} is not installed`);
        continue;
      }
      if (dependency.state === "installed") continue;
      const containers = observation.containers.filter(
        (c) => c.appId === dependency.id && c.key !== undefined,
      );
      const down = containers.length === 0 || containers.some((c) => c.state !== "running");
      const unhealthy =
        dependency.state === "healthy" &&
        containers.some((c) => this.#o.health.healthOf(dependency.id, c.key as string, c) !== "healthy");
      const state =
        row.desired === "stopped"
          ? "stopped"
          : row.phase !== "running"
            ? row.phase
            : down
              ? "not running"
              : unhealthy
                ? "not healthy yet"
                : undefined;
      if (state) blocked.push(`dependency ${dependency.id} to be ${dependency.state} (it is ${state})`);
    }
    return blocked;
  }

  #planInput(
    app: AppRow,
    manifest: Manifest,
    seen: ObservedContainer[],
    observation: Observation,
    update: UpdateRow | undefined,
  ): PlanInput {
    const ctx = this.#renderContext(manifest);
    const wanted: WantedContainer[] = podmanPlan(manifest, ctx).containers.map((c) => ({
      key: c.key,
      name: c.name,
      specHash: c.hash,
      stopTimeoutSeconds: c.body.stop_timeout,
      dependsOn: Object.entries(manifest.containers[c.key]?.depends_on ?? {}).map(([key, condition]) => ({
        key,
        condition,
      })),
    }));
    const health: Record<string, Health> = {};
    for (const w of wanted)
      health[w.key] = this.#o.health.healthOf(
        app.id,
        w.key,
        seen.find((c) => c.key === w.key),
      );
    return {
      desired: app.desired,
      purge: app.purge,
      wanted,
      seen,
      health,
      restartRequestedAt: app.restartRequestedAt,
      healthRestarts: this.#dueHealthRestarts(app, health, seen, update !== undefined),
      crashHeld: this.#crashHeld(app, seen),
      recreateRequestedAt: app.recreateRequestedAt,
      blockedBy: app.desired === "running" ? this.#blockedBy(manifest, observation) : [],
      createWith: this.#o.runtime.createWith,
    };
  }

  /**
   * The running containers of an app desired running that are unhealthy and due for a restart;
   * one not due yet wakes the app up when it is. An update's window, not this, decides what
   * happens to a new version that is not healthy.
   */
  #dueHealthRestarts(
    app: AppRow,
    health: Record<string, Health>,
    seen: ObservedContainer[],
    updating: boolean,
  ): string[] {
    const now = this.#o.clock();
    const policy = this.#o.healthRestarts;
    const due: string[] = [];
    const waits: string[] = [];
    for (const [key, verdict] of Object.entries(health)) {
      const id = `${app.id}/${key}`;
      const history = observeHealth(this.#healthRestarts.get(id) ?? NO_RESTARTS, verdict, now, policy);
      this.#healthRestarts.set(id, history);
      const running = seen.some((c) => c.key === key && c.state === "running");
      if (app.desired !== "running" || updating || !running) continue;
      const decision = restartDecision(history, verdict, now, policy);
      if (decision.kind === "restart") due.push(key);
      else if (decision.kind === "wait") {
        this.#later(app.id, decision.ms);
        waits.push(
          `${key} is unhealthy: restarting it at ${new Date(now + decision.ms).toISOString()} (restart ${history.restarts + 1} since it was last healthy)`,
        );
      }
    }
    if (waits.length > 0) this.#healthWaits.set(app.id, waits);
    else this.#healthWaits.delete(app.id);
    return due;
  }

  /**
   * The containers of a running app that exited on their own and are not due to start again yet:
   * the first exit is started again at once, each later one waits twice as long as the one before
   * (the health-restart policy), and a container that then runs for a while starts from no delay
   * again. Without this a container that crashes a few seconds after every start (too late to be
   * caught as a crash at its start) would be started again at once, forever.
   */
  #crashHeld(app: AppRow, seen: ObservedContainer[]): Record<string, number> {
    const now = this.#o.clock();
    const policy = this.#o.healthRestarts;
    const held: Record<string, number> = {};
    for (const c of seen) {
      if (c.key === undefined) continue;
      const id = `${app.id}/${c.key}`;
      const history = observeStretch(this.#crashHistory(app, id), c.state === "running", now, policy);
      this.#crashRestarts.set(id, { generation: app.generation, history });
      if (!exitedOnItsOwn(app, c)) continue;
      const decision = restartDue(history, now, policy);
      if (decision.kind === "wait") {
        held[c.key] = now + decision.ms;
        this.#later(app.id, decision.ms);
      }
    }
    return held;
  }

  #crashHistory(app: AppRow, id: string): RestartHistory {
    const entry = this.#crashRestarts.get(id);
    return entry && entry.generation === app.generation ? entry.history : NO_RESTARTS;
  }

  /** Counts a start after an exit on its own, and says so in the operation log. */
  #noteCrashRestart(app: AppRow, c: ObservedContainer, note: Note): void {
    const id = `${app.id}/${c.key}`;
    const history = afterRestart(this.#crashHistory(app, id), this.#o.clock());
    this.#crashRestarts.set(id, { generation: app.generation, history });
    const next = Math.round(delayBeforeRestart(history.restarts, this.#o.healthRestarts) / 1000);
    note(
      "warn",
      `${c.key} exited on its own (exit code ${c.exitCode ?? "unknown"}): starting it again (start ${history.restarts} since it last ran without a break; another would wait ${next} s)`,
    );
  }

  /** Counts a health restart about to happen, and says why in the operation log. */
  #noteHealthRestart(app: AppRow, key: string, seen: ObservedContainer[], note: Note): void {
    const id = `${app.id}/${key}`;
    const history = afterRestart(this.#healthRestarts.get(id) ?? NO_RESTARTS, this.#o.clock());
    this.#healthRestarts.set(id, history);
    const output = this.#o.health
      .detail?.(
        app.id,
        key,
        seen.find((c) => c.key === key),
      )
      ?.trim();
    const next = Math.round(delayBeforeRestart(history.restarts, this.#o.healthRestarts) / 1000);
    note(
      "warn",
      `${key} is unhealthy${output ? ` (last probe: ${output.slice(0, 200)})` : ""}: restarting it (restart ${history.restarts} since it was last healthy; another would wait ${next} s)`,
    );
  }

  /** Log lines of a reconcile go to the operation active when each line is written: one recorded
   * while the pass was already running gets the lines of the work done for it. */
  #note(app: AppRow): Note {
    return (level, message) => {
      this.#o.log[level](`${app.id}: ${message}`);
      const operation = this.#o.store.activeOperations(app.id).at(-1);
      if (!operation) return;
      const line = this.#o.store.appendLog(operation.id, level, message, this.#o.clock());
      this.#o.onEvent({ type: "log", appId: app.id, line });
    };
  }

  #status(
    app: AppRow,
    phase: Phase,
    reason: string | undefined,
    extra: Parameters<Store["updateStatus"]>[1] = { phase },
  ): void {
    const current = this.#o.store.getApp(app.id);
    this.#o.store.updateStatus(app.id, { ...extra, phase, reason }, this.#o.clock());
    if (current?.phase !== phase || current?.reason !== reason)
      this.#o.onEvent({ type: "app", appId: app.id, phase, reason });
  }

  #finishOperations(app: AppRow, state: "succeeded" | "failed", error?: string): void {
    for (const operation of this.#o.store.activeOperations(app.id)) {
      if (operation.generation > app.generation) continue;
      this.#o.store.setOperationState(operation.id, state, this.#o.clock(), error);
      this.#o.onEvent({ type: "operation", operationId: operation.id, appId: app.id, state, error });
    }
  }

  #storeObservation(app: AppRow, seen: ObservedContainer[], at: number): void {
    // Two containers may claim one key (a duplicate, which the plan is about to remove): the store
    // keeps one row per key, the running one (else the last started), and must not fail on them.
    const rank = (c: ObservedContainer) => (c.state === "running" ? 2 ** 52 : 0) + (c.startedAt ?? 0);
    const byKey = new Map<string, ObservedContainer>();
    for (const c of seen) {
      if (c.key === undefined) continue;
      const other = byKey.get(c.key);
      if (!other || rank(c) > rank(other)) byKey.set(c.key, c);
    }
    const rows: StoredContainer[] = [...byKey.values()].map((c) => ({
      appId: app.id,
      key: c.key as string,
      name: c.name,
      containerId: c.id,
      state: c.state,
      health: this.#o.health.healthOf(app.id, c.key as string, c),
      exitCode: c.exitCode,
      startedAt: c.startedAt,
      backend: c.backend,
      specHash: c.specHash,
      observedAt: at,
    }));
    const previous = this.#o.store.listContainers(app.id);
    const same =
      previous.length === rows.length &&
      rows.every((row) => {
        const old = previous.find((p) => p.key === row.key);
        return (
          old &&
          old.containerId === row.containerId &&
          old.state === row.state &&
          old.health === row.health &&
          old.exitCode === row.exitCode
        );
      });
    if (same) this.#o.store.touchObservation(app.id, at);
    else this.#o.store.saveObservation(app.id, rows);
  }

  #later(appId: string, delayMs: number): void {
    const at = Date.now() + delayMs;
    const existing = this.#timers.get(appId);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.#timers.delete(appId);
      this.enqueue(appId);
    }, delayMs);
    timer.unref();
    this.#timers.set(appId, { timer, at });
  }

  /**
   * Podman lists StartedAt in whole seconds, so a container started in the same second as a restart
   * request cannot be told, from the list, to have started before or after it: it would be restarted
   * again (or, rounding the other way, a restart would be missed). Only those few are inspected,
   * whose StartedAt has nanoseconds.
   */
  async #preciseStarts(app: AppRow, seen: ObservedContainer[]): Promise<ObservedContainer[]> {
    const requested = app.restartRequestedAt;
    if (requested === undefined) return seen;
    const second = Math.floor(requested / 1000) * 1000;
    return Promise.all(
      seen.map(async (c) => {
        if (c.state !== "running" || c.startedAt !== second) return c;
        const inspect = await this.#o.runtime.client.containers.find(c.id).catch(() => undefined);
        const precise = inspect ? Date.parse(inspect.State.StartedAt) : Number.NaN;
        return Number.isNaN(precise) ? c : { ...c, startedAt: precise };
      }),
    );
  }

  /** Converges one app as far as it can go now. */
  async reconcileApp(appId: string): Promise<void> {
    let app = this.#o.store.getApp(appId);
    if (!app) return;
    const now = this.#o.clock();
    if (app.phase === "failed" && app.observedGeneration >= app.generation) return;
    // An update past its deadline does not sit out a backoff delay: it is rolled back now.
    const pendingUpdate = this.#o.store.getUpdate(appId);
    const overdue = pendingUpdate?.stage === "applying" && now >= this.#deadlineOf(pendingUpdate);
    if (!overdue && app.nextAttemptAt !== undefined && now < app.nextAttemptAt)
      return this.#later(appId, app.nextAttemptAt - now);

    const { manifest, error } = this.manifestOf(app);
    const manifestHash = app.manifestHash;
    if (!manifest) {
      // A manifest the platform no longer accepts is not run: an app with a host path that now
      // reaches the daemon's keys must not keep reading them.
      let stopFailure = "";
      try {
        await this.#stopAll(app, DEFAULT_STOP_TIMEOUT_S, this.#note(app));
      } catch (failure) {
        stopFailure = `; stopping its containers failed: ${(failure as Error).message}`;
      }
      const reason = `the stored manifest is no longer valid: ${error}${stopFailure}; install a version that validates (archy app validate shows each problem and its fix)`;
      this.#status(app, "failed", reason, { phase: "failed", observedGeneration: app.generation });
      this.#finishOperations(app, "failed", reason);
      return;
    }
    // Apps named under scheme 1 may share names (naming.ts): none of them runs on what another holds.
    const clashes = app.desired === "running" ? this.#o.names.clashesOf(app) : [];
    if (clashes.length > 0) return this.#fail(app, new NameClashError(appId, clashes), this.#note(app));
    for (const operation of this.#o.store.activeOperations(appId)) {
      if (operation.state === "pending") {
        this.#o.store.setOperationState(operation.id, "running", now);
        this.#o.onEvent({ type: "operation", operationId: operation.id, appId, state: "running" });
      }
    }

    const note = this.#note(app);
    if (pendingUpdate && pendingUpdate.stage !== "restoring") {
      try {
        if (await this.#advanceUpdate(app, pendingUpdate, manifest, note)) return;
      } catch (failure) {
        this.#invalidate();
        return this.#fail(app, failure, note);
      }
    }
    // Containers started by this call: one the plan wants to start again has exited right after its
    // start (a crash loop), which backs off like any failure instead of spinning through the rounds.
    const started = new Set<string>();
    for (let round = 0; round < MAX_ROUNDS; round++) {
      let observation: Observation;
      try {
        observation = await this.#observe(round === 0 ? this.#o.observationMaxAgeMs : 0);
      } catch (failure) {
        this.#status(
          app,
          app.phase,
          `Podman is not answering (${(failure as Error).message}); showing the last observed state`,
        );
        return this.#later(appId, 5_000);
      }
      app = this.#o.store.getApp(appId) as AppRow;
      // The manifest changed under this call (an update): start over with the new one, so that the
      // update's operation never succeeds on the old containers.
      if (app.manifestHash !== manifestHash) return this.enqueue(appId);
      const update = this.#o.store.getUpdate(appId);
      const seen = await this.#preciseStarts(
        app,
        observation.containers.filter((c) => c.appId === appId),
      );
      this.#storeObservation(app, seen, observation.at);
      if (round === 0 && app.desired !== "absent") {
        const refused = await this.#refusedWhileRunning(manifest, seen);
        if (refused) {
          await this.#stopAll(app, DEFAULT_STOP_TIMEOUT_S, note).catch(() => {});
          return this.#fail(app, refused, note);
        }
      }
      // An app wanted running with a permission the operator has not approved (revoked, or never
      // approved: a path around the lifecycle's check) is held stopped until it is approved.
      const held = this.#unapproved(app, manifest);
      const planned: AppRow =
        held.length > 0 && app.desired === "running" ? { ...app, desired: "stopped" } : app;
      let next: Plan;
      let input: PlanInput;
      try {
        await this.#learnSubnets(manifest);
        input = this.#planInput(planned, manifest, seen, observation, update);
        next = plan(input);
      } catch (failure) {
        return this.#fail(app, failure, note);
      }
      // An update in its window: done, still going, or out of time (rolled back).
      const verdict =
        update?.stage === "applying" ? this.#updateVerdict(app, update, next, input, seen) : undefined;
      if (verdict?.kind === "rollback" && update)
        return this.#rollBackOrFail(app, update, verdict.reason, note);
      const again = next.actions.find((a) => a.kind === "start" && started.has(a.container.id));
      if (again?.kind === "start") {
        const exitCode = seen.find((c) => c.id === again.container.id)?.exitCode;
        return this.#fail(app, await this.#crash(again.container, exitCode), note);
      }
      if (next.actions.length === 0)
        return planned !== app
          ? this.#hold(app, held, note, update)
          : this.#settle(app, manifest, next, seen, note, update, verdict);
      const due = app.pendingHook;
      const acts = (...kinds: string[]) => next.actions.some((a) => kinds.includes(a.kind));
      // pre_start copies into its containers before an operator's start or restart, and before
      // the first start of a new one (install, reinstall, update, one removed by hand): one this
      // round creates gets them in a later round, before its start, or once it runs. A Quadlet
      // unit runs a new container at every start (none while it is down, and a restart replaces
      // it), so Quadlet containers get them once they run (see #settle).
      const preStartTargets = hookTargets(manifest, "pre_start");
      const firstStart = next.actions.some(
        (a) =>
          a.kind === "start" &&
          preStartTargets.includes(a.key) &&
          seen.find((c) => c.id === a.container.id)?.state === "created",
      );
      const uncreated =
        due === "pre_start" || firstStart
          ? preStartTargets.filter((key) => !seen.some((c) => c.key === key))
          : [];
      const byUnit = preStartTargets.filter((key) =>
        seen.some((c) => c.key === key && c.backend === "quadlet"),
      );
      if (
        (due === "pre_start" || firstStart) &&
        acts("start", "create", "restart") &&
        uncreated.length === 0 &&
        byUnit.length === 0
      ) {
        try {
          await this.#runHook(app, manifest, "pre_start", seen, note);
        } catch (failure) {
          return this.#fail(app, failure, note);
        }
        if (due === "pre_start") this.#o.store.setPendingHook(appId, undefined);
      } else if (due === "pre_uninstall" && app.desired === "absent" && acts("stop", "remove")) {
        try {
          if (!seen.some((c) => c.state === "running"))
            note("info", "pre_uninstall hook skipped: no container of the app is running");
          else await this.#runHook(app, manifest, due, seen, note);
        } catch (failure) {
          // A purge is the operator's last word: a hook that keeps failing must not keep the app.
          if (!app.purge) return this.#fail(app, failure, note);
          note(
            "warn",
            `${(failure as Error).message}; purging anyway: a purge removes the app whatever its hooks say`,
          );
        }
        this.#o.store.setPendingHook(appId, undefined);
      } else if (uncreated.length > 0 && acts("create"))
        note("info", `the pre_start hook waits until ${uncreated.join(", ")} is created`);
      else if (due === "pre_start" && byUnit.length > 0 && acts("start", "restart"))
        note("info", `the pre_start hook waits until ${byUnit.join(", ")} runs again from its Quadlet unit`);
      this.#status(
        app,
        this.#phaseDuring(update, next.phase),
        planned !== app
          ? awaitingApproval(app.id, held)
          : next.waiting.length > 0
            ? `waiting for ${next.waiting.join("; ")}`
            : this.#updateReason(update, verdict, next.phase),
      );
      // Every image is on the node before anything is created or replaced (install, reinstall).
      if (next.actions.some((a) => a.kind === "create" || (a.kind === "remove" && a.why === "outdated")))
        try {
          await this.#pullImages(app, manifest, note);
        } catch (failure) {
          return this.#fail(app, failure, note);
        }
      for (const action of next.actions) {
        if (action.kind === "forget") {
          this.#o.store.deleteApp(appId);
          this.#healthWaits.delete(appId);
          this.#finishOperations(app, "succeeded");
          this.#o.onEvent({ type: "app-removed", appId });
          note("info", `${appId} removed`);
          this.#enqueueDependents(appId);
          return;
        }
        if (action.kind === "restart" && input.healthRestarts.includes(action.key))
          this.#noteHealthRestart(app, action.key, seen, note);
        const exited = action.kind === "start" ? seen.find((c) => c.id === action.container.id) : undefined;
        if (exited && exitedOnItsOwn(app, exited)) this.#noteCrashRestart(app, exited, note);
        try {
          await this.#o.executor.run(manifest, action, this.#renderContext(manifest), note);
          // The network may be new (or gone): what the next actions render depends on its subnet.
          if (action.kind === "prepare" || action.kind === "remove-resources") {
            this.#subnets.delete(appId);
            if (action.kind === "prepare") await this.#learnSubnets(manifest);
          }
        } catch (failure) {
          this.#invalidate();
          return this.#fail(app, failure, note);
        }
        if (action.kind === "start" || action.kind === "restart") started.add(action.container.id);
      }
      this.#invalidate();
    }
    this.#later(appId, 1_000);
  }

  /** Pulls the images of `manifest` that are not on the node, progress going to the active operation. */
  async #pullImages(app: AppRow, manifest: Manifest, note: Note): Promise<void> {
    const images = podmanPlan(manifest, this.#renderContext(manifest)).containers.map((c) => c.body.image);
    await pullMissing(images, registryOf, {
      images: this.#o.runtime.client.images,
      credentialsFor: this.#o.registryAuth,
      note,
      policy: this.#o.pullPolicy,
      onProgress: (progress) => {
        const operation = this.#o.store.activeOperations(app.id).at(-1);
        if (operation)
          this.#o.onEvent({ type: "pull", appId: app.id, operationId: operation.id, ...progress });
      },
    });
  }

  /** The permissions `manifest` requests that the operator has not approved for `app`. */
  #unapproved(app: AppRow, manifest: Manifest): PermissionRequest[] {
    return unapprovedOf(manifest, this.#o.store.approvals(app.id));
  }

  /**
   * An app held for want of approvals has stopped: that is where it stays, with the reason, until
   * the operator approves. Requests to stop it (a stop, the revoke) have reached their goal; any
   * other request in flight has not, and fails with the reason.
   */
  async #hold(
    app: AppRow,
    missing: PermissionRequest[],
    note: Note,
    update: UpdateRow | undefined,
  ): Promise<void> {
    // An update undone (a revoke supersedes one) is over: its outcome is reported now.
    if (update?.stage === "restoring") await this.#endUpdate(app, update, note);
    const reason = awaitingApproval(app.id, missing);
    if (app.reason !== reason)
      note("warn", `${app.id} is stopped until the operator approves ${listPermissions(missing)}`);
    this.#status(app, "stopped", reason, {
      phase: "stopped",
      observedGeneration: app.generation,
      attempts: 0,
      nextAttemptAt: null,
    });
    for (const operation of this.#o.store.activeOperations(app.id)) {
      if (operation.generation > app.generation) continue;
      const reached = operation.kind === "stop" || operation.kind === "revoke";
      const state = reached ? "succeeded" : "failed";
      const error = reached ? undefined : reason;
      this.#o.store.setOperationState(operation.id, state, this.#o.clock(), error);
      this.#o.onEvent({ type: "operation", operationId: operation.id, appId: app.id, state, error });
    }
    this.#enqueueDependents(app.id);
  }

  /**
   * A host path of a running container that is refused now (it became a link to somewhere no app
   * may go since its start, or its container was started by something other than this daemon).
   * A path that is only missing now is not: the running container keeps what it mounted.
   */
  async #refusedWhileRunning(
    manifest: Manifest,
    seen: ObservedContainer[],
  ): Promise<HostPathError | undefined> {
    const keys = seen.filter((c) => c.state === "running" && c.key !== undefined).map((c) => c.key as string);
    if (keys.length === 0) return undefined;
    try {
      await this.#o.hostPaths.check(manifest, keys);
    } catch (error) {
      if (error instanceof HostPathError && error.kind === "refused") return error;
      if (!(error instanceof HostPathError)) throw error;
    }
    return undefined;
  }

  /** Stops every running container of the app, as observed now. */
  async #stopAll(app: AppRow, timeoutSeconds: number, note: Note): Promise<void> {
    this.#invalidate();
    const observation = await this.#observe(0);
    for (const container of observation.containers)
      if (container.appId === app.id && container.state === "running") {
        note("warn", `stopping ${container.name}: the app may not run as it is`);
        await this.#o.runtime.stop(container, timeoutSeconds);
      }
    this.#invalidate();
  }

  async #runHook(
    app: AppRow,
    manifest: Manifest,
    hook: HookName,
    seen: ObservedContainer[],
    note: Note,
  ): Promise<void> {
    // A hook may copy from a host-path permission: never one the operator has not approved.
    const missing = this.#unapproved(app, manifest);
    if (missing.length > 0) {
      note("warn", `${hook} hook skipped: ${awaitingApproval(app.id, missing)}`);
      return;
    }
    const containers = new Map(seen.filter((c) => c.key !== undefined).map((c) => [c.key as string, c]));
    const pkg = this.#o.packageOf(app);
    await runHook(manifest, hook, {
      runtime: this.#o.runtime,
      appDir: pkg?.dir,
      verifyCopy: pkg?.verifyCopy,
      containers,
      note,
      hostPaths: this.#o.hostPaths,
    });
    this.#invalidate();
  }

  /** A container that exited right after this call started it, told with its exit code and last output. */
  async #crash(container: ContainerRef, exitCode: number | undefined): Promise<Error> {
    const lines = await this.#o.executor.lastLogLines(container, CRASH_LOG_LINES);
    const output = lines.length > 0 ? `; its last output:\n${lines.join("\n")}` : "; it wrote no output";
    return new Error(
      `${container.name} exited right after it was started (exit code ${exitCode ?? "unknown"})${output}`,
    );
  }

  /**
   * Why a hook failed, when the cause is a container that ran at the look before it and is down
   * now: it crashed right after its start, before or during the hook's exec, and the crash is what
   * the operator must fix, not the hook.
   */
  async #hookFailure(seen: ObservedContainer[], failure: unknown): Promise<unknown> {
    const wereRunning = new Set(seen.filter((c) => c.state === "running").map((c) => c.id));
    this.#invalidate();
    let observation: Observation;
    try {
      observation = await this.#observe(0);
    } catch {
      return failure;
    }
    const down = observation.containers.find((c) => wereRunning.has(c.id) && c.state !== "running");
    return down ? this.#crash(down, down.exitCode) : failure;
  }

  /** Nothing to do now: either converged, or waiting for something outside this app. */
  async #settle(
    app: AppRow,
    manifest: Manifest,
    next: Plan,
    seen: ObservedContainer[],
    note: Note,
    update: UpdateRow | undefined,
    verdict: UpdateVerdict | undefined,
  ): Promise<void> {
    const converged = next.waiting.length === 0 && (next.phase === "running" || next.phase === "stopped");
    const blocked = next.phase === "waiting";
    // The new version runs but is not healthy yet: wait (the deadline wakes this app up in time).
    if (converged && verdict?.kind === "wait") {
      this.#status(app, "updating", this.#updateReason(update, verdict, next.phase));
      this.#later(app.id, Math.min(2_000, verdict.remainingMs));
      return;
    }
    const due = app.pendingHook;
    // pre_start still due once the app runs: its containers were created and started at once, or
    // are Quadlet containers, new at every start.
    if (
      converged &&
      next.phase === "running" &&
      (due === "post_install" || due === "post_update" || due === "pre_start")
    ) {
      try {
        await this.#runHook(app, manifest, due, seen, note);
      } catch (failure) {
        return this.#fail(app, await this.#hookFailure(seen, failure), note);
      }
      this.#o.store.setPendingHook(app.id, undefined);
    }
    if (converged) {
      if (update) await this.#endUpdate(app, update, note);
      // Running, but a container waits out the delay before its next restart for health: say until when.
      const waits = this.#healthWaits.get(app.id);
      this.#status(app, next.phase, waits?.join("; "), {
        phase: next.phase,
        observedGeneration: app.generation,
        attempts: 0,
        nextAttemptAt: null,
      });
      this.#finishOperations(app, "succeeded");
      this.#enqueueDependents(app.id);
      return;
    }
    this.#status(app, this.#phaseDuring(update, next.phase), next.waiting.join("; "));
    // Dependencies re-queue their dependents when they settle; containers' health needs a look soon.
    if (!blocked) this.#later(app.id, 2_000);
    if (update?.stage === "applying")
      this.#later(app.id, Math.max(0, this.#deadlineOf(update) - this.#o.clock()));
  }

  async #fail(app: AppRow, failure: unknown, note: Note): Promise<void> {
    const message = (failure as Error)?.message ?? String(failure);
    const current = this.#o.store.getApp(app.id) ?? app;
    const attempts = current.attempts + 1;
    const terminal = isTerminal(failure) || attempts >= this.#o.backoff.maxAttempts;
    const update = this.#o.store.getUpdate(app.id);
    // The new version failed for good: back to the previous one instead of `failed`.
    if (terminal && update && (update.stage === "pending" || update.stage === "applying"))
      return this.#rollBackOrFail(current, update, message, note);
    if (terminal) {
      const reason =
        update && (update.stage === "rolling-back" || update.stage === "restoring")
          ? rollbackFailedMessage(update.fromVersion, update.toVersion, update.reason, message)
          : message;
      note("error", `failed: ${reason}`);
      this.#status(current, "failed", reason, {
        phase: "failed",
        observedGeneration: current.generation,
        attempts,
        nextAttemptAt: null,
      });
      this.#finishOperations(current, "failed", reason);
      return;
    }
    const delay = backoffDelay(attempts, this.#o.random(), this.#o.backoff);
    note(
      "warn",
      `${message}; attempt ${attempts} of ${this.#o.backoff.maxAttempts}, retrying in ${Math.round(delay / 1000)} s`,
    );
    this.#status(current, "retrying", `${message} (attempt ${attempts} of ${this.#o.backoff.maxAttempts})`, {
      phase: "retrying",
      attempts,
      nextAttemptAt: this.#o.clock() + delay,
    });
    this.#later(app.id, delay);
    // An update's window does not wait for the backoff: the deadline wakes the app up too.
    if (update?.stage === "applying")
      this.#later(app.id, Math.max(0, this.#deadlineOf(update) - this.#o.clock()));
  }

  // ---- updates (see update.ts for the stages)

  /** The deadline that counts in this daemon run (a resumed update gets a short grace). */
  #deadlineOf(update: UpdateRow): number {
    if (update.deadline === undefined) return Number.POSITIVE_INFINITY;
    return effectiveDeadline(update.deadline, update.windowMs ?? 0, this.#resumedAt);
  }

  #phaseDuring(update: UpdateRow | undefined, phase: Phase): Phase {
    if (!update || !["installing", "starting", "restarting", "waiting"].includes(phase)) return phase;
    if (update.stage === "pending" || update.stage === "applying") return "updating";
    return update.outcome === "rolled-back" ? "rolling-back" : phase;
  }

  #updateReason(
    update: UpdateRow | undefined,
    verdict: UpdateVerdict | undefined,
    phase: Phase,
  ): string | undefined {
    if (!update || !["installing", "starting", "restarting", "waiting", "running"].includes(phase))
      return undefined;
    if (update.stage === "restoring")
      return update.outcome === "rolled-back"
        ? `update to ${update.toVersion} failed: going back to ${update.fromVersion}`
        : undefined;
    if (verdict?.kind !== "wait") return `updating from ${update.fromVersion} to ${update.toVersion}`;
    const left = Math.ceil(verdict.remainingMs / 1000);
    const what = verdict.waitingFor.length > 0 ? verdict.waitingFor.join("; ") : "starting";
    return `updating to ${update.toVersion}: ${what} (rolled back to ${update.fromVersion} unless healthy within ${left} s)`;
  }

  #updateVerdict(
    app: AppRow,
    update: UpdateRow,
    next: Plan,
    input: PlanInput,
    seen: ObservedContainer[],
  ): UpdateVerdict {
    const details: Record<string, string | undefined> = {};
    for (const key of Object.keys(input.health))
      details[key] = this.#o.health.detail?.(
        app.id,
        key,
        seen.find((c) => c.key === key),
      );
    return updateVerdict({
      now: this.#o.clock(),
      deadline: this.#deadlineOf(update),
      windowMs: update.windowMs ?? 0,
      toVersion: update.toVersion,
      desired: app.desired,
      converged:
        next.actions.length === 0 &&
        next.waiting.length === 0 &&
        (next.phase === "running" || next.phase === "stopped"),
      waiting: next.waiting,
      health: input.health,
      details,
    });
  }

  /**
   * Carries an update forward from its stage; true when this reconcile must end here (the app is
   * queued again, with the manifest now in force).
   */
  async #advanceUpdate(app: AppRow, update: UpdateRow, manifest: Manifest, note: Note): Promise<boolean> {
    const active = this.#o.store.activeOperations(app.id).some((o) => o.id === update.operationId);
    if (update.stage === "rolling-back") {
      await this.#rollBack(app, update, update.reason ?? "the update failed", note);
      return true;
    }
    if (!active) {
      // Superseded (a stop, an uninstall): an update that did not finish is undone, whatever ended it.
      const by = this.#o.store.getOperation(update.operationId)?.error ?? "the update was cancelled";
      if (update.stage === "pending") {
        note(
          "info",
          `the update to ${update.toVersion} had not started (${by}): ${update.fromVersion} stays`,
        );
        this.#o.store.restorePreviousManifest(app.id, this.#o.clock());
        this.enqueue(app.id);
        return true;
      }
      await this.#rollBack(app, update, by, note);
      return true;
    }
    if (update.stage === "pending") return this.#beginUpdate(app, update, manifest, note);
    return false;
  }

  /**
   * Before the new version runs: its images are here, the disk has room for a snapshot; then the
   * app's containers are stopped (a consistent copy) and its data copied. A check that fails
   * refuses the update, which leaves the old version as it was.
   */
  async #beginUpdate(app: AppRow, update: UpdateRow, manifest: Manifest, note: Note): Promise<boolean> {
    const { fromVersion: from, toVersion: to } = update;
    const snapshots = this.#o.snapshots;
    const notApproved = this.#unapproved(app, manifest);
    if (notApproved.length > 0)
      return this.#refuse(
        app,
        update,
        `${to} asks for permissions the operator has not approved: ${listPermissions(notApproved)}; update again approving them`,
        note,
      );
    this.#status(app, "updating", `updating from ${from} to ${to}: checking images and disk space`);
    note("info", `updating ${app.id} from ${from} to ${to}`);
    const ctx = this.#renderContext(manifest);
    const images = [...new Set(podmanPlan(manifest, ctx).containers.map((c) => c.body.image))];
    try {
      await this.#pullImages(app, manifest, note);
    } catch (failure) {
      if (!(failure instanceof ImagePullError)) throw failure;
      return this.#refuse(app, update, failure.message, note);
    }
    note("info", `the images of ${to} are on this node: ${images.join(", ")}`);
    const bytes = await snapshots.dataBytes(app.id);
    const free = await snapshots.freeBytes(app.id);
    const room = roomCheck(bytes, free.bytes, free.where);
    if (!room.ok) return this.#refuse(app, update, room.message, note);
    note(
      "info",
      `room for the snapshot: the data takes ${formatBytes(bytes)}, ${formatBytes(free.bytes)} free on ${free.where}`,
    );
    // Stop every container of the app (dependants first) so that the copy is consistent.
    const previous = this.#o.manifests.of({
      id: app.id,
      manifestText: update.fromManifest.text,
      manifestHash: update.fromManifest.hash,
    }).manifest;
    const observation = await this.#observe(0);
    const seen = observation.containers.filter((c) => c.appId === app.id);
    const order = previous ? podmanPlan(previous, this.#renderContext(previous)).containers : [];
    const timeoutOf = (key: string | undefined) =>
      order.find((c) => c.key === key)?.body.stop_timeout ?? DEFAULT_STOP_TIMEOUT_S;
    const rank = (key: string | undefined) => order.findIndex((c) => c.key === key);
    for (const c of [...seen].sort((a, b) => rank(b.key) - rank(a.key))) {
      if (c.state !== "running" && c.state !== "paused") continue;
      await this.#o.executor.run(
        manifest,
        { kind: "stop", key: c.key ?? c.name, container: c, timeoutSeconds: timeoutOf(c.key) },
        ctx,
        note,
      );
    }
    this.#invalidate();
    const now = this.#o.clock();
    let snapshot: { path: string; method: string };
    try {
      snapshot = await snapshots.take(app.id, from, now, note);
    } catch (failure) {
      return this.#refuse(
        app,
        update,
        `no snapshot of the data could be taken: ${(failure as Error).message}`,
        note,
      );
    }
    const window = updateWindow(manifest, this.#o.updateMarginMs);
    const deadline = this.#o.clock() + window.ms;
    this.#o.store.updateApplying(
      app.id,
      { snapshotPath: snapshot.path, snapshotMethod: snapshot.method, windowMs: window.ms, deadline },
      this.#o.clock(),
    );
    note(
      "info",
      `starting ${to}: it must run and be healthy within ${window.explanation}, by ${new Date(deadline).toISOString()}, or it is rolled back to ${from}`,
    );
    return false;
  }

  /** Refuses an update before the new version ran: the previous manifest is back, nothing else changed. */
  #refuse(app: AppRow, update: UpdateRow, reason: string, note: Note): true {
    note("error", `update to ${update.toVersion} refused: ${reason}`);
    this.#o.store.restorePreviousManifest(app.id, this.#o.clock(), { reason });
    this.#invalidate();
    this.enqueue(app.id);
    return true;
  }

  /** Rolls back; if that fails, the failure is handled (retried or final) like any other. */
  async #rollBackOrFail(app: AppRow, update: UpdateRow, reason: string, note: Note): Promise<void> {
    if (update.stage === "pending") {
      this.#refuse(app, update, reason, note);
      return;
    }
    try {
      await this.#rollBack(app, update, reason, note);
    } catch (failure) {
      this.#invalidate();
      const current = this.#o.store.getApp(app.id);
      if (current) return this.#fail(current, failure, note);
    }
  }

  /**
   * Undoes an update whose new version ran: its containers are removed, the data is restored from
   * the snapshot, and the previous manifest put back; the next reconcile recreates the old version.
   * Every step is safe to repeat (the stage is recorded first).
   */
  async #rollBack(app: AppRow, update: UpdateRow, reason: string, note: Note): Promise<void> {
    const { fromVersion: from, toVersion: to } = update;
    const going = `update to ${to} failed: going back to ${from}`;
    if (update.stage !== "rolling-back") {
      this.#o.store.updateRollingBack(app.id, reason, this.#o.clock());
      note("error", `update to ${to} failed: ${reason}; rolling back to ${from}`);
      // The rollback has attempts of its own.
      this.#status(app, "rolling-back", going, { phase: "rolling-back", attempts: 0, nextAttemptAt: null });
    } else {
      note("info", `resuming the rollback of the update to ${to}, back to ${from}`);
      this.#status(app, "rolling-back", going);
    }
    const manifest = this.manifestOf(app).manifest;
    const ctx = manifest ? this.#renderContext(manifest) : { dataRoot: this.#o.dataRoot, dependencies: {} };
    const observation = await this.#observe(0);
    const seen = observation.containers.filter((c) => c.appId === app.id);
    const order = manifest ? podmanPlan(manifest, ctx).containers : [];
    const timeoutOf = (key: string | undefined) =>
      order.find((c) => c.key === key)?.body.stop_timeout ?? DEFAULT_STOP_TIMEOUT_S;
    const rank = (key: string | undefined) => order.findIndex((c) => c.key === key);
    for (const c of [...seen].sort((a, b) => rank(b.key) - rank(a.key))) {
      const timeoutSeconds = timeoutOf(c.key);
      if (c.state === "running" || c.state === "paused")
        await this.#o.executor.run(
          manifest as Manifest,
          { kind: "stop", key: c.key ?? c.name, container: c, timeoutSeconds },
          ctx,
          note,
        );
      await this.#o.executor.run(
        manifest as Manifest,
        { kind: "remove", key: c.key, container: c, timeoutSeconds, why: "rollback" },
        ctx,
        note,
      );
    }
    this.#invalidate();
    const current = this.#o.store.getApp(app.id) ?? app;
    if (current.desired === "absent" && current.purge)
      note("info", "the data is not restored: the app is being purged");
    else if (update.snapshotPath) await this.#o.snapshots.restore(app.id, update.snapshotPath, note);
    this.#o.store.restorePreviousManifest(app.id, this.#o.clock());
    note("info", `the manifest of ${from} is in force again; recreating ${from}`);
    this.enqueue(app.id);
  }

  /** The app has converged at the end of an update: commit it, or report how it was undone. */
  async #endUpdate(app: AppRow, update: UpdateRow, note: Note): Promise<void> {
    const { fromVersion: from, toVersion: to } = update;
    // The version in force is settled: approvals of what only the other version asked for go.
    const manifest = this.manifestOf(app).manifest;
    if (manifest) this.#o.store.keepApprovals(app.id, requestedPermissions(manifest));
    if (update.stage === "applying") {
      const kept = update.snapshotPath;
      await this.#o.snapshots.prune(app.id, kept, note).catch((failure: Error) => {
        note("warn", `older snapshots could not be deleted: ${failure.message}`);
      });
      this.#o.store.deleteUpdate(app.id);
      note("info", `update from ${from} to ${to} succeeded; the snapshot of ${from} is kept at ${kept}`);
      return;
    }
    this.#o.store.deleteUpdate(app.id);
    if (!update.outcome) {
      note("info", `the unfinished update to ${to} was undone: ${app.id} is on ${from}`);
      return;
    }
    const message = outcomeMessage(update.outcome, from, to, update.reason);
    const operation = this.#o.store.getOperation(update.operationId);
    note(update.outcome === "refused" ? "error" : "warn", message);
    if (operation && (operation.state === "pending" || operation.state === "running")) {
      this.#o.store.setOperationState(operation.id, "failed", this.#o.clock(), message);
      this.#o.onEvent({
        type: "operation",
        operationId: operation.id,
        appId: app.id,
        state: "failed",
        error: message,
      });
    }
  }

  #enqueueDependents(appId: string): void {
    for (const { id, manifest } of this.#installedManifests())
      if (id !== appId && manifest?.dependencies.some((d) => d.id === appId)) this.enqueue(id);
  }
}

/**
 * A container of an app that had reached what its operator last asked (running, or restarting one
 * of its containers since, or waiting for one in a transient state: a Quadlet unit lists its dead
 * container as `removing` before it is gone) and is now exited: it stopped on its own, not by an
 * operator's request nor while the app was being set up.
 */
function exitedOnItsOwn(app: AppRow, c: ObservedContainer): boolean {
  return (
    app.desired === "running" &&
    app.observedGeneration === app.generation &&
    (app.phase === "running" || app.phase === "restarting" || app.phase === "waiting") &&
    c.state === "exited"
  );
}
