/**
 * Where things live in a catalog, shared by the publisher and the node: target paths of app
 * versions, namespaces of app ids, the path patterns a namespace delegation covers, and the
 * published tree. Pure.
 */
import { APP_ID } from "../manifest/schema.ts";

/** The top-level TUF roles; delegated roles are named after the namespace they hold. */
export const TOP_ROLES = ["root", "targets", "snapshot", "timestamp"] as const;
export type TopRole = (typeof TOP_ROLES)[number];

/** How deep an app's files may sit in its directory (`files/www/index.html` is 3). */
export const MAX_FILE_DEPTH = 4;
/** Every target of an app version lives under `apps/<id>/<version>/`. */
const APPS = "apps";
export const MANIFEST_TARGET = "manifest.yml";

/** A namespace: the part of an app id before its dot (`community` in `community.relay`). */
const NAMESPACE = /^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$/;

export function namespaceOf(appId: string): string | undefined {
  const dot = appId.indexOf(".");
  return dot === -1 ? undefined : appId.slice(0, dot);
}

export function isNamespace(name: string): boolean {
  return NAMESPACE.test(name) && !(TOP_ROLES as readonly string[]).includes(name);
}

export function targetPath(appId: string, version: string, file: string): string {
  return `${APPS}/${appId}/${version}/${file}`;
}

export type AppTarget = { appId: string; version: string; file: string };

/** The app version a target path belongs to, or undefined for a path outside the layout. */
export function parseTargetPath(path: string): AppTarget | undefined {
  const parts = path.split("/");
  if (parts.length < 4 || parts.length > 3 + MAX_FILE_DEPTH || parts[0] !== APPS) return undefined;
  const [, appId, version, ...file] = parts as [string, string, string, ...string[]];
  if (!APP_ID.test(appId) || version === "" || file.some((p) => p === "" || p === "." || p === ".."))
    return undefined;
  return { appId, version, file: file.join("/") };
}

/**
 * The TUF path patterns of a namespace delegation: every target of every app `<namespace>.*`. TUF
 * matches a pattern segment by segment (and `*` never crosses a `/`), so there is one pattern per
 * file depth.
 */
export function namespacePatterns(namespace: string): string[] {
  return Array.from(
    { length: MAX_FILE_DEPTH },
    (_, depth) => `${APPS}/${namespace}.*/*/${"*/".repeat(depth)}*`,
  );
}

/** The published tree: `metadata/` (TUF metadata) and `targets/` (app files, hash-prefixed). */
export const METADATA_DIR = "metadata";
export const TARGETS_DIR = "targets";

/** With consistent snapshots, a target is published as `<dir>/<sha256>.<name>`. */
export function consistentTargetPath(path: string, sha256: string): string {
  const slash = path.lastIndexOf("/");
  return `${path.slice(0, slash + 1)}${sha256}.${path.slice(slash + 1)}`;
}
