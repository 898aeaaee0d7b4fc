/**
 * The node host's side of app access (docs/app-access.md#login): `/app-login?to=URL` sends a
 * logged-in operator on to the app host with a one-time ticket, and shows anyone else the login
 * (a plain form: it works without the web UI and without script); `/ca.crt` hands out the node's
 * authority certificate (public by nature) to trust, and `/trust` says how, per system.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Auth } from "../api/auth.ts";
import { DEVICE_COOKIE } from "../api/device-cookie.ts";
import { RpcError } from "../api/rpc/errors.ts";
import { SESSION_COOKIE, sessionCookies } from "../api/server.ts";
import { TICKET_PATH } from "./app-proxy.ts";
import { cookieValue } from "./headers.ts";
import { type AppRoute, parseHost, type RouteTable } from "./hosts.ts";
import {
  CA_DOWNLOAD_NAME,
  hopPage,
  loginPage,
  messagePage,
  PAGE_HEADERS,
  pageHeaders,
  trustPage,
} from "./pages.ts";
import { defaultPort, type ReturnTarget, returnTarget } from "./return-url.ts";
import type { AppSessions } from "./sessions.ts";

export const LOGIN_PATH = "/app-login";
export const CA_PATH = "/ca.crt";
export const TRUST_PATH = "/trust";
/** A login form is a password and an address: nothing bigger is read. */
const MAX_FORM_BYTES = 8 * 1024;

export type LoginRoutesOptions = {
  auth: Auth;
  sessions: AppSessions;
  suffixes: readonly string[];
  routes: () => RouteTable;
  /** The interface of each interface port (port-per-interface mode; empty when it is off). */
  interfacePorts: () => ReadonlyMap<number, AppRoute>;
  /** The node's authority certificate (PEM) and its fingerprint, when the node serves TLS with its own. */
  authority: (() => { pem: string; fingerprint: string }) | undefined;
  clock?: () => number;
};

export function registerLoginRoutes(app: FastifyInstance, options: LoginRoutesOptions): void {
  const clock = options.clock ?? Date.now;

  const target = (request: FastifyRequest, to: string | undefined): ReturnTarget => {
    const scheme = request.protocol === "https" ? "https" : "http";
    const host = parseHost(request.headers.host);
    const port = host?.port ?? defaultPort(scheme);
    return returnTarget(
      to,
      { scheme, port, hostname: host?.hostname ?? "" },
      options.suffixes,
      options.routes(),
      options.interfacePorts(),
    );
  };
  const refuse = (reply: FastifyReply, reason: string) =>
    reply.code(400).headers(PAGE_HEADERS).send(messagePage("Cannot open this app", reason));
  /** On to the app host with a ticket for the operator session `token`. */
  const onward = (
    reply: FastifyReply,
    to: Extract<ReturnTarget, { ok: true }>,
    token: string | undefined,
  ) => {
    const operator = options.auth.sessionKey(token);
    if (!operator) return false;
    const ticket = options.sessions.issueTicket(to.host, to.path, operator);
    reply
      .headers({ "cache-control": "no-store", "referrer-policy": "no-referrer" })
      .redirect(`${to.origin}${TICKET_PATH}?ticket=${ticket}`, 303);
    return true;
  };
  const appName = (to: Extract<ReturnTarget, { ok: true }>) => to.target.route.manifest.name;

  app.get(LOGIN_PATH, async (request, reply) => {
    const query = request.query as Record<string, string | undefined>;
    const to = target(request, query.to);
    if (!to.ok) return refuse(reply, to.reason);
    if (onward(reply, to, cookieValue(request.headers.cookie, SESSION_COOKIE))) return reply;
    // From an app host, the browser did not send the operator's SameSite=Strict cookie: once more,
    // from this host's own page, it does.
    const site = request.headers["sec-fetch-site"];
    if ((site === "cross-site" || site === "same-site") && query.hop === undefined)
      return reply
        .headers(PAGE_HEADERS)
        .send(hopPage(`${LOGIN_PATH}?to=${encodeURIComponent(query.to ?? "")}&hop=1`));
    return reply
      .headers(pageHeaders(to.origin))
      .send(loginPage({ appName: appName(to), returnUrl: query.to ?? "", setUp: options.auth.isSetUp }));
  });

  void app.register(async (scope) => {
    scope.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: MAX_FORM_BYTES },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    scope.post(LOGIN_PATH, async (request, reply) => {
      const form = (request.body ?? {}) as Record<string, string | undefined>;
      const to = target(request, form.to);
      if (!to.ok) return refuse(reply, to.reason);
      const origin = request.headers.origin;
      if (origin !== undefined && origin !== `${request.protocol}://${request.headers.host}`)
        return refuse(reply, "the login form must be sent from this node's own page");
      const page = (error: string) =>
        loginPage({ appName: appName(to), returnUrl: form.to ?? "", error, setUp: options.auth.isSetUp });
      let session: Awaited<ReturnType<Auth["login"]>>;
      try {
        session = await options.auth.login(form.password ?? "", {
          address: request.ip,
          deviceCookie: cookieValue(request.headers.cookie, DEVICE_COOKIE),
        });
      } catch (error) {
        if (!(error instanceof RpcError)) throw error;
        request.log.warn(`app login from ${request.ip} refused: ${error.message}`);
        return reply.code(401).headers(pageHeaders(to.origin)).send(page(error.message));
      }
      // Always a fresh session, as auth.login does: the one the request carried ends.
      options.auth.logout(cookieValue(request.headers.cookie, SESSION_COOKIE));
      reply.header("set-cookie", sessionCookies(session, request.protocol === "https", clock()));
      onward(reply, to, session.token);
      return reply;
    });
  });

  const noAuthority = (reply: FastifyReply) =>
    reply
      .code(404)
      .headers(PAGE_HEADERS)
      .send(messagePage("No node authority", "this node serves its operator's own certificate"));
  app.get(CA_PATH, async (_request, reply) => {
    if (!options.authority) return noAuthority(reply);
    return reply
      .header("content-type", "application/x-x509-ca-cert")
      .header("content-disposition", `attachment; filename="${CA_DOWNLOAD_NAME}"`)
      .header("cache-control", "no-cache")
      .send(options.authority().pem);
  });
  app.get(TRUST_PATH, async (_request, reply) => {
    if (!options.authority) return noAuthority(reply);
    return reply
      .headers(PAGE_HEADERS)
      .send(trustPage({ fingerprint: options.authority().fingerprint, caPath: CA_PATH }));
  });
}
