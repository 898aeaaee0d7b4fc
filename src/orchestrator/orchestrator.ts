/**
 * The orchestrator assembled: store, manifest cache, lifecycle operations, reconciler and health
 * monitor over one runtime. The daemon (and the tests) create one of these.
 *
 * Nothing it records or forwards carries a generated secret: the three ways its text leaves it —
 * the store (operation logs, reasons, errors), its log and its events — each pass through the mask
 * of every secret the node holds (secret-mask.ts), whatever wrote the text (a hook's output, a
 * probe's, a container's last lines, an error message).
 */
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { ProtectedDir } from "../manifest/host-paths.ts";
import { type PermissionRequest, requestedPermissions } from "../manifest/permissions.ts";
import { APP_ID } from "../manifest/schema.ts";
import { DEFAULT_PEER_IMAGE_CACHE_MIB, ImageCache, peerImageCacheDir } from "../peers/image-cache.ts";
import { pullSources } from "../peers/image-fetch.ts";
import { registryOf } from "../registry/reference.ts";
import type { Runtime } from "../runtime/runtime.ts";
import { defaultRuntimeDir } from "../runtime/service.ts";
import { tcpConnect } from "../system/tcp.ts";
import { listPermissions } from "./approvals.ts";
import { type BackoffPolicy, DEFAULT_BACKOFF } from "./backoff.ts";
import { appDataDir, Executor } from "./executor.ts";
import { HealthMonitor, type Probed, type ProbeOutcome, publishedEndpoints } from "./health.ts";
import type { HealthRestartPolicy } from "./health-restarts.ts";
import { HostPathGuard } from "./host-path-guard.ts";
import type { PullPolicy } from "./image-pulls.ts";
import { Lifecycle } from "./lifecycle.ts";
import { ManifestCache } from "./manifest-cache.ts";
import type { Logger, ReconcilerEvent } from "./model.ts";
import { clashingNames, InstalledNames } from "./name-clashes.ts";
import type { Action } from "./planner.ts";
import { localPackage, Reconciler, type ReconcilerOptions } from "./reconciler.ts";
import { RegistryCredentials } from "./registry-credentials.ts";
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
  /** Retries of image pulls whose registry cannot be reached (default: image-pulls.ts). */
  pullPolicy?: PullPolicy;
  /** The bound of the images a sharing node keeps for its peers (default: image-cache.ts). */
  peerImageCacheBytes?: number;
  /** Added to the time a new version's health checks need, to make its update window (default 20 s). */
  updateMarginMs?: number;
  /** Delays between restarts of an unhealthy container (see health-restarts.ts for the defaults). */
  healthRestarts?: HealthRestartPolicy;
  /** The package of an installed app, for its hooks (default: `local:` sources only). */
  packageOf?: ReconcilerOptions["packageOf"];
  /**
   * Directories of the node no host path may be, contain or be inside, besides the ones the
   * orchestrator knows (data, state, home, runtime directory, Podman's): the apps directory, the code.
   */
  protectedDirs?: readonly ProtectedDir[];
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
  /** Credentials for image registries, by host (`<state>/registries/`). */
  readonly registries: RegistryCredentials;
  /** The images this node keeps for its peers while it shares (`<dataRoot>/peer-images/`, docs/peers.md). */
  readonly peerImages: ImageCache;
  /**
   * Apps held stopped, with why (a backup or restore in flight, src/backup/): the reconciler keeps
   * them stopped until the hold is lifted. In memory: a daemon that dies lifts every hold, so an app
   * is never left stopped by an operation that no longer runs.
   */
  readonly holds = new Map<string, string>();
  /** Checks the host paths apps use, at install and at every use (see host-path-guard.ts). */
  readonly hostPaths: HostPathGuard;
  /** The names installed apps take on the node (see name-clashes.ts). */
  readonly names: InstalledNames;
  /** An app's package (its directory, and for a signed app the check of what is read from it). */
  readonly packageOf: NonNullable<ReconcilerOptions["packageOf"]>;
  readonly #options: OrchestratorOptions;
  readonly #clock: () => number;
  #engine: Engine | undefined;
  #healthTimer: NodeJS.Timeout | undefined;
  #ticking = false;

  constructor(options: OrchestratorOptions) {
    this.#clock = options.clock ?? Date.now;
    this.packageOf = options.packageOf ?? localPackage;
    this.secrets = new SecretFiles(join(options.stateDir, "secrets"));
    this.secrets.learnExisting();
    const mask = this.secrets.mask;
    this.registries = new RegistryCredentials(join(options.stateDir, "registries"), mask);
    this.registries.learnExisting();
    this.peerImages = new ImageCache(
      peerImageCacheDir(options.dataRoot),
      options.peerImageCacheBytes ?? DEFAULT_PEER_IMAGE_CACHE_MIB * 1024 * 1024,
    );
    const onEvent = options.onEvent ?? (() => {});
    this.#options = {
      ...options,
      log: {
        info: (message) => options.log.info(mask.apply(message)),
        warn: (message) => options.log.warn(mask.apply(message)),
        error: (message) => options.log.error(mask.apply(message)),
      },
      onEvent: (event) => onEvent(mask.applyDeep(event)),
    };
    this.store = new Store(join(options.stateDir, "store.db"), { mask: (text) => mask.apply(text) });
    this.manifests = new ManifestCache(this.store);
    this.hostPaths = new HostPathGuard({ protectedDirs: () => this.#protectedDirs() });
    this.names = new InstalledNames(this.store, this.manifests);
    // Intents recorded before the engine runs are picked up by its first pass.
    this.lifecycle = new Lifecycle({
      store: this.store,
      manifests: this.manifests,
      names: this.names,
      clock: this.#clock,
      wake: (appId) => this.#engine?.reconciler.enqueue(appId),
    });
    if (this.store.installedPermissionsToApprove) this.#approveInstalledPermissions();
    // A daemon that stopped between forgetting an app and ending its removal (before both were one
    // transaction) left that operation in flight, refusing every later request for the id.
    for (const operation of this.store.endOperationsOfRemovedApps(this.#clock()))
      this.#options.log.info(
        `${operation.appId}: its ${operation.kind} (operation ${operation.id}) ended with its removal; recorded now`,
      );
  }

  /**
   * The first start over a store of apps installed before the operator approved permissions:
   * their manifests granted them, so the apps keep them, recorded as approved by the upgrade (the
   * daemon's log and each app's operation log say which), and revocable like any approval.
   */
  #approveInstalledPermissions(): void {
    const entries: Array<Parameters<Store["recordUpgradeApprovals"]>[0][number]> = [];
    for (const app of this.store.listApps()) {
      // The manifest in force, and the one an update in flight may go back to.
      const update = this.store.getUpdate(app.id);
      const manifests = [
        this.manifests.of(app).manifest,
        update
          ? this.manifests.of({
              id: app.id,
              manifestText: update.fromManifest.text,
              manifestHash: update.fromManifest.hash,
            }).manifest
          : undefined,
      ];
      const granted = new Map<string, PermissionRequest>();
      for (const manifest of manifests)
        for (const request of manifest ? requestedPermissions(manifest) : [])
          granted.set(`${request.name}\n${request.content}`, request);
      if (granted.size === 0) continue;
      const requests = [...granted.values()];
      entries.push({
        appId: app.id,
        approvals: requests.map(({ name, content }) => ({ name, content })),
        operationId: `op-${randomUUID()}`,
        message: `recorded as approved at the upgrade (${app.id} was installed before the operator approved permissions: its manifest granted them): ${listPermissions(requests)}; \`archy revoke ${app.id} NAME\` withdraws one`,
      });
    }
    this.store.recordUpgradeApprovals(entries, this.#clock());
    for (const entry of entries) this.#options.log.info(`${entry.appId}: permissions ${entry.message}`);
  }

  /** The node's own directories: what the daemon keeps and trusts, and Podman's storage and socket. */
  async #protectedDirs(): Promise<ProtectedDir[]> {
    const { dataRoot, stateDir } = this.#options;
    const engine = (await this.#engine?.runtime.engineDirs()) ?? [];
    return [
      { path: dataRoot, what: "the daemon's data directory: every app's data" },
      { path: stateDir, what: "the daemon's state: its store, the apps' secrets, the CLI token" },
      { path: homedir(), what: "the service user's home" },
      { path: defaultRuntimeDir(), what: "the service user's runtime directory" },
      ...engine,
      ...(this.#options.protectedDirs ?? []),
    ];
  }

  get started(): boolean {
    return this.#engine !== undefined;
  }

  /**
   * What an app that is not installed left on this node (an uninstall keeps it): its data and
   * secrets directories, those that exist. Empty for an installed app (its purge is the usual one).
   */
  keptData(appId: string): string[] {
    if (this.store.getApp(appId)) return [];
    return [appDataDir(this.#options.dataRoot, appId), this.secrets.dirOf(appId)].filter((dir) =>
      existsSync(dir),
    );
  }

  /**
   * Every app not installed that left data or secrets on this node, with what it left (keptData),
   * by id. Only names that are app ids count: a restore's work directories beside the data are not.
   */
  keptApps(): Array<{ appId: string; dirs: string[] }> {
    const idsIn = (dir: string) => {
      try {
        return readdirSync(dir, { withFileTypes: true })
          .filter((entry) => entry.isDirectory() && APP_ID.test(entry.name))
          .map((entry) => entry.name);
      } catch {
        return [];
      }
    };
    const ids = new Set([...idsIn(join(this.#options.dataRoot, "apps")), ...idsIn(this.secrets.root)]);
    return [...ids]
      .sort()
      .map((appId) => ({ appId, dirs: this.keptData(appId) }))
      .filter((kept) => kept.dirs.length > 0);
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
      approvals: (appId) => this.store.approvals(appId),
      hostPaths: this.hostPaths,
      beforeAction: options.beforeAction,
      sharedNames: (appId) => {
        const app = this.store.getApp(appId);
        return app ? clashingNames(this.names.clashesOf(app)) : new Set();
      },
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
      names: this.names,
      runtime,
      executor,
      dataRoot: options.dataRoot,
      hostPaths: this.hostPaths,
      log: options.log,
      clock: this.#clock,
      resyncMs: options.resyncMs ?? 30_000,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      onEvent: options.onEvent,
      registryAuth: (image) => this.registries.get(registryOf(image)),
      ...(options.pullPolicy ? { pullPolicy: options.pullPolicy } : {}),
      pullSources: () => {
        const peers = this.store.peers();
        // A peer's token is a credential: whatever a copy from it says back is masked.
        for (const peer of peers) this.secrets.mask.add(`peer ${peer.url}`, peer.token);
        return pullSources(peers, this.store.peerGrants().length > 0 ? this.peerImages : undefined);
      },
      ...(options.updateMarginMs !== undefined ? { updateMarginMs: options.updateMarginMs } : {}),
      ...(options.healthRestarts ? { healthRestarts: options.healthRestarts } : {}),
      ...(options.packageOf ? { packageOf: options.packageOf } : {}),
      holdsStopped: (appId) => this.holds.get(appId),
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
      // Once a second: the installed manifests as last read (the store is queried again only when
      // it moved), not a row with its manifest text per container per tick.
      const installed = new Map(this.manifests.installed(this.store).map((app) => [app.id, app.manifest]));
      for (const container of observation.containers) {
        if (!container.appId || !container.key) continue;
        const manifest = installed.get(container.appId);
        const declared = manifest?.containers[container.key];
        if (manifest && declared?.health)
          targets.push({
            appId: container.appId,
            key: container.key,
            container,
            spec: declared.health,
            published: publishedEndpoints(manifest, container.key),
          });
      }
      await engine.health.tick(targets);
    } finally {
      this.#ticking = false;
    }
  }
}
