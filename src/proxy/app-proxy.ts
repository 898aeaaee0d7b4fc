/**
 * The proxy of app hosts (docs/app-access.md): a request for `<app>.<node>` passes the login check
 * (a session of that very host, or an opening the operator approved), then goes to the app's
 * loopback port through @fastify/reply-from (undici: pooled keep-alive connections, bodies streamed
 * both ways with back-pressure, so a download of gigabytes holds a few buffers); a WebSocket (any
 * upgrade) goes through http-proxy-3. Streams opened with a session end when the session does.
 *
 * Both are loaded at the first request for an app host, not at the daemon's start: reply-from
 * brings its own undici (~0.8 MB of code), which a node whose apps nobody opens through it never
 * needs, and an idle daemon keeps every loaded module (docs/architecture.md, "Starting fast").
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import type { ProxyServer } from "http-proxy-3";
import type { Logger } from "pino";
import { interfaceUpstream } from "../manifest/access.ts";
import { openWithoutLogin } from "./access-rules.ts";
import {
  cookieValue,
  downstreamResponseHeaders,
  type Forwarding,
  type Origins,
  upstreamRequestHeaders,
} from "./headers.ts";
import type { HostTarget } from "./hosts.ts";
import { messagePage, PAGE_HEADERS } from "./pages.ts";
import { defaultPort, hostKey, originOf } from "./return-url.ts";
import type { AppSessions } from "./sessions.ts";

/** The cookie of an app host's session (host-only: each app host has its own). */
export const APP_COOKIE = "archy_app";
/**
 * The cookie of a session of `request`'s host. Browsers send a host's cookies to all its ports: an
 * interface port's session has a name of its own, so that logging in on one port never replaces
 * another port's (the session itself is bound to the port as well: see `hostKey`).
 */
export function appCookieName(request: Pick<AppRequest, "interfacePort" | "port">): string {
  return request.interfacePort ? `${APP_COOKIE}_${request.port}` : APP_COOKIE;
}
/** Whether a cookie name is one of app-host sessions (of a name, or of an interface port). */
export function isAppSessionCookie(name: string): boolean {
  return name === APP_COOKIE || /^archy_app_\d{1,5}$/.test(name);
}
/** Paths the proxy answers itself on every app host. */
export const PROXY_PREFIX = "/.archipelago/";
export const TICKET_PATH = `${PROXY_PREFIX}login`;
export const LOGOUT_PATH = `${PROXY_PREFIX}logout`;
/** How often streams opened with a session check that it still holds. */
export const STREAM_CHECK_MS = 500;

/** A request for an app host, as the front door routed it. */
export type AppRequest = {
  target: Extract<HostTarget, { kind: "app" | "no-app" }>;
  scheme: "http" | "https";
  hostname: string;
  port: number;
  /** Reached on the interface's own port (port-per-interface mode), not by its name. */
  interfacePort?: true;
};

export type AppProxyOptions = {
  sessions: AppSessions;
  logger: Logger;
  /** Whether a cookie is the node's own (never passed to apps, never set by them). */
  isNodeCookie: (name: string) => boolean;
  /** The node's login for a return address (`https://localhost:7780/app-login?to=…`). */
  loginUrl: (request: AppRequest, returnUrl: string) => string;
};

const routed = new WeakMap<IncomingMessage, AppRequest>();
/** Whether a method only reads (a navigation may be sent back to the login with it). */
const SAFE = new Set(["GET", "HEAD"]);

export class AppProxy {
  readonly #options: AppProxyOptions;
  /** Streams held open for a session, by its cookie token: closed when it ends. */
  readonly #streams = new Map<string, { host: string; streams: Set<{ destroy(): void }> }>();
  /** Checks the held streams' sessions; runs only while a stream is held (an idle node sleeps). */
  #timer: NodeJS.Timeout | undefined;
  /** The proxy's Fastify app (HTTP) and http-proxy-3 server (upgrades), each made on first use. */
  #app: Promise<FastifyInstance> | undefined;
  #ws: Promise<ProxyServer> | undefined;

  constructor(options: AppProxyOptions) {
    this.#options = options;
  }

