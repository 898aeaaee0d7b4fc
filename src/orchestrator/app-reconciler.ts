/**
 * One reconcile of one app: observe, plan (pure), execute, observe again until the plan is empty,
 * then say what happened as a `ReconcileOutcome`. When to look again, attempts, backoff and
 * `failed` are the driver's (reconciler.ts); an update in flight is carried by update-controller.ts,
 * restarts counted by restart-trackers.ts, hooks scheduled by hook-schedule.ts.
 */
import { consumedApps, consumerEnvironment, consumerName } from "../manifest/consumers.ts";
import type { PermissionRequest } from "../manifest/permissions.ts";
import type { HookName, HookStepSpec, Manifest } from "../manifest/schema.ts";
import { resolveApp, storedEnvFileTexts } from "../render/model.ts";
import { podmanPlan } from "../render/podman-spec.ts";
import type { ObservedContainer } from "../runtime/observed.ts";
import type { ContainerRef, Observation, Runtime } from "../runtime/runtime.ts";
import type { AppReport } from "./app-report.ts";
import { awaitingApproval, listPermissions, unapprovedOf } from "./approvals.ts";
import type { Executor } from "./executor.ts";
import { hookDue, hookDueOnceRunning } from "./hook-schedule.ts";
import { type AppPackage, type HookContext, HookError, hookTargets, runHook, runSteps } from "./hooks.ts";
import { HostPathError, type HostPathGuard } from "./host-path-guard.ts";
import type { AppImagePulls } from "./image-pulls.ts";
import type { ManifestCache } from "./manifest-cache.ts";
import type { Note, StoredContainer } from "./model.ts";
import { type InstalledNames, NameClashError } from "./name-clashes.ts";
import type { ObservationCache } from "./observation-cache.ts";
import {
  type FailedJob,
  type Health,
  JobError,
  jobCompleted,
  type Plan,
  type PlanInput,
  plan,
  type WantedContainer,
} from "./planner.ts";
import { DONE, failed, type ReconcileOutcome, requeue, Wakeups, withWakeup } from "./reconcile-outcome.ts";
import type { RenderContexts } from "./render-contexts.ts";
import { startsOf } from "./restart-count.ts";
import { type CrashRestarts, exitedOnItsOwn, type HealthRestarts } from "./restart-trackers.ts";
import type { AppRow, Store, UpdateRow } from "./store.ts";
import type { UpdateVerdict } from "./update.ts";
import { DEFAULT_STOP_TIMEOUT_S, type UpdateController } from "./update-controller.ts";

/** Where the planner learns whether containers are healthy (the daemon's own probes). */
export interface HealthSource {
  healthOf(appId: string, key: string, container: ObservedContainer | undefined): Health;
  /** The last probe's output, to explain an unhealthy verdict. */
  detail?(appId: string, key: string, container: ObservedContainer | undefined): string | undefined;
}

/**
 * A pre_purge hook (or a deprovision of the app's accounts) that failed, with the way forward: the
 * purge stopped before anything was removed, so purging again runs it again, and `--force` purges
 * without it.
 */
function purgeStopped(appId: string, failure: unknown): HookError {
  const cause = failure instanceof Error ? failure.message : String(failure);
  return new HookError(
    `${cause}; the purge stopped before anything was removed: fix the cause and purge again (\`archy uninstall ${appId} --purge\`), or purge without the pre_purge hook and the removal of its accounts in dependencies (\`archy uninstall ${appId} --purge --force\`, \`force: true\` in package.uninstall)`,
  );
}

/** Rounds of observe-plan-execute in one reconcile before it yields to the other apps. */
const MAX_ROUNDS = 40;
/** How many of its last log lines explain a container that exits as soon as it starts. */
const CRASH_LOG_LINES = 10;

