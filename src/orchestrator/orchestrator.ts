/**
 * The orchestrator assembled: store, manifest cache, lifecycle operations, reconciler and health
 * monitor over one runtime. The daemon (and the tests) create one of these.
 */
import { join } from "node:path";
import type { Runtime } from "../runtime/runtime.ts";
import { tcpConnect } from "../system/tcp.ts";
import { type BackoffPolicy, DEFAULT_BACKOFF } from "./backoff.ts";
import { Executor } from "./executor.ts";
import { HealthMonitor, type Probed, type ProbeOutcome, publishedEndpoints } from "./health.ts";
import type { HealthRestartPolicy } from "./health-restarts.ts";
import { Lifecycle } from "./lifecycle.ts";
import { ManifestCache } from "./manifest-cache.ts";
import type { Action } from "./planner.ts";
import { type Logger, Reconciler, type ReconcilerEvent, type ReconcilerOptions } from "./reconciler.ts";
import { SecretFiles } from "./secrets.ts";
import { Store } from "./store.ts";

export type OrchestratorOptions = {
  /** The daemon's own state: `store.db` and `secrets/`. */
  stateDir: string;
  /** Where app data lives: `<dataRoot>/apps/<id>/volumes/<volume>`. */
  dataRoot: string;
  /** The runtime; may also be given later to `start`, once Podman answers (the store serves before). */
  runtime?: Runtime;
  log: Logger;
  resyncMs?: number;
  healthTickMs?: number;
  backoff?: BackoffPolicy;
  clock?: () => number;
  onEvent?: (event: ReconcilerEvent) => void;
  /** Fault injection for crash tests: called before every action is performed. */
  beforeAction?: (action: Action) => void;
  /** Added to the time a new version's health checks need, to make its update window (default 20 s). */
  updateMarginMs?: number;
  /** Delays between restarts of an unhealthy container (see health-restarts.ts for the defaults). */
  healthRestarts?: HealthRestartPolicy;
  /** The directory of an installed app's package, for its hooks (default: `local:` sources only). */
  packageDir?: ReconcilerOptions["packageDir"];
  /** Sees the outcome of every health probe (metrics). */
  onProbe?: (outcome: ProbeOutcome["outcome"]) => void;
};

/** The parts that act on Podman, assembled once a runtime is there. */
type Engine = { runtime: Runtime; reconciler: Reconciler; health: HealthMonitor };

export class Orchestrator {
  readonly store: Store;
  readonly manifests: ManifestCache;
  readonly lifecycle: Lifecycle;
  readonly secrets: SecretFiles;
  readonly #options: OrchestratorOptions;
  readonly #clock: () => number;
  #engine: Engine | undefined;
  #healthTimer: NodeJS.Timeout | undefined;
  #ticking = false;

  constructor(options: OrchestratorOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
    this.store = new Store(join(options.stateDir, "store.db"));
    this.manifests = new ManifestCache(this.store);
    this.secrets = new SecretFiles(join(options.stateDir, "secrets"));
    // Intents recorded before the engine runs are picked up by its first pass.
    this.lifecycle = new Lifecycle({
      store: this.store,
      manifests: this.manifests,
      clock: this.#clock,
      wake: (appId) => this.#engine?.reconciler.enqueue(appId),
    });
  }

  get started(): boolean {
    return this.#engine !== undefined;
  }

  get runtime(): Runtime {
    const runtime = this.#engine?.runtime ?? this.#options.runtime;
    if (!runtime) throw new Error("Podman is not connected yet");
    return runtime;
  }

  get reconciler(): Reconciler {
    if (!this.#engine) throw new Error("the orchestrator has not started");
    return this.#engine.reconciler;
  }

  get health(): HealthMonitor {
    if (!this.#engine) throw new Error("the orchestrator has not started");
    return this.#engine.health;
  }

  /** Starts reconciling and probing over `runtime`. The store answers queries before this. */
  start(runtime: Runtime | undefined = this.#options.runtime): void {
    if (this.#engine) return;
    if (!runtime) throw new Error("the orchestrator needs a runtime to start");
    const options = this.#options;
    const executor = new Executor({
      runtime,
      secrets: this.secrets,
      dataRoot: options.dataRoot,
      beforeAction: options.beforeAction,
    });
    const health = new HealthMonitor({
      clock: this.#clock,
      onChange: (appId) => this.#engine?.reconciler.enqueue(appId),
      probe: async (container, command, timeoutMs) => {
        const run = await runtime.probe(container, command, timeoutMs);
        if (run.kind === "not-run") return { outcome: "not-run", output: run.reason };
        const passed = run.kind === "exited" && run.exitCode === 0;
        return { outcome: passed ? "pass" : "fail", output: run.output.slice(-2000) };
      },
      onProbe: options.onProbe,
      reach: async ({ address, port }, timeoutMs) => (await tcpConnect(address, port, timeoutMs)).ok,
    });
    const reconciler = new Reconciler({
      store: this.store,
      manifests: this.manifests,
      runtime,
      executor,
      dataRoot: options.dataRoot,
      log: options.log,
      clock: this.#clock,
      resyncMs: options.resyncMs ?? 30_000,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      onEvent: options.onEvent ?? (() => {}),
      ...(options.updateMarginMs !== undefined ? { updateMarginMs: options.updateMarginMs } : {}),
      ...(options.healthRestarts ? { healthRestarts: options.healthRestarts } : {}),
      ...(options.packageDir ? { packageDir: options.packageDir } : {}),
      health: {
        detail: (_appId, _key, container) => {
          if (!container) return undefined;
          const notRun = health.notRun(container.id);
          return notRun
            ? `its last ${notRun.count} probes could not run, no verdict: ${notRun.reason}`
            : health.lastOutput(container.id);
        },
        healthOf: (appId, key, container) => {
          const row = this.store.getApp(appId);
          const spec = row ? this.manifests.of(row).manifest?.containers[key]?.health : undefined;
          return health.healthOf(container, spec);
        },
      },
    });
    this.#engine = { runtime, reconciler, health };
    reconciler.start();
    this.#healthTimer = setInterval(() => void this.#healthTick(), options.healthTickMs ?? 1_000);
    this.#healthTimer.unref();
  }

  /** Stops the loops; containers keep running. */
  async stop(): Promise<void> {
    if (this.#healthTimer) clearInterval(this.#healthTimer);
    await this.#engine?.reconciler.stop();
    this.store.close();
  }

  async #healthTick(): Promise<void> {
    const engine = this.#engine;
    if (this.#ticking || !engine) return;
    this.#ticking = true;
    try {
      const observation = engine.reconciler.lastObservation;
      if (!observation) return;
      const targets: Probed[] = [];
      for (const container of observation.containers) {
        if (!container.appId || !container.key) continue;
        const row = this.store.getApp(container.appId);
        const declared = row ? this.manifests.of(row).manifest?.containers[container.key] : undefined;
        if (declared?.health)
          targets.push({
            appId: container.appId,
            key: container.key,
            container,
            spec: declared.health,
            published: publishedEndpoints(declared),
          });
      }
      await engine.health.tick(targets);
    } finally {
      this.#ticking = false;
    }
  }
}
