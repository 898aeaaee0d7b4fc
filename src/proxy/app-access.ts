/**
 * App access assembled (docs/app-access.md): the routes of installed apps, the app-host sessions,
 * TLS with the node's authority (or the operator's certificate), the proxy and the front door that
 * owns the daemon's port. The daemon builds it once; the API's Fastify plugs into the front door.
 */
import { readFile } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Auth } from "../api/auth.ts";
import { DEVICE_COOKIE } from "../api/device-cookie.ts";
import { SESSION_COOKIE } from "../api/server.ts";
import type { AccessConfig } from "../daemon/config.ts";
import { interfaceUpstream } from "../manifest/access.ts";
import { appDnsLabel } from "../manifest/naming.ts";
import type { Manifest } from "../manifest/schema.ts";
import { loadAuthority, type NodeAuthority } from "../tls/authority.ts";
import { NodeCertificates } from "../tls/contexts.ts";
import { AppProxy, isAppSessionCookie } from "./app-proxy.ts";
import { FrontDoor, type TlsSetup } from "./front-door.ts";
import {
  type AppRoute,
  interfaceHost,
  nodeSuffixes,
  parseHost,
  type RoutedApp,
  type RouteTable,
  routeHost,
  routeTable,
} from "./hosts.ts";
import { InterfaceListeners } from "./interface-listeners.ts";
import type { PortKey } from "./interface-ports.ts";
import { LOGIN_PATH, registerLoginRoutes } from "./login-routes.ts";
import type { MdnsResponder } from "./mdns.ts";
import { publishedNames } from "./mdns-answers.ts";
import { defaultPort, originOf } from "./return-url.ts";
import { AppSessions } from "./sessions.ts";

/** How long a route table is reused before the installed apps are read again. */
export const ROUTES_TTL_MS = 1_000;

export type AppAccessOptions = {
  config: AccessConfig;
  /** The daemon's state directory (the authority lives in `tls/`). */
  stateDir: string;
  auth: Auth;
  /** The installed apps with their manifests and the names of their unapproved requests. */
  apps: () => RoutedApp[];
  /** Extra names the node answers to (the allowed hosts), for its certificate. */
  extraNames: readonly string[];
  logger: Logger;
  clock?: () => number;
};

export class AppAccess {
  readonly front: FrontDoor;
  readonly #options: AppAccessOptions;
  readonly #suffixes: string[];
  readonly #proxy: AppProxy;
  readonly #sessions: AppSessions;
  readonly #authority: NodeAuthority | undefined;
  readonly #certificates: NodeCertificates | undefined;
  readonly #renewal: NodeJS.Timeout | undefined;
  readonly #tlsSetup: TlsSetup | undefined;
  /** Port-per-interface mode's listeners, once the daemon listens (when the mode is on). */
  #listeners: InterfaceListeners | undefined;
  /** The multicast DNS responder, once the daemon listens (when the operator turned it on). */
  #mdns: MdnsResponder | undefined;
  #routes: { at: number; table: RouteTable } | undefined;
  #port = 0;

