/**
 * The daemon's listener (docs/app-access.md): one port for HTTP and HTTPS alike (the first byte of
 * a connection tells a TLS handshake from a request line), where the Host of each request decides
 * who answers it: an app host goes to the proxy (over HTTP it is first sent to HTTPS when the node
 * serves TLS: its session cookie is Secure), anything else to the node's API and UI (Fastify, whose
 * own checks — the allowed hosts against DNS rebinding — then apply). Upgrades are routed the same
 * way. A door pinned to one interface (port-per-interface mode) serves that interface alone, whatever
 * the Host: never the node's API.
 */
import { EventEmitter } from "node:events";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { SecureContext } from "node:tls";
import type { AppProxy, AppRequest } from "./app-proxy.ts";
import { type AppRoute, parseHost, type RouteTable, routeHost } from "./hosts.ts";
import { defaultPort } from "./return-url.ts";

/** The first byte of a TLS record carrying a handshake. */
const TLS_HANDSHAKE = 0x16;
/** Headers of any size a browser sends (large cookies, long URLs): Node's default is 16 KiB. */
export const MAX_HEADER_BYTES = 64 * 1024;

export type TlsSetup = {
  /** The certificate and key clients without SNI get (the node's names and addresses). */
  defaults: () => { cert: string; key: string };
  SNICallback?: (servername: string, done: (error: Error | null, context?: SecureContext) => void) => void;
};

export type FrontDoorOptions = {
  /** The names app hosts hang under (nodeSuffixes). */
  suffixes: readonly string[];
  routes: () => RouteTable;
  proxy: AppProxy;
  /** TLS, when the node serves it. */
  tls?: TlsSetup;
  /** Whether browsers asking for the node's pages over HTTP are sent to HTTPS. */
  redirectHttp: boolean;
  /** The one interface this door serves (port-per-interface mode), undefined once it is gone. */
  pinned?: () => AppRoute | undefined;
};

/**
 * Paths of the node that stay on plain HTTP whatever `redirectHttp` says: tools use them, and a
 * browser that does not trust the node yet needs the authority and how to trust it.
 */
const TOOL_PATHS = new Set(["/rpc/v1", "/ws/v1", "/metrics", "/healthz", "/ca.crt", "/trust"]);

type ApiHandler = (req: IncomingMessage, res: ServerResponse) => void;

export class FrontDoor {
  readonly #options: FrontDoorOptions;
  /** The node's API, as Fastify handles a request (see `serverFactory`). */
  #api: ApiHandler | undefined;
  /** Where the node's API hears upgrades (@fastify/websocket's `server` option). */
  readonly apiUpgrades = new EventEmitter();
  readonly #http: Server;
  readonly #https: HttpsServer | undefined;
  readonly #listener: NetServer;
  readonly #sockets = new Set<Socket>();
  /** The port listened on (a pinned door's sessions and tickets are bound to it). */
  #port = 0;

