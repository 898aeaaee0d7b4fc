/**
 * Reads through TanStack Query, keyed by method and params, and the live events that keep them
 * current: an app's phase, its changed view (`app-view`) and its observation's age are written into
 * the cached list and the app's own read as they arrive (no polling, no read of the list again), a
 * finished operation or a removed app has the other affected reads fetched again, and a stream that
 * could not catch up after a reconnect has every read fetched again.
 */
import { QueryClient, type UseQueryOptions, useQuery } from "@tanstack/react-query";
import { client, type MethodName, type Params, type Result, stream } from "./api.ts";

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // Events keep data fresh; a read is fetched again only when an event or the user asks.
      staleTime: Number.POSITIVE_INFINITY,
      refetchOnWindowFocus: false,
      retry: (count, error) => count < 2 && (error as Error)?.name === "TransportError",
    },
  },
});

export const keyOf = <M extends MethodName>(method: M, params?: Params<M>) =>
  params === undefined ? [method] : [method, params];

/** A read of `method`, cached under [method, params]. */
export function useCall<M extends MethodName>(
  method: M,
  params?: Params<M>,
  options: Omit<UseQueryOptions<Result<M>, Error>, "queryKey" | "queryFn"> = {},
) {
  return useQuery<Result<M>, Error>({
    queryKey: keyOf(method, params),
    queryFn: () => (client.call as (m: M, p?: Params<M>) => Promise<Result<M>>)(method, params),
    ...options,
  });
}

type AppList = Result<"package.list">;
type App = AppList[number];

/**
 * Writes into the cached list (and the app's own read) without reading them again. A cached view's
 * `observedAgeMs` is its age when the cache was written (the pages add the time since): the apps not
 * changed here are moved on to now, since writing makes the cache as of now.
 */
function patchApps(change: (app: App) => App | undefined, added?: App): void {
  const key = ["package.list"];
  const readAt = queryClient.getQueryState(key)?.dataUpdatedAt ?? Date.now();
  const since = Math.max(0, Date.now() - readAt);
  queryClient.setQueryData<AppList>(key, (apps) => {
    if (!apps) return apps;
    const moved = apps.map((app) => ({
      ...app,
      observedAgeMs: app.observedAgeMs === null ? null : app.observedAgeMs + since,
    }));
    const next = moved.flatMap((app) => change(app) ?? []);
    if (!added || next.some((app) => app.id === added.id)) return next;
    // A new app takes its place in the list's order (by id, as the daemon lists).
    return [...next, added].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  });
}

/** Wires the event stream into the cache; returns the unwiring. */
export function connectLiveData(): () => void {
  const offResync = stream.onResync(() => void queryClient.invalidateQueries());
  const offEvent = stream.onEvent((event) => {
    switch (event.type) {
      case "app": {
        // The phase at once; the rest of the view follows in its `app-view`.
        const patch = (app: App) =>
          app.id === event.appId ? { ...app, phase: event.phase, reason: event.reason ?? null } : app;
        queryClient.setQueryData<AppList>(["package.list"], (apps) => apps?.map(patch));
        queryClient.setQueryData<App>(["package.get", { id: event.appId }], (app) =>
          app ? patch(app) : app,
        );
        break;
      }
      case "app-view":
        patchApps((app) => (app.id === event.appId ? event.app : app), event.app);
        queryClient.setQueryData<App>(["package.get", { id: event.appId }], event.app);
        break;
      case "apps-observed": {
        const ages = event.observedAgeMs;
        patchApps((app) => (app.id in ages ? { ...app, observedAgeMs: ages[app.id] ?? null } : app));
        for (const [id, age] of Object.entries(ages))
          queryClient.setQueryData<App>(["package.get", { id }], (app) =>
            app ? { ...app, observedAgeMs: age ?? null } : app,
          );
        break;
      }
      case "app-removed":
        patchApps((app) => (app.id === event.appId ? undefined : app));
        void queryClient.invalidateQueries({ queryKey: ["package.get", { id: event.appId }] });
        void queryClient.invalidateQueries({ queryKey: ["package.available"] });
        // An uninstall that kept the data leaves it to purge; a purge leaves nothing.
        void queryClient.invalidateQueries({ queryKey: ["package.kept"] });
        break;
      case "operation":
        void queryClient.invalidateQueries({ queryKey: ["operation.list", { appId: event.appId }] });
        if (event.state === "succeeded" || event.state === "failed") {
          void queryClient.invalidateQueries({ queryKey: ["package.available"] });
          void queryClient.invalidateQueries({ queryKey: ["backup.snapshots"] }); // a backup or restore made one
        }
        break;
      case "log":
        break; // followed by the operation's own view (followOperation)
    }
  });
  return () => {
    offResync();
    offEvent();
  };
}
