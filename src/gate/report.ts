/**
 * The gate's report: the machine-readable record of a run (JSON), from which the human one
 * (Markdown, markdown.ts) is rendered. A matrix of apps × steps × iterations; every cell passed,
 * failed (with evidence: what was expected, what was observed, the last log lines) or was skipped
 * (with the reason); timings per step; the faults injected. The verdict and exit code follow one
 * rule: 0 only when every cell that ran passed, every setup step passed, and at least one cell ran.
 */
import type { FaultKind } from "./faults.ts";
import { STEP_INFO, type StepId } from "./matrix.ts";
import { type Timing, timings } from "./stats.ts";

/** A container of a gated app that Podman started, as its events tell. */
export type ContainerStart = {
  /** Unix ms, Podman's time of the start. */
  at: number;
  /** The gated app (the id the operator named). */
  app: string;
  /** The container's key in the manifest. */
  container: string;
  /** Podman's container id. */
  id: string;
};

/** A start the gate did not cause, with what the gate was doing at the time. */
export type UnexpectedStart = ContainerStart & { during: string };

export type RestartRecord = {
  /** Starts of the gated apps' containers Podman reported during the run. */
  starts: number;
  unexpected: UnexpectedStart[];
};

export const REPORT_SCHEMA = "archipelago.gate/v1";

export type CellStatus = "pass" | "fail" | "skip";

export type Evidence = {
  expected: string;
  observed: string;
  /** The operation the step asked for. */
  operation?: { id: string; kind: string; state: string; error: string | null; log: string[] };
  /** The last lines of the app's container logs (`package.logs`), on failure. */
  logs?: string[];
  /** The last warnings and errors of the daemon's own log (a daemon the gate started), on failure. */
  daemonLog?: string[];
};

export type Cell = {
  iteration: number;
  /** The app as the operator named it (the sample's id). */
  app: string;
  step: StepId;
  status: CellStatus;
  /** Why it was skipped, or the one-line cause of a failure. */
  reason?: string;
  /** Unix ms when the cell began (cells that ran). */
  startedAt?: number;
  durationMs?: number;
  timeoutMs?: number;
  /** Faults injected right before (or during) this cell, by id. */
  faults?: string[];
  /** What the cell checked, when it passed (short). */
  checked?: string;
  /** The app's containers as Podman showed them once the cell was judged (pass or fail). */
  podman?: ContainerFact[];
  /** Why it failed: expected, observed, logs. */
  evidence?: Evidence;
};

export type ContainerFact = { key: string | undefined; name: string; id: string; state: string };

/** An untimed step that brought the apps into the state the next judged step needs. */
export type SetupRecord = {
  iteration: number;
  app: string;
  step: StepId;
  why: string;
  ok: boolean;
  /** Unix ms when the step began. */
  startedAt?: number;
  durationMs: number;
  evidence?: Evidence;
};

export type FaultRecord = {
  id: string;
  kind: FaultKind;
  iteration: number;
  step: StepId;
  app?: string;
  container?: string;
  /** What was done, e.g. the container id killed, how long the daemon was down. */
  detail: string;
  injected: boolean;
  at: number;
};

export type GatedApp = {
  /** The id the operator named (a sample's id). */
  id: string;
  /** The id it was installed under (the sandbox copy's, or the same). */
  installedAs: string;
  version: string;
  containers: string[];
  dependsOn: string[];
  timeouts: Record<StepId, number>;
  /** How the sandbox copy differs from the manifest as written. */
  substitutions: string[];
};

