/**
 * The reconciler: level-triggered convergence of every app to its desired state. A periodic resync
 * (30 s by default), Podman events (hints only) and new operations queue apps; one worker per app at
 * a time observes, plans (pure), executes, and observes again until the plan is empty. Failures back
 * off exponentially with jitter and end in a terminal `failed` phase with the reason, until a retry or
 * a new intent. Observations are shared between workers, so a pass over many unchanged apps costs one
 * Podman call.
 */
import { LABELS } from "../manifest/naming.ts";
import type { HookName, Manifest } from "../manifest/schema.ts";
import type { RenderContext } from "../render/model.ts";
import { podmanPlan } from "../render/podman-spec.ts";
import { isPodmanError } from "../runtime/libpod/errors.ts";
import type { EventStream } from "../runtime/libpod/events.ts";
import type { LegacyName, Observation } from "../runtime/observe.ts";
import type { ObservedContainer } from "../runtime/observed.ts";
import { MANAGED_FILTER } from "../runtime/observed.ts";
import { type Runtime, RuntimeError } from "../runtime/runtime.ts";
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from "./backoff.ts";
import type { Executor, Note } from "./executor.ts";
import { HookError, runHook } from "./hooks.ts";
import type { ManifestCache, ParsedStoredManifest } from "./manifest-cache.ts";
import type { OperationLogLine, Phase, StoredContainer } from "./model.ts";
import { type Health, type Plan, type PlanInput, plan, type WantedContainer } from "./planner.ts";
import type { AppRow, Store } from "./store.ts";
import { WorkQueue } from "./work-queue.ts";

/** Where the planner learns whether containers are healthy (the daemon's own probes). */
export interface HealthSource {
  healthOf(appId: string, key: string, container: ObservedContainer | undefined): Health;
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
  | { type: "log"; appId: string; line: OperationLogLine };

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
};

/** Errors that retrying cannot fix: the operator must act (or retry explicitly). */
function isTerminal(error: unknown): boolean {
  if (error instanceof HookError) return true;
  if (error instanceof RuntimeError)
    return (
      error.kind === "image-missing" || error.kind === "name-conflict" || error.kind === "backend-unavailable"
    );
  if (isPodmanError(error)) return error.kind === "bad-request";
  return (error as Error)?.name === "RenderError";
}

const MAX_ROUNDS = 40;

type Settings = Required<ReconcilerOptions>;

