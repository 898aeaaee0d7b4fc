/**
 * The daemon's HTTP surface (Fastify): JSON-RPC 2.0 at POST /rpc/v1, live events over WebSocket at
 * /ws/v1, Prometheus metrics at /metrics, a liveness probe at /healthz and the web UI at / (web-ui.ts).
 * Authentication: the session cookie (browsers, with the CSRF header on state-changing calls) or the
 * CLI's bearer token.
 */

import type { EventEmitter } from "node:events";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import websocket from "@fastify/websocket";
import Fastify, { type FastifyInstance, type FastifyRequest, LogController } from "fastify";
import type { Logger } from "pino";
import type { Auth, Session } from "./auth.ts";
import { DEVICE_COOKIE, DEVICE_TTL_MS } from "./device-cookie.ts";
import type { EventLog } from "./event-log.ts";
import type { WsMessage } from "./events.ts";
import { type ApiContext, METHOD_TABLE } from "./methods.ts";
import type { Metrics } from "./metrics.ts";
import { depthBounded, JsonTooDeep } from "./rpc/body.ts";
import { type Conditional, dispatch, type RpcResponse, responseBody } from "./rpc/dispatch.ts";
import { RPC_CODES } from "./rpc/errors.ts";
import { resultChecks } from "./rpc/result-checks.ts";
import { webUiHandler } from "./web-ui.ts";

export const SESSION_COOKIE = "archy_session";
/** Refusals worth a warning in the log: failed logins, missing CSRF tokens, rate limiting, setup. */
const SECURITY_CODES: ReadonlySet<number> = new Set([
  RPC_CODES.unauthenticated,
  RPC_CODES.csrfRejected,
  RPC_CODES.rateLimited,
  RPC_CODES.setupState,
]);
export const CSRF_HEADER = "x-csrf-token";
export const MAX_BODY_BYTES = 1024 * 1024;

export type ServerOptions = {
  auth: Auth;
  metrics: Metrics;
  logger: Logger;
  /** Builds the per-call context (orchestrator, sources, …) around what the transport learnt. */
  context: (call: ApiContext["call"]) => ApiContext;
  /** Gauges computed at scrape time (apps by phase…). */
  gauges: () => Parameters<Metrics["render"]>[0];
  /** The live event stream: every published event, numbered, the last ones kept for reconnects. */
  events: EventLog;
  /** The built web UI (web/dist); a page saying how to build it is served while it is missing. */
  webRoot?: string;
  /** Whether every request comes over TLS (cookies are then Secure); else each request says. */
  tls: boolean;
  /**
   * Who owns the listener (proxy/front-door.ts): Fastify gets its handler through this factory and
   * hears upgrades on `upgrades`; without it, Fastify makes and listens on its own server.
   */
  front?: {
    serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server;
    upgrades: EventEmitter;
  };
  /** The clock sessions are issued with (the cookie's Max-Age counts from it). */
  clock?: () => number;
  /** Whether results are checked against their schemas (default: rpc/result-checks.ts decides). */
  checkResults?: boolean;
  /** Host names (besides IP literals and localhost) the API answers to; see `hostAllowed`. */
  allowedHosts?: readonly string[];
};

/**
 * DNS rebinding defence: a web page can make its own domain name resolve to the node, but it cannot
 * change the Host header its browser sends. The API therefore answers only requests addressed to an
 * IP literal, `localhost`, or a name the operator allowed (ARCHY_ALLOWED_HOSTS).
 */
export function hostAllowed(hostHeader: string | undefined, allowed: readonly string[]): boolean {
  if (!hostHeader) return false;
  const host = hostHeader
    .replace(/:\d+$/, "")
    .replace(/^\[(.*)\]$/, "$1")
    .toLowerCase();
  if (host === "localhost" || allowed.map((h) => h.toLowerCase()).includes(host)) return true;
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || (host.includes(":") && /^[0-9a-f:.]+$/.test(host));
}

function cookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k !== name) continue;
    try {
      return decodeURIComponent(v.join("="));
    } catch {
      return undefined; // malformed: no session, not a server error
    }
  }
  return undefined;
}

/** The token of an `Authorization: Bearer …` header (the CLI's), if any. */
export function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
}