export type Environment = {
  mode: "managed" | "existing";
  daemonUrl: string;
  daemonVersion?: string;
  /** How the daemon creates containers (`system.info`): `quadlet` or `podman`, and why. */
  daemonBackend?: { backend: string; reason?: string };
  podmanVersion?: string;
  podmanSocket: string;
  /** The user whose rootless Podman runs the apps. */
  user: string;
  host: string;
  workDir?: string;
  /** Where the sandbox's host paths are, when not inside `workDir` (host paths live under /mnt, /media or /srv). */
  hostRoot?: string;
  isolation?: { prefix: string };
  reboot: { available: boolean; how?: string; reason?: string };
  daemonRestart: { available: boolean; how?: string; reason?: string };
  chaos: { enabled: boolean; seed?: number; kinds: FaultKind[]; unavailable: Record<string, string> };
  notes: string[];
};

export type GateOptionsRecord = {
  iterations: number;
  apps: string[];
  steps: StepId[];
  destructive: boolean;
  chaos: boolean;
  timeoutScale: number;
};

export type GateReport = {
  schema: typeof REPORT_SCHEMA;
  verdict: "pass" | "fail";
  exitCode: 0 | 1;
  /** Why the verdict is fail, in one line (or "every cell that ran passed"). */
  summary: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  options: GateOptionsRecord;
  environment: Environment;
  apps: GatedApp[];
  /** Columns of the matrix. */
  steps: StepId[];
  cells: Cell[];
  setup: SetupRecord[];
  faults: FaultRecord[];
  /** Starts of the gated apps' containers Podman reported, and those the gate did not cause. */
  restarts: RestartRecord;
  timings: { byStep: Timing[]; byApp: Timing[] };
  counts: { cells: number; passed: number; failed: number; skipped: number; setupFailed: number };
  /** What went wrong outside the cells: the daemon or the Podman service exiting on their own. */
  incidents: string[];
  /** A failure outside any cell (the sandbox could not be set up, the run was interrupted). */
  aborted?: string;
};

export type ReportInput = Omit<
  GateReport,
  "schema" | "verdict" | "exitCode" | "summary" | "timings" | "counts"
>;

/** Verdict, counts and timings from the cells: the one place the exit code is decided. */
export function buildReport(input: ReportInput): GateReport {
  const { cells, setup } = input;
  const passed = cells.filter((c) => c.status === "pass").length;
  const failed = cells.filter((c) => c.status === "fail").length;
  const skipped = cells.filter((c) => c.status === "skip").length;
  const setupFailed = setup.filter((s) => !s.ok).length;
  const reasons: string[] = [];
  if (input.aborted) reasons.push(`aborted: ${input.aborted}`);
  if (input.incidents.length > 0) reasons.push(`${input.incidents.length} incident(s) outside the cells`);
  const unexpected = input.restarts.unexpected.length;
  if (unexpected > 0) reasons.push(`${unexpected} container start(s) the gate did not cause`);
  if (failed > 0) reasons.push(`${failed} of ${passed + failed} cells failed`);
  if (setupFailed > 0) reasons.push(`${setupFailed} setup step(s) failed`);
  if (passed + failed === 0) reasons.push("no cell ran: nothing was judged");
  const verdict = reasons.length === 0 ? "pass" : "fail";
  return {
    schema: REPORT_SCHEMA,
    verdict,
    exitCode: verdict === "pass" ? 0 : 1,
    summary:
      verdict === "pass"
        ? `every cell that ran passed (${passed} passed, ${skipped} skipped)`
        : reasons.join("; "),
    ...input,
    timings: {
      byStep: timings(cells, (c) => c.step, input.steps),
      byApp: timings(
        cells,
        (c) => c.app,
        input.apps.map((a) => a.id),
      ),
    },
    counts: { cells: cells.length, passed, failed, skipped, setupFailed },
  };
}

/** The report as JSON text (stable key order: as built). */
export function reportJson(report: GateReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** The step's title, for people. */
export function stepTitle(step: StepId): string {
  return STEP_INFO[step].title;
}

/**
 * Removes every occurrence of the given secret values (and their URL-encoded forms) from a text
 * that goes into the report: container logs, operation logs and errors may quote an app's secret.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length < 6) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)]))
      out = out.split(form).join("[redacted]");
  }
  return out;
}
