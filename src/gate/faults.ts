/**
 * Fault mode (`--chaos`), planned without I/O: before every judged step but the first, one fault,
 * and the step must pass anyway. The kinds take turns (the next one that applies to the gap), and a
 * seeded generator picks targets and delays, so a run can be repeated exactly with its seed.
 *
 * - `container-kill`: SIGKILL to one container of an app that runs (the daemon must notice and
 *   bring it back before the step's checks pass);
 * - `container-remove`: `podman rm -f` of one container of an installed app (it must be recreated);
 * - `podman-restart`: the Podman service the daemon talks to stops and starts again;
 * - `daemon-sigkill`: the daemon is SIGKILLed while an operation of the step is in flight, right
 *   after the daemon accepted it, and started again (as systemd would): the operation must finish.
 */
import { allPhases, type GatePlan, type Phase, STEP_INFO, type StepId } from "./matrix.ts";

export const FAULT_KINDS = [
  "container-kill",
  "container-remove",
  "podman-restart",
  "daemon-sigkill",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export type PlannedFault = {
  /** `f<iteration>.<phase index>`: unique in a run. */
  id: string;
  kind: FaultKind;
  iteration: number;
  /** The phase (by index in its iteration) the fault comes before, or during for `daemon-sigkill`. */
  phaseIndex: number;
  step: StepId;
  /** The app whose container is hit, or whose operation is in flight when the daemon dies. */
  app?: string;
  /** The container key (container faults). */
  container?: string;
  /** `daemon-sigkill`: how long after the daemon accepted the operation it is killed. */
  delayMs?: number;
};

/** A small seeded generator (mulberry32): the same seed gives the same faults. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type FaultInput = {
  plan: GatePlan;
  /** The kinds this environment can inject (e.g. no `podman-restart` when the gate does not own Podman). */
  kinds: readonly FaultKind[];
  /** Container keys of each app. */
  containers: Record<string, readonly string[]>;
  seed: number;
  /** Upper bound of the `daemon-sigkill` delay (default 1500 ms). */
  maxDelayMs?: number;
};

/** Apps that take part in the phase (not skipped). */
function judgedApps(phase: Phase): string[] {
  return phase.order.filter((id) => !(id in phase.skipped));
}

/** What a fault of `kind` could hit before `phase`, or undefined when it does not apply there. */
function targetsFor(
  kind: FaultKind,
  phase: Phase,
  containers: Record<string, readonly string[]>,
): string[] | undefined {
  const apps = judgedApps(phase);
  if (apps.length === 0) return undefined;
  switch (kind) {
    case "container-kill":
      return nonEmpty(
        apps.filter((id) => phase.before[id] === "running" && (containers[id]?.length ?? 0) > 0),
      );
    case "container-remove":
      return nonEmpty(
        apps.filter((id) => phase.before[id] !== "absent" && (containers[id]?.length ?? 0) > 0),
      );
    case "podman-restart":
      return [];
    case "daemon-sigkill":
      return STEP_INFO[phase.step].scope === "app" && STEP_INFO[phase.step].method ? apps : undefined;
  }
}

function nonEmpty<T>(list: T[]): T[] | undefined {
  return list.length > 0 ? list : undefined;
}

/** The faults of a chaos run: one per gap between judged steps, kinds in turn, targets seeded. */
export function planFaults(input: FaultInput): PlannedFault[] {
  if (input.kinds.length === 0) return [];
  const random = seededRandom(input.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const maxDelayMs = input.maxDelayMs ?? 1_500;
  const faults: PlannedFault[] = [];
  let turn = 0;
  let first = true;
  for (const { iteration, index, phase } of allPhases(input.plan)) {
    if (iteration === 0 || !phase.judged) continue;
    if (judgedApps(phase).length === 0) continue;
    if (first) {
      first = false;
      continue;
    }
    for (let attempt = 0; attempt < input.kinds.length; attempt++) {
      const kind = input.kinds[(turn + attempt) % input.kinds.length] as FaultKind;
      const targets = targetsFor(kind, phase, input.containers);
      if (!targets) continue;
      const fault: PlannedFault = {
        id: `f${iteration}.${index}`,
        kind,
        iteration,
        phaseIndex: index,
        step: phase.step,
      };
      if (kind === "container-kill" || kind === "container-remove") {
        fault.app = pick(targets);
        fault.container = pick(input.containers[fault.app] ?? []);
      } else if (kind === "daemon-sigkill") {
        fault.app = pick(targets);
        fault.delayMs = Math.round(random() * maxDelayMs);
      }
      faults.push(fault);
      turn = (turn + attempt + 1) % input.kinds.length;
      break;
    }
  }
  return faults;
}

/** A one-line description of a fault, for progress lines and the report. */
export function describeFault(fault: PlannedFault): string {
  switch (fault.kind) {
    case "container-kill":
      return `SIGKILL to container ${fault.app}/${fault.container} before ${fault.step}`;
    case "container-remove":
      return `podman rm -f of container ${fault.app}/${fault.container} before ${fault.step}`;
    case "podman-restart":
      return `Podman service restarted before ${fault.step}`;
    case "daemon-sigkill":
      return `daemon SIGKILLed ${fault.delayMs} ms after accepting ${fault.step} of ${fault.app}, then started again`;
  }
}
