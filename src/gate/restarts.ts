/**
 * Restarts the gate did not cause. Podman's events show every start of a gated app's containers;
 * the gate accounts for the starts it causes: a cell of a step that starts the app (install, start,
 * restart, reinstall, install again, reboot) or its setup step, and a container fault on the app
 * (a kill or a removal, which the platform must repair) until the app's next cell has ended. Any
 * other start is a container restarted on its own — by the platform (a health check that
 * false-failed on a busy node: the field failure) or by the app crashing — and fails the run. Pure.
 */
import type { StepId } from "./matrix.ts";
import type { Cell, ContainerStart, FaultRecord, RestartRecord, SetupRecord } from "./report.ts";

/** Steps whose cells (and setup steps) start the app's containers. */
export const STARTING_STEPS: ReadonlySet<StepId> = new Set([
  "install",
  "start",
  "restart",
  "reinstall",
  "install-again",
  "reboot",
]);

/** Faults after which the platform starts a container again (or creates it anew). */
const REPAIRED_FAULTS: ReadonlySet<FaultRecord["kind"]> = new Set(["container-kill", "container-remove"]);

/** Podman's clock and the gate's are one, but a start is stamped as it happens: a little slack. */
export const EDGE_MS = 1_000;

type Span = { app: string; from: number; to: number; what: string };

/** The time each cell and setup step ran, with what it was (those without a start time are left out). */
function spans(cells: readonly Cell[], setup: readonly SetupRecord[]): Array<Span & { step: StepId }> {
  const out: Array<Span & { step: StepId }> = [];
  for (const c of cells)
    if (c.startedAt !== undefined && c.status !== "skip")
      out.push({
        app: c.app,
        step: c.step,
        from: c.startedAt,
        to: c.startedAt + (c.durationMs ?? 0),
        what: `iteration ${c.iteration}, ${c.step} of ${c.app}`,
      });
  for (const s of setup)
    if (s.startedAt !== undefined)
      out.push({
        app: s.app,
        step: s.step,
        from: s.startedAt,
        to: s.startedAt + s.durationMs,
        what: `iteration ${s.iteration}, setup ${s.step} of ${s.app}`,
      });
  return out.sort((a, b) => a.from - b.from);
}

/** When the gate expects each app's containers to start (see the module comment). */
export function expectedStarts(
  cells: readonly Cell[],
  setup: readonly SetupRecord[],
  faults: readonly FaultRecord[],
): Span[] {
  const all = spans(cells, setup);
  const expected: Span[] = all.filter((s) => STARTING_STEPS.has(s.step));
  for (const fault of faults) {
    if (!fault.injected || !fault.app || !REPAIRED_FAULTS.has(fault.kind)) continue;
    const next = all.find((s) => s.app === fault.app && s.to >= fault.at);
    expected.push({
      app: fault.app,
      from: fault.at,
      to: next ? next.to : Number.POSITIVE_INFINITY,
      what: `fault ${fault.id}`,
    });
  }
  return expected;
}

/** The starts outside every span the gate expects for their app, each with what the gate was doing. */
export function unexpectedStarts(
  starts: readonly ContainerStart[],
  cells: readonly Cell[],
  setup: readonly SetupRecord[],
  faults: readonly FaultRecord[],
): RestartRecord {
  const expected = expectedStarts(cells, setup, faults);
  const all = spans(cells, setup);
  const unexpected = starts
    .filter(
      (start) =>
        !expected.some(
          (s) => s.app === start.app && start.at >= s.from - EDGE_MS && start.at <= s.to + EDGE_MS,
        ),
    )
    .map((start) => ({
      ...start,
      during:
        all.find((s) => start.at >= s.from && start.at <= s.to)?.what ??
        "between cells (the gate was not acting)",
    }));
  return { starts: starts.length, unexpected };
}
