/**
 * Lifecycle operations: install, start, stop, restart, uninstall, purge, reinstall, retry, update.
 * Each one checks the request against the app's state, records the intent and an operation in one
 * transaction, and returns the operation id at once; the reconciler does the work. A conflicting
 * request while another operation of the app is in flight is refused; an identical one returns the
 * operation already in flight. Stop, uninstall and purge are the exceptions: they supersede whatever
 * is in flight (which is marked failed, "superseded"), because an operation only finishes when its
 * goal is reached, and one waiting for something that never comes (a dependency that stays down, a
 * container that never gets healthy) must not make an app impossible to stop or remove.
 */
import { randomUUID } from "node:crypto";
import semver from "semver";
import type { HookName, Manifest } from "../manifest/schema.ts";
import { type ManifestCache, manifestHash } from "./manifest-cache.ts";
import type { DesiredState, Operation, OperationKind, Phase } from "./model.ts";
import { describeClashes, InstalledNames } from "./name-clashes.ts";
import type { AppRow, IntentChange, Store } from "./store.ts";

export type LifecycleErrorCode =
  | "not-installed"
  | "operation-in-progress"
  | "dependency-missing"
  | "has-dependents"
  | "invalid-manifest"
  | "not-newer"
  | "being-removed"
  | "name-taken";

export class LifecycleError extends Error {
  readonly code: LifecycleErrorCode;
  /** Machine-readable details: the ids of missing dependencies or dependents, the operation in flight. */
  readonly data: Record<string, unknown>;
  constructor(code: LifecycleErrorCode, message: string, data: Record<string, unknown> = {}) {
    super(message);
    this.name = "LifecycleError";
    this.code = code;
    this.data = data;
  }
}

/** A manifest as found in an app source: its text (stored) and the parsed value (checked). */
export type SourcedManifest = { text: string; manifest: Manifest; source: string };

export type Accepted = {
  operationId: string;
  appId: string;
  kind: OperationKind;
  existing: boolean;
  /** Operations this one superseded (marked failed): only stop, uninstall and purge do that. */
  superseded?: string[];
};

/** Operator requests that always get through: they supersede an operation in flight. */
const SUPERSEDING: ReadonlySet<OperationKind> = new Set(["stop", "uninstall", "purge"]);

export type LifecycleOptions = {
  store: Store;
  manifests: ManifestCache;
  /** The names installed apps take on the node (default: from the store and the manifests). */
  names?: InstalledNames;
  /** Called after an intent is recorded, so the reconciler wakes up. */
  wake: (appId: string) => void;
  clock?: () => number;
};

export class Lifecycle {
  readonly #store: Store;
  readonly #manifests: ManifestCache;
  readonly #names: InstalledNames;
  readonly #wake: (appId: string) => void;
  readonly #clock: () => number;

  constructor(options: LifecycleOptions) {
    this.#store = options.store;
    this.#manifests = options.manifests;
    this.#names = options.names ?? new InstalledNames(options.store, options.manifests);
    this.#wake = options.wake;
    this.#clock = options.clock ?? Date.now;
  }

