/**
 * Backups: the node's alerts (failed or overdue backups, failed checks), each target with its
 * schedule, retention and check, a form to change them, and its snapshots (docs/backups.md); a
 * target added (its new repository's key shown once, to be saved off the node) or removed.
 */
import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { client, type Result } from "../api.ts";
import { BackupProgress } from "../components/BackupProgress.tsx";
import { ConfirmDialog } from "../components/ConfirmDialog.tsx";
import { ErrorNote } from "../components/ErrorNote.tsx";
import { Icon } from "../components/Icon.tsx";
import { OperationLog } from "../components/OperationLog.tsx";
import { useNow } from "../components/useNow.ts";
import { ago } from "../format.ts";
import { queryClient, useCall } from "../queries.ts";

type Target = Result<"backup.targets.list">["targets"][number];
const KEEP_KINDS = ["last", "daily", "weekly", "monthly"] as const;

function keepText(keep: Target["keep"]): string {
  const parts = KEEP_KINDS.flatMap((kind) => ((keep[kind] ?? 0) > 0 ? [`${keep[kind]} ${kind}`] : []));
  return parts.length > 0 ? parts.join(", ") : "every snapshot";
}

function Alerts() {
  const now = useNow();
  const node = useCall("system.node");
  const alerts = node.data?.alerts ?? [];
  return (
    <section className="section card" aria-labelledby="alerts-title">
      <h2 id="alerts-title">Alerts</h2>
      {node.error && <ErrorNote error={node.error} />}
      {node.data && alerts.length === 0 && (
        <p className="note note-good" role="status">
          <Icon name="check" /> No alert: every backup and check went well.
        </p>
      )}
      {alerts.map((alert) => (
        <ErrorNote
          key={`${alert.kind}/${alert.target}/${alert.appId}`}
          title={`${alert.appId ?? `Target ${alert.target}`}: ${alert.kind.replace("-", " ")} (${ago(now - alert.since)})`}
          error={{ message: alert.message }}
        />
      ))}
    </section>
  );
}

function ScheduleForm({ target }: { target: Target }) {
  const [schedule, setSchedule] = useState(target.schedule ?? "");
  const [check, setCheck] = useState(target.check ?? "");
  const [keep, setKeep] = useState<Record<string, string>>(
    Object.fromEntries(KEEP_KINDS.map((kind) => [kind, String(target.keep[kind] ?? "")])),
  );
  const save = useMutation({
    mutationFn: () =>
      client.call("backup.targets.schedule", {
        name: target.name,
        schedule: schedule.trim() === "" ? null : schedule.trim(),
        check: check.trim() === "" ? null : check.trim(),
        keep: Object.fromEntries(
          KEEP_KINDS.flatMap((kind) => (keep[kind]?.trim() ? [[kind, Number(keep[kind])]] : [])),
        ),
      }),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["backup.targets.list"] });
      void queryClient.invalidateQueries({ queryKey: ["system.node"] });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  const id = `schedule-${target.name}`;
  return (
    <form className="form" onSubmit={submit} aria-label={`Schedule of ${target.name}`}>
      <label className="field">
        <span>Back up every app</span>
        <input
          value={schedule}
          onChange={(e) => setSchedule(e.target.value)}
          placeholder="daily 03:00"
          aria-describedby={`${id}-when`}
        />
        <small id={`${id}-when`} className="muted">
          “daily 03:00”, “weekly sun 04:00” (this node's time) or “every 6h”; empty: only when asked.
        </small>
      </label>
      {KEEP_KINDS.map((kind) => (
        <label className="field" key={kind}>
          <span>Keep {kind}</span>
          <input
            inputMode="numeric"
            pattern="[0-9]*"
            value={keep[kind] ?? ""}
            onChange={(e) => setKeep({ ...keep, [kind]: e.target.value })}
          />
        </label>
      ))}
      <label className="field">
        <span>Check the repository</span>
        <input value={check} onChange={(e) => setCheck(e.target.value)} placeholder="weekly sun 04:00" />
      </label>
      <ErrorNote error={save.error} />
      {save.isSuccess && (
        <p className="note note-good" role="status">
          <Icon name="check" /> Saved.
        </p>
      )}
      <div>
        <button type="submit" className="button button-primary" disabled={save.isPending}>
          Save the schedule of {target.name}
        </button>
      </div>
    </form>
  );
}

type Followed = { id: string; kind: "backup" | "restore" };
type Snapshot = Result<"backup.snapshots">["snapshots"][number];

/** Backs up an installed app to this target now. */
function BackUpNow({ target, onStarted }: { target: string; onStarted: (followed: Followed) => void }) {
  const apps = useCall("package.list");
  const [appId, setAppId] = useState("");
  const chosen = appId || apps.data?.[0]?.id || "";
  const run = useMutation({
    mutationFn: () => client.call("backup.run", { id: chosen, target }),
    onSuccess: (accepted) => onStarted({ id: accepted.operationId, kind: "backup" }),
  });
  if (!apps.data || apps.data.length === 0) return null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    run.mutate();
  };
  return (
    <form className="form form-inline" onSubmit={submit} aria-label={`Back up to ${target}`}>
      <label className="field">
        <span>App</span>
        <select value={chosen} onChange={(e) => setAppId(e.target.value)}>
          {apps.data.map((app) => (
            <option key={app.id} value={app.id}>
              {app.name}
            </option>
          ))}
        </select>
      </label>
      <div>
        <button type="submit" className="button" disabled={run.isPending || !chosen}>
          Back up now
        </button>
      </div>
      <ErrorNote error={run.error} />
    </form>
  );
}

