/**
 * Where a login may send the browser back to (docs/app-access.md#login): only to an interface of an
 * app installed on this node, on the scheme and port the login itself was reached with. Everything
 * else — another site, a look-alike host (`my-app.localhost.evil.example`), credentials in the
 * URL, another scheme or port, the node's own host, a name nobody installed — is refused, and what
 * is kept is rebuilt from its checked parts, never echoed. An interface's own port (port-per-interface
 * mode) is a return address too, on the very host name or address the login was reached with. Pure.
 */
import { type AppRoute, type HostTarget, parseHost, type RouteTable, routeHost } from "./hosts.ts";

/** How the login was reached: the return must use the same scheme and port (or an interface's port on the same host). */
export type LoginOrigin = { scheme: "http" | "https"; port: number; hostname: string };

export type ReturnTarget =
  | {
      ok: true;
      /** `my-app.localhost:7780`: what tickets are bound to (see `hostKey`). */
      host: string;
      /** `https://my-app.localhost:7780`. */
      origin: string;
      /** The path and query to land on. */
      path: string;
      target: Extract<HostTarget, { kind: "app" }>;
    }
  | { ok: false; reason: string };

export const MAX_RETURN_URL = 4096;

/** The default port of a scheme. */
export function defaultPort(scheme: "http" | "https"): number {
  return scheme === "https" ? 443 : 80;
}

/** A host as tickets and sessions are bound to it: the name and the port, always both. */
export function hostKey(hostname: string, port: number): string {
  return `${hostname}:${port}`;
}

/** The origin of `hostname` reached as `login` was: the port left out when it is the scheme's default. */
export function originOf(scheme: "http" | "https", hostname: string, port: number): string {
  return `${scheme}://${hostname}${port === defaultPort(scheme) ? "" : `:${port}`}`;
}

export function returnTarget(
  raw: string | undefined,
  login: LoginOrigin,
  suffixes: readonly string[],
  table: RouteTable,
  interfacePorts: ReadonlyMap<number, AppRoute> = new Map(),
): ReturnTarget {
  if (!raw) return { ok: false, reason: "no return address" };
  if (raw.length > MAX_RETURN_URL) return { ok: false, reason: "the return address is too long" };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "the return address is not an absolute URL" };
  }
  if (url.protocol !== `${login.scheme}:`)
    return { ok: false, reason: `the return address must use ${login.scheme}, as this login does` };
  if (url.username !== "" || url.password !== "")
    return { ok: false, reason: "the return address may not carry a user name or password" };
  const parsed = parseHost(url.host);
  if (!parsed) return { ok: false, reason: "the return address has no valid host" };
  const port = parsed.port ?? defaultPort(login.scheme);
  const pinned = port === login.port ? undefined : interfacePorts.get(port);
  if (pinned) {
    if (parsed.hostname !== login.hostname)
      return { ok: false, reason: "the return address must be on the host this login was reached on" };
    return {
      ok: true,
      host: hostKey(parsed.hostname, port),
      origin: originOf(login.scheme, parsed.hostname, port),
      path: `${url.pathname}${url.search}`,
      target: { kind: "app", suffix: parsed.hostname, prefix: "", route: pinned },
    };
  }
  if (port !== login.port)
    return { ok: false, reason: "the return address must use the port this login was reached on" };
  const target = routeHost(parsed.hostname, suffixes, table);
  if (target.kind !== "app")
    return { ok: false, reason: "the return address is not an app installed on this node" };
  return {
    ok: true,
    host: hostKey(parsed.hostname, port),
    origin: originOf(login.scheme, parsed.hostname, port),
    path: `${url.pathname}${url.search}`,
    target,
  };
}
