/**
 * Settings: the operator password, sessions, the catalog sources and the node itself.
 */
import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { client, type Result } from "../api.ts";
import { ConfirmDialog } from "../components/ConfirmDialog.tsx";
import { ErrorNote } from "../components/ErrorNote.tsx";
import { Icon } from "../components/Icon.tsx";
import { NewPasswordFields, passwordsDiffer } from "../components/NewPasswordFields.tsx";
import { useNow } from "../components/useNow.ts";
import { counted } from "../counted.ts";
import { ago } from "../format.ts";
import { queryClient, useCall } from "../queries.ts";
import { useSession } from "../session.tsx";
import { bytes, duration } from "../units.ts";

function ChangePassword() {
  const [old, setOld] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [done, setDone] = useState(false);
  const change = useMutation({
    mutationFn: () => client.call("auth.changePassword", { oldPassword: old, newPassword: next }),
    onSuccess: () => {
      setOld("");
      setNext("");
      setAgain("");
      setDone(true);
    },
  });
  const mismatch = passwordsDiffer(next, again);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setDone(false);
    if (!mismatch) change.mutate();
  };
  return (
    <section className="section card" aria-labelledby="password-title">
      <h2 id="password-title">Password</h2>
      <p className="muted small">Changing it logs out every other browser; this one stays logged in.</p>
      <form className="form" onSubmit={submit}>
        <label className="field">
          <span>Current password</span>
          <input
            type="password"
            autoComplete="current-password"
            value={old}
            onChange={(e) => setOld(e.target.value)}
            required
          />
        </label>
        <NewPasswordFields password={next} repeat={again} onPassword={setNext} onRepeat={setAgain} />
        <ErrorNote error={change.error} />
        {done && (
          <p className="note note-good" role="status">
            <Icon name="check" /> Password changed.
          </p>
        )}
        <div>
          <button type="submit" className="button button-primary" disabled={change.isPending || mismatch}>
            Change password
          </button>
        </div>
      </form>
    </section>
  );
}

function Sessions() {
  const { logout } = useSession();
  const [confirming, setConfirming] = useState(false);
  const everywhere = useMutation({
    mutationFn: () => client.call("auth.logoutAll"),
    onSuccess: () => void logout().catch(() => {}),
  });
  return (
    <section className="section card" aria-labelledby="sessions-title">
      <h2 id="sessions-title">Sessions</h2>
      <p className="muted small">
        Every browser logged in to this node, this one included, is logged out. The command line on the node
        keeps working.
      </p>
      <div>
        <button type="button" className="button" onClick={() => setConfirming(true)}>
          <Icon name="logout" size={16} /> Log out everywhere
        </button>
      </div>
      <ErrorNote error={everywhere.error} />
      <ConfirmDialog
        open={confirming}
        title="Log out everywhere?"
        confirm="Log out everywhere"
        busy={everywhere.isPending}
        onCancel={() => setConfirming(false)}
        onConfirm={() => everywhere.mutate()}
      >
        <p>Every session ends now, this one too: you will log in again with your password.</p>
      </ConfirmDialog>
    </section>
  );
}

type SourceStatuses = Result<"catalog.sources">;