  private constructor(
    options: AppAccessOptions,
    tls: { authority?: NodeAuthority; certificates?: NodeCertificates; setup?: TlsSetup },
  ) {
    this.#options = options;
    this.#suffixes = nodeSuffixes(options.config.nodeName);
    this.#authority = tls.authority;
    this.#certificates = tls.certificates;
    this.#tlsSetup = tls.setup;
    const clock = options.clock ?? Date.now;
    this.#sessions = new AppSessions({
      clock,
      operatorValid: (key) => options.auth.sessionKeyValid(key),
      revocations: () => options.auth.revocations,
    });
    this.#proxy = new AppProxy({
      sessions: this.#sessions,
      logger: options.logger,
      isNodeCookie: (name) => name === SESSION_COOKIE || name === DEVICE_COOKIE || isAppSessionCookie(name),
      // From an interface's own port, the login is on the node's port of the same host name or address.
      loginUrl: (request, returnUrl) =>
        `${
          request.interfacePort
            ? originOf(request.scheme, request.hostname, this.#port)
            : originOf(request.scheme, request.target.suffix, request.port)
        }${LOGIN_PATH}?to=${encodeURIComponent(returnUrl)}`,
    });
    this.front = new FrontDoor({
      suffixes: this.#suffixes,
      routes: () => this.routes(),
      proxy: this.#proxy,
      redirectHttp: options.config.redirectHttp,
      ...(tls.setup ? { tls: tls.setup } : {}),
    });
    const certificates = tls.certificates;
    if (certificates) {
      this.#renewal = setInterval(
        () =>
          void certificates.refresh().then(
            (renewed) => {
              if (!renewed) return;
              this.front.updateCertificate();
              this.#listeners?.updateCertificate();
            },
            (error: Error) => options.logger.error({ err: error }, "renewing the node's certificate failed"),
          ),
        60 * 60_000,
      );
      this.#renewal.unref();
    }
  }

  static async create(options: AppAccessOptions): Promise<AppAccess> {
    const { config, logger } = options;
    if (!config.tls) return new AppAccess(options, {});
    if (config.certificate) {
      const [cert, key] = await Promise.all([
        readFile(config.certificate.cert, "utf8"),
        readFile(config.certificate.key, "utf8"),
      ]);
      logger.info(`serving TLS with the certificate ${config.certificate.cert}`);
      return new AppAccess(options, { setup: { defaults: () => ({ cert, key }) } });
    }
    const tlsDir = join(options.stateDir, "tls");
    const authority = await loadAuthority(tlsDir, config.nodeName, (options.clock ?? Date.now)(), (message) =>
      logger.warn(message),
    );
    if (authority.created)
      logger.info(
        { fingerprint: authority.fingerprint },
        `made the node's certificate authority (SHA-256 ${authority.fingerprint}); browsers trust it once it is installed from /ca.crt (docs/app-access.md#https)`,
      );
    let access: AppAccess | undefined;
    const certificates = await NodeCertificates.create(
      authority,
      {
        node: () => nodeNames(config.nodeName, options.extraNames),
        isAppHost: (name) => access?.isAppHost(name) ?? false,
      },
      tlsDir,
      options.clock,
    );
    access = new AppAccess(options, {
      authority,
      certificates,
      setup: { defaults: () => certificates.nodeCertificate, SNICallback: certificates.sniCallback },
    });
    return access;
  }

  /** The routes of the installed apps, read again at most once a second (or after `invalidate`). */
  routes(): RouteTable {
    const now = (this.#options.clock ?? Date.now)();
    if (!this.#routes || now - this.#routes.at >= ROUTES_TTL_MS)
      this.#routes = { at: now, table: routeTable(this.#options.apps()) };
    return this.#routes.table;
  }

  /** An app was installed, changed or removed: the next request reads the routes again. */
  invalidate(): void {
    this.#routes = undefined;
    void this.#syncListeners();
  }

  /** Interface ports follow the installed apps (port-per-interface mode). */
  #syncListeners(): Promise<void> {
    return (
      this.#listeners
        ?.sync(this.#options.apps())
        .catch((error: Error) => this.#options.logger.error({ err: error }, "interface ports failed")) ??
      Promise.resolve()
    );
  }

  /** The route of an interface port's interface, as installed now. */
  #routeOf(key: PortKey): AppRoute | undefined {
    const slash = key.lastIndexOf("/");
    return this.routes().get(`${key.slice(slash + 1)}.${appDnsLabel(key.slice(0, slash))}`);
  }

  /** The interface of each interface port, by port (empty when the mode is off). */
  #interfacePorts(): Map<number, AppRoute> {
    const byPort = new Map<number, AppRoute>();
    for (const [port, key] of this.#listeners?.ports ?? []) {
      const route = this.#routeOf(key);
      if (route) byPort.set(port, route);
    }
    return byPort;
  }

  isAppHost(name: string): boolean {
    return routeHost(parseHost(name)?.hostname ?? "", this.#suffixes, this.routes()).kind === "app";
  }

  /** The node-host routes of app access (the login, the authority certificate) on the API's server. */
  registerRoutes(app: FastifyInstance): void {
    const authority = this.#authority;
    registerLoginRoutes(app, {
      auth: this.#options.auth,
      sessions: this.#sessions,
      suffixes: this.#suffixes,
      routes: () => this.routes(),
      interfacePorts: () => this.#interfacePorts(),
      authority: authority ? () => ({ pem: authority.pem, fingerprint: authority.fingerprint }) : undefined,
      ...(this.#options.clock ? { clock: this.#options.clock } : {}),
    });
  }

  async listen(host: string, port: number): Promise<number> {
    this.#port = await this.front.listen(host, port);
    const range = this.#options.config.interfacePorts;
    if (range) {
      this.#listeners = new InterfaceListeners({
        range,
        file: join(this.#options.stateDir, "interface-ports.json"),
        host,
        logger: this.#options.logger,
        door: (key) =>
          new FrontDoor({
            suffixes: this.#suffixes,
            routes: () => this.routes(),
            proxy: this.#proxy,
            redirectHttp: this.#options.config.redirectHttp,
            pinned: () => this.#routeOf(key),
            ...(this.#tlsSetup ? { tls: this.#tlsSetup } : {}),
          }),
      });
      await this.#syncListeners();
    }
    if (this.#options.config.mdns) {
      // multicast-dns with dns-packet: loaded only by a node that answers mDNS (off by default).
      const { MdnsResponder } = await import("./mdns.ts");
      this.#mdns = new MdnsResponder({
        names: () => publishedNames(this.#options.config.nodeName, this.routes()),
        listenHost: host,
        logger: this.#options.logger,
      });
      await this.#mdns.start();
    }
    return this.#port;
  }

  /** The scheme browsers use: HTTPS whenever the node serves it. */
  get scheme(): "http" | "https" {
    return this.#options.config.tls ? "https" : "http";
  }

  /** The node's own address for browsers (`https://localhost:7780`). */
  get nodeUrl(): string {
    return originOf(this.scheme, this.#options.config.nodeName, this.#port);
  }

  /** The SHA-256 fingerprint of the node's authority, when it serves TLS with its own. */
  get authorityFingerprint(): string | undefined {
    return this.#authority?.fingerprint;
  }

  /**
   * Where a browser opens an interface (`https://my-app.localhost:7780/`; its own port in
   * port-per-interface mode, `https://localhost:7801/`), or null when the proxy cannot reach it.
   */
  interfaceUrl(appId: string, manifest: Manifest, name: string): string | null {
    const ui = manifest.interfaces[name];
    if (!ui || !interfaceUpstream(manifest, name).ok) return null;
    const listeners = this.#listeners;
    if (listeners) {
      // An interface installed a moment ago gets its port now; its listener follows.
      if (listeners.portOf(appId, name) === undefined) void this.#syncListeners();
      const port = listeners.portOf(appId, name);
      if (port !== undefined)
        return `${originOf(this.scheme, this.#options.config.nodeName, port)}${ui.path}`;
    }
    const host = interfaceHost(appId, manifest, name, this.#options.config.nodeName);
    return `${originOf(this.scheme, host, this.#port || defaultPort(this.scheme))}${ui.path}`;
  }

  async close(): Promise<void> {
    if (this.#renewal) clearInterval(this.#renewal);
    await this.#mdns?.close();
    await this.#listeners?.close();
    await this.front.close();
    await this.#proxy.close();
  }
}

/** The names and addresses of the node's own certificate: its name, localhost, its addresses. */
export function nodeNames(nodeName: string, extra: readonly string[]): { dns: string[]; ips: string[] } {
  const ips = new Set(["127.0.0.1", "::1"]);
  for (const addresses of Object.values(networkInterfaces()))
    for (const address of addresses ?? [])
      if (!address.internal) ips.add(address.address.split("%")[0] as string);
  const dns = new Set([nodeName, "localhost"]);
  for (const name of extra) if (!/^[0-9.:[\]]+$/.test(name)) dns.add(name.toLowerCase());
  return { dns: [...dns], ips: [...ips] };
}
