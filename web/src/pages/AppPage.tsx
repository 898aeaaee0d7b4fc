/**
 * One installed app: its phase and reason, the operation in flight as it happens, its containers,
 * its interfaces, its credentials (masked until revealed), its logs (followed live, per container,
 * searchable), its recent operations, and every action — destructive ones confirmed, naming what is
 * lost.
 */
import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { Link } from "wouter";
import { client, isRpcError, type Result } from "../api.ts";
import { AppTile } from "../components/AppTile.tsx";
import { ConfirmDialog } from "../components/ConfirmDialog.tsx";
import { ErrorNote } from "../components/ErrorNote.tsx";
import { Icon } from "../components/Icon.tsx";
import { OperationLog } from "../components/OperationLog.tsx";
import { PhaseBadge } from "../components/PhaseBadge.tsx";
import { useNow } from "../components/useNow.ts";
import { type AppView, ago, categoryName, sourceLabel } from "../format.ts";
import { KIND_WORDS } from "../kind-words.ts";
import { keyOf, queryClient, useCall } from "../queries.ts";
import { ageNow } from "./MyApps.tsx";

type Action = "start" | "stop" | "restart" | "update" | "reinstall" | "uninstall" | "purge" | "retry";

const CALLS: Record<Action, (id: string) => Promise<Result<"package.start">>> = {
  start: (id) => client.call("package.start", { id }),
  stop: (id) => client.call("package.stop", { id }),
  restart: (id) => client.call("package.restart", { id }),
  update: (id) => client.call("package.update", { id }),
  reinstall: (id) => client.call("package.reinstall", { id }),
  uninstall: (id) => client.call("package.uninstall", { id, purge: false }),
  purge: (id) => client.call("package.uninstall", { id, purge: true }),
  retry: (id) => client.call("package.retry", { id }),
};

const CONFIRM: Partial<Record<Action, { title: string; body: (name: string) => string; confirm: string }>> = {
  reinstall: {
    title: "Reinstall",
    body: (name) =>
      `${name}'s containers are removed and created again from its manifest. Its data, secrets and credentials are kept; it is unavailable for a moment.`,
    confirm: "Reinstall",
  },
  uninstall: {
    title: "Uninstall",
    body: (name) =>
      `${name}'s containers are removed. Its data, secrets and credentials are kept on this node: installing it again brings them back.`,
    confirm: "Uninstall, keep data",
  },
  purge: {
    title: "Uninstall and delete data",
    body: (name) =>
      `${name} is removed with everything it stored: its volumes, generated secrets and credentials are deleted for good. This cannot be undone.`,
    confirm: "Delete everything",
  },
};

function Credentials({ id }: { id: string }) {
  const [shown, setShown] = useState<Record<number, boolean>>({});
  const [copied, setCopied] = useState<number | undefined>();
  // An explicit request only: the passwords are read when the operator asks.
  const credentials = useQuery({
    queryKey: keyOf("package.credentials", { id }),
    queryFn: () => client.call("package.credentials", { id }),
    enabled: false,
    staleTime: 0,
    gcTime: 0,
  });
  const labels = useCall("package.describe", { id }, { retry: false });
  // The labels come from the sources; an app they no longer offer gets a button that asks for them.
  if (labels.error && !credentials.data)
    return (
      <section className="section" aria-labelledby="credentials-title">
        <h2 id="credentials-title">Credentials</h2>
        <div>
          <button type="button" className="button button-small" onClick={() => void credentials.refetch()}>
            <Icon name="eye" size={16} /> Show credentials
          </button>
        </div>
        {credentials.error && <ErrorNote error={credentials.error} />}
      </section>
    );
  const count = labels.data?.credentials.length ?? credentials.data?.length ?? 0;
  if (count === 0 && !credentials.data?.length) return null;
  const reveal = async (index: number) => {
    if (!credentials.data) await credentials.refetch();
    setShown((s) => ({ ...s, [index]: !s[index] }));
  };
  const copy = async (index: number) => {
    const data = credentials.data ?? (await credentials.refetch()).data;
    const password = data?.[index]?.password;
    if (!password) return;
    await navigator.clipboard.writeText(password);
    setCopied(index);
  };
  const rows =
    credentials.data ??
    (labels.data?.credentials ?? []).map((label) => ({ label, username: null, password: null }));
  return (
    <section className="section" aria-labelledby="credentials-title">
      <h2 id="credentials-title">Credentials</h2>
      <ul className="credentials">
        {rows.map((credential, i) => (
          <li key={credential.label} className="credential">
            <div>
              <strong>{credential.label}</strong>
              {credential.username && <p className="muted small">User: {credential.username}</p>}
            </div>
            <code className="secret" data-testid="secret">
              {shown[i] && credential.password ? credential.password : "••••••••••••"}
            </code>
            <div className="row">
              <button
                type="button"
                className="button button-small"
                onClick={() => void reveal(i)}
                aria-pressed={Boolean(shown[i])}
                aria-label={`${shown[i] ? "Hide" : "Reveal"} the password of ${credential.label}`}
              >
                <Icon name={shown[i] ? "eyeOff" : "eye"} size={16} />
                {shown[i] ? "Hide" : "Reveal"}
              </button>
              <button
                type="button"
                className="button button-small"
                onClick={() => void copy(i)}
                aria-label={`Copy the password of ${credential.label}`}
              >
                <Icon name={copied === i ? "check" : "copy"} size={16} />
                {copied === i ? "Copied" : "Copy"}
              </button>
            </div>
          </li>
        ))}
      </ul>
      {credentials.error && <ErrorNote error={credentials.error} />}
    </section>
  );
}

