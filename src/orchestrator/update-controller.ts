/**
 * An update's state machine, carried forward by the reconciler (see update.ts for the stages and
 * their pure rules): `pending` checks images, approvals and disk space, stops the old version and
 * snapshots its data, then the new version is `applying` within a window; it ends committed, or is
 * rolled back (`rolling-back`: containers removed, data restored, previous manifest in force) and
 * reported once the old version runs again (`restoring`). Every step is safe to repeat after a crash.
 */
import { requestedPermissions } from "../manifest/permissions.ts";
import type { Manifest } from "../manifest/schema.ts";
import type { RenderContext } from "../render/model.ts";
import { type ContainerPlan, podmanPlan } from "../render/podman-spec.ts";
import type { ObservedContainer } from "../runtime/observed.ts";
import type { Runtime } from "../runtime/runtime.ts";
import type { AppReport } from "./app-report.ts";
import { listPermissions, unapprovedOf } from "./approvals.ts";
import type { Executor } from "./executor.ts";
import { type AppImagePulls, ImagePullError } from "./image-pulls.ts";
import type { ManifestCache } from "./manifest-cache.ts";
import type { Note, Phase } from "./model.ts";
import type { ObservationCache } from "./observation-cache.ts";
import type { Plan, PlanInput } from "./planner.ts";
import { failed, type ReconcileOutcome, requeue } from "./reconcile-outcome.ts";
import type { RenderContexts } from "./render-contexts.ts";
import type { Snapshots } from "./snapshots.ts";
import type { AppRow, Store, UpdateRow } from "./store.ts";
import {
  deadlineAfterJobs,
  effectiveDeadline,
  formatBytes,
  outcomeMessage,
  rollbackFailedMessage,
  roomCheck,
  type UpdateVerdict,
  updateVerdict,
  updateWindow,
} from "./update.ts";

/** Podman's default, for a container the manifest no longer names. */
export const DEFAULT_STOP_TIMEOUT_S = 10;

/** Phases of work on an app that an update in flight shows as its own. */
const WORK_PHASES: readonly Phase[] = ["installing", "starting", "restarting", "waiting"];

export type UpdateControllerOptions = {
  store: Store;
  manifests: ManifestCache;
  runtime: Runtime;
  executor: Executor;
  snapshots: Snapshots;
  observations: ObservationCache;
  contexts: RenderContexts;
  /** The pull step: the new version's images are on the node before the old one is stopped. */
  pulls: AppImagePulls;
  report: AppReport;
  clock: () => number;
  /** Added to the time the new version's health checks need, to make an update's window. */
  updateMarginMs: number;
  /** How a health verdict is explained (the last probe's output). */
  detail: (appId: string, key: string, container: ObservedContainer | undefined) => string | undefined;
};

export class UpdateController {
  readonly #o: UpdateControllerOptions;
  /** When this daemon run started: updates resumed after a restart get a grace. */
  readonly #resumedAt: number;

  constructor(options: UpdateControllerOptions) {
    this.#o = options;
    this.#resumedAt = options.clock();
  }