export type AppReconcilerOptions = {
  store: Store;
  manifests: ManifestCache;
  runtime: Runtime;
  executor: Executor;
  hostPaths: HostPathGuard;
  health: HealthSource;
  clock: () => number;
  /** How old a shared observation may be at a reconcile's first look. */
  observationMaxAgeMs: number;
  packageOf: (app: Pick<AppRow, "id" | "source" | "version">) => AppPackage | undefined;
  names: InstalledNames;
  observations: ObservationCache;
  contexts: RenderContexts;
  /** The pull step, before anything of the app is created or replaced. */
  pulls: AppImagePulls;
  report: AppReport;
  updates: UpdateController;
  healthRestarts: HealthRestarts;
  crashRestarts: CrashRestarts;
  /** Wakes another app (a dependent of one that settled or went). */
  wake: (appId: string) => void;
  /** Why the app is held stopped now (a backup or restore in flight), or undefined. */
  holdsStopped: (appId: string) => string | undefined;
};

export class AppReconciler {
  readonly #o: AppReconcilerOptions;

  constructor(options: AppReconcilerOptions) {
    this.#o = options;
  }

  /** Converges one app as far as it can go now. */
  async reconcile(appId: string): Promise<ReconcileOutcome> {
    const wakeups = new Wakeups();
    const outcome = await this.#pass(appId, wakeups);
    return withWakeup(outcome, wakeups.soonest);
  }

  async #pass(appId: string, wakeups: Wakeups): Promise<ReconcileOutcome> {
    const { store, report, observations, updates } = this.#o;
    let app = store.getApp(appId);
    if (!app) return DONE;
    const note = report.note(app);
    const { manifest, error } = this.#o.manifests.of(app);
    const manifestHash = app.manifestHash;
    if (!manifest) {
      // A manifest the platform no longer accepts is not run: an app with a host path that now
      // reaches the daemon's keys must not keep reading them.
      let stopFailure = "";
      try {
        await this.#stopAll(app, note);
      } catch (failure) {
        stopFailure = `; stopping its containers failed: ${(failure as Error).message}`;
      }
      const reason = `the stored manifest is no longer valid: ${error}${stopFailure}; install a version that validates (archy app validate shows each problem and its fix)`;
      report.status(app, "failed", reason, { phase: "failed", observedGeneration: app.generation });
      report.finishOperations(app, "failed", reason);
      return DONE;
    }
    // Apps named under scheme 1 may share names (naming.ts): none of them runs on what another holds.
    const clashes = app.desired === "running" ? this.#o.names.clashesOf(app) : [];
    if (clashes.length > 0) return failed(new NameClashError(appId, clashes));
    report.startOperations(app);

