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
import { isNewerVersion } from "../manifest/app-version.ts";
import type { StoredEnvFile } from "../manifest/env-file.ts";
import { type PermissionRequest, requestedPermissions } from "../manifest/permissions.ts";
import type { Manifest } from "../manifest/schema.ts";
import { provenanceChange } from "../sources/provenance.ts";
import { type Approval, decideApprovals, unapproved } from "./approvals.ts";
import { hookAfter } from "./hook-schedule.ts";
import { type ManifestCache, manifestHash } from "./manifest-cache.ts";
import { type DesiredState, HOLDING_KINDS, type Operation, type OperationKind, type Phase } from "./model.ts";
import { describeClashes, InstalledNames } from "./name-clashes.ts";
import type { AppRow, IntentChange, ManifestRecord, Store } from "./store.ts";

export type LifecycleErrorCode =
  | "not-installed"
  | "operation-in-progress"
  | "dependency-missing"
  | "has-dependents"
  | "invalid-manifest"
  | "not-newer"
  | "being-removed"
  | "name-taken"
  /** The manifest requests permissions the operator has not approved (`data.permissions`). */
  | "approval-required"
  /** An update would change the app's source or signer (`data.installed`, `data.offered`). */
  | "source-change"
  /** No approved permission of that name (`data.approved`). */
  | "unknown-permission";

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

/** A manifest as found in an app source: its text (stored), the parsed value (checked), and who signed it. */
export type SourcedManifest = {
  text: string;
  manifest: Manifest;
  source: string;
  publisher?: string;
  /** Its env_files as read from its directory (manifest/env-files-read.ts), by path. */
  envFiles?: Record<string, StoredEnvFile>;
};

/** The operator's approvals a request carries (see approvals.ts). */
export type ApprovalOptions = { approve?: Approval[] };

/** What a request leads to run, and the approvals it carries: checked once it is not a repeat. */
type Approving = { manifest: Manifest | undefined; offered?: Approval[] | undefined };

export type Accepted = {
  operationId: string;
  appId: string;
  kind: OperationKind;
  existing: boolean;
  /** Operations this one superseded (marked failed): only stop, uninstall and purge do that. */
  superseded?: string[];
  /**
   * For a stop: the apps that depend on this one and are to keep running. They are not stopped with
   * it (the operator named one app), so the caller is told that they lose it until it starts again.
   */
  runningDependents?: string[];
};

/**
 * Operator requests that always get through: they supersede an operation in flight. A revoke is
 * one: withdrawing a permission must not wait for an install or update that uses it.
 */
const SUPERSEDING: ReadonlySet<OperationKind> = new Set(["stop", "uninstall", "purge", "revoke"]);
/** Requests whose payload is not in the operation: two of them are never the same request. */
const CARRYING: ReadonlySet<OperationKind> = new Set(["approve", "revoke"]);

/** What a manifest requests (nothing, for a stored manifest no longer valid: the reconciler fails it). */
const requestsOf = (manifest: Manifest | undefined): PermissionRequest[] =>
  manifest ? requestedPermissions(manifest) : [];

