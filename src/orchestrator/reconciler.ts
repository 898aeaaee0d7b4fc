/**
 * The reconciler: level-triggered convergence of every app to its desired state, and the one
 * driver of its schedule. A periodic resync (30 s by default), the runtime's watch (hints only) and
 * new operations queue apps; one worker per app at a time runs a reconcile (app-reconciler.ts),
 * which returns its outcome — done, look again after a delay, or failed — and this driver alone
 * turns outcomes into wake-ups, counts attempts, backs off exponentially with jitter and ends in a
 * terminal `failed` phase with the reason, until a retry or a new intent (controller-runtime's
 * Reconcile → Result, the same way). Observations are shared between workers
 * (observation-cache.ts), so a pass over many unchanged apps costs one engine call.
 */

import type { HookStepSpec } from "../manifest/schema.ts";
import type { PullSources } from "../peers/image-fetch.ts";
import type { ObservedContainer } from "../runtime/observed.ts";
import type { Observation, RegistryAuth, Runtime, Watch } from "../runtime/runtime.ts";
import { AppReconciler, type HealthSource } from "./app-reconciler.ts";
import { AppReport } from "./app-report.ts";
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from "./backoff.ts";
import type { Executor } from "./executor.ts";
import { DEFAULT_HEALTH_RESTART_POLICY, type HealthRestartPolicy } from "./health-restarts.ts";
import type { AppPackage } from "./hooks.ts";
import type { HostPathGuard } from "./host-path-guard.ts";
import { AppImagePulls, type PullPolicy } from "./image-pulls.ts";
import type { ManifestCache } from "./manifest-cache.ts";
import type { Logger, Note, ReconcilerEvent } from "./model.ts";
import { InstalledNames } from "./name-clashes.ts";
import { legacyNamesOf, ObservationCache } from "./observation-cache.ts";
import type { ReconcileOutcome } from "./reconcile-outcome.ts";
import { RenderContexts } from "./render-contexts.ts";
import { CrashRestarts, HealthRestarts } from "./restart-trackers.ts";
import { DataSnapshots, type Snapshots } from "./snapshots.ts";
import type { AppRow, Store } from "./store.ts";
import { DEFAULT_UPDATE_MARGIN_MS } from "./update.ts";
import { UpdateController } from "./update-controller.ts";
import { WorkQueue } from "./work-queue.ts";

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
  /**
   * Why the app is held stopped now (a backup or restore in flight, src/backup/), or undefined:
   * then its desired state counts as stopped, and it runs again once the hold ends.
   */
  holdsStopped?: (appId: string) => string | undefined;
  /** The credentials for the registry of an image (default: none). */
  registryAuth?: (image: string) => RegistryAuth | undefined;
  /** Retries of a pull whose registry cannot be reached (default: image-pulls.ts). */
  pullPolicy?: PullPolicy;
  /** Where pinned images come from besides Podman's pull: peers, the peer cache (default: none). */
  pullSources?: () => PullSources | undefined;
};

/** A local app's package is the directory its manifest came from. */
export function localPackage(app: Pick<AppRow, "source">): AppPackage | undefined {
  return app.source.startsWith("local:") ? { dir: app.source.slice("local:".length) } : undefined;
}

export class Reconciler {
  readonly #store: Store;
  readonly #runtime: Runtime;
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #random: () => number;
  readonly #resyncMs: number;
  readonly #backoff: BackoffPolicy;
  readonly #queue: WorkQueue;
  readonly #report: AppReport;
  readonly #observations: ObservationCache;
  readonly #updates: UpdateController;
  readonly #apps: AppReconciler;
  /** Wake-ups due per app (the earliest one wins). */
  readonly #timers = new Map<string, { timer: NodeJS.Timeout; at: number }>();
  #resync: NodeJS.Timeout | undefined;
  #watch: Watch | undefined;
  #passes = 0;

