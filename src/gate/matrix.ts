/**
 * The gate's matrix, planned without any I/O: which steps run for which app in which iteration, in
 * which order, which cells are skipped and why, and which untimed "setup" steps bring an app into
 * the state the next judged step needs (a `start` needs a stopped app, `install-again` an
 * uninstalled one).
 *
 * Steps run in lockstep: every app does step N before any app does step N+1, the way a node lives
 * (a daemon restart or a reboot happens to all apps at once). Steps that bring apps up run their
 * dependencies first; steps that take them down run dependents first, so that no app is stopped or
 * removed under another that needs it.
 */

export const STEPS = [
  "install",
  "ui",
  "stop",
  "start",
  "restart",
  "daemon-restart",
  "reboot",
  "reinstall",
  "uninstall",
  "install-again",
  "purge",
] as const;
export type StepId = (typeof STEPS)[number];

/** What an app is between steps: not installed (its data may be kept), running, or stopped. */
export type AppState = "absent" | "running" | "stopped";

export type StepInfo = {
  title: string;
  /** A short column heading. */
  column: string;
  /** The state the step starts from. */
  needs: AppState;
  /** The state it leaves the app in. */
  leaves: AppState;
  /** `node`: one action for every app (the daemon restarts, the node reboots); `app`: one per app. */
  scope: "app" | "node";
  order: "dependencies-first" | "dependents-first";
  /** The JSON-RPC method it calls, when it asks the daemon for an operation. */
  method?: string;
};

export const STEP_INFO: Record<StepId, StepInfo> = {
  install: {
    title: "install",
    column: "install",
    needs: "absent",
    leaves: "running",
    scope: "app",
    order: "dependencies-first",
    method: "package.install",
  },
  ui: {
    title: "UI reachable",
    column: "UI",
    needs: "running",
    leaves: "running",
    scope: "app",
    order: "dependencies-first",
  },
  stop: {
    title: "stop",
    column: "stop",
    needs: "running",
    leaves: "stopped",
    scope: "app",
    order: "dependents-first",
    method: "package.stop",
  },
  start: {
    title: "start",
    column: "start",
    needs: "stopped",
    leaves: "running",
    scope: "app",
    order: "dependencies-first",
    method: "package.start",
  },
  restart: {
    title: "restart",
    column: "restart",
    needs: "running",
    leaves: "running",
    scope: "app",
    order: "dependencies-first",
    method: "package.restart",
  },
  "daemon-restart": {
    title: "daemon restart survives",
    column: "daemon restart",
    needs: "running",
    leaves: "running",
    scope: "node",
    order: "dependencies-first",
  },
  reboot: {
    title: "reboot survives",
    column: "reboot",
    needs: "running",
    leaves: "running",
    scope: "node",
    order: "dependencies-first",
  },
  reinstall: {
    title: "reinstall",
    column: "reinstall",
    needs: "running",
    leaves: "running",
    scope: "app",
    order: "dependencies-first",
    method: "package.reinstall",
  },
  uninstall: {
    title: "uninstall (data kept)",
    column: "uninstall",
    needs: "running",
    leaves: "absent",
    scope: "app",
    order: "dependents-first",
    method: "package.uninstall",
  },
  "install-again": {
    title: "install again (data and credentials unchanged)",
    column: "install again",
    needs: "absent",
    leaves: "running",
    scope: "app",
    order: "dependencies-first",
    method: "package.install",
  },
  purge: {
    title: "purge",
    column: "purge",
    needs: "running",
    leaves: "absent",
    scope: "app",
    order: "dependents-first",
    method: "package.uninstall",
  },
};

/** Whether something is possible here, and if not, why (the reason a skipped cell shows). */
export type Availability = { available: true } | { available: false; reason: string };

export type PlanApp = {
  id: string;
  /** Ids of the gated apps it depends on. */
  dependsOn: string[];
  /** Whether the operator can reach the app from this host (an interface or a published TCP port). */
  reachable: Availability;
};

export type PlanInput = {
  iterations: number;
  apps: PlanApp[];
  /** The steps to judge, in any order (default: all). */
  steps?: readonly StepId[];
  destructive: boolean;
  daemonRestart: Availability;
  reboot: Availability;
};

/** One step of one iteration: judged (a column of the matrix) or setup (untimed, not a cell). */
export type Phase = {
  step: StepId;
  judged: boolean;
  /** For a setup phase: why it runs. */
  why?: string;
  /** The apps in the order they take the step. */
  order: string[];
  /** Apps whose cell is skipped, with the reason; they take no action in this phase. */
  skipped: Record<string, string>;
  /** Each app's state before the phase (its state after is `STEP_INFO[step].leaves` unless skipped). */
  before: Record<string, AppState>;
};

export type IterationPlan = { iteration: number; phases: Phase[] };

export type GatePlan = {
  /** The judged steps, in matrix order: the report's columns. */
  steps: StepId[];
  /** Apps with every dependency before its dependents. */
  apps: string[];
  iterations: IterationPlan[];
  /** What returns every app to `absent` after the last iteration. */
  teardown: Phase[];
};

export class PlanError extends Error {}