function record(sourced: SourcedManifest): ManifestRecord {
  return {
    text: sourced.text,
    hash: manifestHash(sourced.text),
    version: sourced.manifest.version,
    source: sourced.source,
    publisher: sourced.publisher,
    envFiles: sourced.envFiles,
  };
}

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

  install(sourced: SourcedManifest, options: ApprovalOptions = {}): Accepted {
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
    return this.#record(
      existing,
      manifest.id,
      "install",
      {
        desired: "running",
        phase: existing ? (existing.phase === "failed" ? "installing" : existing.phase) : "installing",
        resetAttempts: true,
        manifest: existing ? undefined : record(sourced),
      },
      // Installing an installed app starts it with the manifest it has.
      { manifest: existing ? this.#manifestOf(existing) : manifest, offered: options.approve },
    );
  }

  start(appId: string): Accepted {
    const app = this.#installed(appId);
    return this.#record(
      app,
      appId,
      "start",
      { desired: "running", phase: "starting", resetAttempts: true },
      { manifest: this.#manifestOf(app) },
    );
  }

  /** Stop is sacred: nothing but another operator request starts the app again. */
  stop(appId: string): Accepted {
    const accepted = this.#record(this.#installed(appId), appId, "stop", {
      desired: "stopped",
      phase: "stopping",
      resetAttempts: true,
    });
    const runningDependents = this.#dependents(appId, (other) => other.desired === "running");
    return runningDependents.length > 0 ? { ...accepted, runningDependents } : accepted;
  }

  /** The other installed apps that depend on `appId` and pass `which`, by id. */
  #dependents(appId: string, which: (other: AppRow) => boolean): string[] {
    return this.#store
      .listApps()
      .filter((other) => other.id !== appId && which(other) && this.#manifests.dependsOn(other, appId))
      .map((other) => other.id);
  }

  restart(appId: string): Accepted {
    const app = this.#installed(appId);
    return this.#record(
      app,
      appId,
      "restart",
      { desired: "running", phase: "restarting", restartRequestedAt: this.#clock(), resetAttempts: true },
      { manifest: this.#manifestOf(app) },
    );
  }

  /**
   * Removes the app's containers; its data and secrets stay unless `purge`. A purge runs the
   * pre_purge hook first, whose failure stops it; `force` purges without it.
   */
  uninstall(appId: string, options: { purge?: boolean; force?: boolean } = {}): Accepted {
    const app = this.#installed(appId);
    const dependents = this.#dependents(appId, (other) => other.desired !== "absent");
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
      ...(options.purge && options.force ? { pendingHook: "pre_uninstall" as const } : {}),
    });
  }

  purge(appId: string, options: { force?: boolean } = {}): Accepted {
    return this.uninstall(appId, { purge: true, ...options });
  }

  /**
   * Purges what an uninstalled app left behind (its data, secrets and snapshots: uninstall keeps
   * them), recorded as a purge of the app with no containers, so the reconciler deletes exactly what
   * a purge deletes, in the same steps, and forgets it. Its pre_purge hook cannot run without the
   * app's containers: an app that has one is purged only with `force`, which skips it.
   */
  purgeKept(sourced: SourcedManifest, options: { force?: boolean } = {}): Accepted {
    const { manifest } = sourced;
    if (this.#store.getApp(manifest.id)) return this.purge(manifest.id, options);
    if (manifest.hooks.pre_purge.length > 0 && !options.force)
      throw new LifecycleError(
        "not-installed",
        `${manifest.id} is not installed, so its pre_purge hook cannot run (it needs the app's containers): delete its kept data without the hook with \`archy uninstall ${manifest.id} --purge --force\` (\`force: true\`), or install it again and purge it`,
        { kept: true },
      );
    return this.#record(undefined, manifest.id, "purge", {
      desired: "absent",
      purge: true,
      phase: "removing",
      resetAttempts: true,
      manifest: record(sourced),
      // pre_purge has no steps here (or is skipped by force); what stays due of it is the removal of
      // the app's accounts in its dependencies, which runs in theirs (unless forced).
      pendingHook: options.force ? "pre_uninstall" : "pre_purge",
    });
  }

  /**
   * Recreates the app's containers from its manifest (or from `sourced`, a changed one, whose
   * permissions are approved like an update's); data, secrets and credentials are kept.
   */
  reinstall(appId: string, sourced?: SourcedManifest, options: ApprovalOptions = {}): Accepted {
    const app = this.#installed(appId);
    if (sourced) this.#checkNames(sourced.manifest, app, "reinstalled");
    return this.#record(
      app,
      appId,
      "reinstall",
      {
        desired: "running",
        phase: "installing",
        recreateRequestedAt: this.#clock(),
        resetAttempts: true,
        manifest: sourced ? record(sourced) : undefined,
      },
      { manifest: sourced?.manifest ?? this.#manifestOf(app), offered: options.approve },
    );
  }

  /** After a `failed` phase: try again from the first attempt. */
  retry(appId: string): Accepted {
    const app = this.#installed(appId);
    return this.#record(
      app,
      appId,
      "retry",
      {
        desired: app.desired,
        phase: app.desired === "stopped" ? "stopping" : "starting",
        resetAttempts: true,
      },
      app.desired === "running" ? { manifest: this.#manifestOf(app) } : undefined,
    );
  }

  /**
   * Moves the app to a newer manifest version; a downgrade needs `force`. The reconciler snapshots
   * the data first and rolls back to this version and data if the new one is not healthy in time.
   */
  update(
    sourced: SourcedManifest,
    options: ApprovalOptions & { force?: boolean; switchSource?: boolean } = {},
  ): Accepted {
    const app = this.#installed(sourced.manifest.id);
    const next = sourced.manifest.version;
    const hash = manifestHash(sourced.text);
    // A repeat of the update in flight is that update (its version is already the installed one).
    const same = this.#store.activeOperations(app.id).find((o) => o.kind === "update");
    if (same && app.manifestHash === hash)
      return { operationId: same.id, appId: app.id, kind: "update", existing: true };
    if (!options.force && !isNewerVersion(next, app.version))
      throw new LifecycleError(
        "not-newer",
        `${app.id} ${next} is not newer than the installed ${app.version}; to downgrade or reapply, force it: \`archy update ${app.id} --force\` (\`force: true\` in package.update)`,
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
    const change = provenanceChange(app, sourced);
    if (change && !options.switchSource)
      throw new LifecycleError(
        "source-change",
        `updating ${app.id} to ${next} would ${change}; pass switchSource to consent`,
        {
          installed: { source: app.source, publisher: app.publisher ?? null },
          offered: { source: sourced.source, publisher: sourced.publisher ?? null },
          change,
        },
      );
    // The snapshot, the window and the rollback are the reconciler's (see update.ts); the update is
    // recorded with the intent, so a crash right after this leaves it to be carried out or undone.
    return this.#record(
      app,
      app.id,
      "update",
      {
        desired: app.desired === "absent" ? "running" : app.desired,
        phase: "starting",
        update: true,
        resetAttempts: true,
        manifest: record(sourced),
      },
      { manifest: sourced.manifest, offered: options.approve },
    );
  }

  /**
   * Approves permissions the app's manifest requests: all those not approved yet, with the content
   * the manifest gives them now. An app held for want of them goes back to what the operator asked.
   */
  approve(appId: string, approve: Approval[]): Accepted {
    const app = this.#installed(appId);
    const held = unapproved(this.#requested(app), this.#store.approvals(appId)).length > 0;
    return this.#record(
      app,
      appId,
      "approve",
      {
        desired: app.desired,
        phase: held && app.desired === "running" ? "starting" : app.phase,
        resetAttempts: true,
      },
      { manifest: this.#manifestOf(app), offered: approve },
    );
  }

  /**
   * Withdraws the approval of a permission (whatever content it was approved with). The app stops
   * if its manifest requests it, and does not start again until it is approved again.
   */
  revoke(appId: string, name: string): Accepted {
    const app = this.#installed(appId);
    const approved = this.#store.approvals(appId);
    if (!approved.some((a) => a.name === name)) {
      const names = [...new Set(approved.map((a) => a.name))];
      throw new LifecycleError(
        "unknown-permission",
        `${appId} has no approved permission named ${name}${names.length > 0 ? ` (approved: ${names.join(", ")})` : " (none is approved)"}`,
        { approved: names },
      );
    }
    const needed = this.#requested(app).some((r) => r.name === name);
    return this.#record(app, appId, "revoke", {
      desired: app.desired,
      phase: needed && app.desired === "running" ? "stopping" : app.phase,
      resetAttempts: true,
      revoke: name,
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

  /**
   * The approvals to record with a request that leads to `manifest` running: every permission it
   * requests must be approved already or by `offered`; else the request is refused with the
   * permissions that need approval (nothing is recorded).
   */
  #approved(appId: string, { manifest, offered = [] }: Approving): Approval[] {
    const decision = decideApprovals(appId, requestsOf(manifest), this.#store.approvals(appId), offered);
    if (decision.ok) return decision.record;
    throw new LifecycleError("approval-required", decision.message, {
      permissions: decision.needed,
    });
  }

  #requested(app: AppRow): PermissionRequest[] {
    return requestsOf(this.#manifestOf(app));
  }

  /** The manifest an installed app runs (undefined if it is no longer valid: the reconciler says so). */
  #manifestOf(app: AppRow): Manifest | undefined {
    return this.#manifests.of(app).manifest;
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
    change: Omit<IntentChange, "appId" | "operation" | "approve"> & { desired: DesiredState; phase: Phase },
    approving?: Approving,
  ): Accepted {
    const active = app ? this.#store.activeOperations(appId) : [];
    // Identical: the same kind, and for requests that carry a manifest, the same manifest. One that
    // says which hook it leaves due (a purge forced past pre_purge) is a request of its own.
    const same = active.find(
      (operation) =>
        operation.kind === kind &&
        !CARRYING.has(kind) &&
        change.pendingHook === undefined &&
        (!change.manifest || change.manifest.hash === app?.manifestHash),
    );
    if (same) return { operationId: same.id, appId, kind, existing: true };
    const removing = app?.desired === "absent" && kind !== "purge";
    const other = active.at(-1);
    // A backup or restore is never superseded: it ends by itself (and starts the app again).
    const holding = active.find((operation) => HOLDING_KINDS.has(operation.kind));
    if (holding)
      throw new LifecycleError(
        "operation-in-progress",
        `${appId} has a ${holding.kind} in progress (operation ${holding.id}); wait for it to finish (it starts the app again), then ${kind} again`,
        { operation: { id: holding.id, kind: holding.kind } },
      );
    if (other && (!SUPERSEDING.has(kind) || removing))
      throw new LifecycleError(
        "operation-in-progress",
        `${appId} has a ${other.kind} in progress (operation ${other.id}); wait for it to finish, then ${kind} again`,
        { operation: { id: other.id, kind: other.kind } },
      );
    if (removing)
      throw new LifecycleError("being-removed", `${appId} is being uninstalled`, this.#inFlight(app));
    const approve = approving ? this.#approved(appId, approving) : undefined;
    const operationId = `op-${randomUUID()}`;
    const superseded = active.map((operation) => operation.id);
    this.#store.recordIntent(
      {
        appId,
        operation: { id: operationId, kind },
        ...change,
        ...(approve ? { approve } : {}),
        supersede: superseded,
        pendingHook: change.pendingHook ?? hookAfter(kind, app?.pendingHook, app === undefined),
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
