/**
 * The data uninstalled apps left on this node (an uninstall keeps it: installing the app again
 * brings it back), on My Apps: each app with what is kept, and *Delete* behind a confirmation that
 * names what is lost (`package.uninstall` with `purge`). An app no source offers cannot be purged by
 * the daemon (its manifest says what to delete): the page says where its data is.
 */
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { useLocation } from "wouter";
import { client, type Result } from "../api.ts";
import { ConfirmDialog } from "../components/ConfirmDialog.tsx";
import { ErrorNote } from "../components/ErrorNote.tsx";
import { Icon } from "../components/Icon.tsx";
import { sourceLabel } from "../format.ts";
import { queryClient, useCall } from "../queries.ts";

type Kept = Result<"package.kept">[number];

export function KeptData() {
  const [, navigate] = useLocation();
  const kept = useCall("package.kept");
  const [asked, setAsked] = useState<Kept | undefined>();
  const purge = useMutation({
    mutationFn: (app: Kept) => client.call("package.uninstall", { id: app.id, purge: true }),
    onSuccess: (_accepted, app) => {
      setAsked(undefined);
      void queryClient.invalidateQueries({ queryKey: ["package.kept"] });
      void queryClient.invalidateQueries({ queryKey: ["package.list"] });
      // Its page follows the purge's steps as they happen.
      navigate(`/apps/${encodeURIComponent(app.id)}`);
    },
  });
  const list = kept.data ?? [];
  if (list.length === 0 && !kept.error) return null;
  const name = (app: Kept) => app.name ?? app.id;
  return (
    <section className="section" aria-labelledby="kept-title">
      <h2 id="kept-title">Data kept from uninstalled apps</h2>
      <p className="muted small">
        Uninstalling an app keeps its data on this node: installing it again brings it back. Delete it when
        you no longer need it.
      </p>
      {kept.error && <ErrorNote error={kept.error} title="Could not read the kept data" />}
      <ul className="kept-list" aria-label="Kept data">
        {list.map((app) => (
          <li key={app.id} className="card kept-item" data-kept={app.id}>
            <div>
              <strong>{name(app)}</strong>
              <ul className="muted small break">
                {app.kept.map((dir) => (
                  <li key={dir}>
                    <code>{dir}</code>
                  </li>
                ))}
              </ul>
              {app.source === null && (
                <p className="muted small">
                  No source offers {app.id} any more, so the node does not know what its purge deletes: delete
                  these directories by hand, or add a source that offers it.
                </p>
              )}
            </div>
            {app.source !== null && (
              <button
                type="button"
                className="button button-danger"
                onClick={() => {
                  purge.reset();
                  setAsked(app);
                }}
                aria-label={`Delete the kept data of ${name(app)}`}
              >
                <Icon name="trash" size={16} /> Delete
              </button>
            )}
          </li>
        ))}
      </ul>
      <ConfirmDialog
        open={asked !== undefined}
        title={`Delete the kept data of ${asked ? name(asked) : ""}?`}
        confirm="Delete for good"
        danger
        busy={purge.isPending}
        onCancel={() => setAsked(undefined)}
        onConfirm={() => asked && purge.mutate(asked)}
      >
        <p>
          Everything {asked ? name(asked) : ""} stored on this node is deleted for good: its data, its update
          snapshots, its generated secrets and the credentials made from them. Installing it again starts from
          nothing. This cannot be undone.
        </p>
        <ul className="small break">
          {asked?.kept.map((dir) => (
            <li key={dir}>
              <code>{dir}</code>
            </li>
          ))}
        </ul>
        {asked?.source && (
          <p className="muted small">
            What to delete is read from its manifest in {sourceLabel(asked.source).label}.
          </p>
        )}
        <ErrorNote error={purge.error} title="Not deleted" />
      </ConfirmDialog>
    </section>
  );
}
