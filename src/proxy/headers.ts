/**
 * What the proxy changes in the headers between a browser and an app (docs/app-access.md#what-an-app-sees).
 * Towards the app: the identity headers only the proxy may set (`X-Archipelago-*`) and the
 * forwarding headers only the first proxy may set (`X-Forwarded-*`, `Forwarded`) are dropped
 * whatever the client sent, then set from what the proxy knows; the Host stays the app's public
 * one; the node's own cookies are taken out. Towards the browser: a redirect to the app's loopback
 * address is turned back into its public one, and a cookie the app scopes to a parent domain is
 * kept to the app's own host (an app must not plant cookies on the node's UI or on other apps).
 * Pure.
 */
import type { IncomingHttpHeaders } from "node:http";

/** The headers through which the proxy tells the app who is calling; no client may send them. */
export const IDENTITY_PREFIX = "x-archipelago-";
export const USER_HEADER = "x-archipelago-user";
/** The one user a node has. */
export const OPERATOR = "operator";

export type Forwarding = {
  /** The client's address. */
  client: string;
  /** How the client reached the proxy. */
  proto: "http" | "https";
  /** The Host header the client sent (checked: an app host of this node). */
  host: string;
  port: number;
  /** Whether the caller holds a session of this host (the operator). */
  operator: boolean;
  /** Whether a cookie name is the node's own, never the app's. */
  isNodeCookie: (name: string) => boolean;
};

/** The request headers the app gets, from the ones the client sent. */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  forwarding: Forwarding,
): Record<string, string | string[] | undefined> {
  const headers: Record<string, string | string[] | undefined> = {};
  for (const [name, value] of Object.entries(incoming)) {
    const lower = name.toLowerCase();
    if (lower.startsWith(IDENTITY_PREFIX) || lower.startsWith("x-forwarded-") || lower === "forwarded")
      continue;
    headers[lower] = value;
  }
  const cookie = withoutCookies(incoming.cookie, forwarding.isNodeCookie);
  if (cookie === undefined) delete headers.cookie;
  else headers.cookie = cookie;
  headers.host = forwarding.host;
  headers["x-forwarded-for"] = forwarding.client;
  headers["x-forwarded-proto"] = forwarding.proto;
  headers["x-forwarded-host"] = forwarding.host;
  headers["x-forwarded-port"] = String(forwarding.port);
  if (forwarding.operator) headers[USER_HEADER] = OPERATOR;
  return headers;
}

/** A Cookie header without the cookies `drop` names; undefined when nothing is left. */
export function withoutCookies(
  header: string | undefined,
  drop: (name: string) => boolean,
): string | undefined {
  if (header === undefined) return undefined;
  const kept = header
    .split(";")
    .map((part) => part.trim())
    .filter((part) => part !== "" && !drop(part.split("=")[0]?.trim() ?? ""));
  return kept.length > 0 ? kept.join("; ") : undefined;
}

/** The value of one cookie in a Cookie header (the first of that name). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const index = part.indexOf("=");
    if (index < 0 || part.slice(0, index).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(index + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Where the app lives on the node, and where the browser knows it. */
export type Origins = {
  /** `http://127.0.0.1:18080` (every spelling the app may use for itself is tried: see `rewriteLocation`). */
  upstream: { protocol: string; address: string; port: number };
  /** `https://my-app.localhost:7780`. */
  public: string;
  /** Whether a cookie name is the node's own: an app may not set it (see `downstreamResponseHeaders`). */
  isNodeCookie: (name: string) => boolean;
};

/**
 * A redirect of the app as the browser must see it: one to the app's loopback address (or to
 * `localhost` at its port), or to its public host over the wrong scheme, is made one to its public
 * origin; anything else is left alone.
 */
export function rewriteLocation(location: string, origins: Origins): string {
  let target: URL;
  try {
    target = new URL(location);
  } catch {
    return location; // relative: the browser resolves it against the public origin
  }
  const publicOrigin = new URL(origins.public);
  const { upstream } = origins;
  const upstreamHosts = new Set([
    upstream.address.includes(":") ? `[${upstream.address}]` : upstream.address,
    "localhost",
    "127.0.0.1",
  ]);
  const port = target.port === "" ? (target.protocol === "https:" ? 443 : 80) : Number(target.port);
  const toUpstream = upstreamHosts.has(target.hostname) && port === upstream.port;
  const toPublicHost = target.host === publicOrigin.host && target.protocol !== publicOrigin.protocol;
  if (!toUpstream && !toPublicHost) return location;
  return `${origins.public}${target.pathname}${target.search}${target.hash}`;
}

/** A Set-Cookie value kept to the host that set it: its `Domain` attribute removed. */
export function hostOnlyCookie(setCookie: string): string {
  return setCookie
    .split(";")
    .filter((part, index) => index === 0 || !/^\s*domain\s*=/i.test(part))
    .join(";");
}

/**
 * The response headers the browser gets, from the app's. A cookie named as one of the node's is
 * dropped: browsers share a host's cookies across its ports, so an app on an interface port could
 * otherwise replace the operator's session on the node's UI (`localhost:7801` sets, `localhost:7780`
 * receives).
 */
export function downstreamResponseHeaders<H extends IncomingHttpHeaders>(headers: H, origins: Origins): H {
  const out: H = { ...headers };
  if (typeof out.location === "string") out.location = rewriteLocation(out.location, origins);
  const cookies = out["set-cookie"];
  if (cookies !== undefined)
    out["set-cookie"] = (Array.isArray(cookies) ? cookies : [String(cookies)])
      .filter((cookie) => !origins.isNodeCookie(cookie.split("=")[0]?.trim() ?? ""))
      .map(hostOnlyCookie);
  return out;
}
