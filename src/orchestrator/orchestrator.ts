/**
 * The orchestrator assembled: store, manifest cache, lifecycle operations, reconciler and health
 * monitor over one runtime. The daemon (and the tests) create one of these.
 */
import { join } from "node:path";
import type { Runtime } from "../runtime/runtime.ts";
import { type BackoffPolicy, DEFAULT_BACKOFF } from "./backoff.ts";
import { Executor } from "./executor.ts";
import { HealthMonitor, type Probed } from "./health.ts";
import { Lifecycle } from "./lifecycle.ts";
import { ManifestCache } from "./manifest-cache.ts";
import type { Action } from "./planner.ts";
import { type Logger, Reconciler, type ReconcilerEvent } from "./reconciler.ts";
import { SecretFiles } from "./secrets.ts";
import { Store } from "./store.ts";

export type OrchestratorOptions = {
  /** The daemon's own state: `store.db` and `secrets/`. */
  stateDir: string;
  /** Where app data lives: `<dataRoot>/apps/<id>/volumes/<volume>`. */
  dataRoot: string;
  runtime: Runtime;
  log: Logger;
  resyncMs?: number;
  healthTickMs?: number;
  backoff?: BackoffPolicy;
  clock?: () => number;
  onEvent?: (event: ReconcilerEvent) => void;
  /** Fault injection for crash tests: called before every action is performed. */
  beforeAction?: (action: Action) => void;
};

export class Orchestrator {
  readonly store: Store;
  readonly manifests = new ManifestCache();
  readonly lifecycle: Lifecycle;
  readonly reconciler: Reconciler;
  readonly health: HealthMonitor;
  readonly secrets: SecretFiles;
  readonly runtime: Runtime;
  readonly #healthTickMs: number;
  #healthTimer: NodeJS.Timeout | undefined;
  #ticking = false;

  constructor(options: OrchestratorOptions) {
    const clock = options.clock ?? Date.now;
    this.runtime = options.runtime;
    this.store = new Store(join(options.stateDir, "store.db"));
    this.secrets = new SecretFiles(join(options.stateDir, "secrets"));
    this.#healthTickMs = options.healthTickMs ?? 1_000;
    const executor = new Executor({
      runtime: options.runtime,
      secrets: this.secrets,
      dataRoot: options.dataRoot,
      beforeAction: options.beforeAction,
    });
    this.health = new HealthMonitor({
      clock,
      onChange: (appId) => this.reconciler.enqueue(appId),
      probe: async (container, command, timeoutMs) => {
        const result = await options.runtime.exec(container, command, timeoutMs);
        return { ok: result.exitCode === 0, output: `${result.stdout}${result.stderr}`.slice(-2000) };
      },
    });
    this.reconciler = new Reconciler({
      store: this.store,
      manifests: this.manifests,
      runtime: options.runtime,
      executor,
      dataRoot: options.dataRoot,
      log: options.log,
      clock,
      resyncMs: options.resyncMs ?? 30_000,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      onEvent: options.onEvent ?? (() => {}),
      health: {
        healthOf: (appId, key, container) => {
          const row = this.store.getApp(appId);
          const spec = row ? this.manifests.of(row).manifest?.containers[key]?.health : undefined;
          return this.health.healthOf(container, spec);
        },
      },
    });
    this.lifecycle = new Lifecycle({
      store: this.store,
      manifests: this.manifests,
      clock,
      wake: (appId) => this.reconciler.enqueue(appId),
    });
  }

  /** Starts reconciling and probing. The store answers queries before this and whatever Podman does. */
  start(): void {
    this.reconciler.start();
    this.#healthTimer = setInterval(() => void this.#healthTick(), this.#healthTickMs);
    this.#healthTimer.unref();
  }

  /** Stops the loops; containers keep running. */
  async stop(): Promise<void> {
    if (this.#healthTimer) clearInterval(this.#healthTimer);
    await this.reconciler.stop();
    this.store.close();
  }

  async #healthTick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      const observation = this.reconciler.lastObservation;
      if (!observation) return;
      const targets: Probed[] = [];
      for (const container of observation.containers) {
        if (!container.appId || !container.key) continue;
        const row = this.store.getApp(container.appId);
        const spec = row ? this.manifests.of(row).manifest?.containers[container.key]?.health : undefined;
        if (spec) targets.push({ appId: container.appId, key: container.key, container, spec });
      }
      await this.health.tick(targets);
    } finally {
      this.#ticking = false;
    }
  }
}
