/**
 * The operator's approval of an app's permissions (SPEC invariant 1: nothing beyond the secure
 * default unless the operator approved it). An approval is bound to a permission's name *and*
 * content (`host-path /srv/media`): a manifest that later gives a name another meaning asks again.
 * Pure decisions; the store keeps the approvals, the lifecycle asks before an intent is recorded,
 * and the reconciler and executor check again before any container is created or started.
 */
import { type PermissionRequest, requestedPermissions } from "../manifest/permissions.ts";
import type { Manifest } from "../manifest/schema.ts";

/** What the operator approves: a permission by name, with the content it was shown. */
export type Approval = { name: string; content: string };

export type StoredApproval = Approval & {
  approvedAt: number;
  /** `upgrade`: recorded when this daemon first started over apps installed before approvals existed. */
  approvedBy: "operator" | "upgrade";
};

const same = (a: Approval, b: Approval) => a.name === b.name && a.content === b.content;

/** The requested permissions that no approval covers (same name, same content). */
export function unapproved(
  requested: readonly PermissionRequest[],
  approved: readonly Approval[],
): PermissionRequest[] {
  return requested.filter((request) => !approved.some((a) => same(a, request)));
}

/**
 * The approval of everything a manifest requests, as given by whoever chose to run that app
 * knowing what it asks for: the gate for the apps it is given, a test driver for its fixtures.
 */
export function approvalOfAll(manifest: Manifest): Approval[] {
  return requestedPermissions(manifest).map(({ name, content }) => ({ name, content }));
}

/** What `manifest` requests that the approvals do not cover. */
export function unapprovedOf(manifest: Manifest, approved: readonly Approval[]): PermissionRequest[] {
  return unapproved(requestedPermissions(manifest), approved);
}

/** Why an app waits: the permissions the operator has not approved, and how to approve them. */
export function awaitingApproval(appId: string, missing: readonly PermissionRequest[]): string {
  return `waiting for the operator to approve ${listPermissions(missing)} (archy approve ${appId})`;
}

/**
 * A container was about to be created or started, or a hook to run, with a permission the operator
 * has not approved. The lifecycle refuses such requests and the reconciler holds such apps, so
 * this is the last line: nothing gets through it, whatever path led there.
 */
export class NotApprovedError extends Error {
  constructor(appId: string, missing: readonly PermissionRequest[]) {
    super(`refusing to run ${appId}: ${awaitingApproval(appId, missing)}`);
    this.name = "NotApprovedError";
  }
}

/** One line per permission, for messages: `bootstrap (host-path /srv/media): read the host directory …`. */
export function listPermissions(permissions: readonly PermissionRequest[]): string {
  return permissions.map((p) => `${p.name} (${p.content}): ${p.description}`).join("; ");
}

export type ApprovalDecision =
  | { ok: true; record: Approval[] }
  | { ok: false; message: string; needed: PermissionRequest[] };

/**
 * Whether a request may go on: every permission the manifest requests is approved, before or by
 * `offered` (the approvals the request carries). An offered approval must name a permission the
 * manifest requests, with the content it requests now: the operator approves what is there, so an
 * approval of something else (an older manifest, a typo) is refused rather than ignored.
 */
export function decideApprovals(
  appId: string,
  requested: readonly PermissionRequest[],
  approved: readonly Approval[],
  offered: readonly Approval[],
): ApprovalDecision {
  const needed = () => unapproved(requested, approved);
  for (const approval of offered) {
    const request = requested.find((r) => r.name === approval.name);
    if (!request)
      return {
        ok: false,
        needed: needed(),
        message: `${appId} asks for no permission named ${approval.name}${
          requested.length > 0
            ? ` (it asks for ${requested.map((r) => r.name).join(", ")})`
            : " (it asks for none)"
        }: approve only what it asks for`,
      };
    if (request.content !== approval.content)
      return {
        ok: false,
        needed: needed(),
        message: `the approval of ${approval.name} is for "${approval.content}", but ${appId} asks for "${request.content}" now: approve what it asks for`,
      };
  }
  const missing = unapproved(requested, [...approved, ...offered]);
  if (missing.length > 0)
    return {
      ok: false,
      needed: missing,
      message: `${appId} asks for ${missing.length === 1 ? "a permission" : `${missing.length} permissions`} the operator has not approved: ${listPermissions(missing)}`,
    };
  return { ok: true, record: offered.filter((a) => !approved.some((b) => same(a, b))) };
}

export type PermissionStatus = PermissionRequest & {
  approved: boolean;
  approvedAt: number | null;
  approvedBy: StoredApproval["approvedBy"] | null;
};

/** Each requested permission with whether (when, how) it is approved. */
export function permissionStatus(
  requested: readonly PermissionRequest[],
  approved: readonly StoredApproval[],
): PermissionStatus[] {
  return requested.map((request) => {
    const approval = approved.find((a) => same(a, request));
    return {
      ...request,
      approved: approval !== undefined,
      approvedAt: approval?.approvedAt ?? null,
      approvedBy: approval?.approvedBy ?? null,
    };
  });
}
