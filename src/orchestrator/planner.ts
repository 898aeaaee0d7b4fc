/**
 * The planner: desired state × observed state → the next actions. Pure: no I/O, no clock, no
 * randomness — everything it needs is in its input, so it is tested exhaustively and by properties.
 *
 * The reconciler runs it level-triggered: observe, plan, execute the actions, observe again, until
 * the plan is empty. A plan is therefore only the next wave of work, and every action is safe to
 * repeat after a crash at any point. Data is never touched except by `purge-data`, which only an
 * app desired absent with `purge` gets.
 */
import type { DependsCondition } from "../manifest/schema.ts";
import type { DesiredState, Phase } from "./model.ts";

/** A container as the planner needs to see it (an `ObservedContainer` fits). */
export type SeenContainer = {
  id: string;
  name: string;
  key: string | undefined;
  specHash: string | undefined;
  state: string;
  createdAt: number | undefined;
  startedAt: number | undefined;
  backend: Backend;
  unit: string | undefined;
  /** A Quadlet container that is down: whether its unit would start it at boot (see `ObservedContainer`). */
  startsAtBoot?: boolean;
  /** How an exited container ended (a job's verdict). */
  exitCode?: number | undefined;
};

/** How a container is created and run: plain Podman, or a Quadlet unit of the user's systemd. */
export type Backend = "podman" | "quadlet";

/** What the manifest says one container must be. */
export type WantedContainer = {
  key: string;
  name: string;
  specHash: string;
  stopTimeoutSeconds: number;
  dependsOn: Array<{ key: string; condition: DependsCondition }>;
  /**
   * A one-shot job: started once per creation, never again once it exited 0 (completed); a
   * non-zero exit is a failure the plan reports; stopped before it completed, it is removed, so
   * that the next start runs it again from the beginning.
   */
  job: boolean;
};

export type Health = "healthy" | "unhealthy" | "starting" | "unknown";

export type PlanInput = {
  desired: DesiredState;
  purge: boolean;
  /** In start order (every container after those it depends on). */
  wanted: WantedContainer[];
  /** The app's containers as observed: by the platform's labels, or adopted by legacy name. */
  seen: SeenContainer[];
  health: Record<string, Health>;
  /** Unix ms of the last restart request; running containers started before it are restarted. */
  restartRequestedAt: number | undefined;
  /** Running containers to restart because their health checks call them unhealthy (see health-restarts.ts). */
  healthRestarts: string[];
  /**
   * Containers that exited on their own, again, and wait out their delay before they are started
   * again (see health-restarts.ts): key → when they are due (unix ms).
   */
  crashHeld: Record<string, number>;
  /** Unix ms of the last reinstall request: containers created before it are recreated (data kept). */
  recreateRequestedAt: number | undefined;
  /** Unmet requirements on other apps (dependencies), described for the operator; start waits for them. */
  blockedBy: string[];
  /** The backend the daemon creates new containers with (an app with containers keeps theirs). */
  createWith: Backend;
};

export type ContainerTarget = Pick<SeenContainer, "id" | "name" | "backend" | "unit">;

export type Action =
  | { kind: "prepare" }
  | { kind: "create"; key: string; backend: Backend }
  | { kind: "start"; key: string; container: ContainerTarget }
  | { kind: "restart"; key: string; container: ContainerTarget; timeoutSeconds: number }
  | { kind: "stop"; key: string; container: ContainerTarget; timeoutSeconds: number }
  | {
      kind: "remove";
      key: string | undefined;
      container: ContainerTarget;
      timeoutSeconds: number;
      why: "duplicate" | "outdated" | "uninstall" | "purge" | "rollback" | "job-interrupted" | "job-failed";
    }
  | { kind: "remove-resources"; purge: boolean }
  | { kind: "purge-data" }
  | { kind: "forget" };

/** A job that exited non-zero on its own: the operation fails with it (app-reconciler.ts). */
export type FailedJob = { key: string; container: ContainerTarget; exitCode: number | undefined };

export type Plan = { actions: Action[]; phase: Phase; waiting: string[]; failedJobs?: FailedJob[] };

/** A job that failed: the operator must fix it and retry (it runs again then). */
export class JobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JobError";
  }
}

/** Whether a job's container ran to completion: it exited 0. */
export function jobCompleted(c: Pick<SeenContainer, "state" | "exitCode">): boolean {
  return c.state === "exited" && c.exitCode === 0;
}

const RUNNING = new Set(["running"]);
/** States in which a container exists but does not run, and can be started. */
const STARTABLE = new Set(["created", "exited", "paused", "unknown"]);
/** Transient states: wait for Podman to finish rather than act on top of it. */
const TRANSIENT = new Set(["stopping", "removing"]);

const target = (c: SeenContainer): ContainerTarget => ({
  id: c.id,
  name: c.name,
  backend: c.backend,
  unit: c.unit,
});

