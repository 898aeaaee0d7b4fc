/**
 * Which host a request is for (docs/app-access.md#names): the node's own (its API and UI), an app's
 * interface (`<app>.<node>` for the main one, `<interface>.<app>.<node>` for each), or neither. An
 * app's label is its id as one DNS label (`appDnsLabel`: `alice.relay` → `alice--relay`). The node
 * answers under its configured name and, always, under `localhost` (browsers resolve `*.localhost`
 * to the machine itself). Pure: the table of routes is built from the installed apps' manifests.
 */
import { accessRequestName, mainInterface } from "../manifest/access.ts";
import { appDnsLabel } from "../manifest/naming.ts";
import type { Manifest } from "../manifest/schema.ts";

/** The name browsers on the node itself can always use. */
export const LOCALHOST = "localhost";

/** One interface as the proxy serves it. */
export type AppRoute = {
  appId: string;
  interface: string;
  /** The manifest the route was made from (what the proxy reads of it: upstream, access). */
  manifest: Manifest;
  /** Whether the operator approved what the interface opens to everyone (`auth: none`, public paths). */
  openingApproved: boolean;
};

/** An installed app as routes are made from it. */
export type RoutedApp = {
  id: string;
  manifest: Manifest;
  /** The names of its requests the operator has not approved (permissions.ts). */
  unapproved: ReadonlySet<string>;
};

/** Routes by the part of the host name before the node's name: `my-app`, `admin.my-app`. */
export type RouteTable = ReadonlyMap<string, AppRoute>;

/** The names the node answers to as a suffix of app hosts: its configured name, then `localhost`. */
export function nodeSuffixes(nodeName: string): string[] {
  return [...new Set([nodeName.toLowerCase(), LOCALHOST])].sort((a, b) => b.length - a.length);
}

/** The routes of the installed apps: each interface under its own name, the main one under the app's. */
export function routeTable(apps: readonly RoutedApp[]): RouteTable {
  const table = new Map<string, AppRoute>();
  for (const { id, manifest, unapproved } of apps) {
    const label = appDnsLabel(id);
    const route = (name: string): AppRoute => ({
      appId: id,
      interface: name,
      manifest,
      openingApproved: !unapproved.has(accessRequestName(name)),
    });
    const main = mainInterface(manifest);
    if (main) table.set(label, route(main));
    for (const name of Object.keys(manifest.interfaces)) table.set(`${name}.${label}`, route(name));
  }
  return table;
}

/** The host name of an interface under `suffix` (the node's name). */
export function interfaceHost(appId: string, manifest: Manifest, name: string, suffix: string): string {
  const label = appDnsLabel(appId);
  return name === mainInterface(manifest) ? `${label}.${suffix}` : `${name}.${label}.${suffix}`;
}

/** A Host header taken apart: the name (lower case, no trailing dot) and the port, if any. */
export type ParsedHost = { hostname: string; port: number | undefined };

const HOST_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

/**
 * A Host header as a name and a port, or undefined when it is not one: a DNS name (no userinfo,
 * no path, nothing a browser would not send), an IPv4 literal or a bracketed IPv6 literal.
 */
export function parseHost(header: string | undefined): ParsedHost | undefined {
  if (!header || header.length > 300) return undefined;
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(header.trim());
  if (!match) return undefined;
  const port = match[2] === undefined ? undefined : Number(match[2]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  const hostname = (match[1] as string).toLowerCase().replace(/\.$/, "");
  if (hostname.startsWith("[")) return { hostname, port };
  if (!HOST_NAME.test(hostname) || hostname.length > 253) return undefined;
  return { hostname, port };
}

export type HostTarget =
  /** The node's own host under one of its names (its API and UI). */
  | { kind: "node"; suffix: string }
  /** An app's interface. */
  | { kind: "app"; suffix: string; prefix: string; route: AppRoute }
  /** A name under the node's that names no installed interface. */
  | { kind: "no-app"; suffix: string; prefix: string }
  /** Anything else: an IP literal, another name (the API decides: see hostAllowed). */
  | { kind: "other" };

/** Where a request for `hostname` goes. */
export function routeHost(hostname: string, suffixes: readonly string[], table: RouteTable): HostTarget {
  for (const suffix of suffixes) {
    if (hostname === suffix) return { kind: "node", suffix };
    if (!hostname.endsWith(`.${suffix}`)) continue;
    const prefix = hostname.slice(0, -suffix.length - 1);
    const route = table.get(prefix);
    return route ? { kind: "app", suffix, prefix, route } : { kind: "no-app", suffix, prefix };
  }
  return { kind: "other" };
}