    const pendingUpdate = store.getUpdate(appId);
    if (pendingUpdate && pendingUpdate.stage !== "restoring") {
      try {
        const ended = await updates.advance(app, pendingUpdate, manifest, note);
        if (ended) return ended;
      } catch (failure) {
        observations.invalidate();
        return failed(failure);
      }
    }
    // Containers started by this call: one the plan wants to start again has exited right after its
    // start (a crash loop), which backs off like any failure instead of spinning through the rounds.
    const started = new Set<string>();
    for (let round = 0; round < MAX_ROUNDS; round++) {
      let observation: Observation;
      try {
        observation = await observations.get(round === 0 ? this.#o.observationMaxAgeMs : 0);
      } catch (failure) {
        report.status(
          app,
          app.phase,
          `Podman is not answering (${(failure as Error).message}); showing the last observed state`,
        );
        return requeue(5_000);
      }
      app = store.getApp(appId) as AppRow;
      // The manifest changed under this call (an update): start over with the new one, so that the
      // update's operation never succeeds on the old containers.
      if (app.manifestHash !== manifestHash) return requeue(0);
      const update = store.getUpdate(appId);
      const seen = await this.#preciseStarts(
        app,
        observation.containers.filter((c) => c.appId === appId),
      );
      this.#storeObservation(app, seen, observation.at);
      if (round === 0 && app.desired !== "absent") {
        const refused = await this.#refusedWhileRunning(manifest, seen);
        if (refused) {
          await this.#stopAll(app, note).catch(() => {});
          return failed(refused);
        }
      }
      // An app wanted running with a permission the operator has not approved (revoked, or never
      // approved: a path around the lifecycle's check) is held stopped until it is approved.
      const held = unapprovedOf(manifest, store.approvals(app.id));
      // A backup that stops the app, or a restore, holds it stopped until it ends (then it runs again).
      const holding = this.#o.holdsStopped(appId);
      const planned: AppRow =
        (held.length > 0 || holding) && app.desired === "running" ? { ...app, desired: "stopped" } : app;
      let next: Plan;
      let input: PlanInput;
      try {
        await this.#o.contexts.learnSubnets(manifest);
        input = this.#planInput(planned, manifest, seen, observation, update, wakeups);
        next = plan(input);
      } catch (failure) {
        return failed(failure);
      }
      // An update in its window: done, still going, or out of time (rolled back).
      const verdict =
        update?.stage === "applying" ? updates.verdict(app, update, next, input, seen) : undefined;
      if (verdict?.kind === "rollback" && update)
        return updates.rollBackOrFail(app, update, verdict.reason, note);
      const failedJob = next.failedJobs?.[0];
      if (failedJob) return failed(await this.#jobFailed(manifest, failedJob, note));
      const again = next.actions.find((a) => a.kind === "start" && started.has(a.container.id));
      if (again?.kind === "start") {
        const exitCode = seen.find((c) => c.id === again.container.id)?.exitCode;
        return failed(await this.#crash(again.container, exitCode));
      }
      if (next.actions.length === 0 && holding && planned !== app) {
        report.status(app, "stopped", holding);
        return DONE;
      }
      if (next.actions.length === 0)
        return planned !== app
          ? this.#hold(app, held, note, update)
          : this.#settle(app, manifest, next, seen, note, update, verdict);
      const hook = hookDue({
        due: app.pendingHook,
        desired: app.desired,
        preStartTargets: hookTargets(manifest, "pre_start"),
        actions: next.actions,
        seen,
      });
      if (hook.kind === "pre_start") {
        try {
          await this.#runHook(app, manifest, "pre_start", seen, note);
        } catch (failure) {
          return failed(failure);
        }
        if (hook.clearsDue) store.setPendingHook(appId, undefined);
      } else if (hook.kind === "pre_purge") {
        try {
          await this.#runPrePurge(app, manifest, seen, note);
          await this.#deprovision(manifest, note);
        } catch (failure) {
          return failed(purgeStopped(appId, failure));
        }
        // pre_uninstall is next, at the next look (nothing was stopped or removed yet).
        store.setPendingHook(appId, "pre_uninstall");
        continue;
      } else if (hook.kind === "deprovision") {
        try {
          await this.#deprovision(manifest, note);
        } catch (failure) {
          return failed(purgeStopped(appId, failure));
        }
        store.setPendingHook(appId, undefined);
        continue;
      } else if (hook.kind === "pre_uninstall") {
        try {
          if (!seen.some((c) => c.state === "running"))
            note("info", "pre_uninstall hook skipped: no container of the app is running");
          else await this.#runHook(app, manifest, "pre_uninstall", seen, note);
        } catch (failure) {
          // A purge is the operator's last word: a hook that keeps failing must not keep the app.
          if (!app.purge) return failed(failure);
          note(
            "warn",
            `${(failure as Error).message}; purging anyway: a purge removes the app whatever its hooks say`,
          );
        }
        store.setPendingHook(appId, undefined);
      } else if (hook.kind === "wait") note("info", hook.message);
      report.status(
        app,
        updates.phaseDuring(update, next.phase),
        planned !== app
          ? (holding ?? awaitingApproval(app.id, held))
          : next.waiting.length > 0
            ? // Each item is a whole clause ("web waits for db to be healthy", "dependency base is not
              // installed"): a prefix that expects a noun ("waiting for …") would garble every one.
              `waiting: ${next.waiting.join("; ")}`
            : updates.reason(update, verdict, next.phase),
      );
      // Every image is on the node before anything is created or replaced (install, reinstall).
      if (next.actions.some((a) => a.kind === "create" || (a.kind === "remove" && a.why === "outdated")))
        try {
          await this.#o.pulls.pull(app, manifest, note);
        } catch (failure) {
          return failed(failure);
        }
      for (const action of next.actions) {
        if (action.kind === "forget") {
          if (!report.removed(app)) return requeue(0);
          this.#o.healthRestarts.forget(appId);
          note("info", `${appId} removed`);
          this.#wakeDependents(appId);
          return DONE;
        }
        if (action.kind === "restart" && input.healthRestarts.includes(action.key)) {
          const lastProbe = this.#o.health.detail?.(
            app.id,
            action.key,
            seen.find((c) => c.key === action.key),
          );
          note("warn", this.#o.healthRestarts.restarting(app, action.key, lastProbe));
        }
        const exited = action.kind === "start" ? seen.find((c) => c.id === action.container.id) : undefined;
        if (exited && exitedOnItsOwn(app, exited))
          note("warn", this.#o.crashRestarts.restarting(app, exited));
        try {
          await this.#o.executor.run(manifest, action, this.#o.contexts.of(manifest), note);
          // Its accounts in the dependencies it consumes, before any of its containers is created.
          if (action.kind === "prepare") await this.#provision(manifest, note);
          // The network may be new (or gone): what the next actions render depends on its subnet.
          if (action.kind === "prepare" || action.kind === "remove-resources") {
            this.#o.contexts.forgetSubnet(appId);
            if (action.kind === "prepare") await this.#o.contexts.learnSubnets(manifest);
          }
        } catch (failure) {
          observations.invalidate();
          return failed(failure);
        }
        if (action.kind === "start" || action.kind === "restart") started.add(action.container.id);
      }
      observations.invalidate();
    }
    return requeue(1_000);
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
      // A dependency's completed jobs count as up; its other containers must run.
      const jobs = new Set(
        Object.entries(this.#o.manifests.of(row).manifest?.containers ?? {})
          .filter(([, spec]) => spec.job)
          .map(([key]) => key),
      );
      const all = observation.containers.filter((c) => c.appId === dependency.id && c.key !== undefined);
      const containers = all.filter((c) => !jobs.has(c.key as string));
      const down =
        all.length === 0 ||
        containers.some((c) => c.state !== "running") ||
        all.some((c) => jobs.has(c.key as string) && !jobCompleted(c));
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
    wakeups: Wakeups,
  ): PlanInput {
    const ctx = this.#o.contexts.of(manifest);
    const wanted: WantedContainer[] = podmanPlan(manifest, ctx).containers.map((c) => ({
      key: c.key,
      name: c.name,
      specHash: c.hash,
      stopTimeoutSeconds: c.body.stop_timeout,
      dependsOn: Object.entries(manifest.containers[c.key]?.depends_on ?? {}).map(([key, condition]) => ({
        key,
        condition,
      })),
      job: manifest.containers[c.key]?.job ?? false,
    }));
    // A job has no health: it is not restarted for it, and an update does not wait for it to be healthy.
    const health: Record<string, Health> = {};
    for (const w of wanted.filter((w) => !w.job))
      health[w.key] = this.#o.health.healthOf(
        app.id,
        w.key,
        seen.find((c) => c.key === w.key),
      );
    // A restart due later, for health or after a crash, is a wake-up: the app is looked at in time.
    const restarts = this.#o.healthRestarts.due(app, health, seen, update !== undefined);
    const crashes = this.#o.crashRestarts.held(app, seen);
    for (const ms of [restarts.wakeInMs, crashes.wakeInMs]) if (ms !== undefined) wakeups.in(ms);
    return {
      desired: app.desired,
      purge: app.purge,
      wanted,
      seen,
      health,
      restartRequestedAt: app.restartRequestedAt,
      healthRestarts: restarts.due,
      crashHeld: crashes.held,
      recreateRequestedAt: app.recreateRequestedAt,
      blockedBy: app.desired === "running" ? this.#blockedBy(manifest, observation) : [],
      createWith: this.#o.runtime.createWith,
    };
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
    const previous = this.#o.store.listContainers(app.id);
    const rows: StoredContainer[] = [...byKey.values()].map((c) => ({
      appId: app.id,
      key: c.key as string,
      name: c.name,
      containerId: c.id,
      state: c.state,
      health: this.#o.health.healthOf(app.id, c.key as string, c),
      exitCode: c.exitCode,
      ...startsOf(
        previous.find((p) => p.key === c.key),
        {
          containerId: c.id,
          startedAt: c.startedAt,
          backend: c.backend,
          specHash: c.specHash,
        },
      ),
      backend: c.backend,
      specHash: c.specHash,
      observedAt: at,
    }));
    const same =
      previous.length === rows.length &&
      rows.every((row) => {
        const old = previous.find((p) => p.key === row.key);
        return (
          old &&
          old.containerId === row.containerId &&
          old.state === row.state &&
          old.health === row.health &&
          old.exitCode === row.exitCode &&
          old.restarts === row.restarts
        );
      });
    if (same) this.#o.store.touchObservation(app.id, at);
    else this.#o.store.saveObservation(app.id, rows);
  }

  /**
   * Observations list StartedAt in whole seconds, so a container started in the same second as a
   * restart request cannot be told, from the list, to have started before or after it: it would be
   * restarted again (or, rounding the other way, a restart would be missed). Only those few are
   * asked for their start to the millisecond.
   */
  async #preciseStarts(app: AppRow, seen: ObservedContainer[]): Promise<ObservedContainer[]> {
    const requested = app.restartRequestedAt;
    if (requested === undefined) return seen;
    const second = Math.floor(requested / 1000) * 1000;
    return Promise.all(
      seen.map(async (c) => {
        if (c.state !== "running" || c.startedAt !== second) return c;
        const precise = await this.#o.runtime.startedAt(c);
        return precise === undefined ? c : { ...c, startedAt: precise };
      }),
    );
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
  ): Promise<ReconcileOutcome> {
    const { store, report } = this.#o;
    // An update undone (a revoke supersedes one) is over: its outcome is reported now.
    if (update?.stage === "restoring") await this.#o.updates.end(app, update, note);
    const reason = awaitingApproval(app.id, missing);
    if (app.reason !== reason)
      note("warn", `${app.id} is stopped until the operator approves ${listPermissions(missing)}`);
    report.status(app, "stopped", reason, {
      phase: "stopped",
      observedGeneration: app.generation,
      attempts: 0,
      nextAttemptAt: null,
    });
    for (const operation of store.activeOperations(app.id)) {
      if (operation.generation > app.generation) continue;
      const reached = operation.kind === "stop" || operation.kind === "revoke";
      report.endOperation(app, operation.id, reached ? "succeeded" : "failed", reached ? undefined : reason);
    }
    this.#wakeDependents(app.id);
    return DONE;
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
  async #stopAll(app: AppRow, note: Note): Promise<void> {
    const { observations } = this.#o;
    observations.invalidate();
    const observation = await observations.get(0);
    for (const container of observation.containers)
      if (container.appId === app.id && container.state === "running") {
        note("warn", `stopping ${container.name}: the app may not run as it is`);
        await this.#o.runtime.stop(container, DEFAULT_STOP_TIMEOUT_S);
      }
    observations.invalidate();
  }

  /** Runs a backup's hook steps in the app's running containers (src/backup/). */
  async runBackupHook(
    appId: string,
    hook: "pre_backup" | "post_backup",
    steps: readonly HookStepSpec[],
    note: Note,
  ): Promise<void> {
    const app = this.#o.store.getApp(appId);
    const manifest = app ? this.#o.manifests.of(app).manifest : undefined;
    if (!app || !manifest) throw new HookError(`${appId} is not installed with a valid manifest`);
    const seen = (await this.#o.observations.get(0)).containers.filter((c) => c.appId === appId);
    await runSteps(manifest, hook, steps, this.#hookContext(app, seen, note));
    this.#o.observations.invalidate();
  }

  async #runHook(
    app: AppRow,
    manifest: Manifest,
    hook: HookName,
    seen: ObservedContainer[],
    note: Note,
  ): Promise<void> {
    // A hook may copy from a host-path permission: never one the operator has not approved.
    const missing = unapprovedOf(manifest, this.#o.store.approvals(app.id));
    if (missing.length > 0) {
      note("warn", `${hook} hook skipped: ${awaitingApproval(app.id, missing)}`);
      return;
    }
    await runHook(manifest, hook, this.#hookContext(app, seen, note));
    this.#o.observations.invalidate();
  }

  /** What a hook of `app` runs with: its package, its containers as `seen`, their health as probed now. */
  #hookContext(app: AppRow, seen: ObservedContainer[], note: Note): HookContext {
    const containers = new Map(seen.filter((c) => c.key !== undefined).map((c) => [c.key as string, c]));
    const pkg = this.#o.packageOf(app);
    return {
      runtime: this.#o.runtime,
      appDir: pkg?.dir,
      verifyCopy: pkg?.verifyCopy,
      containers,
      note,
      hostPaths: this.#o.hostPaths,
      healthOf: (key) => ({
        health: this.#o.health.healthOf(app.id, key, containers.get(key)),
        detail: this.#o.health.detail?.(app.id, key, containers.get(key)),
      }),
    };
  }

  /**
   * The pre_purge hook: its steps act on the app's data where it lives (a dependent's tables in its
   * dependency), so they need their containers running; a hook that cannot run fails like one that
   * fails, and the purge stops before anything is removed.
   */
  async #runPrePurge(app: AppRow, manifest: Manifest, seen: ObservedContainer[], note: Note): Promise<void> {
    const down = hookTargets(manifest, "pre_purge").filter(
      (key) => !seen.some((c) => c.key === key && c.state === "running"),
    );
    if (down.length > 0)
      throw new HookError(
        `the pre_purge hook runs in ${down.join(", ")}, which ${down.length === 1 ? "is" : "are"} not running`,
      );
    await this.#runHook(app, manifest, "pre_purge", seen, note);
  }

  /**
   * Creates the app's account in each dependency whose consumer values it uses (that dependency's
   * `consumers.provision`, in its containers, given the pair's values as environment). Runs after
   * every prepare, so before the app's containers are created — at install, reinstall, update and
   * any re-creation — and again after a crash or a retry: the steps are idempotent, by contract.
   */
  async #provision(manifest: Manifest, note: Note): Promise<void> {
    for (const provider of resolveApp(manifest, this.#o.contexts.of(manifest)).consumes)
      await this.#consumerSteps(manifest, provider, "provision", note);
  }

  /**
   * At a purge: removes the app's account in each dependency it consumes (`consumers.deprovision`),
   * found from the manifest alone (a purge renders nothing). A dependency that is gone (uninstalled
   * meanwhile) has nothing to run it in: said, not failed.
   */
  async #deprovision(manifest: Manifest, note: Note): Promise<void> {
    const ctx = this.#o.contexts.of(manifest);
    for (const provider of consumedApps(manifest, storedEnvFileTexts(ctx))) {
      if (!ctx.dependencies[provider]?.consumers) {
        note(
          "warn",
          `the account of ${manifest.id} in ${provider} is not removed: ${provider} is not installed with \`consumers\`; it stays in ${provider}'s data`,
        );
        continue;
      }
      await this.#consumerSteps(manifest, provider, "deprovision", note);
    }
  }

  /** Runs `provider`'s provision or deprovision steps for the consumer `manifest`, in `provider`'s containers. */
  async #consumerSteps(
    manifest: Manifest,
    providerId: string,
    which: "provision" | "deprovision",
    note: Note,
  ): Promise<void> {
    const row = this.#o.store.getApp(providerId);
    const provider = row ? this.#o.manifests.of(row).manifest : undefined;
    if (!row || !provider?.consumers)
      throw new HookError(
        `${manifest.id} uses the consumer values of ${providerId}, which is not installed with \`consumers\``,
      );
    const steps = provider.consumers[which];
    if (steps.length === 0) return;
    const values = await this.#o.executor.consumerValues(manifest.id, provider);
    const absent = Object.keys(provider.consumers.secrets).filter((secret) => values[secret] === undefined);
    if (which === "provision" && absent.length > 0)
      throw new HookError(
        `the ${absent.join(", ")} of ${manifest.id}'s account in ${providerId} ${absent.length === 1 ? "is" : "are"} missing among its secrets: retry the install`,
      );
    note(
      "info",
      `${which === "provision" ? "provisioning" : "deprovisioning"} the account of ${manifest.id} (${consumerName(manifest.id)}) in ${providerId}`,
    );
    this.#o.observations.invalidate();
    const seen = (await this.#o.observations.get(0)).containers.filter((c) => c.appId === providerId);
    try {
      await runSteps(provider, `consumers.${which}`, steps, {
        ...this.#hookContext(row, seen, note),
        env: consumerEnvironment(manifest.id, values),
      });
    } catch (failure) {
      throw new HookError(`${providerId}, for ${manifest.id}: ${(failure as Error).message}`);
    } finally {
      this.#o.observations.invalidate();
    }
  }

  /**
   * A job that exited non-zero: told with its exit code and last output, then removed, so that
   * the next attempt (a retry, an update, a reinstall) runs it again from the beginning.
   */
  async #jobFailed(manifest: Manifest, job: FailedJob, note: Note): Promise<JobError> {
    const lines = await this.#o.executor.lastLogLines(job.container, CRASH_LOG_LINES);
    const output = lines.length > 0 ? `; its last output:\n${lines.join("\n")}` : "; it wrote no output";
    const error = new JobError(`job ${job.key} failed with exit code ${job.exitCode ?? "unknown"}${output}`);
    try {
      await this.#o.executor.run(
        manifest,
        {
          kind: "remove",
          key: job.key,
          container: job.container,
          timeoutSeconds: DEFAULT_STOP_TIMEOUT_S,
          why: "job-failed",
        },
        this.#o.contexts.of(manifest),
        note,
      );
    } finally {
      this.#o.observations.invalidate();
    }
    return error;
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
    this.#o.observations.invalidate();
    let observation: Observation;
    try {
      observation = await this.#o.observations.get(0);
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
  ): Promise<ReconcileOutcome> {
    const { store, report, updates } = this.#o;
    const converged = next.waiting.length === 0 && (next.phase === "running" || next.phase === "stopped");
    const blocked = next.phase === "waiting";
    // The new version runs but is not healthy yet: wait (the deadline wakes this app up in time).
    if (converged && verdict?.kind === "wait") {
      report.status(app, "updating", updates.reason(update, verdict, next.phase));
      return requeue(Math.min(2_000, verdict.remainingMs));
    }
    const hook = converged && next.phase === "running" ? hookDueOnceRunning(app.pendingHook) : undefined;
    if (hook) {
      try {
        await this.#runHook(app, manifest, hook, seen, note);
      } catch (failure) {
        return failed(await this.#hookFailure(seen, failure));
      }
      store.setPendingHook(app.id, undefined);
    }
    if (converged) {
      if (update) await updates.end(app, update, note);
      // Running, but a container waits out the delay before its next restart for health: say until when.
      const waits = this.#o.healthRestarts.waits(app.id);
      report.status(app, next.phase, waits?.join("; "), {
        phase: next.phase,
        observedGeneration: app.generation,
        attempts: 0,
        nextAttemptAt: null,
      });
      report.finishOperations(app, "succeeded");
      this.#wakeDependents(app.id);
      return DONE;
    }
    report.status(app, updates.phaseDuring(update, next.phase), next.waiting.join("; "));
    // Dependencies wake their dependents when they settle; containers' health needs a look soon.
    const wakeups = new Wakeups();
    if (!blocked) wakeups.in(2_000);
    if (update?.stage === "applying") wakeups.in(updates.deadlineOf(update) - this.#o.clock());
    return withWakeup(DONE, wakeups.soonest);
  }

  #wakeDependents(appId: string): void {
    for (const { id, manifest } of this.#o.manifests.installed(this.#o.store))
      if (id !== appId && manifest?.dependencies.some((d) => d.id === appId)) this.#o.wake(id);
  }
}