/** Apps ordered so that each comes after every gated app it depends on (ties by id); cycles are errors. */
export function dependencyOrder(apps: readonly PlanApp[]): string[] {
  const byId = new Map(apps.map((a) => [a.id, a]));
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (id: string, path: string[]) => {
    if (order.includes(id)) return;
    if (visiting.has(id)) throw new PlanError(`dependency cycle: ${[...path, id].join(" -> ")}`);
    visiting.add(id);
    for (const dep of [...(byId.get(id)?.dependsOn ?? [])].sort())
      if (byId.has(dep)) visit(dep, [...path, id]);
    visiting.delete(id);
    order.push(id);
  };
  for (const id of [...byId.keys()].sort()) visit(id, []);
  return order;
}

/** Parses `--steps a,b`: known step ids, no duplicates. */
export function parseSteps(value: string): StepId[] {
  const steps = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (steps.length === 0) throw new PlanError("--steps: name at least one step");
  const unknown = steps.filter((s) => !(STEPS as readonly string[]).includes(s));
  if (unknown.length > 0)
    throw new PlanError(`--steps: unknown step ${unknown.join(", ")}; steps are ${STEPS.join(", ")}`);
  return [...new Set(steps)] as StepId[];
}

/** The next step from `from` towards `to` (absent -> stopped takes two: install, then stop). */
function transition(from: AppState, to: AppState): StepId | undefined {
  if (from === to) return undefined;
  if (to === "stopped") return from === "running" ? "stop" : "install";
  if (to === "running") return from === "stopped" ? "start" : "install";
  return "uninstall";
}

const WHY: Record<AppState, string> = {
  absent: "to uninstall the apps",
  running: "to have the apps running",
  stopped: "to have the apps stopped",
};

/**
 * Plans the gate. Skips: `reboot` and `daemon-restart` when unavailable (with the reason), `purge`
 * without `destructive`, `ui` for apps the operator cannot reach from this host. Apps whose
 * preconditions another step must establish get a setup phase first (when from `stopped` to `running`
 * — e.g. the `start` of an app whose `stop` step was not selected is preceded by a setup `stop`).
 */
export function planGate(input: PlanInput): GatePlan {
  if (!Number.isInteger(input.iterations) || input.iterations < 1)
    throw new PlanError(`iterations must be a whole number of at least 1, not ${input.iterations}`);
  if (input.apps.length === 0) throw new PlanError("no apps to gate");
  const ids = new Set(input.apps.map((a) => a.id));
  for (const app of input.apps)
    for (const dep of app.dependsOn)
      if (!ids.has(dep))
        throw new PlanError(`${app.id} depends on ${dep}, which is not among the gated apps`);
  const order = dependencyOrder(input.apps);
  const reversed = [...order].reverse();
  const selected = new Set(input.steps ?? STEPS);
  const steps = STEPS.filter((s) => selected.has(s));
  const byId = new Map(input.apps.map((a) => [a.id, a]));

  const skipsOf = (step: StepId): Record<string, string> => {
    const all = (reason: string) => Object.fromEntries(order.map((id) => [id, reason]));
    if (step === "reboot" && !input.reboot.available) return all(input.reboot.reason);
    if (step === "daemon-restart" && !input.daemonRestart.available) return all(input.daemonRestart.reason);
    if (step === "purge" && !input.destructive)
      return all("purge deletes the apps' data: it runs only with --destructive");
    if (step === "ui") {
      const skipped: Record<string, string> = {};
      for (const id of order) {
        const reachable = byId.get(id)?.reachable;
        if (reachable && !reachable.available) skipped[id] = reachable.reason;
      }
      return skipped;
    }
    return {};
  };

  let state: AppState = "absent";
  const phase = (step: StepId, judged: boolean, why?: string): Phase => {
    const info = STEP_INFO[step];
    const skipped = judged ? skipsOf(step) : {};
    const out: Phase = {
      step,
      judged,
      ...(why ? { why } : {}),
      order: info.order === "dependents-first" ? reversed : order,
      skipped,
      before: Object.fromEntries(order.map((id) => [id, state])),
    };
    // Every app is in the same state: skips are whole-step (reboot, purge…) or leave state alone (ui).
    if (Object.keys(skipped).length < order.length || info.needs === info.leaves) state = info.leaves;
    return out;
  };
  const reach = (target: AppState, phases: Phase[]) => {
    // At most two steps (absent -> running -> stopped).
    for (let step = transition(state, target); step; step = transition(state, target))
      phases.push(phase(step, false, WHY[target]));
  };

  const iterations: IterationPlan[] = [];
  for (let iteration = 1; iteration <= input.iterations; iteration++) {
    const phases: Phase[] = [];
    // Each iteration starts with the apps uninstalled (their data kept unless purged).
    reach("absent", phases);
    for (const step of steps) {
      const info = STEP_INFO[step];
      const skips = skipsOf(step);
      const wholeStepSkipped = Object.keys(skips).length === order.length;
      if (wholeStepSkipped) {
        phases.push(phase(step, true));
        continue;
      }
      reach(info.needs, phases);
      phases.push(phase(step, true));
    }
    iterations.push({ iteration, phases });
  }
  const teardown: Phase[] = [];
  reach("absent", teardown);
  return { steps, apps: order, iterations, teardown };
}

/** Every phase of the plan in execution order, with its iteration (0 for teardown). */
export function allPhases(plan: GatePlan): Array<{ iteration: number; index: number; phase: Phase }> {
  const out: Array<{ iteration: number; index: number; phase: Phase }> = [];
  for (const { iteration, phases } of plan.iterations)
    phases.forEach((phase, index) => {
      out.push({ iteration, index, phase });
    });
  plan.teardown.forEach((phase, index) => {
    out.push({ iteration: 0, index, phase });
  });
  return out;
}