export class Reconciler {
  readonly #o: Settings;
  readonly #queue: WorkQueue;
  readonly #timers = new Map<string, NodeJS.Timeout>();
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
      ...options,
    } as Settings;
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
        if (event.type !== "container" || !appId) return;
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
    for (const timer of this.#timers.values()) clearTimeout(timer);
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
    for (const app of this.#o.store.listApps()) this.enqueue(app.id);
  }

  manifestOf(app: AppRow): ParsedStoredManifest {
    return this.#o.manifests.of(app);
  }

  /** Legacy container names of installed apps, so adoption finds containers without our labels. */
  #legacyNames(): Map<string, LegacyName> {
    const legacy = new Map<string, LegacyName>();
    for (const app of this.#o.store.listApps()) {
      const manifest = this.manifestOf(app).manifest;
      for (const [key, names] of Object.entries(manifest?.adoption.containers ?? {}))
        for (const name of names) legacy.set(name, { appId: app.id, key });
    }
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
    return { dataRoot: this.#o.dataRoot, dependencies };
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
      recreateRequestedAt: app.recreateRequestedAt,
      blockedBy: app.desired === "running" ? this.#blockedBy(manifest, observation) : [],
    };
  }

  #note(app: AppRow): Note {
    const operation = this.#o.store.activeOperations(app.id).at(-1);
    return (level, message) => {
      this.#o.log[level](`${app.id}: ${message}`);
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
    if (this.#timers.has(appId)) return;
    const timer = setTimeout(() => {
      this.#timers.delete(appId);
      this.enqueue(appId);
    }, delayMs);
    timer.unref();
    this.#timers.set(appId, timer);
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
    if (app.nextAttemptAt !== undefined && now < app.nextAttemptAt)
      return this.#later(appId, app.nextAttemptAt - now);

    const { manifest, error } = this.manifestOf(app);
    const manifestHash = app.manifestHash;
    if (!manifest) {
      this.#status(app, "failed", `the stored manifest is no longer valid: ${error}`, {
        phase: "failed",
        observedGeneration: app.generation,
      });
      this.#finishOperations(app, "failed", error);
      return;
    }
    for (const operation of this.#o.store.activeOperations(appId)) {
      if (operation.state === "pending") {
        this.#o.store.setOperationState(operation.id, "running", now);
        this.#o.onEvent({ type: "operation", operationId: operation.id, appId, state: "running" });
      }
    }

    const note = this.#note(app);
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
      const seen = await this.#preciseStarts(
        app,
        observation.containers.filter((c) => c.appId === appId),
      );
      this.#storeObservation(app, seen, observation.at);
      let next: Plan;
      try {
        next = plan(this.#planInput(app, manifest, seen, observation));
      } catch (failure) {
        return this.#fail(app, failure, note);
      }
      const again = next.actions.find((a) => a.kind === "start" && started.has(a.container.id));
      if (again?.kind === "start") {
        const exitCode = seen.find((c) => c.id === again.container.id)?.exitCode;
        return this.#fail(
          app,
          new Error(
            `${again.container.name} exited right after it was started (exit code ${exitCode ?? "unknown"})`,
          ),
          note,
        );
      }
      if (next.actions.length === 0) return this.#settle(app, manifest, next, seen, note);
      const due = app.pendingHook;
      const acts = (...kinds: string[]) => next.actions.some((a) => kinds.includes(a.kind));
      if (
        (due === "pre_start" && acts("start", "create", "restart")) ||
        (due === "pre_uninstall" && app.desired === "absent" && acts("stop", "remove"))
      ) {
        const running = seen.some((c) => c.state === "running");
        try {
          if (due === "pre_uninstall" && !running)
            note("info", "pre_uninstall hook skipped: no container of the app is running");
          else await this.#runHook(app, manifest, due, seen, note);
        } catch (failure) {
          return this.#fail(app, failure, note);
        }
        this.#o.store.setPendingHook(appId, undefined);
      }
      this.#status(
        app,
        next.phase,
        next.waiting.length > 0 ? `waiting for ${next.waiting.join("; ")}` : undefined,
      );
      for (const action of next.actions) {
        if (action.kind === "forget") {
          this.#o.store.deleteApp(appId);
          this.#finishOperations(app, "succeeded");
          this.#o.onEvent({ type: "app-removed", appId });
          note("info", `${appId} removed`);
          this.#enqueueDependents(appId);
          return;
        }
        try {
          await this.#o.executor.run(manifest, action, this.#renderContext(manifest), note);
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

  async #runHook(
    app: AppRow,
    manifest: Manifest,
    hook: HookName,
    seen: ObservedContainer[],
    note: Note,
  ): Promise<void> {
    const containers = new Map(seen.filter((c) => c.key !== undefined).map((c) => [c.key as string, c]));
    const appDir = app.source.startsWith("local:") ? app.source.slice("local:".length) : undefined;
    await runHook(manifest, hook, { runtime: this.#o.runtime, appDir, containers, note });
    this.#invalidate();
  }

  /** Nothing to do now: either converged, or waiting for something outside this app. */
  async #settle(
    app: AppRow,
    manifest: Manifest,
    next: Plan,
    seen: ObservedContainer[],
    note: Note,
  ): Promise<void> {
    const converged = next.waiting.length === 0 && (next.phase === "running" || next.phase === "stopped");
    const blocked = next.phase === "waiting";
    const due = app.pendingHook;
    if (converged && next.phase === "running" && (due === "post_install" || due === "post_update")) {
      try {
        await this.#runHook(app, manifest, due, seen, note);
      } catch (failure) {
        return this.#fail(app, failure, note);
      }
      this.#o.store.setPendingHook(app.id, undefined);
    }
    if (converged) {
      this.#status(app, next.phase, undefined, {
        phase: next.phase,
        observedGeneration: app.generation,
        attempts: 0,
        nextAttemptAt: null,
      });
      this.#finishOperations(app, "succeeded");
      this.#enqueueDependents(app.id);
      return;
    }
    this.#status(app, next.phase, next.waiting.join("; "));
    // Dependencies re-queue their dependents when they settle; containers' health needs a look soon.
    if (!blocked) this.#later(app.id, 2_000);
  }

  #fail(app: AppRow, failure: unknown, note: Note): void {
    const message = (failure as Error)?.message ?? String(failure);
    const attempts = app.attempts + 1;
    if (isTerminal(failure) || attempts >= this.#o.backoff.maxAttempts) {
      note("error", `failed: ${message}`);
      this.#status(app, "failed", message, {
        phase: "failed",
        observedGeneration: app.generation,
        attempts,
        nextAttemptAt: null,
      });
      this.#finishOperations(app, "failed", message);
      return;
    }
    const delay = backoffDelay(attempts, this.#o.random(), this.#o.backoff);
    note(
      "warn",
      `${message}; attempt ${attempts} of ${this.#o.backoff.maxAttempts}, retrying in ${Math.round(delay / 1000)} s`,
    );
    this.#status(app, "retrying", `${message} (attempt ${attempts} of ${this.#o.backoff.maxAttempts})`, {
      phase: "retrying",
      attempts,
      nextAttemptAt: this.#o.clock() + delay,
    });
    this.#later(app.id, delay);
  }

  #enqueueDependents(appId: string): void {
    for (const other of this.#o.store.listApps()) {
      if (other.id === appId) continue;
      if (this.#o.manifests.dependsOn(other, appId)) this.enqueue(other.id);
    }
  }
}
