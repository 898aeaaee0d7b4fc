/**
 * Port-per-interface mode (docs/app-access.md#clients-that-cannot-use-names): which port of the
 * configured range serves which interface. An interface keeps its port for as long as the record
 * holds it — across restarts, updates, a removal and a reinstall — so a client configured with it
 * keeps working; a new interface takes the lowest port no record holds, and only when the range is
 * full is the port of an interface no longer installed given to another. Pure: the record is read
 * and written by `InterfacePortBook` (interface-port-book.ts).
 */
import type { PortRange } from "../daemon/config.ts";
import { interfaceUpstream } from "../manifest/access.ts";
import type { RoutedApp } from "./hosts.ts";

/** An interface as the record names it: `<app id>/<interface>`. */
export type PortKey = string;
/** The record: the port of each interface that ever had one (and still holds it). */
export type PortBook = Readonly<Record<PortKey, number>>;

export function portKey(appId: string, name: string): PortKey {
  return `${appId}/${name}`;
}

/** The interfaces that get a port: every one the proxy can reach (its port has a `host`). */
export function portedInterfaces(apps: readonly RoutedApp[]): PortKey[] {
  return apps.flatMap(({ id, manifest }) =>
    Object.keys(manifest.interfaces)
      .filter((name) => interfaceUpstream(manifest, name).ok)
      .map((name) => portKey(id, name)),
  );
}

export type Assignment = {
  book: PortBook;
  /** Interfaces left without a port: the range is full of installed interfaces. */
  unplaced: PortKey[];
};

/** The record after giving each of `wanted` a port of `range` (records outside the range are dropped). */
export function assignPorts(book: PortBook, wanted: readonly PortKey[], range: PortRange): Assignment {
  const held: Record<PortKey, number> = {};
  for (const [key, port] of Object.entries(book))
    if (Number.isInteger(port) && port >= range.first && port <= range.last) held[key] = port;
  const taken = new Set(Object.values(held));
  const installed = new Set(wanted);
  const unplaced: PortKey[] = [];
  let next = range.first;
  for (const key of [...installed].sort()) {
    if (held[key] !== undefined) continue;
    while (next <= range.last && taken.has(next)) next++;
    let port: number | undefined = next <= range.last ? next : undefined;
    if (port === undefined) {
      // The range is full: the lowest port of an interface that is not installed any more.
      const stale = Object.entries(held)
        .filter(([other]) => !installed.has(other))
        .sort((a, b) => a[1] - b[1])[0];
      if (stale) {
        delete held[stale[0]];
        port = stale[1];
      }
    }
    if (port === undefined) {
      unplaced.push(key);
      continue;
    }
    held[key] = port;
    taken.add(port);
  }
  return { book: held, unplaced };
}

/** The installed interfaces' ports, by port: what each listener serves. */
export function portsInUse(book: PortBook, wanted: readonly PortKey[]): Map<number, PortKey> {
  const byPort = new Map<number, PortKey>();
  for (const key of wanted) {
    const port = book[key];
    if (port !== undefined) byPort.set(port, key);
  }
  return byPort;
}
