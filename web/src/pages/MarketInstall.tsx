/**
 * Installing a marketplace app from the App Store: the publisher (its whole key) and the node's
 * trust in it first; then what the daemon asks after verifying the release and its bundle, in its
 * own words: a publisher below the operator's threshold is installed only once the risk is
 * confirmed, and the permissions its manifest requests only once approved, as for a catalog app.
 */
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { useLocation } from "wouter";
import { client, isRpcError, type Result } from "../api.ts";
import { ConfirmDialog } from "../components/ConfirmDialog.tsx";
import { ErrorNote } from "../components/ErrorNote.tsx";
import { Nip05Detail } from "../components/Nip05.tsx";
import {
  PermissionList,
  type PermissionRequest,
  permissionsToApprove,
} from "../components/PermissionList.tsx";
import { PublisherTrust } from "../components/PublisherTrust.tsx";
import { queryClient } from "../queries.ts";

type Offered = Result<"package.available">[number];

export function MarketInstall({ app, onClose }: { app: Offered | undefined; onClose: () => void }) {
  const [, navigate] = useLocation();
  // The risk the operator confirmed before the daemon asked for approvals: kept for the next ask.
  const [riskConfirmed, setRiskConfirmed] = useState(false);
  const install = useMutation({
    mutationFn: (asked: { app: Offered; confirmRisk: boolean; approve: PermissionRequest[] }) =>
      client.call("package.install", {
        id: asked.app.id,
        source: asked.app.source,
        confirmRisk: asked.confirmRisk,
        approve: asked.approve.map(({ name, content }) => ({ name, content })),
      }),
    onError: (_error, asked) => setRiskConfirmed(asked.confirmRisk),
    onSuccess: (_accepted, { app: installed }) => {
      void queryClient.invalidateQueries({ queryKey: ["package.list"] });
      void queryClient.invalidateQueries({ queryKey: ["package.available"] });
      navigate(`/apps/${encodeURIComponent(installed.id)}`);
    },
  });
  const close = () => {
    install.reset();
    setRiskConfirmed(false);
    onClose();
  };
  const risky = isRpcError(install.error, "trustConfirmationRequired");
  const permissions = permissionsToApprove(install.error);
  const publisher = app?.source.replace(/^nostr:/, "") ?? "";
  return (
    <ConfirmDialog
      open={app !== undefined}
      title={`Install ${app?.name ?? ""} from the marketplace?`}
      confirm={
        risky ? "I trust this publisher: install" : permissions.length > 0 ? "Approve and install" : "Install"
      }
      danger={risky}
      busy={install.isPending}
      onCancel={close}
      onConfirm={() =>
        app && install.mutate({ app, confirmRisk: riskConfirmed || risky, approve: permissions })
      }
    >
      <p>
        {app?.id} {app?.version}, published by
      </p>
      <p className="break small" data-testid="publisher">
        <code>{publisher}</code>
      </p>
      {app && <Nip05Detail nip05={app.nip05} />}
      {app?.trust && <PublisherTrust trust={app.trust} />}
      <p className="muted small">
        Its signed release and bundle are verified before anything is installed; what it asks of this node is
        shown for your approval first.
      </p>
      {/* A refusal that asks the operator something is a question here, not an error. */}
      {risky && (
        <div className="note note-warn" role="alert">
          <p className="note-text">{(install.error as Error).message}</p>
        </div>
      )}
      {permissions.length > 0 && <PermissionList permissions={permissions} />}
      {!risky && permissions.length === 0 && <ErrorNote error={install.error} title="Not installed" />}
    </ConfirmDialog>
  );
}