  /** The deadline that counts in this daemon run (a resumed update gets a short grace). */
  deadlineOf(update: UpdateRow): number {
    if (update.deadline === undefined) return Number.POSITIVE_INFINITY;
    return effectiveDeadline(update.deadline, update.windowMs ?? 0, this.#resumedAt);
  }

  /** Whether the update's window has closed: it is rolled back now, whatever backoff says. */
  overdue(update: UpdateRow | undefined, now: number): boolean {
    return update?.stage === "applying" && now >= this.deadlineOf(update);
  }

  /** The phase an app in the middle of work shows while an update is in flight. */
  phaseDuring(update: UpdateRow | undefined, phase: Phase): Phase {
    if (!update || !WORK_PHASES.includes(phase)) return phase;
    if (update.stage === "pending" || update.stage === "applying") return "updating";
    return update.outcome === "rolled-back" ? "rolling-back" : phase;
  }

  reason(
    update: UpdateRow | undefined,
    verdict: UpdateVerdict | undefined,
    phase: Phase,
  ): string | undefined {
    if (!update || ![...WORK_PHASES, "running"].includes(phase)) return undefined;
    if (update.stage === "restoring")
      return update.outcome === "rolled-back"
        ? `update to ${update.toVersion} failed: going back to ${update.fromVersion}`
        : undefined;
    if (verdict?.kind !== "wait") return `updating from ${update.fromVersion} to ${update.toVersion}`;
    const left = Math.ceil(verdict.remainingMs / 1000);
    const what = verdict.waitingFor.length > 0 ? verdict.waitingFor.join("; ") : "starting";
    return `updating to ${update.toVersion}: ${what} (rolled back to ${update.fromVersion} unless healthy within ${left} s)`;
  }

  verdict(
    app: AppRow,
    update: UpdateRow,
    next: Plan,
    input: PlanInput,
    seen: ObservedContainer[],
  ): UpdateVerdict {
    const details: Record<string, string | undefined> = {};
    for (const key of Object.keys(input.health))
      details[key] = this.#o.detail(
        app.id,
        key,
        seen.find((c) => c.key === key),
      );
    const now = this.#o.clock();
    // The new version's jobs (a container of the wanted spec) run outside the window.
    const jobs = input.wanted
      .filter((w) => w.job)
      .flatMap((w) => seen.filter((c) => c.key === w.key && c.specHash === w.specHash));
    const deadline = deadlineAfterJobs(
      update.deadline ?? Number.POSITIVE_INFINITY,
      update.windowMs ?? 0,
      now,
      jobs,
    );
    const moved = update.deadline !== undefined && deadline > update.deadline;
    if (moved) this.#o.store.setUpdateDeadline(app.id, deadline, now);
    return updateVerdict({
      now,
      deadline: this.deadlineOf(moved ? { ...update, deadline } : update),
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
   * Carries an update forward from its stage; an outcome when this reconcile must end here (the
   * app is looked at again at once, with the manifest now in force), undefined to go on.
   */
  async advance(
    app: AppRow,
    update: UpdateRow,
    manifest: Manifest,
    note: Note,
  ): Promise<ReconcileOutcome | undefined> {
    const active = this.#o.store.activeOperations(app.id).some((o) => o.id === update.operationId);
    if (update.stage === "rolling-back")
      return this.#rollBack(app, update, update.reason ?? "the update failed", note);
    if (!active) {
      // Superseded (a stop, an uninstall): an update that did not finish is undone, whatever ended it.
      const by = this.#o.store.getOperation(update.operationId)?.error ?? "the update was cancelled";
      if (update.stage === "pending") {
        note(
          "info",
          `the update to ${update.toVersion} had not started (${by}): ${update.fromVersion} stays`,
        );
        this.#o.store.restorePreviousManifest(app.id, this.#o.clock());
        return requeue(0);
      }
      return this.#rollBack(app, update, by, note);
    }
    if (update.stage === "pending") return this.#begin(app, update, manifest, note);
    return undefined;
  }

  /**
   * Before the new version runs: its images are here, the disk has room for a snapshot; then the
   * app's containers are stopped (a consistent copy) and its data copied. A check that fails
   * refuses the update, which leaves the old version as it was.
   */
  async #begin(
    app: AppRow,
    update: UpdateRow,
    manifest: Manifest,
    note: Note,
  ): Promise<ReconcileOutcome | undefined> {
    const { fromVersion: from, toVersion: to } = update;
    const snapshots = this.#o.snapshots;
    const notApproved = unapprovedOf(manifest, this.#o.store.approvals(app.id));
    if (notApproved.length > 0)
      return this.#refuse(
        app,
        update,
        `${to} asks for permissions the operator has not approved: ${listPermissions(notApproved)}; update again approving them`,
        note,
      );
    this.#o.report.status(app, "updating", `updating from ${from} to ${to}: checking images and disk space`);
    note("info", `updating ${app.id} from ${from} to ${to}`);
    const ctx = this.#o.contexts.of(manifest);
    const images = this.#o.pulls.imagesOf(manifest);
    try {
      await this.#o.pulls.pull(app, manifest, note);
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
    const order = previous ? podmanPlan(previous, this.#o.contexts.of(previous)).containers : [];
    await this.#stopDependantsFirst(app, manifest, ctx, order, note, { remove: false });
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
    return undefined;
  }

  /**
   * Stops the app's containers as observed now, dependants first (the reverse of the order they
   * start in: `order`, the rendered containers), each with its own stop timeout; with `remove`,
   * removes each one too.
   */
  async #stopDependantsFirst(
    app: AppRow,
    manifest: Manifest,
    ctx: RenderContext,
    order: readonly ContainerPlan[],
    note: Note,
    options: { remove: boolean },
  ): Promise<void> {
    const observation = await this.#o.observations.get(0);
    const seen = observation.containers.filter((c) => c.appId === app.id);
    const timeoutOf = (key: string | undefined) =>
      order.find((c) => c.key === key)?.body.stop_timeout ?? DEFAULT_STOP_TIMEOUT_S;
    const rank = (key: string | undefined) => order.findIndex((c) => c.key === key);
    for (const c of [...seen].sort((a, b) => rank(b.key) - rank(a.key))) {
      const timeoutSeconds = timeoutOf(c.key);
      if (c.state === "running" || c.state === "paused")
        await this.#o.executor.run(
          manifest,
          { kind: "stop", key: c.key ?? c.name, container: c, timeoutSeconds },
          ctx,
          note,
        );
      if (options.remove)
        await this.#o.executor.run(
          manifest,
          { kind: "remove", key: c.key, container: c, timeoutSeconds, why: "rollback" },
          ctx,
          note,
        );
    }
    this.#o.observations.invalidate();
  }

  /** Refuses an update before the new version ran: the previous manifest is back, nothing else changed. */
  #refuse(app: AppRow, update: UpdateRow, reason: string, note: Note): ReconcileOutcome {
    note("error", `update to ${update.toVersion} refused: ${reason}`);
    this.#o.store.restorePreviousManifest(app.id, this.#o.clock(), { reason });
    this.#o.observations.invalidate();
    return requeue(0);
  }