/** A browser sends Origin on cross-site requests; it must name this very host. */
function originOk(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

/**
 * The Set-Cookie headers of a new session (its cookie, and the device cookie that keeps the
 * browser's own login budget), or of a logout (the session cookie cleared; the device cookie stays:
 * it is no credential).
 */
export function sessionCookies(session: Session | undefined, tls: boolean, now: number): string[] {
  const attributes = ["Path=/", "HttpOnly", "SameSite=Strict", ...(tls ? ["Secure"] : [])].join("; ");
  if (!session) return [`${SESSION_COOKIE}=; Max-Age=0; ${attributes}`];
  const maxAge = Math.max(0, Math.floor((session.expiresAt - now) / 1000));
  return [
    `${SESSION_COOKIE}=${session.token}; Max-Age=${maxAge}; ${attributes}`,
    `${DEVICE_COOKIE}=${session.device}; Max-Age=${DEVICE_TTL_MS / 1000}; ${attributes}`,
  ];
}

/** Who is calling: a valid session cookie or the CLI token. */
export function identify(request: FastifyRequest, auth: Auth) {
  const token = cookie(request, SESSION_COOKIE);
  const session = auth.session(token);
  const cli = auth.cliTokenMatches(bearer(request));
  const csrfHeader = request.headers[CSRF_HEADER];
  return {
    token,
    cli,
    authenticated: cli || session !== undefined,
    csrfValid: cli || auth.csrfMatches(session, typeof csrfHeader === "string" ? csrfHeader : undefined),
    originOk: originOk(request),
  };
}

export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  const clock = options.clock ?? Date.now;
  const checkResults = options.checkResults ?? resultChecks();
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: MAX_BODY_BYTES,
    // No per-request lines: they would carry headers (cookies, tokens) and say little.
    logController: new LogController({ disableRequestLogging: true }),
    ...(options.front ? { serverFactory: options.front.serverFactory } : {}),
  });
  // Fastify's own JSON parser (it refuses __proto__ and constructor keys), behind a nesting bound
  // checked on the raw text: a body nested too deeply is never parsed (rpc/body.ts).
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser(
    "application/json",
    { parseAs: "string", bodyLimit: MAX_BODY_BYTES },
    depthBounded(app.getDefaultJsonParser("error", "error") as Parameters<typeof depthBounded>[0]),
  );
  await app.register(websocket, {
    options: {
      maxPayload: 64 * 1024,
      // @fastify/websocket listens for upgrades on this emitter when given (the front door's).
      ...(options.front ? { server: options.front.upgrades as unknown as Server } : {}),
    },
  });

  // Malformed JSON is a JSON-RPC parse error, not an HTML 400 page.
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, _request, reply) => {
    if (error instanceof JsonTooDeep)
      return reply.code(200).send({
        jsonrpc: "2.0",
        id: null,
        error: { code: RPC_CODES.invalidRequest, message: `invalid request: ${error.message}` },
      });
    if (
      error.code === "FST_ERR_CTP_INVALID_JSON_BODY" ||
      error instanceof SyntaxError ||
      error.statusCode === 400
    )
      return reply.code(200).send({
        jsonrpc: "2.0",
        id: null,
        error: { code: RPC_CODES.parseError, message: `parse error: ${error.message}` },
      });
    if (error.statusCode === 413)
      return reply.code(413).send({
        jsonrpc: "2.0",
        id: null,
        error: { code: RPC_CODES.invalidRequest, message: "request too large (1 MiB at most)" },
      });
    if (error.statusCode === 415)
      return reply.code(415).send({
        jsonrpc: "2.0",
        id: null,
        error: { code: RPC_CODES.invalidRequest, message: "send JSON (Content-Type: application/json)" },
      });
    options.logger.error({ err: error }, "request failed");
    return reply.code(500).send({
      jsonrpc: "2.0",
      id: null,
      error: { code: RPC_CODES.internalError, message: "internal error" },
    });
  });

  app.addHook("onRequest", async (request, reply) => {
    if (request.url === "/healthz" || hostAllowed(request.headers.host, options.allowedHosts ?? [])) return;
    options.logger.warn(
      { host: request.headers.host },
      "request refused: Host is not allowed (DNS rebinding defence)",
    );
    return reply.code(403).send({
      jsonrpc: "2.0",
      id: null,
      error: {
        code: RPC_CODES.csrfRejected,
        message: `requests addressed to ${JSON.stringify(request.headers.host ?? "")} are refused: use the node's IP address or localhost, or add the name to ARCHY_ALLOWED_HOSTS`,
      },
    });
  });

  app.get("/healthz", async () => ({ ok: true }));

  app.get("/metrics", async (_request, reply) => {
    reply.type("text/plain; version=0.0.4");
    return options.metrics.render(options.gauges());
  });

  app.post("/rpc/v1", async (request, reply) => {
    const who = identify(request, options.auth);
    let newSession: Session | undefined | null = null;
    const ctx = options.context({
      client: request.ip,
      sessionToken: who.token,
      deviceCookie: cookie(request, DEVICE_COOKIE),
      cliToken: who.cli,
      setSession: (session) => {
        newSession = session;
      },
    });
    const ifNoneMatch = request.headers["if-none-match"];
    const conditional: Conditional = {
      ifNoneMatch: Array.isArray(ifNoneMatch) ? ifNoneMatch.join(",") : ifNoneMatch,
    };
    const response = await dispatch(request.body, {
      methods: METHOD_TABLE,
      conditional,
      auth: who,
      ctx,
      checkResults,
      onError: (method, error) => options.logger.error({ err: error, method }, "RPC handler failed"),
      onCall: (call) => {
        // The method label only takes known names: callers must not be able to create series at will.
        const method =
          call.method === undefined ? "invalid" : METHOD_TABLE.has(call.method) ? call.method : "unknown";
        options.metrics.rpcCalls.inc({ method, outcome: String(call.outcome) });
        const definition = call.method === undefined ? undefined : METHOD_TABLE.get(call.method);
        const entry = {
          rpc: method,
          outcome: call.outcome,
          ms: Math.round(call.durationMs),
          client: request.ip,
        };
        if (typeof call.outcome === "number" && SECURITY_CODES.has(call.outcome))
          options.logger.warn(entry, `${method} from ${request.ip} refused: ${call.message}`);
        else if (call.outcome === "ok" && definition?.mutates)
          options.logger.info(entry, `${method} from ${request.ip}`);
        else options.logger.debug(entry, `${method}: ${call.outcome}`);
      },
    });
    if (newSession !== null)
      reply.header(
        "set-cookie",
        sessionCookies(newSession, options.tls || request.protocol === "https", clock()),
      );
    reply.header("cache-control", "no-store");
    if (conditional.etag) reply.header("etag", conditional.etag);
    if (conditional.notModified) return reply.code(304).send();
    if (response === undefined) return reply.code(204).send();
    const body = responseBody(response satisfies RpcResponse | RpcResponse[]);
    if (Buffer.isBuffer(body)) reply.type("application/json; charset=utf-8");
    return body;
  });

  app.get("/ws/v1", { websocket: true }, (socket, request) => {
    const send = (message: WsMessage) => socket.send(JSON.stringify(message));
    const who = identify(request, options.auth);
    if (!who.authenticated || !who.originOk) {
      send({ type: "error", message: "not logged in (or cross-origin): log in first" });
      socket.close(4401, "unauthenticated");
      return;
    }
    // A session that ends (logout, expiry, a new password) ends its stream too, and so does a CLI
    // token replaced by a new one.
    const token = bearer(request);
    const stillValid = () =>
      who.cli ? options.auth.cliTokenMatches(token) : options.auth.session(who.token) !== undefined;
    // A client coming back after a lost connection names the stream and the last event it saw: it
    // gets every event since, in order, before the live ones (all of this runs in one turn of the
    // event loop, so none is sent twice or lost in between), or is told to read the state again.
    const query = request.query as Record<string, string | undefined>;
    const after = query.after === undefined ? Number.NaN : Number(query.after);
    const missed = options.events.since(query.stream, after);
    send({
      type: "hello",
      stream: options.events.stream,
      seq: options.events.seq,
      resumed: missed !== undefined,
    });
    for (const event of missed ?? []) send(event);
    const unsubscribe = options.events.subscribe((event) => {
      if (socket.readyState !== socket.OPEN) return;
      if (!stillValid()) {
        send({ type: "error", message: "the session has ended: log in again" });
        socket.close(4401, "session ended");
        return;
      }
      send(event);
    });
    socket.on("close", unsubscribe);
  });

  if (options.webRoot !== undefined) app.get("/*", webUiHandler(options.webRoot));

  return app as unknown as FastifyInstance;
}