  install(sourced: SourcedManifest): Accepted {
    const { manifest } = sourced;
    const existing = this.#store.getApp(manifest.id);
    if (existing?.desired === "absent")
      throw new LifecycleError(
        "being-removed",
        `${manifest.id} is being uninstalled; install it again once that has finished`,
        this.#inFlight(existing),
      );
    const missing = manifest.dependencies.filter((d) => {
      const dependency = this.#store.getApp(d.id);
      return !dependency || dependency.desired === "absent";
    });
    if (missing.length > 0) {
      const ids = missing.map((d) => d.id);
      throw new LifecycleError(
        "dependency-missing",
        `${manifest.id} needs ${ids.join(", ")}, which ${ids.length === 1 ? "is" : "are"} not installed: install ${ids.length === 1 ? "it" : "them"} first`,
        { missing: ids },
      );
    }
    if (!existing) this.#checkNames(manifest, undefined, "installed");
    return this.#record(existing, manifest.id, "install", {
      desired: "running",
      phase: existing ? (existing.phase === "failed" ? "installing" : existing.phase) : "installing",
      resetAttempts: true,
      manifest: existing
        ? undefined
        : {
            text: sourced.text,
            hash: manifestHash(sourced.text),
            version: manifest.version,
            source: sourced.source,
          },
    });
  }

  start(appId: string): Accepted {
    return this.#record(this.#installed(appId), appId, "start", {
      desired: "running",
      phase: "starting",
      resetAttempts: true,
    });
  }

  /** Stop is sacred: nothing but another operator request starts the app again. */
  stop(appId: string): Accepted {
    return this.#record(this.#installed(appId), appId, "stop", {
      desired: "stopped",
      phase: "stopping",
      resetAttempts: true,
    });
  }

  restart(appId: string): Accepted {
    return this.#record(this.#installed(appId), appId, "restart", {
      desired: "running",
      phase: "restarting",
      restartRequestedAt: this.#clock(),
      resetAttempts: true,
    });
  }

  /** Removes the app's containers; its data and secrets stay unless `purge`. */
  uninstall(appId: string, options: { purge?: boolean } = {}): Accepted {
    const app = this.#installed(appId);
    const dependents = this.#store
      .listApps()
      .filter(
        (other) =>
          other.id !== appId && other.desired !== "absent" && this.#manifests.dependsOn(other, appId),
      )
      .map((other) => other.id);
    if (dependents.length > 0)
      throw new LifecycleError(
        "has-dependents",
        `${appId} is needed by ${dependents.join(", ")}: uninstall ${dependents.length === 1 ? "it" : "them"} first`,
        { dependents },
      );
    return this.#record(app, appId, options.purge ? "purge" : "uninstall", {
      desired: "absent",
      purge: options.purge ?? false,
      phase: "removing",
      resetAttempts: true,
    });
  }

  purge(appId: string): Accepted {
    return this.uninstall(appId, { purge: true });
  }

  /** Recreates the app's containers from its manifest; data, secrets and credentials are kept. */
  reinstall(appId: string, sourced?: SourcedManifest): Accepted {
    const app = this.#installed(appId);
    if (sourced) this.#checkNames(sourced.manifest, app, "reinstalled");
    return this.#record(app, appId, "reinstall", {
      desired: "running",
      phase: "installing",
      recreateRequestedAt: this.#clock(),
      resetAttempts: true,
      manifest: sourced
        ? {
            text: sourced.text,
            hash: manifestHash(sourced.text),
            version: sourced.manifest.version,
            source: sourced.source,
          }
        : undefined,
    });
  }

  /** After a `failed` phase: try again from the first attempt. */
  retry(appId: string): Accepted {
    const app = this.#installed(appId);
    return this.#record(app, appId, "retry", {
      desired: app.desired,
      phase: app.desired === "stopped" ? "stopping" : "starting",
      resetAttempts: true,
    });
  }

  /**
   * Moves the app to a newer manifest version; a downgrade needs `force`. The reconciler snapshots
   * the data first and rolls back to this version and data if the new one is not healthy in time.
   */
  update(sourced: SourcedManifest, options: { force?: boolean } = {}): Accepted {
    const app = this.#installed(sourced.manifest.id);
    const next = sourced.manifest.version;
    const hash = manifestHash(sourced.text);
    // A repeat of the update in flight is that update (its version is already the installed one).
    const same = this.#store.activeOperations(app.id).find((o) => o.kind === "update");
    if (same && app.manifestHash === hash)
      return { operationId: same.id, appId: app.id, kind: "update", existing: true };
    if (!options.force && !semver.gt(next, app.version))
      throw new LifecycleError(
        "not-newer",
        `${app.id} ${next} is not newer than the installed ${app.version}; pass force to downgrade or reapply`,
        {
          installed: app.version,
          offered: next,
        },
      );
    // An earlier update whose undoing failed (its operation is over): it must be finished first.
    const unfinished = this.#store.getUpdate(app.id);
    if (unfinished && this.#store.activeOperations(app.id).length === 0)
      throw new LifecycleError(
        "operation-in-progress",
        `${app.id}: going back from the update to ${unfinished.toVersion} has not finished (${unfinished.stage}); retry ${app.id} to finish it, then update again`,
        this.#inFlight(app),
      );
    this.#checkNames(sourced.manifest, app, "updated");
    // The snapshot, the window and the rollback are the reconciler's (see update.ts); the update is
    // recorded with the intent, so a crash right after this leaves it to be carried out or undone.
    return this.#record(app, app.id, "update", {
      desired: app.desired === "absent" ? "running" : app.desired,
      phase: "starting",
      update: true,
      resetAttempts: true,
      manifest: {
        text: sourced.text,
        hash,
        version: next,
        source: sourced.source,
      },
    });
  }

  /**
   * Refuses a manifest that would take a name another installed app (or the platform) has: under
   * the current naming only an explicit `container_name` or a legacy name to adopt can.
   */
  #checkNames(manifest: Manifest, app: AppRow | undefined, what: string): void {
    const clashes = this.#names.clashesIfInstalled(manifest, app);
    if (clashes.length === 0) return;
    throw new LifecycleError(
      "name-taken",
      `${manifest.id} cannot be ${what}: ${describeClashes(clashes)}; two apps never share a name. ` +
        "Give its container another container_name (or drop the legacy name from adoption), or remove the other app first",
      {
        clashes: clashes.map((c) => ({
          app: c.with ?? null,
          resources: c.resources.map((r) => ({ kind: r.kind, name: r.name })),
        })),
      },
    );
  }

  #installed(appId: string): AppRow {
    const app = this.#store.getApp(appId);
    if (!app) throw new LifecycleError("not-installed", `${appId} is not installed`);
    return app;
  }

  #inFlight(app: AppRow): { operation?: Pick<Operation, "id" | "kind"> } {
    const active = this.#store.activeOperations(app.id).at(-1);
    return active ? { operation: { id: active.id, kind: active.kind } } : {};
  }

  #record(
    app: AppRow | undefined,
    appId: string,
    kind: OperationKind,
    change: Omit<IntentChange, "appId" | "operation"> & { desired: DesiredState; phase: Phase },
  ): Accepted {
    const active = app ? this.#store.activeOperations(appId) : [];
    // Identical: the same kind, and for requests that carry a manifest, the same manifest.
    const same = active.find(
      (operation) =>
        operation.kind === kind && (!change.manifest || change.manifest.hash === app?.manifestHash),
    );
    if (same) return { operationId: same.id, appId, kind, existing: true };
    const removing = app?.desired === "absent" && kind !== "purge";
    const other = active.at(-1);
    if (other && (!SUPERSEDING.has(kind) || removing))
      throw new LifecycleError(
        "operation-in-progress",
        `${appId} has a ${other.kind} in progress (operation ${other.id}); wait for it to finish, then ${kind} again`,
        { operation: { id: other.id, kind: other.kind } },
      );
    if (removing)
      throw new LifecycleError("being-removed", `${appId} is being uninstalled`, this.#inFlight(app));
    const operationId = `op-${randomUUID()}`;
    const superseded = active.map((operation) => operation.id);
    this.#store.recordIntent(
      {
        appId,
        operation: { id: operationId, kind },
        ...change,
        supersede: superseded,
        pendingHook: hookAfter(kind, app?.pendingHook, app === undefined),
      },
      this.#clock(),
    );
    this.#wake(appId);
    return {
      operationId,
      appId,
      kind,
      existing: false,
      ...(superseded.length > 0 ? { superseded } : {}),
    };
  }
}

/**
 * The hook due after an operation, given the one already due: a first install's post_install (or an
 * update's post_update) stays due until the app has run once; uninstall always runs pre_uninstall.
 */
export function hookAfter(
  kind: OperationKind,
  due: HookName | undefined,
  firstInstall: boolean,
): HookName | undefined {
  if (kind === "uninstall" || kind === "purge") return "pre_uninstall";
  if (firstInstall) return "post_install";
  if (due === "post_install" || kind === "install") return due;
  if (kind === "update") return "post_update";
  if (kind === "start" || kind === "restart") return due ?? "pre_start";
  return due === "pre_uninstall" ? undefined : due;
}