function Logs({ app }: { app: AppView }) {
  const [container, setContainer] = useState("");
  const [search, setSearch] = useState("");
  const [follow, setFollow] = useState(true);
  const params = { id: app.id, tail: 300, ...(container ? { container } : {}) };
  // Container output has no event of its own: while followed, it is read again every 2 s.
  const logs = useCall("package.logs", params, { refetchInterval: follow ? 2_000 : false, retry: false });
  const lines = useMemo(() => {
    const all = logs.data ?? [];
    const needle = search.trim().toLowerCase();
    return needle ? all.filter((l) => l.line.toLowerCase().includes(needle)) : all;
  }, [logs.data, search]);
  const [box, setBox] = useState<HTMLPreElement | null>(null);
  useEffect(() => {
    // Kept at the newest line while followed.
    if (box && follow && lines.length >= 0) box.scrollTop = box.scrollHeight;
  }, [box, follow, lines]);
  return (
    <section className="section" aria-labelledby="logs-title">
      <div className="section-head">
        <h2 id="logs-title">Logs</h2>
        <div className="row wrap">
          {app.containers.length > 1 && (
            <label className="inline-field">
              <span className="visually-hidden">Container</span>
              <select value={container} onChange={(e) => setContainer(e.target.value)}>
                <option value="">All containers</option>
                {app.containers.map((c) => (
                  <option key={c.key} value={c.key}>
                    {c.key}
                  </option>
                ))}
              </select>
            </label>
          )}
          <label className="inline-field search-field">
            <Icon name="search" size={16} />
            <span className="visually-hidden">Search the logs</span>
            <input
              type="search"
              placeholder="Search"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
            />
          </label>
          <label className="switch">
            <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
            <span>Follow</span>
          </label>
        </div>
      </div>
      {logs.error ? (
        <ErrorNote error={logs.error} />
      ) : (
        <pre
          className="logs"
          ref={setBox}
          // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (WCAG 2.1.1)
          tabIndex={0}
          role="log"
          aria-label="Container logs"
          data-testid="logs"
        >
          {lines.length === 0
            ? logs.isPending
              ? "Loading…"
              : search
                ? "No line matches."
                : "No output yet."
            : lines.map((l, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: log lines have no identity but their place
                <span key={i} className={`log-line log-${l.stream}`}>
                  {app.containers.length > 1 && <span className="log-container">{l.container} </span>}
                  {l.line}
                  {"\n"}
                </span>
              ))}
        </pre>
      )}
    </section>
  );
}

