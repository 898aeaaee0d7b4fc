/**
 * The step runner: carries out a planned gate against a daemon, through its JSON-RPC API only (as
 * an operator would, authenticated like the CLI), and judges every cell by what the daemon says
 * *and* what Podman shows — a stop is a stop when Podman shows no running container, a daemon
 * restart survived when Podman shows the same container ids, started at the same time.
 *
 * Each cell: the request, the operation followed to its end, then the expected state polled for
 * until the step's time limit (derived from the manifest), then the checks. A failure keeps its
 * evidence: expected, observed, the operation's log, the app's last log lines, the daemon's last
 * warnings. With chaos, the planned faults are injected between steps (and one during an
 * operation), and the next step must pass anyway. What the runner sees is witness.ts's, what it
 * keeps (data fingerprints, evidence) evidence.ts's, and the faults it injects chaos.ts's.
 */
import type { Params } from "../api/contract.ts";
import {
  type Accepted,
  type CallArgs,
  CliError,
  CODES,
  type DaemonClient,
  DaemonUnreachable,
  type OperationMethod,
  type OperationView,
  RpcFailure,
} from "../cli/client.ts";
import { FollowTimeout, followOperation } from "../client/operations.ts";
import { approvalOfAll } from "../orchestrator/approvals.ts";
import type { AppData } from "./app-data.ts";
import { Chaos } from "./chaos.ts";
import {
  allOf,
  checkDataKept,
  checkPurged,
  checkRebooted,
  checkRecreated,
  checkRestarted,
  checkStartOrder,
  checkUnchanged,
  type DataFingerprint,
  type PodmanFact,
} from "./checks.ts";
import type { DaemonControl } from "./daemon-process.ts";
import { EvidenceKeeper } from "./evidence.ts";
import type { PlannedFault } from "./faults.ts";
import type { GateApp } from "./gate-app.ts";
import { type GatePlan, type Phase, STEP_INFO, type StepId } from "./matrix.ts";
import type { GatePodman } from "./podman-service.ts";
import type { Cell, FaultRecord, SetupRecord } from "./report.ts";
import { formatMs } from "./stats.ts";
import { CellFailure, sleep, Witness } from "./witness.ts";

export type RunnerContext = {
  client: DaemonClient;
  podman: GatePodman;
  daemon: DaemonControl;
  /** The daemon's data directory, for the data checks. */
  data: AppData;
  apps: ReadonlyMap<string, GateApp>;
  plan: GatePlan;
  faults: readonly PlannedFault[];
  /** How long a stop or a survived restart must stay as it is before the cell passes. */
  settleMs: number;
  progress: (line: string) => void;
  /** Set to stop after the current cell (Ctrl-C). */
  interrupted?: () => boolean;
  /** Leave the apps as the last step left them (no teardown): `--keep`. */
  keep?: boolean;
  /**
   * Skip an app's later cells once one has failed (`archy app test`): an app already known broken
   * would make each of them wait its whole time limit and repeat the first failure's evidence.
   */
  stopAtFailure?: boolean;
};

export type RunResult = { cells: Cell[]; setup: SetupRecord[]; faults: FaultRecord[]; interrupted: boolean };

/** What a node-wide step does (see `Runner#nodeWideStep`). */
type NodeAction = {
  /** The step, as "not running and reachable before …" names it. */
  why: string;
  /** Why every cell fails when the action does, and what was expected of it. */
  failed: string;
  expected: string;
  /** Records what the judgement needs of an app that was ready before the action. */
  prepare?: (app: GateApp) => Promise<void>;
  /** Restarts or reboots; resolves when the daemon answers again, with when it booted. */
  act: () => Promise<{ bootedAt: number; done: string }>;
  /** Judges one app once the daemon is back; resolves the cell's text. */
  judge: (
    app: GateApp,
    at: { before: PodmanFact[]; actedAt: number; bootedAt: number; done: string; deadline: number },
  ) => Promise<string>;
};