  /** Rolls back; if that fails, the failure is the outcome (retried or final, like any other). */
  async rollBackOrFail(
    app: AppRow,
    update: UpdateRow,
    reason: string,
    note: Note,
  ): Promise<ReconcileOutcome> {
    if (update.stage === "pending") return this.#refuse(app, update, reason, note);
    try {
      return await this.#rollBack(app, update, reason, note);
    } catch (failure) {
      this.#o.observations.invalidate();
      return failed(failure);
    }
  }

  /**
   * Undoes an update whose new version ran: its containers are removed, the data is restored from
   * the snapshot, and the previous manifest put back; the next reconcile recreates the old version.
   * Every step is safe to repeat (the stage is recorded first).
   */
  async #rollBack(app: AppRow, update: UpdateRow, reason: string, note: Note): Promise<ReconcileOutcome> {
    const { fromVersion: from, toVersion: to } = update;
    const going = `update to ${to} failed: going back to ${from}`;
    if (update.stage !== "rolling-back") {
      this.#o.store.updateRollingBack(app.id, reason, this.#o.clock());
      note("error", `update to ${to} failed: ${reason}; rolling back to ${from}`);
      // The rollback has attempts of its own.
      this.#o.report.status(app, "rolling-back", going, {
        phase: "rolling-back",
        attempts: 0,
        nextAttemptAt: null,
      });
    } else {
      note("info", `resuming the rollback of the update to ${to}, back to ${from}`);
      this.#o.report.status(app, "rolling-back", going);
    }
    const manifest = this.#o.manifests.of(app).manifest;
    const ctx = manifest ? this.#o.contexts.of(manifest) : this.#o.contexts.bare();
    const order = manifest ? podmanPlan(manifest, ctx).containers : [];
    // Stopping and removing never read the manifest: one no longer valid still has its containers removed.
    await this.#stopDependantsFirst(app, manifest as Manifest, ctx, order, note, { remove: true });
    const current = this.#o.store.getApp(app.id) ?? app;
    if (current.desired === "absent" && current.purge)
      note("info", "the data is not restored: the app is being purged");
    else if (update.snapshotPath) await this.#o.snapshots.restore(app.id, update.snapshotPath, note);
    this.#o.store.restorePreviousManifest(app.id, this.#o.clock());
    note("info", `the manifest of ${from} is in force again; recreating ${from}`);
    return requeue(0);
  }

  /** The app has converged at the end of an update: commit it, or report how it was undone. */
  async end(app: AppRow, update: UpdateRow, note: Note): Promise<void> {
    const { fromVersion: from, toVersion: to } = update;
    // The version in force is settled: approvals of what only the other version asked for go.
    const manifest = this.#o.manifests.of(app).manifest;
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
    if (operation && (operation.state === "pending" || operation.state === "running"))
      this.#o.report.endOperation(app, operation.id, "failed", message);
  }

  /** Why an app failed for good while an update of it was being undone, or `message` itself. */
  failureReason(update: UpdateRow | undefined, message: string): string {
    return update && (update.stage === "rolling-back" || update.stage === "restoring")
      ? rollbackFailedMessage(update.fromVersion, update.toVersion, update.reason, message)
      : message;
  }
}