  constructor(options: FrontDoorOptions) {
    this.#options = options;
    const serverOptions = {
      maxHeaderSize: MAX_HEADER_BYTES,
      // A request body may take as long as it takes (an upload of gigabytes); the headers may not.
      requestTimeout: 0,
      headersTimeout: 60_000,
    };
    this.#http = createHttpServer(serverOptions, (req, res) => this.#request(req, res, "http"));
    this.#http.on("upgrade", (req, socket, head) => this.#upgrade(req, socket, head, "http"));
    if (options.tls) {
      this.#https = createHttpsServer(
        { ...serverOptions, ...options.tls.defaults(), SNICallback: options.tls.SNICallback },
        (req, res) => this.#request(req, res, "https"),
      );
      this.#https.on("upgrade", (req, socket, head) => this.#upgrade(req, socket, head, "https"));
      this.#https.on("tlsClientError", (_error, socket) => socket.destroy());
    }
    this.#listener = createNetServer({ pauseOnConnect: true }, (socket) => this.#connection(socket));
  }

  /** Fastify's `serverFactory`: the API keeps its handler; the front door owns the listener. */
  serverFactory = (handler: ApiHandler): Server => {
    this.#api = handler;
    return this.#http;
  };

  /** The node's certificate changed (its names, a renewal): new handshakes get the new one. */
  updateCertificate(): void {
    if (this.#https && this.#options.tls) this.#https.setSecureContext(this.#options.tls.defaults());
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#listener.once("error", reject);
      this.#listener.listen({ host, port }, () => {
        this.#listener.off("error", reject);
        resolve();
      });
    });
    const address = this.#listener.address();
    this.#port = typeof address === "object" && address ? address.port : port;
    return this.#port;
  }

  /**
   * Stops listening and ends every connection at once: the listener's close completes only when its
   * last connection has ended, and a browser's keep-alive or WebSocket connection would otherwise
   * hold a stopping daemon until the browser let go (forever, for a page left open).
   */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#listener.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    this.#http.closeAllConnections();
    this.#https?.closeAllConnections();
    await closed;
  }

  /** Reads the first byte of a connection to hand it to HTTPS or HTTP, the byte put back. */
  #connection(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.setTimeout(60_000, () => socket.destroy());
    socket.once("readable", () => {
      const first: Buffer | null = socket.read(1);
      socket.setTimeout(0);
      if (first === null) return socket.destroy();
      socket.unshift(first);
      if (first[0] === TLS_HANDSHAKE) {
        if (!this.#https) return socket.destroy();
        this.#https.emit("connection", socket);
      } else this.#http.emit("connection", socket);
    });
  }

  #appRequest(req: IncomingMessage, scheme: "http" | "https"): AppRequest | undefined {
    const parsed = parseHost(req.headers.host);
    if (!parsed) return undefined;
    if (this.#options.pinned) {
      // Whatever name or address the client used, on this port: the interface, bound to the port.
      const { hostname } = parsed;
      const route = this.#options.pinned();
      const target = route
        ? { kind: "app" as const, suffix: hostname, prefix: "", route }
        : { kind: "no-app" as const, suffix: hostname, prefix: "" };
      return { target, scheme, hostname, port: this.#port, interfacePort: true };
    }
    const target = routeHost(parsed.hostname, this.#options.suffixes, this.#options.routes());
    if (target.kind !== "app" && target.kind !== "no-app") return undefined;
    return { target, scheme, hostname: parsed.hostname, port: parsed.port ?? defaultPort(scheme) };
  }

  #request(req: IncomingMessage, res: ServerResponse, scheme: "http" | "https"): void {
    const app = this.#appRequest(req, scheme);
    const toHttps = () => {
      res.writeHead(308, { location: `https://${req.headers.host}${req.url ?? "/"}`, "content-length": 0 });
      res.end();
    };
    // Over HTTP, an app host always goes to HTTPS (its session cookie is Secure: it would never
    // come back), the node's pages only when asked to.
    const page =
      (req.method === "GET" || req.method === "HEAD") &&
      !TOOL_PATHS.has((req.url ?? "/").split("?")[0] ?? "");
    const upgradeToTls =
      scheme === "http" &&
      this.#https !== undefined &&
      (app !== undefined ||
        (this.#options.redirectHttp && page && parseHost(req.headers.host) !== undefined));
    if (upgradeToTls) toHttps();
    else if (app) this.#options.proxy.handle(app, req, res);
    else if (this.#options.pinned) {
      res.writeHead(400, { "content-type": "text/plain; charset=utf-8" });
      res.end("Bad request: send the Host header (a name or address of this node)\n");
    } else (this.#api as ApiHandler)(req, res);
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, scheme: "http" | "https"): void {
    const app = this.#appRequest(req, scheme);
    if (!app && this.#options.pinned) {
      socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    if (!app) {
      this.apiUpgrades.emit("upgrade", req, socket, head);
      return;
    }
    if (scheme === "http" && this.#https) {
      socket.end("HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    this.#options.proxy.upgrade(app, req, socket, head);
  }
}
