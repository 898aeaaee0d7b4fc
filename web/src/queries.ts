/**
 * Reads through TanStack Query, keyed by method and params, and the live events that keep them
 * current: an app's phase is written into the cached lists as it arrives (no polling), a finished
 * operation or a removed app has the affected reads fetched again, and a stream that could not
 * catch up after a reconnect has every read fetched again.
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

let listRefresh: ReturnType<typeof setTimeout> | undefined;
/** Reads the list again soon (observations, containers), once for a burst of events. */
function refreshListSoon(): void {
  if (listRefresh) return;
  listRefresh = setTimeout(() => {
    listRefresh = undefined;
    void queryClient.invalidateQueries({ queryKey: ["package.list"] });
  }, 400);
}

/** Wires the event stream into the cache; returns the unwiring. */
export function connectLiveData(): () => void {
  const offResync = stream.onResync(() => void queryClient.invalidateQueries());
  const offEvent = stream.onEvent((event) => {
    switch (event.type) {
      case "app": {
        const patch = (app: AppList[number]) =>
          app.id === event.appId ? { ...app, phase: event.phase, reason: event.reason ?? null } : app;
        const list = queryClient.getQueryData<AppList>(["package.list"]);
        if (list && !list.some((app) => app.id === event.appId)) refreshListSoon();
        queryClient.setQueryData<AppList>(["package.list"], (apps) => apps?.map(patch));
        queryClient.setQueryData<AppList[number]>(["package.get", { id: event.appId }], (app) =>
          app ? patch(app) : app,
        );
        if (event.phase === "running" || event.phase === "stopped" || event.phase === "failed") {
          refreshListSoon();
          void queryClient.invalidateQueries({ queryKey: ["package.get", { id: event.appId }] });
        }
        break;
      }
      case "app-removed":
        queryClient.setQueryData<AppList>(["package.list"], (apps) =>
          apps?.filter((a) => a.id !== event.appId),
        );
        void queryClient.invalidateQueries({ queryKey: ["package.get", { id: event.appId }] });
        void queryClient.invalidateQueries({ queryKey: ["package.available"] });
        break;
      case "operation":
        void queryClient.invalidateQueries({ queryKey: ["operation.list", { appId: event.appId }] });
        if (event.state === "succeeded" || event.state === "failed") {
          refreshListSoon();
          void queryClient.invalidateQueries({ queryKey: ["package.get", { id: event.appId }] });
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
