/**
 * Which targets role answers for a target path, the way TUF's client looks a target up (client
 * workflow 5.6.7; tuf-js's `preorderDepthFirstWalk`): the top-level `targets` role first, then the
 * delegations whose paths match the target, depth first in their order; a terminating delegation
 * ends the search of every other role. Pure, over metadata already verified.
 *
 * A role that could not be verified (its metadata failed, or it signed outside what it was
 * delegated) answers nothing, and a search that reaches it ends there: TUF aborts the lookup of
 * that path, so no role visited after it may answer instead. That keeps one failing namespace from
 * hiding anything else, and never lets another role take its targets.
 */
import type { Targets } from "@tufjs/models";

export type Lookup = { role: string } | { failed: string } | undefined;

/** How many delegated roles a lookup visits at most (the TUF client's limit too: source.ts). */
export const MAX_DELEGATIONS = 32;

export function lookUp(
  path: string,
  roles: ReadonlyMap<string, Targets>,
  failed: ReadonlySet<string>,
  maxDelegations = MAX_DELEGATIONS,
): Lookup {
  const toVisit = ["targets"];
  const visited = new Set<string>();
  while (visited.size <= maxDelegations && toVisit.length > 0) {
    const name = toVisit.pop() as string;
    if (visited.has(name)) continue;
    if (failed.has(name)) return { failed: name };
    const targets = roles.get(name);
    if (!targets) continue;
    if (targets.targets[path]) return { role: name };
    visited.add(name);
    const children: string[] = [];
    for (const { role, terminating } of targets.delegations?.rolesForTarget(path) ?? []) {
      children.push(role);
      if (terminating) {
        toVisit.length = 0;
        break;
      }
    }
    toVisit.push(...children.reverse());
  }
  return undefined;
}
