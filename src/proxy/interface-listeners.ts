/**
 * The listeners of port-per-interface mode (docs/app-access.md#clients-that-cannot-use-names): one
 * front door per installed interface, pinned to it, on the port the record gives it
 * (interface-ports.ts), on the daemon's own address. The record lives in
 * `<state>/interface-ports.json`, written whole before any listener uses a new port, so an interface
 * keeps its port across restarts. Opened and closed as apps come and go (`sync`).
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import type { Logger } from "pino";
import type { PortRange } from "../daemon/config.ts";
import type { FrontDoor } from "./front-door.ts";
import type { RoutedApp } from "./hosts.ts";
import {
  assignPorts,
  type PortBook,
  type PortKey,
  portedInterfaces,
  portKey,
  portsInUse,
} from "./interface-ports.ts";

export type InterfaceListenersOptions = {
  range: PortRange;
  /** The record's file. */
  file: string;
  /** The address the daemon listens on: interface ports listen there too. */
  host: string;
  /** A front door pinned to the interface `key`. */
  door: (key: PortKey) => FrontDoor;
  logger: Logger;
};

export class InterfaceListeners {
  readonly #options: InterfaceListenersOptions;
  #book: PortBook;
  /** The interfaces installed at the last assignment, by port. */
  #inUse = new Map<number, PortKey>();
  readonly #open = new Map<number, { key: PortKey; door: FrontDoor }>();
  #syncing: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: InterfaceListenersOptions) {
    this.#options = options;
    this.#book = readBook(options.file, options.logger);
  }

  /** The port of an interface, once assigned. */
  portOf(appId: string, name: string): number | undefined {
    const key = portKey(appId, name);
    const port = this.#book[key];
    return port !== undefined && this.#inUse.get(port) === key ? port : undefined;
  }

  /** The interface each port serves, by port. */
  get ports(): ReadonlyMap<number, PortKey> {
    return this.#inUse;
  }

  /** Gives every installed interface a port (recorded at once); listeners follow with `sync`. */
  assign(apps: readonly RoutedApp[]): void {
    const wanted = portedInterfaces(apps);
    const { book, unplaced } = assignPorts(this.#book, wanted, this.#options.range);
    for (const key of unplaced)
      this.#options.logger.warn(
        `no interface port left for ${key} in ${this.#options.range.first}-${this.#options.range.last}: widen --interface-ports`,
      );
    if (JSON.stringify(book) !== JSON.stringify(this.#book)) writeBook(this.#options.file, book);
    this.#book = book;
    this.#inUse = portsInUse(book, wanted);
  }

  /** Assigns ports to the installed apps, then opens and closes listeners to match (one sync at a time). */
  sync(apps: readonly RoutedApp[]): Promise<void> {
    this.assign(apps);
    // A sync that failed (and was reported by its caller) does not stop the next one.
    this.#syncing = this.#syncing.catch(() => {}).then(() => this.#listen());
    return this.#syncing;
  }

  async #listen(): Promise<void> {
    if (this.#closed) return;
    for (const [port, { key, door }] of this.#open)
      if (this.#inUse.get(port) !== key) {
        this.#open.delete(port);
        await door.close();
      }
    for (const [port, key] of this.#inUse) {
      if (this.#open.has(port)) continue;
      const door = this.#options.door(key);
      try {
        await door.listen(this.#options.host, port);
        this.#open.set(port, { key, door });
        this.#options.logger.info(`interface ${key} listening on port ${port}`);
      } catch (error) {
        this.#options.logger.warn(
          `interface ${key} cannot listen on port ${port}: ${(error as Error).message}; free the port or change --interface-ports`,
        );
      }
    }
  }

  /** The node's certificate changed: every listener serves the new one. */
  updateCertificate(): void {
    for (const { door } of this.#open.values()) door.updateCertificate();
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#syncing;
    await Promise.all([...this.#open.values()].map(({ door }) => door.close()));
    this.#open.clear();
  }
}

/** The record as written; an unreadable one is started afresh (ports are then given again, in order). */
function readBook(file: string, logger: Logger): PortBook {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return {};
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed))
      return Object.fromEntries(
        Object.entries(parsed).filter((entry): entry is [string, number] => Number.isInteger(entry[1])),
      );
  } catch {}
  logger.warn(`${file} is not a record of interface ports: interfaces get their ports anew`);
  return {};
}

function writeBook(file: string, book: PortBook): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(book, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, file);
}