/** Restores an app from a snapshot, once the operator has read what is replaced and that it is saved first. */
function RestoreSnapshot({
  target,
  snapshot,
  installed,
  onStarted,
}: {
  target: string;
  snapshot: Snapshot;
  installed: boolean;
  onStarted: (followed: Followed) => void;
}) {
  const [confirming, setConfirming] = useState(false);
  const restore = useMutation({
    mutationFn: () => client.call("backup.restore", { id: snapshot.appId, snapshot: snapshot.id, target }),
    onSuccess: (accepted) => {
      setConfirming(false);
      onStarted({ id: accepted.operationId, kind: "restore" });
    },
  });
  const when = snapshot.time.replace(/\.\d+/, "");
  return (
    <>
      <button
        type="button"
        className="button button-small"
        aria-label={`Restore ${snapshot.appId} from ${snapshot.shortId}`}
        onClick={() => setConfirming(true)}
      >
        Restore
      </button>
      <ConfirmDialog
        open={confirming}
        title={`Restore ${snapshot.appId} from ${snapshot.shortId}?`}
        confirm="Restore"
        danger={installed}
        busy={restore.isPending}
        onCancel={() => setConfirming(false)}
        onConfirm={() => restore.mutate()}
      >
        {installed ? (
          <p>
            The data of {snapshot.appId} on this node is replaced by the snapshot of {when}
            {snapshot.version ? ` (version ${snapshot.version})` : ""}: its volumes, manifest and secrets. Its
            current data is backed up to {target} first (taken before a restore), so restoring that copy
            undoes this. {snapshot.appId} is stopped meanwhile.
          </p>
        ) : (
          <p>
            {snapshot.appId} is installed again from the snapshot of {when}, with its data, manifest and
            secrets.
          </p>
        )}
        <ErrorNote error={restore.error} />
      </ConfirmDialog>
    </>
  );
}