/** Adds a signed catalog: its name, where it is published, and the root.json to pin (pasted or a file). */
function AddSource() {
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [root, setRoot] = useState("");
  const add = useMutation({
    mutationFn: () => client.call("catalog.sources.add", { name, url, root }),
    onSuccess: (statuses) => {
      queryClient.setQueryData<SourceStatuses>(["catalog.sources"], statuses);
      void queryClient.invalidateQueries({ queryKey: ["package.available"] });
      setName("");
      setUrl("");
      setRoot("");
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    add.mutate();
  };
  return (
    <form className="form" onSubmit={submit} aria-labelledby="add-source-title">
      <h3 id="add-source-title">Add a catalog</h3>
      <label className="field">
        <span>Name</span>
        <input value={name} onChange={(e) => setName(e.target.value)} required placeholder="community" />
      </label>
      <label className="field">
        <span>Where it is published</span>
        <input
          value={url}
          onChange={(e) => setUrl(e.target.value)}
          required
          placeholder="https://catalog.example.org/"
        />
      </label>
      <div className="field">
        <label htmlFor="add-source-root">Its root.json, from the publisher</label>
        <textarea
          id="add-source-root"
          value={root}
          onChange={(e) => setRoot(e.target.value)}
          required
          rows={4}
          spellCheck={false}
          aria-describedby="add-source-root-why"
        />
        <small id="add-source-root-why" className="muted">
          Pinned: every version of the catalog must verify from this root. Get it from the publisher directly,
          not from the catalog's own address.
        </small>
        <input
          type="file"
          accept="application/json,.json"
          aria-label="Read the root.json from a file"
          onChange={(e) => void e.target.files?.[0]?.text().then(setRoot)}
        />
      </div>
      <ErrorNote error={add.error} title="Not added" />
      <div>
        <button type="submit" className="button button-primary" disabled={add.isPending}>
          {add.isPending ? "Verifying the catalog…" : "Verify and add"}
        </button>
      </div>
    </form>
  );
}

function Sources() {
  const now = useNow();
  const sources = useCall("catalog.sources");
  const [removing, setRemoving] = useState<string | undefined>();
  const remove = useMutation({
    mutationFn: (name: string) => client.call("catalog.sources.remove", { name }),
    onSuccess: (statuses) => {
      queryClient.setQueryData<SourceStatuses>(["catalog.sources"], statuses);
      void queryClient.invalidateQueries({ queryKey: ["package.available"] });
      setRemoving(undefined);
    },
  });
  const refresh = useMutation({
    mutationFn: (name?: string) => client.call("catalog.refresh", name ? { name } : {}),
    onSuccess: (statuses) => {
      queryClient.setQueryData(["catalog.sources"], statuses);
      void queryClient.invalidateQueries({ queryKey: ["package.available"] });
    },
  });
  return (
    <section className="section card" aria-labelledby="sources-title">
      <div className="section-head">
        <h2 id="sources-title">Catalog sources</h2>
        {(sources.data?.length ?? 0) > 0 && (
          <button
            type="button"
            className="button button-small"
            onClick={() => refresh.mutate(undefined)}
            disabled={refresh.isPending}
          >
            <Icon name="refresh" size={16} /> {refresh.isPending ? "Refreshing…" : "Refresh all now"}
          </button>
        )}
      </div>
      <p className="muted small">
        Signed catalogs this node installs apps from, verified with their pinned root keys: the daemon's
        configuration file's (docs/catalog.md) and the ones added here. The local apps folder is always
        offered too.
      </p>
      {sources.error && <ErrorNote error={sources.error} />}
      {sources.data?.length === 0 && <p className="muted">No signed catalog is configured.</p>}
      <ul className="sources">
        {sources.data?.map((s) => (
          <li key={s.name} className="source" data-source={s.name}>
            <div className="source-head">
              <div>
                <strong>{s.name}</strong>
                <p className="muted small break">{s.url}</p>
              </div>
              <span
                className={`chip chip-${s.state === "ok" ? "good" : s.state === "failing" ? "bad" : s.state === "partial" ? "warn" : "idle"}`}
              >
                {s.state}
              </span>
            </div>
            <p className="small">
              {counted(s.apps, "app")} ·{" "}
              {s.lastSuccessAt ? `refreshed ${ago(now - s.lastSuccessAt)}` : "never refreshed"}
              {s.lastAttemptAt && s.lastAttemptAt !== s.lastSuccessAt
                ? ` · last attempt ${ago(now - s.lastAttemptAt)}`
                : ""}
            </p>
            {s.error && <ErrorNote error={{ message: s.error.message, hint: s.error.fix }} />}
            {s.failedRoles.map((failed) => (
              <ErrorNote
                key={failed.role}
                title={`Namespace ${failed.role}: its apps are hidden`}
                error={{ message: failed.message, hint: failed.fix }}
              />
            ))}
            <div className="row-actions">
              <button
                type="button"
                className="button button-small"
                onClick={() => refresh.mutate(s.name)}
                disabled={refresh.isPending}
                aria-label={`Refresh now: ${s.name}`}
              >
                <Icon name="refresh" size={16} /> Refresh now
              </button>
              {s.removable && (
                <button
                  type="button"
                  className="button button-small"
                  onClick={() => {
                    remove.reset();
                    setRemoving(s.name);
                  }}
                  aria-label={`Remove ${s.name}`}
                >
                  <Icon name="trash" size={16} /> Remove
                </button>
              )}
            </div>
          </li>
        ))}
      </ul>
      <ErrorNote error={refresh.error} />
      <AddSource />
      <ConfirmDialog
        open={removing !== undefined}
        title={`Remove the catalog ${removing ?? ""}?`}
        confirm="Remove"
        danger
        busy={remove.isPending}
        onCancel={() => setRemoving(undefined)}
        onConfirm={() => removing && remove.mutate(removing)}
      >
        <p>
          Its apps are no longer offered, and its pinned root is forgotten: adding it again needs the root
          again. A catalog apps are installed from stays until they are uninstalled.
        </p>
        <ErrorNote error={remove.error} title="Not removed" />
      </ConfirmDialog>
    </section>
  );
}

function Node() {
  const node = useCall("system.node");
  const data = node.data;
  return (
    <section className="section card" aria-labelledby="node-title">
      <h2 id="node-title">This node</h2>
      {node.error && <ErrorNote error={node.error} />}
      {data && (
        <dl className="facts">
          <dt>Archipelago</dt>
          <dd>{data.version}</dd>
          <dt>Podman</dt>
          <dd>{data.podmanVersion ?? "not connected yet"}</dd>
          <dt>Containers run as</dt>
          <dd>
            {data.backend}
            <span className="muted small block">{data.backendReason}</span>
          </dd>
          <dt>Data directory</dt>
          <dd className="break">{data.dataDir}</dd>
          <dt>Disk free</dt>
          <dd>{data.disk ? `${bytes(data.disk.freeBytes)} of ${bytes(data.disk.totalBytes)}` : "unknown"}</dd>
          <dt>Apps installed</dt>
          <dd>{data.apps}</dd>
          <dt>Daemon up for</dt>
          <dd>{duration(data.uptimeMs)}</dd>
        </dl>
      )}
    </section>
  );
}

export function Settings() {
  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1>Settings</h1>
          <p className="muted">Your password and sessions, where apps come from, and this node.</p>
        </div>
      </header>
      <div className="settings-grid">
        <ChangePassword />
        <Sessions />
        <Sources />
        <Node />
      </div>
    </div>
  );
}