/** Among several containers claiming one key, the one to keep: matching spec, running, newest. */
function pickKeeper(candidates: SeenContainer[], wanted: WantedContainer | undefined): SeenContainer {
  const score = (c: SeenContainer) =>
    (wanted && (c.specHash === undefined || c.specHash === wanted.specHash) ? 4 : 0) +
    (wanted && c.name === wanted.name ? 2 : 0) +
    (RUNNING.has(c.state) ? 1 : 0);
  return [...candidates].sort(
    (a, b) => score(b) - score(a) || (b.startedAt ?? 0) - (a.startedAt ?? 0) || a.id.localeCompare(b.id),
  )[0] as SeenContainer;
}

export function plan(input: PlanInput): Plan {
  const byKey = new Map<string, SeenContainer[]>();
  const strays: SeenContainer[] = [];
  const wantedKeys = new Set(input.wanted.map((w) => w.key));
  for (const container of input.seen) {
    if (container.key === undefined || !wantedKeys.has(container.key)) strays.push(container);
    else byKey.set(container.key, [...(byKey.get(container.key) ?? []), container]);
  }
  const timeoutOf = (key: string | undefined) =>
    input.wanted.find((w) => w.key === key)?.stopTimeoutSeconds ?? 10;

  // Duplicates and containers of keys the manifest no longer has: remove (their data is in volumes).
  const cleanup: Action[] = [];
  const current = new Map<string, SeenContainer>();
  for (const [key, candidates] of byKey) {
    const keeper = pickKeeper(
      candidates,
      input.wanted.find((w) => w.key === key),
    );
    current.set(key, keeper);
    for (const extra of candidates) {
      if (extra !== keeper)
        cleanup.push({
          kind: "remove",
          key,
          container: target(extra),
          timeoutSeconds: timeoutOf(key),
          why: "duplicate",
        });
    }
  }
  for (const stray of strays)
    cleanup.push({
      kind: "remove",
      key: stray.key,
      container: target(stray),
      timeoutSeconds: timeoutOf(stray.key),
      why: input.desired !== "absent" ? "outdated" : input.purge ? "purge" : "uninstall",
    });

  if (input.desired === "absent") return planAbsent(input, current, cleanup);
  if (input.desired === "stopped") return planStopped(input, current, cleanup);
  return planRunning(input, current, cleanup);
}

/** A container to take away: stopped first when it runs (its data stays in its volumes). */
function stopAndRemove(
  container: SeenContainer,
  wanted: WantedContainer,
  why: "uninstall" | "purge" | "outdated" | "job-interrupted",
): Action[] {
  const common = { key: wanted.key, container: target(container), timeoutSeconds: wanted.stopTimeoutSeconds };
  return [
    ...(RUNNING.has(container.state) ? [{ kind: "stop" as const, ...common }] : []),
    { kind: "remove", ...common, why },
  ];
}

function planAbsent(input: PlanInput, current: Map<string, SeenContainer>, cleanup: Action[]): Plan {
  const actions: Action[] = [...cleanup];
  for (const wanted of [...input.wanted].reverse()) {
    const container = current.get(wanted.key);
    if (!container) continue;
    if (TRANSIENT.has(container.state)) continue;
    actions.push(...stopAndRemove(container, wanted, input.purge ? "purge" : "uninstall"));
  }
  const busy = [...current.values()].some((c) => TRANSIENT.has(c.state));
  if (actions.length > 0 || busy)
    return { actions, phase: "removing", waiting: busy ? ["a container is still stopping"] : [] };
  return {
    actions: [
      { kind: "remove-resources", purge: input.purge },
      ...(input.purge ? [{ kind: "purge-data" } as const] : []),
      { kind: "forget" },
    ],
    phase: "removing",
    waiting: [],
  };
}

function planStopped(input: PlanInput, current: Map<string, SeenContainer>, cleanup: Action[]): Plan {
  const actions: Action[] = [...cleanup];
  for (const wanted of [...input.wanted].reverse()) {
    const container = current.get(wanted.key);
    // A job stopped before it completed would count as failed: it goes, and runs again at the next start.
    if (container && wanted.job && RUNNING.has(container.state)) {
      actions.push(...stopAndRemove(container, wanted, "job-interrupted"));
      continue;
    }
    // A Quadlet container that went down on its own before the stop would still start at boot:
    // its stop takes it out of the boot.
    if (container && (RUNNING.has(container.state) || container.startsAtBoot === true))
      actions.push({
        kind: "stop",
        key: wanted.key,
        container: target(container),
        timeoutSeconds: wanted.stopTimeoutSeconds,
      });
  }
  const busy = [...current.values()].some((c) => TRANSIENT.has(c.state));
  return { actions, phase: actions.length > 0 || busy ? "stopping" : "stopped", waiting: [] };
}

