/**
 * When lifecycle hooks run, decided purely: which hook an operation leaves due (`hookAfter`, at
 * the lifecycle), and when the reconciler runs the one due (`hookDue` before a round's actions,
 * `hookDueOnceRunning` once the app runs). Running them is hooks.ts's.
 */
import type { HookName } from "../manifest/schema.ts";
import type { ObservedContainer } from "../runtime/observed.ts";
import type { DesiredState, OperationKind } from "./model.ts";
import type { Action } from "./planner.ts";

/**
 * The hook due after an operation, given the one already due: a first install's post_install (or an
 * update's post_update) stays due until the app has run once; uninstall always runs pre_uninstall,
 * purge pre_purge first (then pre_uninstall).
 */
export function hookAfter(
  kind: OperationKind,
  due: HookName | undefined,
  firstInstall: boolean,
): HookName | undefined {
  if (kind === "uninstall") return "pre_uninstall";
  if (kind === "purge") return "pre_purge";
  if (firstInstall) return "post_install";
  if (due === "post_install" || kind === "install") return due;
  if (kind === "update") return "post_update";
  if (kind === "start" || kind === "restart") return due ?? "pre_start";
  return due === "pre_uninstall" || due === "pre_purge" ? undefined : due;
}

/** What to do about hooks before a round's actions run. */
export type HookStep =
  /** Run pre_start now; `clearsDue` when it was the hook due (not only a new container's first start). */
  | { kind: "pre_start"; clearsDue: boolean }
  /** Run pre_uninstall now (the app is going). */
  | { kind: "pre_uninstall" }
  /** Run pre_purge now, then pre_uninstall (the app and its data are going). */
  | { kind: "pre_purge" }
  /**
   * A purge with no container left to stop (what an uninstall kept): pre_purge cannot run, but the
   * removal of the app's accounts in its dependencies can (it runs in theirs).
   */
  | { kind: "deprovision" }
  /** pre_start cannot run yet: why, for the operation log. */
  | { kind: "wait"; message: string }
  | { kind: "none" };

export type HookRound = {
  /** The hook the lifecycle left due. */
  due: HookName | undefined;
  desired: DesiredState;
  /** The containers pre_start's steps run in or copy into (hooks.ts `hookTargets`). */
  preStartTargets: readonly string[];
  actions: readonly Action[];
  seen: readonly Pick<ObservedContainer, "id" | "key" | "state" | "backend">[];
};

/**
 * pre_start copies into its containers before an operator's start or restart, and before the
 * first start of a new one (install, reinstall, update, one removed by hand): one this round
 * creates gets them in a later round, before its start, or once it runs. A Quadlet unit runs a new
 * container at every start (none while it is down, and a restart replaces it), so Quadlet
 * containers get them once they run (`hookDueOnceRunning`). pre_uninstall (a purge's pre_purge
 * first) runs before an uninstall stops or removes anything.
 */
export function hookDue(round: HookRound): HookStep {
  const { due, preStartTargets, actions, seen } = round;
  const acts = (...kinds: Action["kind"][]) => actions.some((a) => kinds.includes(a.kind));
  const firstStart = actions.some(
    (a) =>
      a.kind === "start" &&
      preStartTargets.includes(a.key) &&
      seen.find((c) => c.id === a.container.id)?.state === "created",
  );
  const preStart = due === "pre_start" || firstStart;
  const uncreated = preStart ? preStartTargets.filter((key) => !seen.some((c) => c.key === key)) : [];
  const byUnit = preStartTargets.filter((key) => seen.some((c) => c.key === key && c.backend === "quadlet"));
  if (preStart && acts("start", "create", "restart") && uncreated.length === 0 && byUnit.length === 0)
    return { kind: "pre_start", clearsDue: due === "pre_start" };
  if (
    (due === "pre_uninstall" || due === "pre_purge") &&
    round.desired === "absent" &&
    acts("stop", "remove")
  )
    return { kind: due };
  if (due === "pre_purge" && round.desired === "absent" && acts("purge-data")) return { kind: "deprovision" };
  if (uncreated.length > 0 && acts("create"))
    return { kind: "wait", message: `the pre_start hook waits until ${uncreated.join(", ")} is created` };
  if (due === "pre_start" && byUnit.length > 0 && acts("start", "restart"))
    return {
      kind: "wait",
      message: `the pre_start hook waits until ${byUnit.join(", ")} runs again from its Quadlet unit`,
    };
  return { kind: "none" };
}

/**
 * The hook to run once the app has converged running: post_install or post_update, and pre_start
 * still due (its containers were created and started at once, or are Quadlet containers, new at
 * every start).
 */
export function hookDueOnceRunning(due: HookName | undefined): HookName | undefined {
  return due === "post_install" || due === "post_update" || due === "pre_start" ? due : undefined;
}
