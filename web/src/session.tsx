/**
 * Who is using the page: a node without a password (first run: set one), a visitor (log in), or the
 * operator (the console). A page loaded with a valid session cookie gets its CSRF token back
 * (auth.session) and goes straight in. A session that ends while in use (expired, logged out
 * elsewhere, password changed) sends the page to the login, keeping where the operator was in the
 * URL (`/login?next=/apps/notes`) to come back to after logging in.
 */
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from "react";
import { useLocation } from "wouter";
import { client, isRpcError, onSessionLost, stream } from "./api.ts";
import { queryClient } from "./queries.ts";

export type SessionState = "loading" | "setup" | "login" | "in" | "unreachable";

type SessionValue = {
  state: SessionState;
  /** Why the login page shows (the session ended, …). */
  notice: string | undefined;
  /** After auth.setup or auth.login succeeded. */
  enter: () => void;
  logout: () => Promise<void>;
  /** Tries again to reach the daemon. */
  retry: () => void;
};

const SessionContext = createContext<SessionValue | undefined>(undefined);

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession outside SessionProvider");
  return value;
}

/** Where to come back to after logging in: a path of this UI only. */
export function nextPath(search: string): string {
  const next = new URLSearchParams(search).get("next") ?? "/";
  return /^\/(?!\/)[^\\]*$/.test(next) && !next.startsWith("/login") && !next.startsWith("/setup")
    ? next
    : "/";
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>("loading");
  const [notice, setNotice] = useState<string | undefined>();
  const [attempt, setAttempt] = useState(0);
  const [location, navigate] = useLocation();

  const toLogin = useCallback(
    (why: string | undefined) => {
      stream.close();
      queryClient.clear();
      client.forgetSession();
      setNotice(why);
      setState("login");
      const here = window.location.pathname + window.location.search;
      if (!window.location.pathname.startsWith("/login"))
        navigate(here === "/" ? "/login" : `/login?next=${encodeURIComponent(here)}`, { replace: true });
    },
    [navigate],
  );

  // First: is there a password, and a session?
  useEffect(() => {
    void attempt;
    let cancelled = false;
    (async () => {
      try {
        // Both at once (the session is asked for before knowing whether a password is set: one
        // round trip instead of two), and the operator's apps as soon as the session is there.
        const session = client.call("auth.session").then(() => {
          void queryClient.prefetchQuery({
            queryKey: ["package.list"],
            queryFn: () => client.call("package.list"),
          });
        });
        session.catch(() => {});
        const info = await client.call("system.info");
        if (cancelled) return;
        if (!info.setUp) {
          setState("setup");
          return;
        }
        await session;
        if (cancelled) return;
        setState("in");
      } catch (error) {
        if (cancelled) return;
        if (isRpcError(error, "unauthenticated")) toLogin(undefined);
        else setState("unreachable");
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [attempt, toLogin]);

  // Later: a call or the stream refused for want of a session.
  useEffect(
    () =>
      onSessionLost(() => {
        if (state === "in") toLogin("Your session has ended: log in again to continue.");
      }),
    [state, toLogin],
  );
  useEffect(
    () =>
      stream.onStatus(({ status }) => {
        if (status === "unauthenticated" && state === "in")
          toLogin("Your session has ended: log in again to continue.");
      }),
    [state, toLogin],
  );
  useEffect(() => {
    if (state !== "in") return;
    stream.start();
    return () => stream.close();
  }, [state]);

  const value = useMemo<SessionValue>(
    () => ({
      state,
      notice,
      enter: () => {
        setNotice(undefined);
        setState("in");
        navigate(nextPath(window.location.search), { replace: true });
      },
      logout: async () => {
        try {
          await client.call("auth.logout");
        } finally {
          toLogin(undefined);
        }
      },
      retry: () => {
        setState("loading");
        setAttempt((n) => n + 1);
      },
    }),
    [state, notice, navigate, toLogin],
  );
  void location;
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}
