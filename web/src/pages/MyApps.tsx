/**
 * My Apps: every installed app with its phase, its reason, a link to its UI, an update badge and
 * the age of what is shown. Answered from the daemon's store, so a slow or restarting Podman never
 * empties it: the last known state stays, with its age, and a note says Podman is not answering.
 */
import { useMutation } from "@tanstack/react-query";
import { Link } from "wouter";
import { client } from "../api.ts";
import { AppTile } from "../components/AppTile.tsx";
import { ErrorNote } from "../components/ErrorNote.tsx";
import { Icon } from "../components/Icon.tsx";
import { PhaseBadge } from "../components/PhaseBadge.tsx";
import { useNow } from "../components/useNow.ts";
import { counted } from "../counted.ts";
import { type AppView, ago, categoryName } from "../format.ts";
import { useCall } from "../queries.ts";
import { KeptData } from "./KeptData.tsx";

/** An observation older than this means Podman has not answered for a while (resyncs are ~30 s apart). */
const STALE_MS = 90_000;

/** How old an app's observation is now: its age when read, plus the time since. */
export function ageNow(app: AppView, readAt: number, now: number): number | null {
  return app.observedAgeMs === null ? null : app.observedAgeMs + Math.max(0, now - readAt);
}

function RetryButton({ id }: { id: string }) {
  const retry = useMutation({ mutationFn: () => client.call("package.retry", { id }) });
  return (
    <>
      <button
        type="button"
        className="button button-small"
        onClick={() => retry.mutate()}
        disabled={retry.isPending}
        aria-label={`Retry ${id}`}
      >
        <Icon name="refresh" size={16} />
        Retry
      </button>
      {retry.error && <ErrorNote error={retry.error} />}
    </>
  );
}

function AppCard({ app, age, update }: { app: AppView; age: number | null; update: boolean }) {
  const url = app.interfaces.find((i) => i.url)?.url;
  const stale = age !== null && age > STALE_MS;
  return (
    <li className="card app-card" data-app={app.id}>
      <div className="app-card-head">
        <AppTile id={app.id} name={app.name} icon={app.icon} />
        <div className="app-card-title">
          <h2>
            <Link href={`/apps/${encodeURIComponent(app.id)}`} className="stretched">
              {app.name}
            </Link>
          </h2>
          <p className="muted small">
            {app.version} · {categoryName(app.category)}
          </p>
        </div>
        <PhaseBadge phase={app.phase} />
      </div>
      {app.reason && (
        <p className={`reason ${app.phase === "failed" ? "reason-bad" : ""}`} data-testid="reason">
          {app.reason}
        </p>
      )}
      <div className="app-card-foot">
        <div className="row">
          {url && app.phase === "running" && (
            <a
              className="button button-small button-primary raised"
              href={url}
              target="_blank"
              rel="noreferrer noopener"
            >
              Open <Icon name="external" size={14} />
              <span className="visually-hidden"> {app.name} (new tab)</span>
            </a>
          )}
          {app.phase === "failed" && (
            <span className="raised">
              <RetryButton id={app.id} />
            </span>
          )}
          {update && (
            <span className="chip chip-accent" title="A newer version is offered">
              Update available
            </span>
          )}
        </div>
        <span className={`age ${stale ? "age-stale" : ""}`} data-testid="age">
          {age === null ? "not observed yet" : `as of ${ago(age)}`}
        </span>
      </div>
    </li>
  );
}

export function MyApps() {
  const now = useNow();
  const apps = useCall("package.list", undefined, { refetchInterval: 15_000 });
  const available = useCall("package.available");
  const info = useCall("system.info", undefined, { refetchInterval: 15_000 });
  const updates = new Set((available.data ?? []).filter((a) => a.updateAvailable).map((a) => a.id));
  const list = apps.data ?? [];
  const ages = list.map((app) => ageNow(app, apps.dataUpdatedAt, now));
  const oldest = Math.max(0, ...ages.map((a) => a ?? 0));
  const podmanDown = info.data?.backend === "connecting to Podman";
  const attention = list.filter((a) => a.phase === "failed").length;
  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1>My Apps</h1>
          <p className="muted">
            {apps.isPending
              ? "Loading…"
              : list.length === 0
                ? "No apps installed yet."
                : `${counted(list.length, "app")}${attention ? ` · ${attention} need${attention === 1 ? "s" : ""} attention` : ""}`}
          </p>
        </div>
        <Link href="/store" className="button button-primary">
          <Icon name="store" size={16} /> App Store
        </Link>
      </header>
      {list.length > 0 && (podmanDown || oldest > STALE_MS) && (
        <div className="banner banner-warn" role="status" data-testid="stale">
          <Icon name="alert" />
          <span>
            Podman is not answering: this is the last known state, as of {ago(oldest)}. It updates by itself
            once Podman answers again.
          </span>
        </div>
      )}
      {apps.error && <ErrorNote error={apps.error} title="Could not load your apps" />}
      {!apps.isPending && list.length === 0 && !apps.error && (
        <div className="empty">
          <Icon name="apps" size={40} />
          <h2>Nothing here yet</h2>
          <p className="muted">Install your first app from the App Store: it will show here, live.</p>
          <Link href="/store" className="button button-primary">
            Browse the App Store
          </Link>
        </div>
      )}
      <ul className="grid" aria-label="Installed apps">
        {list.map((app, i) => (
          <AppCard key={app.id} app={app} age={ages[i] ?? null} update={updates.has(app.id)} />
        ))}
      </ul>
      <KeptData />
    </div>
  );
}