/**
 * The backend of a container about to be created: the app's, while it keeps containers (a Quadlet
 * unit names its dependencies' units in `Requires=`, which a plain container has none of, so an app
 * with any plain container stays plain until it is recreated as a whole), else the daemon's.
 */
export function creationBackend(kept: readonly SeenContainer[], createWith: Backend): Backend {
  if (kept.some((c) => c.backend === "podman")) return "podman";
  if (kept.some((c) => c.backend === "quadlet")) return "quadlet";
  return createWith;
}

function planRunning(input: PlanInput, current: Map<string, SeenContainer>, cleanup: Action[]): Plan {
  const actions: Action[] = [...cleanup];
  const waiting: string[] = [];
  let creating = false;
  let restarting = false;
  let starting = false;

  // A container whose configuration changed, or that predates a reinstall, is recreated: stop and
  // remove now (dependants first: reverse start order), create below. Adopted legacy containers (no
  // spec hash) are left as they are.
  const live = new Map(current);
  const outdated = (c: SeenContainer, w: WantedContainer) =>
    (c.specHash !== undefined && c.specHash !== w.specHash) ||
    (input.recreateRequestedAt !== undefined && (c.createdAt ?? 0) < input.recreateRequestedAt);
  for (const wanted of [...input.wanted].reverse()) {
    const container = current.get(wanted.key);
    if (!container || !outdated(container, wanted)) continue;
    if (TRANSIENT.has(container.state)) continue;
    actions.push(...stopAndRemove(container, wanted, "outdated"));
    live.delete(wanted.key);
  }

  if (input.blockedBy.length > 0) {
    const anyRunning = [...live.values()].some((c) => RUNNING.has(c.state));
    if (!anyRunning) return { actions, phase: "waiting", waiting: [...input.blockedBy] };
  }

  const satisfied = (key: string, condition: DependsCondition): boolean => {
    const container = live.get(key);
    if (condition === "completed") return container !== undefined && jobCompleted(container);
    if (!container || !RUNNING.has(container.state)) return false;
    return condition === "started" || input.health[key] === "healthy";
  };
  const failedJobs: FailedJob[] = [];

  const backend = creationBackend([...live.values()], input.createWith);
  let needsPrepare = false;
  for (const wanted of input.wanted) {
    const container = live.get(wanted.key);
    // A job runs to completion (the app is starting meanwhile), is left alone once completed, and
    // one that failed is reported, never started again here.
    if (wanted.job && container && RUNNING.has(container.state)) {
      starting = true;
      continue;
    }
    if (wanted.job && container && jobCompleted(container)) continue;
    if (wanted.job && container?.state === "exited") {
      failedJobs.push({ key: wanted.key, container: target(container), exitCode: container.exitCode });
      continue;
    }
    if (container && RUNNING.has(container.state)) {
      const startedAt = container.startedAt ?? 0;
      if (
        (input.restartRequestedAt !== undefined && startedAt < input.restartRequestedAt) ||
        input.healthRestarts.includes(wanted.key)
      ) {
        actions.push({
          kind: "restart",
          key: wanted.key,
          container: target(container),
          timeoutSeconds: wanted.stopTimeoutSeconds,
        });
        restarting = true;
      }
      continue;
    }
    if (container && TRANSIENT.has(container.state)) {
      waiting.push(`${wanted.key} is still ${container.state}`);
      continue;
    }
    const unmet = wanted.dependsOn.filter((d) => !satisfied(d.key, d.condition));
    if (unmet.length > 0) {
      waiting.push(
        ...unmet.map(
          (d) =>
            `${wanted.key} waits for ${d.key} ${d.condition === "completed" ? "to complete" : `to be ${d.condition === "healthy" ? "healthy" : "running"}`}`,
        ),
      );
      if (!container) {
        needsPrepare = true;
        creating = true;
      }
      continue;
    }
    if (!container) {
      needsPrepare = true;
      creating = true;
      actions.push({ kind: "create", key: wanted.key, backend });
      continue;
    }
    const heldUntil = input.crashHeld[wanted.key];
    if (STARTABLE.has(container.state) && heldUntil !== undefined) {
      waiting.push(`${wanted.key} exited again: starting it again at ${new Date(heldUntil).toISOString()}`);
      restarting = true;
    } else if (STARTABLE.has(container.state)) {
      actions.push({ kind: "start", key: wanted.key, container: target(container) });
      starting = true;
    }
  }
  if (needsPrepare) actions.unshift({ kind: "prepare" });

  const phase: Phase = creating
    ? current.size === 0
      ? "installing"
      : "starting"
    : restarting
      ? "restarting"
      : starting || actions.length > 0
        ? "starting"
        : waiting.length > 0
          ? "waiting"
          : "running";
  return { actions, phase, waiting, ...(failedJobs.length > 0 ? { failedJobs } : {}) };
}
