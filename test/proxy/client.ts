/**
 * A browser's view of app access for the tests: requests to a name on the daemon's port (the name in
 * SNI and Host, the connection to 127.0.0.1: `*.localhost` needs no resolver), over HTTPS checked
 * against the node's own authority or over plain HTTP, and the login as a browser goes through it:
 * app host → node login form → ticket → app cookie.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import type { Readable } from "node:stream";

export type Reply = { status: number; headers: IncomingHttpHeaders; body: Buffer; text: string };

export type Call = {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer | Readable;
  /** `https` (the default) or `http`. */
  scheme?: "http" | "https";
  /** The authority to check the certificate against (the node's by default with `nodeCa`). */
  ca?: string;
  /** Where to connect (127.0.0.1 by default). */
  address?: string;
  /** The source address (any of 127.0.0.0/8): login budgets are per address. */
  from?: string;
};

/** The node's authority certificate, as the daemon wrote it. */
export function nodeCa(dataDir: string): string {
  return readFileSync(join(dataDir, "state", "tls", "ca.crt"), "utf8");
}

/** One request to `https://<host>:<port><path>` (or http), the whole answer read. */
export function call(port: number, host: string, path: string, options: Call = {}): Promise<Reply> {
  const scheme = options.scheme ?? "https";
  return new Promise((resolve, reject) => {
    const common = {
      host: options.address ?? "127.0.0.1",
      port,
      method: options.method ?? "GET",
      path,
      localAddress: options.from,
      maxHeaderSize: 64 * 1024,
      headers: { host: `${host}:${port}`, ...options.headers },
    };
    const onResponse = (res: import("node:http").IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString("utf8") });
      });
      res.on("error", reject);
    };
    const req =
      scheme === "https"
        ? httpsRequest({ ...common, servername: host, ca: options.ca, agent: false }, onResponse)
        : httpRequest({ ...common, agent: false }, onResponse);
    req.on("error", reject);
    const body = options.body;
    if (body && typeof body === "object" && "pipe" in body) body.pipe(req);
    else req.end(body);
  });
}

/** The value of cookie `name` a response sets, with its attributes as sent. */
export function setCookie(reply: Reply, name: string): string | undefined {
  const cookies = reply.headers["set-cookie"] ?? [];
  return cookies.find((c) => c.startsWith(`${name}=`));
}

export function cookiePair(setCookieValue: string | undefined): string {
  assert.ok(setCookieValue, "a cookie was set");
  return setCookieValue.split(";")[0] as string;
}

export type Login = {
  /** The node session cookie (`archy_session=…`). */
  operator: string;
  /** The app host's session cookie (`archy_app=…`). */
  app: string;
  /** Where the ticket landed (the app's page). */
  landed: string;
};

/**
 * A browser's login to an app host: the app sends it to the node's login, the form is sent, the
 * ticket is traded for the app's cookie. Checks each hop on the way.
 */
export async function loginThrough(
  port: number,
  appHost: string,
  path: string,
  password: string,
  ca: string,
): Promise<Login> {
  const first = await call(port, appHost, path, { ca });
  assert.equal(first.status, 302, `an unauthenticated request is sent to the login: ${first.text}`);
  const login = new URL(String(first.headers.location));
  assert.equal(login.pathname, "/app-login");
  const nodeHost = login.hostname;
  const to = login.searchParams.get("to") ?? "";
  const form = new URLSearchParams({ password, to }).toString();
  const posted = await call(port, nodeHost, "/app-login", {
    ca,
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: `https://${nodeHost}:${port}`,
    },
    body: form,
  });
  assert.equal(posted.status, 303, `the login form is accepted: ${posted.text}`);
  const operator = cookiePair(setCookie(posted, "archy_session"));
  const ticketUrl = new URL(String(posted.headers.location));
  assert.equal(ticketUrl.hostname, appHost);
  const redeemed = await call(port, appHost, `${ticketUrl.pathname}${ticketUrl.search}`, { ca });
  assert.equal(redeemed.status, 303, `the ticket is accepted: ${redeemed.text}`);
  const app = cookiePair(setCookie(redeemed, "archy_app"));
  return { operator, app, landed: String(redeemed.headers.location) };
}
