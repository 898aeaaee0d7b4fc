/**
 * What of an interface is open without the operator's login (docs/app-access.md#public-paths):
 * all of it with `auth: none`, else only its public paths, matched on the request's path in
 * canonical form. A path that is not canonical (dot segments, empty segments, a backslash, an
 * encoded `/`, `\` or `.`, a malformed escape) is never public: the app might read it as another
 * path than the one matched (`/.well-known/../admin` is `/admin`), so it stays behind the login.
 * Either opening counts only once the operator approved it (an app held for approval does not run,
 * but an approval revoked while the proxy holds a route must close it too). Pure.
 */
import type { AppRoute } from "./hosts.ts";

/** Whether `path` (without its query) reads the same to every server: the only form public paths match. */
export function isCanonicalPath(path: string): boolean {
  if (!path.startsWith("/") || path.includes("\\")) return false;
  if (/%(?![0-9a-fA-F]{2})|%2[eEfF]|%5[cC]/.test(path)) return false;
  const segments = path.slice(1).split("/");
  if (segments.some((segment) => segment === "." || segment === "..")) return false;
  return !segments.slice(0, -1).includes("");
}

/** Whether a canonical request path is one of `publicPaths` (a path ending in `/` covers what is below it). */
export function matchesPublicPath(publicPaths: readonly string[], path: string): boolean {
  return publicPaths.some((declared) =>
    declared.endsWith("/") ? path.startsWith(declared) : path === declared,
  );
}

/** Whether a request for `url` (path and query) to the route's interface needs no login. */
export function openWithoutLogin(route: AppRoute, url: string): boolean {
  const ui = route.manifest.interfaces[route.interface];
  if (!ui || !route.openingApproved) return false;
  if (ui.auth === "none") return true;
  if (ui.public_paths.length === 0) return false;
  const path = url.split("?")[0] ?? "";
  return isCanonicalPath(path) && matchesPublicPath(ui.public_paths, path);
}
