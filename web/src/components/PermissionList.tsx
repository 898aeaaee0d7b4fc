/** The permissions an app's manifest requests, as the operator approves them at install. */
import { isRpcError, type Result } from "../api.ts";

export type PermissionRequest = Result<"package.available">[number]["permissions"][number];

/**
 * The permissions a refusal asks the operator to approve (`approvalRequired`, `data.permissions`:
 * the manifest may have changed since the page showed it), or none.
 */
export function permissionsToApprove(error: unknown): PermissionRequest[] {
  if (!isRpcError(error, "approvalRequired")) return [];
  const permissions = (error.data as { permissions?: unknown } | undefined)?.permissions;
  return Array.isArray(permissions) ? (permissions as PermissionRequest[]) : [];
}

export function PermissionList({
  permissions,
  names,
}: {
  permissions: PermissionRequest[];
  names?: string[];
}) {
  return (
    <section className="section" aria-labelledby="approve-title">
      <h2 id="approve-title">It asks for your approval</h2>
      <p className="muted small">
        Installing approves these{names && names.length > 1 ? ` for ${names.join(" and ")}` : ""}; you can
        withdraw an approval later (the app then stops).
      </p>
      <ul className="needs" aria-label="Permissions to approve">
        {permissions.map((p) => (
          <li key={`${p.name} ${p.content}`} className="need need-capability">
            <strong>{p.description}</strong>
            <span className="muted block small">{p.reason}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
