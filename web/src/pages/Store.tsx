/**
 * The App Store: every app the sources offer (the local apps folder, each signed catalog) and the
 * marketplace's relays, with where it comes from and how far to trust it (a marketplace publisher's
 * trust score, computed on the node, with its reasons), searchable and by category; and the page of a
 * source's app, saying what it asks of the node in plain words before the one-click install. A
 * missing dependency is offered for install first. A marketplace app installs from its card
 * (MarketInstall.tsx): what it asks is known once its bundle is verified, at install.
 */
import { useMutation } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link, useLocation } from "wouter";
import { followOperation } from "../../../src/client/operations.ts";
import { client, isRpcError, type Result, stream } from "../api.ts";
import { AppTile } from "../components/AppTile.tsx";
import { ErrorNote } from "../components/ErrorNote.tsx";
import { Icon } from "../components/Icon.tsx";
import { VerifiedHandle } from "../components/Nip05.tsx";
import {
  PermissionList,
  type PermissionRequest,
  permissionsToApprove,
} from "../components/PermissionList.tsx";
import { PublisherTrust } from "../components/PublisherTrust.tsx";
import { categoryName, sourceLabel } from "../format.ts";
import { queryClient, useCall } from "../queries.ts";
import { MarketInstall } from "./MarketInstall.tsx";

type Offered = Result<"package.available">[number];

function TrustChip({ source }: { source: string }) {
  const { label, trust } = sourceLabel(source);
  return (
    <span className={`chip chip-${trust}`} title={source}>
      <Icon name={trust === "local" ? "folder" : "shield"} size={14} />
      {label}
    </span>
  );
}

export function Store() {
  const apps = useCall("package.available");
  const [search, setSearch] = useState("");
  const [category, setCategory] = useState<string | undefined>();
  const [fromMarket, setFromMarket] = useState<Offered | undefined>();
  const categories = useMemo(
    () => [...new Set((apps.data ?? []).map((a) => a.category))].sort(),
    [apps.data],
  );
  const needle = search.trim().toLowerCase();
  const shown = (apps.data ?? []).filter(
    (a) =>
      (!category || a.category === category) &&
      (!needle || `${a.name} ${a.id} ${a.description}`.toLowerCase().includes(needle)),
  );
  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1>App Store</h1>
          <p className="muted">
            Apps offered by this node's sources: its local apps folder, its signed catalogs and the
            marketplace's relays.
          </p>
        </div>
      </header>
      <div className="filters">
        <label className="inline-field search-field grow">
          <Icon name="search" size={16} />
          <span className="visually-hidden">Search apps</span>
          <input
            type="search"
            placeholder="Search apps"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
        </label>
        <fieldset className="chips" aria-label="Categories">
          <legend className="visually-hidden">Category</legend>
          <button
            type="button"
            className={`chip-button${category ? "" : " active"}`}
            aria-pressed={!category}
            onClick={() => setCategory(undefined)}
          >
            All
          </button>
          {categories.map((c) => (
            <button
              type="button"
              key={c}
              className={`chip-button${category === c ? " active" : ""}`}
              aria-pressed={category === c}
              onClick={() => setCategory(category === c ? undefined : c)}
            >
              {categoryName(c)}
            </button>
          ))}
        </fieldset>
      </div>
      {apps.error && <ErrorNote error={apps.error} title="Could not read the sources" />}
      {apps.isPending && <p className="muted">Loading…</p>}
      {apps.data && shown.length === 0 && <p className="muted">No app matches.</p>}
      <ul className="grid" aria-label="Apps offered">
        {shown.map((app) => (
          // The same id from two publishers is two apps: one card each.
          <li
            key={`${app.source} ${app.id}`}
            className="card store-card"
            data-app={app.id}
            data-source={app.source}
          >
            <div className="app-card-head">
              <AppTile id={app.id} name={app.name} icon={app.icon} />
              <div className="app-card-title">
                <h2>
                  {app.trust === null ? (
                    <Link href={`/store/${encodeURIComponent(app.id)}`} className="stretched">
                      {app.name}
                    </Link>
                  ) : (
                    app.name
                  )}
                </h2>
                <p className="muted small">
                  {app.version} · {categoryName(app.category)}
                </p>
              </div>
              {app.installed && (
                <span className={`chip ${app.updateAvailable ? "chip-accent" : "chip-good"}`}>
                  {app.updateAvailable ? "Update" : "Installed"}
                </span>
              )}
            </div>
            <p className="description clamp">{app.description}</p>
            <div className="app-card-foot">
              <TrustChip source={app.source} />
              <VerifiedHandle nip05={app.nip05} />
              {app.trust && <PublisherTrust trust={app.trust} />}
            </div>
            {app.trust && !app.installed && (
              <div>
                <button
                  type="button"
                  className="button button-small"
                  onClick={() => setFromMarket(app)}
                  aria-label={`Install ${app.name} from ${sourceLabel(app.source).label}`}
                >
                  Install
                </button>
              </div>
            )}
          </li>
        ))}
      </ul>
      <MarketInstall app={fromMarket} onClose={() => setFromMarket(undefined)} />
    </div>
  );
}

