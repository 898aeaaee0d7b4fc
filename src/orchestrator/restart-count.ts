/**
 * How many times a container started again since it was created, counted from the observations
 * the reconciler stores. Podman's own RestartCount counts only the restarts of its restart policy,
 * which the platform does not use: the daemon restarts an exited or unhealthy container itself, and
 * the operator restarts one, with a plain start, which leaves Podman's count at 0. What every one of
 * those leaves the same container (same id) with a later start. A Quadlet unit runs a new
 * container at each start (`--rm`): there, a new container of the same spec is the same one started
 * again. Any other new container (recreated, updated) starts again from 0.
 */

type Seen = {
  containerId: string;
  startedAt: number | undefined;
  backend: string;
  specHash: string | undefined;
};

/** Whether `current` is `previous` started again rather than a container of its own. */
function sameContainer(previous: Seen, current: Seen): boolean {
  if (previous.containerId === current.containerId) return true;
  return (
    current.backend === "quadlet" &&
    previous.backend === "quadlet" &&
    current.specHash !== undefined &&
    current.specHash === previous.specHash
  );
}

/**
 * The restart count of `current` given the stored observation of its key (`previous`, with the
 * count it had). Starts compare by the second: the list reports whole seconds, and a start asked
 * for to the millisecond (a restart request's) must not count as another.
 */
export function restartCount(previous: (Seen & { restarts: number }) | undefined, current: Seen): number {
  if (previous === undefined || !sameContainer(previous, current)) return 0;
  const second = (ms: number | undefined) => (ms === undefined ? undefined : Math.floor(ms / 1000));
  const before = second(previous.startedAt);
  const now = second(current.startedAt);
  return before !== undefined && now !== undefined && now > before
    ? previous.restarts + 1
    : previous.restarts;
}