function Snapshots({ target, onStarted }: { target: string; onStarted: (followed: Followed) => void }) {
  const snapshots = useCall("backup.snapshots", { target });
  const apps = useCall("package.list");
  const installed = new Set((apps.data ?? []).map((app) => app.id));
  const list = snapshots.data?.snapshots ?? [];
  return (
    <div>
      <h3>Snapshots</h3>
      {snapshots.error && <ErrorNote error={snapshots.error} />}
      {snapshots.data && list.length === 0 && <p className="muted">No snapshot yet.</p>}
      {list.length > 0 && (
        <ul className="sources">
          {[...list].reverse().map((s) => (
            <li key={s.id} className="small snapshot" data-snapshot={s.shortId}>
              <span data-testid="snapshot-facts">
                <code>{s.shortId}</code> {s.appId} {s.version ?? ""} · {s.time.replace(/\.\d+/, "")}
                {s.preRestore ? " · taken before a restore" : ""}
              </span>
              <RestoreSnapshot
                target={target}
                snapshot={s}
                installed={installed.has(s.appId)}
                onStarted={onStarted}
              />
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

type Added = Result<"backup.targets.add">;

/** The key of a repository the node just made: shown this once, until the operator says it is saved. */
function NewKey({ added, onDone }: { added: Added; onDone: () => void }) {
  return (
    <div
      className="note note-warn new-key"
      role="status"
      aria-labelledby="new-key-title"
      data-testid="new-key"
    >
      <h3 id="new-key-title">Save the key of {added.target.name} now</h3>
      <p className="small">
        Its backups are encrypted with this key. Keep a copy away from this node (a password manager, paper):
        if this node is lost, the backups cannot be read without it. It is not shown again.
      </p>
      <code className="block break" data-testid="key">
        {added.key}
      </code>
      <p className="muted small break">This node keeps it in {added.keyFile}.</p>
      <div>
        <button type="button" className="button" onClick={onDone}>
          I have saved the key
        </button>
      </div>
    </div>
  );
}

function AddTarget() {
  const [name, setName] = useState("");
  const [location, setLocation] = useState("");
  const [key, setKey] = useState("");
  const [added, setAdded] = useState<Added | undefined>();
  const add = useMutation({
    mutationFn: () =>
      client.call("backup.targets.add", { name, location, ...(key.trim() ? { key: key.trim() } : {}) }),
    onSuccess: (result) => {
      void queryClient.invalidateQueries({ queryKey: ["backup.targets.list"] });
      setName("");
      setLocation("");
      setKey("");
      setAdded(result.key === null ? undefined : result);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setAdded(undefined);
    add.mutate();
  };
  return (
    <section className="section card" aria-labelledby="add-target-title">
      <h2 id="add-target-title">Add a target</h2>
      {added && <NewKey added={added} onDone={() => setAdded(undefined)} />}
      <form className="form" onSubmit={submit} aria-labelledby="add-target-title">
        <label className="field">
          <span>Name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} required placeholder="usb" />
        </label>
        <label className="field">
          <span>Where</span>
          <input
            value={location}
            onChange={(e) => setLocation(e.target.value)}
            required
            placeholder="/mnt/usb/backups"
            aria-describedby="add-target-where"
          />
          <small id="add-target-where" className="muted">
            A directory on this node (absolute), or a restic URL (sftp:, rest:). S3 and B2, which need access
            keys: <code>archy backup targets add</code>.
          </small>
        </label>
        <label className="field">
          <span>Key of an existing repository</span>
          <input
            type="password"
            autoComplete="off"
            value={key}
            onChange={(e) => setKey(e.target.value)}
            aria-describedby="add-target-key"
          />
          <small id="add-target-key" className="muted">
            Only to open backups made by another node; empty: a new repository, with a new key.
          </small>
        </label>
        <ErrorNote error={add.error} />
        <div>
          <button type="submit" className="button button-primary" disabled={add.isPending}>
            {add.isPending ? "Adding…" : "Add the target"}
          </button>
        </div>
      </form>
    </section>
  );
}

function RemoveTarget({ target }: { target: Target }) {
  const [confirming, setConfirming] = useState(false);
  const remove = useMutation({
    mutationFn: () => client.call("backup.targets.remove", { name: target.name }),
    onSuccess: () => {
      setConfirming(false);
      void queryClient.invalidateQueries({ queryKey: ["backup.targets.list"] });
      void queryClient.invalidateQueries({ queryKey: ["system.node"] });
    },
  });
  return (
    <>
      <button
        type="button"
        className="button button-small"
        aria-label={`Remove ${target.name}`}
        onClick={() => setConfirming(true)}
      >
        <Icon name="trash" size={16} /> Remove
      </button>
      <ConfirmDialog
        open={confirming}
        title={`Remove the target ${target.name}?`}
        confirm="Remove"
        danger
        busy={remove.isPending}
        onCancel={() => setConfirming(false)}
        onConfirm={() => remove.mutate()}
      >
        <p>
          This node stops backing up to {target.location} and forgets its key. The repository and its
          snapshots stay where they are: to restore from them later, add the target again with its key.
        </p>
        <ErrorNote error={remove.error} />
      </ConfirmDialog>
    </>
  );
}

function TargetCard({ target }: { target: Target }) {
  const [followed, setFollowed] = useState<Followed | undefined>();
  const check = useMutation({
    mutationFn: () => client.call("backup.targets.check", { name: target.name }),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: ["system.node"] }),
  });
  return (
    <section className="section card" aria-labelledby={`target-${target.name}`} data-target={target.name}>
      <div className="section-head">
        <h2 id={`target-${target.name}`}>{target.name}</h2>
        <div className="head-actions">
          <button
            type="button"
            className="button button-small"
            onClick={() => check.mutate()}
            disabled={check.isPending}
          >
            <Icon name="shield" size={16} /> {check.isPending ? "Checking…" : "Check now"}
          </button>
          <RemoveTarget target={target} />
        </div>
      </div>
      <p className="muted small break">
        {target.kind} · {target.location}
      </p>
      <dl className="facts">
        <dt>Backups</dt>
        <dd>{target.schedule ?? "only when asked"}</dd>
        <dt>Keeps</dt>
        <dd>{keepText(target.keep)}</dd>
        <dt>Checks</dt>
        <dd>{target.check ?? "only when asked"}</dd>
      </dl>
      <ErrorNote error={check.error} />
      {check.data && (
        <p className="note note-good" role="status">
          <Icon name="check" /> Sound: {check.data.snapshots} snapshots.
        </p>
      )}
      <BackUpNow target={target.name} onStarted={setFollowed} />
      {followed && (
        <div key={followed.id}>
          <BackupProgress operationId={followed.id} />
          <OperationLog operationId={followed.id} kind={followed.kind} />
        </div>
      )}
      <ScheduleForm target={target} />
      <Snapshots target={target.name} onStarted={setFollowed} />
    </section>
  );
}

export function Backups() {
  const targets = useCall("backup.targets.list");
  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1>Backups</h1>
          <p className="muted">
            Where the apps are backed up, when, how many snapshots are kept, and what needs your attention.
          </p>
        </div>
      </header>
      <div className="settings-grid">
        <Alerts />
        {targets.error && <ErrorNote error={targets.error} />}
        {targets.data?.targets.length === 0 && (
          <section className="section card" aria-labelledby="no-target-title">
            <h2 id="no-target-title">No backup target yet</h2>
            <p className="muted">
              Add one below (or on the node: <code>archy backup targets add</code>).
            </p>
          </section>
        )}
        {targets.data?.targets.map((target) => (
          <TargetCard key={target.name} target={target} />
        ))}
        <AddTarget />
      </div>
    </div>
  );
}