type Approvals = Record<string, Array<{ name: string; content: string }>>;

/**
 * Installs `ids` one after the other, each once the one before has finished, each with the
 * approvals of the permissions the operator was shown for it.
 */
async function installInOrder(
  ids: string[],
  approvals: Approvals,
  onStep: (text: string) => void,
): Promise<string> {
  let last = "";
  for (const id of ids) {
    onStep(`Installing ${id}…`);
    const accepted = await client.call("package.install", { id, approve: approvals[id] ?? [] });
    last = accepted.operationId;
    if (id !== ids.at(-1)) {
      const done = await followOperation(client, stream, accepted.operationId);
      if (done.state === "failed")
        throw new Error(`${id} could not be installed: ${done.error ?? "see its page"}`);
    }
  }
  return last;
}

export function StoreApp({ id }: { id: string }) {
  const [, navigate] = useLocation();
  const app = useCall("package.describe", { id }, { retry: false });
  const available = useCall("package.available");
  // The sources' apps: a marketplace app of the same id is another app (its own publisher's).
  const sourced = available.data?.filter((a) => a.trust === null);
  const offered = sourced?.find((a) => a.id === id);
  const [step, setStep] = useState<string | undefined>();
  const missing = (app.data?.dependencies ?? []).filter((d) => !d.installed);
  // The permissions of the app and of the apps it needs first, as the operator is shown them.
  const approvalsFor = (ids: string[], extra: PermissionRequest[] = []): Approvals =>
    Object.fromEntries(
      ids.map((appId) => [
        appId,
        // After a refusal: what the daemon says it asks now (the manifest may have changed).
        (appId === id && extra.length > 0
          ? extra
          : (sourced?.find((a) => a.id === appId)?.permissions ?? [])
        ).map(({ name, content }) => ({ name, content })),
      ]),
    );
  const install = useMutation({
    mutationFn: ({ ids, approvals }: { ids: string[]; approvals: Approvals }) =>
      installInOrder(ids, approvals, setStep),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["package.list"] });
      void queryClient.invalidateQueries({ queryKey: ["package.available"] });
      navigate(`/apps/${encodeURIComponent(id)}`);
    },
    onSettled: () => setStep(undefined),
  });
  // The daemon's own word on missing dependencies (it may know more than this page did).
  const refusedFor = isRpcError(install.error, "dependencyMissing")
    ? ((install.error.data as { missing?: string[] } | undefined)?.missing ?? [])
    : [];
  if (app.error)
    return (
      <div className="page">
        <Link href="/store" className="back">
          <Icon name="back" size={16} /> App Store
        </Link>
        <ErrorNote error={app.error} />
      </div>
    );
  if (!app.data)
    return (
      <div className="page">
        <p className="muted">Loading…</p>
      </div>
    );
  const view = app.data;
  const installable = missing.every((d) => d.offered);
  const order = [...missing.map((d) => d.id), id];
  const toApprove = order.flatMap((appId) => sourced?.find((a) => a.id === appId)?.permissions ?? []);
  const refusedPermissions = permissionsToApprove(install.error);
  return (
    <div className="page narrow">
      <Link href="/store" className="back">
        <Icon name="back" size={16} /> App Store
      </Link>
      <header className="app-head">
        <AppTile id={view.id} name={view.name} icon={offered?.icon} size="lg" />
        <div className="app-head-text">
          <h1>{view.name}</h1>
          <p className="muted">
            {view.version} · {categoryName(view.category)}
            {view.license ? ` · ${view.license}` : ""}
          </p>
          <TrustChip source={view.source} />
        </div>
        <div className="app-head-actions">
          {offered?.installed ? (
            <Link href={`/apps/${encodeURIComponent(id)}`} className="button button-primary">
              Installed: manage
            </Link>
          ) : (
            <button
              type="button"
              className="button button-primary button-large"
              disabled={install.isPending || !installable}
              onClick={() => install.mutate({ ids: order, approvals: approvalsFor(order) })}
            >
              {install.isPending
                ? (step ?? "Installing…")
                : missing.length > 0
                  ? `${toApprove.length > 0 ? "Approve and install" : "Install"} ${missing.map((d) => d.id).join(", ")} and ${view.name}`
                  : toApprove.length > 0
                    ? "Approve and install"
                    : "Install"}
            </button>
          )}
        </div>
      </header>
      <p className="description">{view.description}</p>
      {missing.length > 0 && !offered?.installed && (
        <div className="note note-warn" role="note">
          <Icon name="alert" />
          <p className="note-text">
            {view.name} needs {missing.map((d) => d.id).join(", ")}, not installed yet.{" "}
            {installable
              ? "Install installs it first, then this app."
              : `No source offers ${missing
                  .filter((d) => !d.offered)
                  .map((d) => d.id)
                  .join(", ")}: add a source that does.`}
          </p>
        </div>
      )}
      <ErrorNote error={install.error} title="Not installed" />
      {refusedPermissions.length > 0 && (
        <button
          type="button"
          className="button button-primary"
          onClick={() => install.mutate({ ids: [id], approvals: approvalsFor([id], refusedPermissions) })}
        >
          Approve what it asks now and install
        </button>
      )}
      {refusedFor.length > 0 && (
        <button
          type="button"
          className="button button-primary"
          onClick={() =>
            install.mutate({ ids: [...refusedFor, id], approvals: approvalsFor([...refusedFor, id]) })
          }
        >
          Install {refusedFor.join(", ")} first, then {view.name}
        </button>
      )}
      {(refusedPermissions.length > 0 || (toApprove.length > 0 && !offered?.installed)) && (
        <PermissionList
          permissions={refusedPermissions.length > 0 ? refusedPermissions : toApprove}
          names={order.length > 1 ? order : undefined}
        />
      )}
      <section className="section" aria-labelledby="needs-title">
        <h2 id="needs-title">What it needs</h2>
        {view.needs.length === 0 ? (
          <p className="muted">
            Nothing beyond its own containers: no port opened, no host folder, no device.
          </p>
        ) : (
          <ul className="needs">
            {view.needs.map((need) => (
              <li key={need.text} className={`need need-${need.kind}`}>
                {need.text}
              </li>
            ))}
          </ul>
        )}
      </section>
      {(view.interfaces.length > 0 || view.credentials.length > 0) && (
        <section className="section" aria-labelledby="gets-title">
          <h2 id="gets-title">What you get</h2>
          <ul className="needs">
            {view.interfaces.map((name) => (
              <li key={name} className="need">
                A web interface{name !== "ui" ? ` (${name})` : ""}, opened from My Apps
              </li>
            ))}
            {view.credentials.map((label) => (
              <li key={label} className="need">
                {label}: generated at install, shown on request
              </li>
            ))}
          </ul>
        </section>
      )}
      {Object.keys(view.links).length > 0 && (
        <section className="section" aria-labelledby="links-title">
          <h2 id="links-title">Links</h2>
          <ul className="links">
            {Object.entries(view.links).map(([name, url]) => (
              <li key={name}>
                <a href={url} target="_blank" rel="noreferrer noopener">
                  {name} <Icon name="external" size={14} />
                </a>
              </li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}