function Operations({ id, onOpen }: { id: string; onOpen: (operationId: string, kind: string) => void }) {
  const now = useNow();
  const operations = useCall("operation.list", { appId: id, limit: 10 });
  if (!operations.data?.length) return null;
  return (
    <section className="section" aria-labelledby="operations-title">
      <h2 id="operations-title">Recent operations</h2>
      <ul className="operations">
        {operations.data.map((op) => (
          <li key={op.id} className={`op op-${op.state}`}>
            <button type="button" className="op-button" onClick={() => onOpen(op.id, op.kind)}>
              <span className="op-kind">{KIND_WORDS[op.kind]?.name ?? op.kind}</span>
              <span className={`chip chip-${op.state}`}>{op.state}</span>
              <span className="muted small">{ago(now - op.createdAt)}</span>
            </button>
            {op.error && <p className="reason reason-bad small">{op.error}</p>}
          </li>
        ))}
      </ul>
    </section>
  );
}

export function AppPage({ id }: { id: string }) {
  const now = useNow();
  const app = useCall("package.get", { id }, { retry: false, refetchInterval: 15_000 });
  const available = useCall("package.available");
  const operations = useCall("operation.list", { appId: id, limit: 10 });
  const [followed, setFollowed] = useState<{ id: string; kind: string } | undefined>();
  const [confirming, setConfirming] = useState<Action | undefined>();
  // An operation in flight when the page opens (a reload in the middle of an install) is followed.
  const inFlight = operations.data?.find((op) => op.state === "pending" || op.state === "running");
  useEffect(() => {
    if (inFlight && followed?.id !== inFlight.id) setFollowed({ id: inFlight.id, kind: inFlight.kind });
  }, [inFlight, followed?.id]);
  const act = useMutation({
    mutationFn: (action: Action) => CALLS[action](id),
    onSuccess: (accepted) => {
      setConfirming(undefined);
      setFollowed({ id: accepted.operationId, kind: accepted.kind });
      void queryClient.invalidateQueries({ queryKey: ["operation.list", { appId: id }] });
    },
  });
  const run = (action: Action) => (CONFIRM[action] ? setConfirming(action) : act.mutate(action));

  if (app.error && isRpcError(app.error, "notFound"))
    return (
      <div className="page">
        <Link href="/" className="back">
          <Icon name="back" size={16} /> My Apps
        </Link>
        {followed && <OperationLog operationId={followed.id} kind={followed.kind} />}
        <div className="empty">
          <h1>{id} is not installed</h1>
          <p className="muted">It may have just been uninstalled.</p>
          <Link href={`/store/${encodeURIComponent(id)}`} className="button button-primary">
            See it in the App Store
          </Link>
        </div>
      </div>
    );
  if (!app.data)
    return (
      <div className="page">
        {app.error ? <ErrorNote error={app.error} /> : <p className="muted">Loading…</p>}
      </div>
    );
  const view = app.data;
  const offered = available.data?.find((a) => a.id === id);
  const busy = act.isPending || Boolean(inFlight);
  const age = ageNow(view, app.dataUpdatedAt, now);
  const source = sourceLabel(view.source);
  const confirm = confirming ? CONFIRM[confirming] : undefined;
  return (
    <div className="page">
      <Link href="/" className="back">
        <Icon name="back" size={16} /> My Apps
      </Link>
      <header className="app-head">
        <AppTile id={view.id} name={view.name} icon={view.icon} size="lg" />
        <div className="app-head-text">
          <h1>{view.name}</h1>
          <p className="muted">
            {view.version} · {categoryName(view.category)} · {source.label}
          </p>
          <div className="row wrap">
            <PhaseBadge phase={view.phase} />
            <span className="age" data-testid="age">
              {age === null ? "not observed yet" : `as of ${ago(age)}`}
            </span>
          </div>
        </div>
        <div className="app-head-actions row wrap">
          {view.interfaces
            .filter((i) => i.url)
            .map((i) => (
              <a
                key={i.name}
                className={`button ${view.phase === "running" ? "button-primary" : ""}`}
                href={i.url as string}
                target="_blank"
                rel="noreferrer noopener"
              >
                Open{i.name !== "ui" ? ` ${i.name}` : ""} <Icon name="external" size={14} />
                <span className="visually-hidden"> {view.name} (new tab)</span>
              </a>
            ))}
        </div>
      </header>
      {view.reason && (
        <div className={`note ${view.phase === "failed" ? "note-bad" : "note-warn"}`} data-testid="reason">
          <Icon name="alert" />
          <div>
            <p className="note-text">{view.reason}</p>
            {view.phase === "failed" && (
              <button
                type="button"
                className="button button-small"
                onClick={() => run("retry")}
                disabled={busy}
              >
                <Icon name="refresh" size={16} /> Retry
              </button>
            )}
          </div>
        </div>
      )}
      <div className="toolbar" role="toolbar" aria-label="Actions">
        {view.desired === "running" ? (
          <button type="button" className="button" onClick={() => run("stop")} disabled={busy}>
            <Icon name="stop" size={16} /> Stop
          </button>
        ) : (
          <button type="button" className="button" onClick={() => run("start")} disabled={busy}>
            <Icon name="play" size={16} /> Start
          </button>
        )}
        <button
          type="button"
          className="button"
          onClick={() => run("restart")}
          disabled={busy || view.desired !== "running"}
        >
          <Icon name="refresh" size={16} /> Restart
        </button>
        {offered?.updateAvailable && (
          <button
            type="button"
            className="button button-primary"
            onClick={() => run("update")}
            disabled={busy}
          >
            Update to {offered.version}
          </button>
        )}
      </div>
      <ErrorNote error={act.error} />
      {followed && <OperationLog key={followed.id} operationId={followed.id} kind={followed.kind} />}

      <section className="section" aria-labelledby="containers-title">
        <h2 id="containers-title">Containers</h2>
        {view.containers.length === 0 ? (
          <p className="muted">No container yet.</p>
        ) : (
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Container</th>
                  <th scope="col">State</th>
                  <th scope="col">Health</th>
                  <th scope="col">Up since</th>
                  <th scope="col">Restarts</th>
                  <th scope="col">Backend</th>
                </tr>
              </thead>
              <tbody>
                {view.containers.map((c) => (
                  <tr key={c.key} data-container={c.key}>
                    <th scope="row">
                      {c.key}
                      <span className="muted small block">{c.name}</span>
                    </th>
                    <td>
                      {c.job && c.state === "exited" && c.exitCode === 0 ? "completed (job)" : c.state}
                      {c.state === "exited" && c.exitCode !== 0 ? ` (exit ${c.exitCode})` : ""}
                    </td>
                    <td>{c.health}</td>
                    <td>{c.startedAt && c.state === "running" ? ago(now - c.startedAt) : "—"}</td>
                    <td data-testid="restarts">{c.restarts}</td>
                    <td>{c.backend}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <Credentials id={view.id} />
      {view.containers.length > 0 && <Logs app={view} />}
      <Operations id={view.id} onOpen={(operationId, kind) => setFollowed({ id: operationId, kind })} />

      <section className="section danger" aria-labelledby="danger-title">
        <h2 id="danger-title">Reinstall or remove</h2>
        <div className="danger-row">
          <div>
            <strong>Reinstall</strong>
            <p className="muted small">
              New containers from the installed manifest; data and credentials kept.
            </p>
          </div>
          <button type="button" className="button" onClick={() => run("reinstall")} disabled={busy}>
            Reinstall
          </button>
        </div>
        <div className="danger-row">
          <div>
            <strong>Uninstall</strong>
            <p className="muted small">Removes the containers; data and credentials stay on this node.</p>
          </div>
          <button type="button" className="button" onClick={() => run("uninstall")} disabled={act.isPending}>
            Uninstall
          </button>
        </div>
        <div className="danger-row">
          <div>
            <strong>Uninstall and delete data</strong>
            <p className="muted small">Removes the app and everything it stored. Cannot be undone.</p>
          </div>
          <button
            type="button"
            className="button button-danger"
            onClick={() => run("purge")}
            disabled={act.isPending}
          >
            <Icon name="trash" size={16} /> Delete
          </button>
        </div>
      </section>
      <ConfirmDialog
        open={confirm !== undefined}
        title={confirm ? `${confirm.title} ${view.name}?` : ""}
        confirm={confirm?.confirm ?? ""}
        danger={confirming === "purge" || confirming === "uninstall"}
        busy={act.isPending}
        onCancel={() => setConfirming(undefined)}
        onConfirm={() => confirming && act.mutate(confirming)}
      >
        <p>{confirm?.body(view.name)}</p>
        <ErrorNote error={act.error} />
      </ConfirmDialog>
    </div>
  );
}