export class Runner {
  readonly #ctx: RunnerContext;
  readonly #cells: Cell[] = [];
  readonly #setup: SetupRecord[] = [];
  readonly #witness: Witness;
  readonly #keeper: EvidenceKeeper;
  readonly #chaos: Chaos;
  /** The data each app had before its latest uninstall (compared at install-again). */
  readonly #baselines = new Map<string, DataFingerprint>();
  /** Apps whose setup step failed: their next judged cell fails with that cause. */
  readonly #blocked = new Map<string, string>();
  /** With `stopAtFailure`: each app's first failed cell, by app. */
  readonly #failedAt = new Map<string, StepId>();

  constructor(ctx: RunnerContext) {
    this.#ctx = ctx;
    this.#witness = new Witness(ctx.client, ctx.podman);
    this.#keeper = new EvidenceKeeper({
      client: ctx.client,
      daemon: ctx.daemon,
      data: ctx.data,
      witness: this.#witness,
    });
    this.#chaos = new Chaos({
      podman: ctx.podman,
      daemon: ctx.daemon,
      witness: this.#witness,
      app: (id) => this.#app(id),
      progress: ctx.progress,
    });
  }

  async run(): Promise<RunResult> {
    const { plan } = this.#ctx;
    let interrupted = false;
    outer: for (const { iteration, phases } of plan.iterations) {
      this.#baselines.clear();
      this.#blocked.clear();
      for (const [index, phase] of phases.entries()) {
        if (this.#ctx.interrupted?.()) {
          interrupted = true;
          break outer;
        }
        const before = this.#ctx.faults.filter(
          (f) => f.iteration === iteration && f.phaseIndex === index && f.kind !== "daemon-sigkill",
        );
        const faultIds = new Map<string, string[]>();
        for (const fault of before) {
          const record = await this.#chaos.inject(fault);
          const hit = fault.app ? [fault.app] : phase.order.filter((id) => !(id in phase.skipped));
          for (const app of hit) faultIds.set(app, [...(faultIds.get(app) ?? []), record.id]);
        }
        const during = this.#ctx.faults.filter(
          (f) => f.iteration === iteration && f.phaseIndex === index && f.kind === "daemon-sigkill",
        );
        for (const fault of during)
          if (fault.app) faultIds.set(fault.app, [...(faultIds.get(fault.app) ?? []), fault.id]);
        await this.#phase(iteration, phase, faultIds, during);
      }
    }
    if (!interrupted && !this.#ctx.keep)
      for (const phase of plan.teardown) await this.#phase(plan.iterations.length, phase, new Map(), []);
    return { cells: this.#cells, setup: this.#setup, faults: this.#chaos.records, interrupted };
  }

  // ---- Phases and cells ----

  async #phase(
    iteration: number,
    phase: Phase,
    faultIds: Map<string, string[]>,
    during: readonly PlannedFault[],
  ) {
    const info = STEP_INFO[phase.step];
    const stopped = (id: string) => this.#failedAt.has(id);
    const active = phase.order.filter((id) => !(id in phase.skipped) && !stopped(id));
    for (const id of phase.order)
      if (id in phase.skipped)
        this.#record(iteration, phase, id, { status: "skip", reason: phase.skipped[id] as string });
      else if (stopped(id))
        this.#record(iteration, phase, id, {
          status: "skip",
          reason: `not run: ${this.#failedAt.get(id)} failed first`,
        });
    if (active.length === 0) return;
    if (info.scope === "node") {
      if (phase.step === "reboot") await this.#rebootStep(iteration, phase, active, faultIds);
      else await this.#daemonRestartStep(iteration, phase, active, faultIds);
      return;
    }
    for (const id of active) {
      if (this.#ctx.interrupted?.()) return;
      const app = this.#app(id);
      const blocked = phase.judged ? this.#blocked.get(id) : undefined;
      if (blocked) {
        this.#blocked.delete(id);
        this.#record(iteration, phase, id, {
          status: "fail",
          reason: `precondition not reached: ${blocked}`,
          durationMs: 0,
          timeoutMs: app.timeouts[phase.step],
          evidence: { expected: `the state ${phase.step} starts from`, observed: blocked },
          faults: faultIds.get(id),
        });
        continue;
      }
      const fault = during.find((f) => f.app === id);
      await this.#cell(iteration, phase, app, faultIds.get(id), () =>
        this.#appStep(phase.step, app, iteration, fault),
      );
    }
  }

  /** Runs one cell: times it, turns a failure into evidence, records it. */
  async #cell(
    iteration: number,
    phase: Phase,
    app: GateApp,
    faults: string[] | undefined,
    work: (deadline: number) => Promise<string>,
    began = Date.now(),
  ): Promise<void> {
    const timeoutMs = app.timeouts[phase.step];
    const deadline = began + timeoutMs;
    try {
      const checked = await work(deadline);
      const durationMs = Date.now() - began;
      this.#record(iteration, phase, app.id, {
        status: "pass",
        startedAt: began,
        durationMs,
        timeoutMs,
        checked: this.#keeper.redact(checked),
        podman: await this.#keeper.facts(app),
        faults,
      });
    } catch (error) {
      const durationMs = Date.now() - began;
      const failure =
        error instanceof CellFailure
          ? error
          : new CellFailure((error as Error).message, {
              ok: false,
              expected: `${phase.step} to succeed`,
              observed: (error as Error).message,
            });
      const evidence = await this.#keeper.of(app, failure.verdict, failure.operationId);
      this.#record(iteration, phase, app.id, {
        status: "fail",
        reason: this.#keeper.redact(failure.message),
        startedAt: began,
        durationMs,
        timeoutMs,
        podman: await this.#keeper.facts(app),
        evidence,
        faults,
      });
    }
  }

  #record(
    iteration: number,
    phase: Phase,
    app: string,
    result: Omit<Cell, "iteration" | "app" | "step">,
  ): void {
    const tag = `[${iteration}/${this.#ctx.plan.iterations.length}]`;
    if (!phase.judged) {
      if (result.status === "skip") return;
      const ok = result.status === "pass";
      this.#setup.push({
        iteration,
        app,
        step: phase.step,
        why: phase.why ?? "",
        ok,
        ...(result.startedAt !== undefined ? { startedAt: result.startedAt } : {}),
        durationMs: result.durationMs ?? 0,
        ...(result.evidence ? { evidence: result.evidence } : {}),
      });
      if (!ok) this.#blocked.set(app, `setup ${phase.step} (${phase.why}) failed: ${result.reason}`);
      this.#ctx.progress(
        `${tag} ${`(setup ${phase.step})`.padEnd(16)} ${app.padEnd(16)} ${ok ? "ok" : `FAILED: ${result.reason}`}`,
      );
      return;
    }
    const cell: Cell = { iteration, app, step: phase.step, ...result };
    if (cell.status === "fail" && this.#ctx.stopAtFailure && !this.#failedAt.has(app))
      this.#failedAt.set(app, phase.step);
    if (!cell.faults || cell.faults.length === 0) delete cell.faults;
    this.#cells.push(cell);
    const status = { pass: "pass", fail: "FAIL", skip: "skip" }[cell.status];
    const detail =
      cell.status === "skip"
        ? cell.reason
        : cell.status === "fail"
          ? `${formatMs(cell.durationMs)}: ${cell.reason}`
          : formatMs(cell.durationMs);
    this.#ctx.progress(
      `${tag} ${phase.step.padEnd(16)} ${app.padEnd(16)} ${status} ${detail}${cell.faults ? " ⚡" : ""}`,
    );
  }

  #app(id: string): GateApp {
    const app = this.#ctx.apps.get(id);
    if (!app) throw new Error(`unknown app ${id}`);
    return app;
  }

  // ---- Steps ----

  async #appStep(
    step: StepId,
    app: GateApp,
    iteration: number,
    fault: PlannedFault | undefined,
  ): Promise<string> {
    const began = Date.now();
    const deadline = began + app.timeouts[step];
    const id = app.installedAs;
    switch (step) {
      case "install":
      case "install-again": {
        // The gate runs the apps the operator chose: approving what they ask for is its job.
        const approve = approvalOfAll(app.manifest);
        const op = await this.#operation("package.install", { id, approve }, deadline, fault);
        await this.#witness.until(
          deadline,
          () => this.#witness.ready(app),
          "not running and healthy in time",
          op,
        );
        if (step === "install") {
          await this.#keeper.rememberSecrets(app);
          return `operation ${op} succeeded; ${app.keys.length} container(s) running and healthy in Podman and the daemon`;
        }
        const baseline = this.#baselines.get(app.id);
        if (!baseline) return `operation ${op} succeeded; running (no data baseline: uninstall did not run)`;
        const now = await this.#keeper.fingerprint(app, baseline, true);
        const kept = checkDataKept(baseline, now, "after installing again");
        if (!kept.ok)
          throw new CellFailure("data or credentials changed across uninstall and install", kept, op);
        return `operation ${op} succeeded; running; ${kept.expected}`;
      }
      case "ui": {
        const verdict = await this.#witness.until(
          deadline,
          () => this.#witness.reach(app),
          "not reachable in time",
        );
        return verdict.observed;
      }
      case "stop": {
        const op = await this.#operation("package.stop", { id }, deadline, fault);
        await this.#witness.until(
          deadline,
          () => this.#witness.stopped(app),
          "not stopped in Podman in time",
          op,
        );
        await sleep(this.#ctx.settleMs);
        const still = await this.#witness.stopped(app);
        if (!still.ok)
          throw new CellFailure(`started again within ${this.#ctx.settleMs} ms of the stop`, still, op);
        return `operation ${op} succeeded; no container running in Podman, still none ${formatMs(this.#ctx.settleMs)} later`;
      }
      case "start": {
        const op = await this.#operation("package.start", { id }, deadline, fault);
        await this.#witness.until(
          deadline,
          () => this.#witness.readyAndReachable(app),
          "not running, healthy and reachable in time",
          op,
        );
        return `operation ${op} succeeded; running, healthy${app.targets.length > 0 ? " and reachable" : ""}`;
      }
      case "restart": {
        await this.#witness.until(deadline, () => this.#witness.ready(app), "not running before the restart");
        const before = await this.#witness.snapshot(app);
        // A restart keeps the data: an app that empties its volumes when it starts loses it here.
        const baseline = await this.#keeper.baseline(app, iteration, false);
        const op = await this.#operation("package.restart", { id }, deadline, fault);
        await this.#witness.until(
          deadline,
          async () =>
            allOf(
              await this.#witness.readyAndReachable(app),
              checkRestarted(before, await this.#witness.snapshot(app)),
            ),
          "not restarted in time",
          op,
        );
        const kept = checkDataKept(
          baseline,
          await this.#keeper.fingerprint(app, baseline, false),
          "after the restart",
        );
        if (!kept.ok) throw new CellFailure("data changed across the restart", kept, op);
        return `operation ${op} succeeded; each container started again (${before.some((c) => c.backend === "quadlet") ? "new ones from their Quadlet units" : "same ids"}), healthy; ${kept.expected}`;
      }
      case "reinstall": {
        await this.#witness.until(
          deadline,
          () => this.#witness.ready(app),
          "not running before the reinstall",
        );
        const before = await this.#witness.snapshot(app);
        const baseline = await this.#keeper.baseline(app, iteration, false);
        const op = await this.#operation("package.reinstall", { id }, deadline, fault);
        await this.#witness.until(
          deadline,
          async () =>
            allOf(
              await this.#witness.readyAndReachable(app),
              checkRecreated(before, await this.#witness.snapshot(app)),
            ),
          "not recreated and running in time",
          op,
        );
        const kept = checkDataKept(
          baseline,
          await this.#keeper.fingerprint(app, baseline, false),
          "after the reinstall",
        );
        if (!kept.ok) throw new CellFailure("data changed across the reinstall", kept, op);
        return `operation ${op} succeeded; new containers, running; ${kept.expected}`;
      }
      case "uninstall": {
        const baseline = await this.#keeper.baseline(app, iteration, true);
        this.#baselines.set(app.id, baseline);
        const op = await this.#operation("package.uninstall", { id, purge: false }, deadline, fault);
        await this.#witness.until(deadline, () => this.#witness.removed(app), "not removed in time", op);
        const kept = checkDataKept(
          { ...baseline, credentials: undefined },
          await this.#keeper.fingerprint(app, baseline, false),
          "after the uninstall",
        );
        if (!kept.ok) throw new CellFailure("data or secrets lost by the uninstall", kept, op);
        return `operation ${op} succeeded; no container left; ${kept.expected}`;
      }
      case "purge": {
        const op = await this.#operation("package.uninstall", { id, purge: true }, deadline, fault);
        await this.#witness.until(deadline, () => this.#witness.removed(app), "not removed in time", op);
        const purged = checkPurged(
          await this.#ctx.data.exists(this.#ctx.data.appDir(id)),
          await this.#ctx.data.exists(this.#ctx.data.secretsDir(id)),
        );
        if (!purged.ok) throw new CellFailure("the purge kept data", purged, op);
        return `operation ${op} succeeded; no container, data directory and secrets deleted`;
      }
      default:
        throw new Error(`${step} is not an app step`);
    }
  }

  /**
   * Before a node-wide step: every app running and reachable (what breaks afterwards is the step's
   * doing) — all at once, each within its own limit, so that an app that never gets there does not
   * use up the others' time — then its containers as the step finds them. `why` names the step.
   */
  async #readyBefore(
    phase: Phase,
    active: string[],
    began: number,
    why: string,
  ): Promise<{ snapshots: Map<string, PodmanFact[]>; preconditions: Map<string, Error> }> {
    const snapshots = new Map<string, PodmanFact[]>();
    const preconditions = new Map<string, Error>();
    await Promise.all(
      active.map(async (id) => {
        const app = this.#app(id);
        try {
          await this.#witness.until(
            began + app.timeouts[phase.step],
            () => this.#witness.readyAndReachable(app),
            `not running and reachable before ${why}`,
          );
        } catch (error) {
          preconditions.set(id, error as Error);
        }
      }),
    );
    // The containers as the step finds them (the wait above may have been long).
    for (const id of active)
      if (!preconditions.has(id))
        try {
          snapshots.set(id, await this.#witness.snapshot(this.#app(id)));
        } catch (error) {
          preconditions.set(id, error as Error);
        }
    return { snapshots, preconditions };
  }

  /**
   * A node-wide step (daemon restart, reboot): one action for every app, each app judged on its
   * own. Every app must be ready before (`prepare` then records what it needs of a ready one); the
   * cells of ready apps are timed from the action: the wait for the others is not theirs (a cell's
   * limit is a boot plus the app's own readiness).
   */
  async #nodeWideStep(
    iteration: number,
    phase: Phase,
    active: string[],
    faultIds: Map<string, string[]>,
    action: NodeAction,
  ) {
    const began = Date.now();
    const { snapshots, preconditions } = await this.#readyBefore(phase, active, began, action.why);
    if (action.prepare)
      for (const id of snapshots.keys())
        try {
          await action.prepare(this.#app(id));
        } catch (error) {
          preconditions.set(id, error as Error);
        }
    const actedAt = Date.now();
    let outcome: { bootedAt: number; done: string } | undefined;
    let failure: Error | undefined;
    try {
      const result = await action.act();
      // What the daemon observed since it started counts: its first look at the apps comes as it
      // boots, before it answers; an app that changes nothing is not looked at again until a resync.
      outcome = { bootedAt: Math.max(actedAt, result.bootedAt), done: result.done };
    } catch (error) {
      failure = error as Error;
    }
    // Every app is judged at once: each cell's time is the action's plus its own checks.
    const cells = active.map((id) => {
      const app = this.#app(id);
      return this.#cell(
        iteration,
        phase,
        app,
        faultIds.get(id),
        async (deadline) => {
          const precondition = preconditions.get(id);
          if (precondition) throw precondition;
          if (!outcome) {
            const observed = (failure as Error).message;
            throw new CellFailure(`${action.failed}: ${observed}`, {
              ok: false,
              expected: action.expected,
              observed,
            });
          }
          const before = snapshots.get(id) as PodmanFact[];
          return action.judge(app, { before, actedAt, ...outcome, deadline });
        },
        preconditions.has(id) ? began : actedAt,
      );
    });
    await Promise.all(cells);
  }

  /** daemon-restart: every app still running as before, same containers, not restarted. */
  #daemonRestartStep(iteration: number, phase: Phase, active: string[], faultIds: Map<string, string[]>) {
    const { daemon } = this.#ctx;
    return this.#nodeWideStep(iteration, phase, active, faultIds, {
      why: "the daemon restart",
      failed: "the daemon did not come back",
      expected: "the daemon answers again, connected to Podman",
      act: async () => {
        const restart = await daemon.restart();
        return {
          bootedAt: restart.bootedAt,
          done: `daemon restarted (${daemon.restartHow}; answering again after ${formatMs(restart.downMs)})`,
        };
      },
      judge: async (app, { before, bootedAt, done, deadline }) => {
        // The daemon must have looked at the app again (its observation is newer than its boot).
        await this.#witness.until(
          deadline,
          async () =>
            allOf(
              await this.#witness.readyAndReachable(app),
              checkUnchanged(before, await this.#witness.snapshot(app)),
              await this.#witness.observedSince(app, bootedAt, "the restart"),
            ),
          "not running as before in time",
        );
        await sleep(this.#ctx.settleMs);
        const later = checkUnchanged(before, await this.#witness.snapshot(app));
        if (!later.ok)
          throw new CellFailure(`changed within ${this.#ctx.settleMs} ms after the restart`, later);
        return `${done}; same container ids, not restarted, healthy${app.targets.length > 0 ? ", reachable" : ""}`;
      },
    });
  }

  /**
   * reboot: the daemon's node restarted (--reboot-command). Each app must come back on its own —
   * running, healthy, reachable, observed by the daemon after the boot, every container started
   * after the reboot began (Quadlet may recreate them: new ids are fine) and no earlier than the
   * containers of the apps it depends on — with its data and credentials unchanged.
   */
  #rebootStep(iteration: number, phase: Phase, active: string[], faultIds: Map<string, string[]>) {
    const { daemon } = this.#ctx;
    const baselines = new Map<string, DataFingerprint>();
    return this.#nodeWideStep(iteration, phase, active, faultIds, {
      why: "the reboot",
      failed: "the node did not come back",
      expected: "the node reboots, its daemon answers again, connected to Podman",
      prepare: async (app) => {
        baselines.set(app.id, await this.#keeper.baseline(app, iteration, true));
      },
      act: async () => {
        if (!daemon.reboot) throw new Error("the reboot step is not supported here");
        const reboot = await daemon.reboot();
        return {
          bootedAt: reboot.bootedAt,
          done: `node rebooted (${daemon.rebootHow}; the daemon answering again after ${formatMs(reboot.downMs)})`,
        };
      },
      judge: async (app, { before, actedAt, bootedAt, done, deadline }) => {
        const back = await this.#witness.until(
          deadline,
          async () =>
            allOf(
              checkRebooted(before, await this.#witness.snapshot(app), actedAt),
              await this.#witness.readyAndReachable(app),
              await this.#witness.observedSince(app, bootedAt, "the boot"),
            ),
          "not back after the reboot in time",
        );
        // Dependency order, as Podman shows the app and the apps it depends on once it is back.
        const after = await this.#witness.snapshot(app);
        const dependencies = await Promise.all(
          app.manifest.dependencies.map(async (d) => {
            const dep = [...this.#ctx.apps.values()].find((a) => a.installedAs === d.id || a.id === d.id);
            return { id: dep?.id ?? d.id, containers: dep ? await this.#witness.snapshot(dep) : [] };
          }),
        );
        const order = checkStartOrder(after, dependencies);
        if (!order.ok) throw new CellFailure("started before an app it depends on", order);
        const baseline = baselines.get(app.id) as DataFingerprint;
        const kept = checkDataKept(
          baseline,
          await this.#keeper.fingerprint(app, baseline, true),
          "after the reboot",
        );
        if (!kept.ok) throw new CellFailure("data or credentials changed across the reboot", kept);
        await sleep(this.#ctx.settleMs);
        const later = checkUnchanged(after, await this.#witness.snapshot(app));
        if (!later.ok)
          throw new CellFailure(`changed within ${this.#ctx.settleMs} ms after coming back`, later);
        const started = back.observed.split(" | ")[0] ?? "";
        return `${done}; back: ${started}; ${order.expected}; healthy${app.targets.length > 0 ? ", reachable" : ""}; ${kept.expected}`;
      },
    });
  }

  // ---- Talking to the daemon ----

  /** Asks for an operation (retrying what an operator would retry), then follows it to its end. */
  async #operation<M extends OperationMethod>(
    method: M,
    params: Params<M>,
    deadline: number,
    fault: PlannedFault | undefined,
  ): Promise<string> {
    let accepted: Accepted | undefined;
    let lastError: Error | undefined;
    while (!accepted) {
      try {
        // TypeScript cannot see that `[Params<M>]` fits CallArgs<M> while M is open; callers are checked.
        accepted = await this.#ctx.client.call(method, ...([params] as unknown as CallArgs<M>));
      } catch (error) {
        lastError = error as Error;
        const retry =
          error instanceof DaemonUnreachable ||
          (error instanceof RpcFailure &&
            (error.code === CODES.operationInProgress || error.code === CODES.podmanUnavailable));
        if (!retry || Date.now() > deadline)
          throw new CellFailure(`${method} refused: ${lastError.message}`, {
            ok: false,
            expected: `${method} accepted`,
            observed: `${lastError.message}${error instanceof CliError && error.hint ? ` (${error.hint})` : ""}`,
          });
        await sleep(1_000);
      }
    }
    if (fault?.kind === "daemon-sigkill") await this.#chaos.crashDuring(fault, accepted.operationId);
    const id = accepted.operationId;
    let op: OperationView;
    try {
      op = await followOperation(this.#ctx.client, undefined, id, {
        pollMs: 300,
        // The daemon restarting: the operation is in its store and resumes.
        retryRead: () => true,
        timeoutMs: Math.max(0, deadline - Date.now()),
      });
    } catch (error) {
      if (!(error instanceof FollowTimeout)) throw error;
      throw new CellFailure(
        `operation ${id} still ${error.state ?? "unknown"} at the time limit`,
        {
          ok: false,
          expected: "the operation finished in time",
          observed: `still ${error.state ?? "unknown"}`,
        },
        id,
      );
    }
    if (op.state === "failed")
      throw new CellFailure(
        `operation ${id} failed: ${op.error ?? "no error given"}`,
        { ok: false, expected: `operation ${op.kind} succeeded`, observed: `failed: ${op.error ?? "?"}` },
        id,
      );
    return id;
  }
}