  constructor(options: ReconcilerOptions) {
    const { store, manifests, runtime, executor, dataRoot, log } = options;
    const clock = options.clock ?? Date.now;
    this.#store = store;
    this.#runtime = runtime;
    this.#log = log;
    this.#clock = clock;
    this.#random = options.random ?? Math.random;
    this.#resyncMs = options.resyncMs ?? 30_000;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#report = new AppReport({ store, log, clock, onEvent: options.onEvent ?? (() => {}) });
    this.#observations = new ObservationCache({
      runtime,
      clock,
      legacyNames: () => legacyNamesOf(manifests.installed(store)),
    });
    const contexts = new RenderContexts({ store, manifests, runtime, dataRoot });
    const pulls = new AppImagePulls({
      runtime,
      store,
      contexts,
      credentialsFor: options.registryAuth ?? (() => undefined),
      onEvent: options.onEvent ?? (() => {}),
      ...(options.pullPolicy ? { policy: options.pullPolicy } : {}),
      ...(options.pullSources ? { sources: options.pullSources } : {}),
      clock,
    });
    const detail: HealthSource["detail"] = (appId, key, container) =>
      options.health.detail?.(appId, key, container);
    this.#updates = new UpdateController({
      store,
      manifests,
      runtime,
      executor,
      snapshots: options.snapshots ?? new DataSnapshots({ dataRoot }),
      observations: this.#observations,
      contexts,
      pulls,
      report: this.#report,
      clock,
      updateMarginMs: options.updateMarginMs ?? DEFAULT_UPDATE_MARGIN_MS,
      detail,
    });
    const restartPolicy = options.healthRestarts ?? DEFAULT_HEALTH_RESTART_POLICY;
    this.#apps = new AppReconciler({
      store,
      manifests,
      runtime,
      executor,
      hostPaths: options.hostPaths,
      health: options.health,
      clock,
      observationMaxAgeMs: options.observationMaxAgeMs ?? 1_000,
      packageOf: options.packageOf ?? localPackage,
      names: options.names ?? new InstalledNames(store, manifests),
      observations: this.#observations,
      contexts,
      pulls,
      report: this.#report,
      updates: this.#updates,
      healthRestarts: new HealthRestarts(restartPolicy, clock),
      crashRestarts: new CrashRestarts(restartPolicy, clock),
      wake: (appId) => this.enqueue(appId),
      holdsStopped: options.holdsStopped ?? (() => undefined),
    });
    this.#queue = new WorkQueue({
      concurrency: options.concurrency ?? 4,
      work: (appId) => this.reconcileApp(appId),
      onError: (appId, error) =>
        this.#log.error(`reconcile of ${appId} crashed: ${(error as Error)?.stack ?? String(error)}`),
    });
  }

  /** The app's containers as Podman shows them now (a fresh observation). */
  async containersOf(appId: string): Promise<ObservedContainer[]> {
    return (await this.#observations.get(0)).containers.filter((c) => c.appId === appId);
  }

  /** Runs a backup's hook steps in the app's running containers (src/backup/). */
  runBackupHook(
    appId: string,
    hook: "pre_backup" | "post_backup",
    steps: readonly HookStepSpec[],
    note: Note,
  ): Promise<void> {
    return this.#apps.runBackupHook(appId, hook, steps, note);
  }

  /** The most recent observation, shared with the health monitor. */
  get lastObservation(): Observation | undefined {
    return this.#observations.last;
  }

  get passes(): number {
    return this.#passes;
  }

  /** Starts the periodic resync and the runtime's watch; runs a first pass at once. */
  start(): void {
    this.#watch = this.#runtime.watch({
      onChange: (appId) => {
        if (!this.#store.getApp(appId)) return;
        // The change is news the shared observation may predate: the woken worker must look again.
        this.#observations.invalidate();
        this.enqueue(appId);
      },
      onStatus: (status) => {
        if (!status.connected)
          this.#log.warn(`Podman event stream: ${status.error ?? "disconnected"}; resync continues`);
      },
    });
    this.#resync = setInterval(
      () => void this.syncAll().catch((e) => this.#log.error(`resync failed: ${(e as Error).message}`)),
      this.#resyncMs,
    );
    this.#resync.unref();
    void this.syncAll().catch((e) => this.#log.error(`first pass failed: ${(e as Error).message}`));
  }

  async stop(): Promise<void> {
    if (this.#resync) clearInterval(this.#resync);
    for (const { timer } of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    await this.#queue.stop();
    await this.#watch?.stop();
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
    await this.#observations.get(0);
    for (const app of this.#store.listAppHeads()) this.enqueue(app.id);
  }

  /**
   * Reconciles one app, unless it has failed for good or waits for its next attempt, and schedules
   * what the outcome asks for. Every requeue and backoff decision of the reconciler is made here.
   */
  async reconcileApp(appId: string): Promise<void> {
    const app = this.#store.getApp(appId);
    if (!app) return;
    const now = this.#clock();
    if (app.phase === "failed" && app.observedGeneration >= app.generation) return;
    // An update past its deadline does not sit out a backoff delay: it is rolled back now.
    const overdue = this.#updates.overdue(this.#store.getUpdate(appId), now);
    if (!overdue && app.nextAttemptAt !== undefined && now < app.nextAttemptAt)
      return this.#later(appId, app.nextAttemptAt - now);
    let outcome: ReconcileOutcome | undefined = await this.#apps.reconcile(appId);
    // A failure may have an outcome of its own (an update that failed for good is rolled back).
    while (outcome?.kind === "failed") outcome = await this.#failed(appId, outcome);
    if (outcome?.kind === "requeue")
      if (outcome.afterMs === 0) this.enqueue(appId);
      else this.#later(appId, outcome.afterMs);
  }

  /**
   * A failed reconcile: retried after a growing delay, or, when a retry cannot fix it or it was the
   * last attempt, the app is `failed` with the reason (an update's new version is rolled back
   * instead, which is the outcome returned).
   */
  async #failed(
    appId: string,
    outcome: Extract<ReconcileOutcome, { kind: "failed" }>,
  ): Promise<ReconcileOutcome | undefined> {
    const current = this.#store.getApp(appId);
    if (!current) return undefined;
    const note = this.#report.note(current);
    const message = (outcome.error as Error)?.message ?? String(outcome.error);
    const attempts = current.attempts + 1;
    const terminal = outcome.terminal || attempts >= this.#backoff.maxAttempts;
    const update = this.#store.getUpdate(appId);
    // The new version failed for good: back to the previous one instead of `failed`.
    if (terminal && update && (update.stage === "pending" || update.stage === "applying"))
      return this.#updates.rollBackOrFail(current, update, message, note);
    if (terminal) {
      const reason = this.#updates.failureReason(update, message);
      note("error", `failed: ${reason}`);
      this.#report.status(current, "failed", reason, {
        phase: "failed",
        observedGeneration: current.generation,
        attempts,
        nextAttemptAt: null,
      });
      this.#report.finishOperations(current, "failed", reason);
      return undefined;
    }
    const delay = backoffDelay(attempts, this.#random(), this.#backoff);
    note(
      "warn",
      `${message}; attempt ${attempts} of ${this.#backoff.maxAttempts}, retrying in ${Math.round(delay / 1000)} s`,
    );
    this.#report.status(
      current,
      "retrying",
      `${message} (attempt ${attempts} of ${this.#backoff.maxAttempts})`,
      {
        phase: "retrying",
        attempts,
        nextAttemptAt: this.#clock() + delay,
      },
    );
    this.#later(appId, delay);
    // An update's window does not wait for the backoff: the deadline wakes the app up too.
    if (update?.stage === "applying")
      this.#later(appId, Math.max(0, this.#updates.deadlineOf(update) - this.#clock()));
    return undefined;
  }

  /** Looks at the app again after `delayMs`; the earliest wake-up wins. */
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
}
