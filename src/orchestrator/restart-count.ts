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
 * What to store of `current`'s starts given the stored observation of its key (`previous`): its
 * last start and its restart count. A Quadlet container that is down is observed from its unit,
 * without a start: the last one is carried over, so that the next start counts. Starts compare by
 * the second: the list reports whole seconds, and a start asked for to the millisecond (a restart
 * request's) must not count as another.
 */
export function startsOf(
  previous: (Seen & { restarts: number }) | undefined,
  current: Seen,
): { startedAt: number | undefined; restarts: number } {
  if (previous === undefined || !sameContainer(previous, current))
    return { startedAt: current.startedAt, restarts: 0 };
  const second = (ms: number | undefined) => (ms === undefined ? undefined : Math.floor(ms / 1000));
  const before = second(previous.startedAt);
  const now = second(current.startedAt);
  return {
    startedAt: current.startedAt ?? previous.startedAt,
    restarts:
      before !== undefined && now !== undefined && now > before ? previous.restarts + 1 : previous.restarts,
  };
}