  async #makeApp(): Promise<FastifyInstance> {
    const { default: replyFrom } = await import("@fastify/reply-from");
    const app = Fastify({
      loggerInstance: this.#options.logger,
      logController: new LogController({ disableRequestLogging: true }),
      // The proxy's own logger for every request: Fastify would otherwise make a child logger per
      // request (for a request id no line of the proxy's carries), a cost on every proxied request.
      childLoggerFactory: (logger) => logger,
      // A path is the app's: no length limit of the router's, no rewriting of slashes.
      routerOptions: { maxParamLength: 64 * 1024 },
    });
    // Bodies are the app's: never parsed here, streamed to it as they come.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
    await app.register(replyFrom, {
      disableRequestLogging: true,
      undici: {
        connections: 128,
        pipelining: 1,
        // Long polls and server-sent events wait as long as the app makes them; a dead upstream
        // still ends when its connection does.
        headersTimeout: 15 * 60_000,
        bodyTimeout: 0,
        maxHeaderSize: 64 * 1024,
        keepAliveTimeout: 4_000,
      },
    });
    app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
      const status =
        error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 502;
      if (status === 502) this.#options.logger.warn({ err: error }, "app proxy request failed");
      return reply
        .code(status)
        .headers(PAGE_HEADERS)
        .send(messagePage("Bad request", status === 502 ? "the app could not be reached" : error.message));
    });
    // Nothing returned: a returned reply is a thenable to Fastify, which would then wait on it
    // (a promise and a stream-end listener per request) for an answer sent anyway.
    app.all("/*", (request, reply) => {
      this.#handle(request, reply);
    });
    await app.ready();
    return app as unknown as FastifyInstance;
  }

  async #makeWs(): Promise<ProxyServer> {
    // A CommonJS package: imported at run time (from the sources or the bundle), its functions are
    // members of the default export, whatever its type declarations say.
    const { createProxyServer } = (await import("http-proxy-3"))
      .default as unknown as typeof import("http-proxy-3");
    const ws = createProxyServer({ ws: true, secure: false, xfwd: false, changeOrigin: false });
    ws.on("error", (error, _req, socket) => {
      this.#options.logger.debug({ err: error }, "WebSocket to an app failed");
      if ("destroy" in socket) socket.destroy();
    });
    return ws;
  }

  /** Serves a request the front door routed to an app host. */
  handle(request: AppRequest, req: IncomingMessage, res: ServerResponse): void {
    routed.set(req, request);
    // A failed start is forgotten, so that the next request tries again.
    this.#app ??= this.#makeApp().catch((error: unknown) => {
      this.#app = undefined;
      throw error;
    });
    this.#app.then(
      (app) => app.routing(req, res),
      (error: unknown) => {
        this.#options.logger.error({ err: error }, "the app proxy could not start");
        res
          .writeHead(502, PAGE_HEADERS)
          .end(messagePage("Not reachable", "the node's app proxy could not start"));
      },
    );
  }

  /** Serves an upgrade (a WebSocket) the front door routed to an app host. */
  upgrade(request: AppRequest, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    const { target } = request;
    if (target.kind !== "app") {
      refuse(404, "Not Found");
      return;
    }
    const host = hostKey(request.hostname, request.port);
    const origin = originOf(request.scheme, request.hostname, request.port);
    const url = req.url ?? "/";
    if (!url.startsWith("/")) {
      refuse(400, "Bad Request");
      return;
    }
    let token: string | undefined;
    if (!openWithoutLogin(target.route, url)) {
      token = cookieValue(req.headers.cookie, appCookieName(request));
      if (!this.#options.sessions.valid(token, host)) {
        refuse(401, "Unauthorized");
        return;
      }
      // A page of another host (another app) may not use this host's session.
      if (req.headers.origin !== undefined && req.headers.origin !== origin) {
        refuse(403, "Forbidden");
        return;
      }
    }
    const upstream = interfaceUpstream(target.route.manifest, target.route.interface);
    if (!upstream.ok) {
      refuse(502, "Bad Gateway");
      return;
    }
    const headers = upstreamRequestHeaders(req.headers, this.#forwarding(request, req, token !== undefined));
    req.headers = headers as IncomingMessage["headers"];
    const scheme = upstream.protocol === "https" ? "wss" : "ws";
    if (token) this.#hold(token, host, socket);
    this.#ws ??= this.#makeWs().catch((error: unknown) => {
      this.#ws = undefined;
      throw error;
    });
    this.#ws.then(
      (ws) => {
        if (!socket.destroyed)
          ws.ws(req, socket, head, { target: `${scheme}://${bracket(upstream.address)}:${upstream.port}` });
      },
      (error: unknown) => {
        this.#options.logger.error({ err: error }, "the app proxy could not start");
        refuse(502, "Bad Gateway");
      },
    );
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    for (const { streams } of this.#streams.values()) for (const stream of streams) stream.destroy();
    this.#streams.clear();
    const [ws, app] = await Promise.all([
      this.#ws?.catch(() => undefined),
      this.#app?.catch(() => undefined),
    ]);
    ws?.close();
    await app?.close();
  }

  #forwarding(request: AppRequest, req: IncomingMessage, operator: boolean): Forwarding {
    return {
      client: req.socket.remoteAddress ?? "",
      proto: request.scheme,
      host:
        request.port === defaultPort(request.scheme)
          ? request.hostname
          : `${request.hostname}:${request.port}`,
      port: request.port,
      operator,
      isNodeCookie: this.#options.isNodeCookie,
    };
  }

  #handle(request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const routedAs = routed.get(request.raw);
    if (!routedAs) return reply.code(404).send();
    const { target } = routedAs;
    const origin = originOf(routedAs.scheme, routedAs.hostname, routedAs.port);
    reply.headers({ "x-content-type-options": "nosniff" });
    if (target.kind !== "app")
      return reply
        .code(404)
        .headers(PAGE_HEADERS)
        .send(messagePage("No such app", `no app on this node answers to ${routedAs.hostname}`));
    const host = hostKey(routedAs.hostname, routedAs.port);
    const url = request.url;
    // Only a path: an absolute-form target (`GET http://elsewhere/`) would name another upstream.
    if (!url.startsWith("/"))
      return reply.code(400).headers(PAGE_HEADERS).send(messagePage("Bad request", "send a path"));
    const path = url.split("?")[0] ?? "/";
    if (path.startsWith(PROXY_PREFIX)) return this.#own(request, reply, routedAs, origin, host, path);

    let token: string | undefined;
    if (!openWithoutLogin(target.route, url)) {
      token = cookieValue(request.headers.cookie, appCookieName(routedAs));
      if (!this.#options.sessions.valid(token, host)) {
        if (!SAFE.has(request.method))
          return reply
            .code(401)
            .headers(PAGE_HEADERS)
            .send(
              messagePage(
                "Log in first",
                "this app opens only for the node's operator: log in and try again",
              ),
            );
        return reply.redirect(this.#options.loginUrl(routedAs, `${origin}${url}`), 302);
      }
      if (crossSite(request, origin))
        return reply
          .code(403)
          .headers(PAGE_HEADERS)
          .send(messagePage("Refused", "a page of another site or app may not use this app's session"));
    }
    const upstream = interfaceUpstream(target.route.manifest, target.route.interface);
    if (!upstream.ok)
      return reply.code(502).headers(PAGE_HEADERS).send(messagePage("Not reachable", upstream.reason));
    try {
      decodeURIComponent(url);
    } catch {
      return reply
        .code(400)
        .headers(PAGE_HEADERS)
        .send(messagePage("Bad request", "the address is malformed"));
    }
    const origins: Origins = {
      upstream: { protocol: upstream.protocol, address: upstream.address, port: upstream.port },
      public: origin,
      isNodeCookie: this.#options.isNodeCookie,
    };
    const forwarding = this.#forwarding(routedAs, request.raw, token !== undefined);
    if (token) this.#hold(token, host, reply.raw);
    return reply.from(`${upstream.protocol}://${bracket(upstream.address)}:${upstream.port}${url}`, {
      // From the headers reply-from passes, not the request's: it took out `Connection` and the
      // names it lists, which would otherwise strip the headers set here on the way to the app.
      rewriteRequestHeaders: (_req, headers) => upstreamRequestHeaders(headers, forwarding),
      rewriteHeaders: (headers) => downstreamResponseHeaders(headers, origins),
      // An app's answer is the app's: a 503 is not retried behind its back.
      retryDelay: () => null,
      onError: (failed, { error }) => {
        const code = (error as { cause?: { code?: string } }).cause?.code ?? "";
        this.#options.logger.debug({ err: error, app: target.route.appId }, "app proxy upstream error");
        failed
          .code(502)
          .headers(PAGE_HEADERS)
          .send(
            messagePage(
              "Not reachable",
              code === "ECONNREFUSED"
                ? `${target.route.appId} does not answer: is it running? (archy status ${target.route.appId})`
                : `${target.route.appId} could not be reached`,
            ),
          );
      },
    });
  }

  /** The proxy's own paths on an app host: the ticket's landing, and the host's logout. */
  #own(
    request: FastifyRequest,
    reply: FastifyReply,
    routedAs: AppRequest,
    origin: string,
    host: string,
    path: string,
  ): FastifyReply {
    const secure = routedAs.scheme === "https" ? "; Secure" : "";
    const cookie = appCookieName(routedAs);
    reply.header("cache-control", "no-store").header("referrer-policy", "no-referrer");
    if (path === TICKET_PATH && request.method === "GET") {
      const ticket = new URL(request.url, origin).searchParams.get("ticket") ?? undefined;
      const redeemed = this.#options.sessions.redeem(ticket, host);
      if (!redeemed.ok)
        return reply
          .code(403)
          .headers(PAGE_HEADERS)
          .send(messagePage("Log in again", `${redeemed.reason}: open the app again to log in`));
      const maxAge = Math.max(0, Math.floor((redeemed.expiresAt - Date.now()) / 1000));
      reply.header(
        "set-cookie",
        `${cookie}=${redeemed.token}; Max-Age=${maxAge}; Path=/; HttpOnly; SameSite=Lax${secure}`,
      );
      return reply.redirect(`${origin}${redeemed.path}`, 303);
    }
    if (path === LOGOUT_PATH) {
      this.#options.sessions.end(cookieValue(request.headers.cookie, cookie));
      reply.header("set-cookie", `${cookie}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax${secure}`);
      return reply.headers(PAGE_HEADERS).send(messagePage("Logged out", "this app's session has ended"));
    }
    return reply
      .code(404)
      .headers(PAGE_HEADERS)
      .send(messagePage("Not found", `${path} is the node's`));
  }

  /** Keeps `stream` to close it when the session `token` of `host` ends. */
  #hold(
    token: string,
    host: string,
    stream: { destroy(): void; once(event: "close", f: () => void): unknown },
  ) {
    let held = this.#streams.get(token);
    if (!held) {
      held = { host, streams: new Set() };
      this.#streams.set(token, held);
      this.#checkWhileHeld();
    }
    const streams = held.streams;
    streams.add(stream);
    stream.once("close", () => {
      streams.delete(stream);
      if (streams.size === 0 && this.#streams.get(token)?.streams === streams) {
        this.#streams.delete(token);
        this.#checkWhileHeld();
      }
    });
  }

  /** Starts the sessions' check when the first stream is held, stops it when none is. */
  #checkWhileHeld(): void {
    if (this.#streams.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    } else if (!this.#timer) {
      this.#timer = setInterval(() => this.#closeEndedStreams(), STREAM_CHECK_MS);
      this.#timer.unref();
    }
  }

  #closeEndedStreams(): void {
    for (const [token, held] of this.#streams) {
      if (this.#options.sessions.valid(token, held.host)) continue;
      this.#streams.delete(token);
      for (const stream of held.streams) stream.destroy();
    }
    this.#checkWhileHeld();
  }
}

function bracket(address: string): string {
  return address.includes(":") ? `[${address}]` : address;
}

/**
 * Whether a request carrying this host's session comes from a page of another site or another
 * app (same-site: another host under the node's name) and is more than a top-level navigation to
 * read a page: such a page may not act with the operator's session (cross-app request forgery).
 * Browsers say where a request comes from in Sec-Fetch-Site; older ones only in Origin.
 */
function crossSite(request: FastifyRequest, origin: string): boolean {
  const site = request.headers["sec-fetch-site"];
  const navigation = request.headers["sec-fetch-mode"] === "navigate" && SAFE.has(request.method);
  if (site === "same-site" || site === "cross-site") return !navigation;
  if (site === undefined && request.headers.origin !== undefined)
    return request.headers.origin !== origin && !SAFE.has(request.method);
  return false;
}
