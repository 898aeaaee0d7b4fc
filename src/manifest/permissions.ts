/**
 * What a manifest asks the operator for: every named permission of `permissions`, with what it
 * grants in one canonical line (its *content*, what an approval is bound to) and in plain words.
 * Pure. The reason is the app's explanation, shown beside it, and not part of the content: a new
 * reason for the same grant needs no new approval, a new path under the same name does.
 */
import { accessRequestName } from "./access.ts";
import type { Manifest, PermissionSpec } from "./schema.ts";

/** What an operator approves: a named permission, or what an interface opens to everyone (access.ts). */
export type RequestKind = PermissionSpec["kind"] | "open-interface" | "public-paths";

export type PermissionRequest = {
  /** The permission's name in the manifest. */
  name: string;
  kind: RequestKind;
  /** What is granted, canonical: `host-path /srv/media`, `device /dev/ttyUSB0`, `low-port 53`, `capability NET_ADMIN`. */
  content: string;
  /** The same in plain words, for the operator. */
  description: string;
  /** Why the app needs it, in the app's words. */
  reason: string;
};

/** The canonical content of a permission: its kind and what it names, nothing else. */
function permissionContent(permission: PermissionSpec): string {
  switch (permission.kind) {
    case "host-path":
    case "device":
      return `${permission.kind} ${permission.path}`;
    case "low-port":
      return `low-port ${permission.port}`;
    case "capability":
      return `capability ${permission.capability}`;
  }
}

/** How a host-path permission is used: mounted writable anywhere, or only read. */
function hostPathAccess(manifest: Manifest, name: string): string {
  const mounts = Object.values(manifest.containers).flatMap((c) =>
    c.volumes.filter((v) => v.permission === name),
  );
  if (mounts.some((v) => !v.read_only)) return "read and write";
  return "read";
}

function describe(manifest: Manifest, name: string, permission: PermissionSpec): string {
  switch (permission.kind) {
    case "host-path":
      return `${hostPathAccess(manifest, name)} the host directory ${permission.path} and everything in it`;
    case "device":
      return `use the host device ${permission.path}`;
    case "low-port":
      return `listen on the host's port ${permission.port} (a privileged port, below 1024)`;
    case "capability":
      return `hold the elevated Linux capability ${permission.capability}`;
  }
}

/**
 * What an app's interfaces open to everyone who reaches the node (docs/app-access.md): an `auth:
 * none` interface, or an interface's public paths. The content names exactly what is opened, so an
 * update that opens more asks again.
 */
function accessRequests(manifest: Manifest): PermissionRequest[] {
  const requests: PermissionRequest[] = [];
  for (const [name, ui] of Object.entries(manifest.interfaces)) {
    if (ui.auth === "none")
      requests.push({
        name: accessRequestName(name),
        kind: "open-interface",
        content: `open-interface ${name}`,
        description: `let anyone who reaches the node open its ${name} interface without the node's login (the app has its own login)`,
        reason: "its manifest declares `auth: none` for this interface",
      });
    else if (ui.public_paths.length > 0)
      requests.push({
        name: accessRequestName(name),
        kind: "public-paths",
        content: `public-paths ${name} ${[...ui.public_paths].sort().join(" ")}`,
        description: `let anyone who reaches the node use ${ui.public_paths.join(", ")} of its ${name} interface without the node's login`,
        reason: "its manifest declares these `public_paths` for this interface",
      });
  }
  return requests;
}

/**
 * Every permission the manifest requests, by name, then what its interfaces open to everyone
 * (named `interface.<name>`: no permission name has a dot).
 */
export function requestedPermissions(manifest: Manifest): PermissionRequest[] {
  return [
    ...Object.entries(manifest.permissions)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, permission]) => ({
        name,
        kind: permission.kind,
        content: permissionContent(permission),
        description: describe(manifest, name, permission),
        reason: permission.reason,
      })),
    ...accessRequests(manifest),
  ];
}
