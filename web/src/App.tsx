/** The routes: the first run and the login outside the console; the console's pages inside it. */

import { useEffect } from "react";
import { Route, Switch, useLocation } from "wouter";
import { Shell } from "./components/Shell.tsx";
import { AppPage } from "./pages/AppPage.tsx";
import { Backups } from "./pages/Backups.tsx";
import { MyApps } from "./pages/MyApps.tsx";
import { Settings } from "./pages/Settings.tsx";
import { Store, StoreApp } from "./pages/Store.tsx";
import { Login, Setup, Unreachable } from "./pages/Welcome.tsx";
import { connectLiveData } from "./queries.ts";
import { useSession } from "./session.tsx";

const TITLES: Array<[RegExp, string]> = [
  [/^\/apps\//, "App"],
  [/^\/store\/./, "App Store"],
  [/^\/store/, "App Store"],
  [/^\/settings/, "Settings"],
  [/^\/backups/, "Backups"],
  [/^\/login/, "Log in"],
  [/^\/setup/, "Set your password"],
];

function useTitle() {
  const [path] = useLocation();
  useEffect(() => {
    const found = TITLES.find(([pattern]) => pattern.test(path));
    document.title = `${found ? found[1] : "My Apps"} · Archipelago`;
  }, [path]);
}

export function App() {
  const { state } = useSession();
  const [, navigate] = useLocation();
  useTitle();
  useEffect(() => (state === "in" ? connectLiveData() : undefined), [state]);
  useEffect(() => {
    if (state === "setup" && window.location.pathname !== "/setup") navigate("/setup", { replace: true });
  }, [state, navigate]);
  if (state === "loading")
    return (
      <main className="welcome" id="main">
        <span className="spinner" role="status" aria-label="Loading" />
      </main>
    );
  if (state === "unreachable") return <Unreachable />;
  if (state === "setup") return <Setup />;
  if (state === "login") return <Login />;
  return (
    <Shell>
      <Switch>
        <Route path="/">{() => <MyApps />}</Route>
        <Route path="/apps/:id">
          {(params) => <AppPage key={params.id} id={decodeURIComponent(params.id)} />}
        </Route>
        <Route path="/store">{() => <Store />}</Route>
        <Route path="/store/:id">
          {(params) => <StoreApp key={params.id} id={decodeURIComponent(params.id)} />}
        </Route>
        <Route path="/settings">{() => <Settings />}</Route>
        <Route path="/backups">{() => <Backups />}</Route>
        <Route path="/login">{() => <Redirect />}</Route>
        <Route path="/setup">{() => <Redirect />}</Route>
        <Route>
          <div className="page">
            <h1>Not found</h1>
            <p className="muted">There is no such page.</p>
          </div>
        </Route>
      </Switch>
    </Shell>
  );
}

/** Logged in already: the login and setup pages lead home. */
function Redirect() {
  const [, navigate] = useLocation();
  useEffect(() => navigate("/", { replace: true }), [navigate]);
  return null;
}
