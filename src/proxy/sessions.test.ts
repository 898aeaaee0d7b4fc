/**
 * Tickets and app-host sessions: one-time, per host, short-lived, tied to the operator session
 * they came from, bounded in number. And the header rules between a browser and an app.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { appCookieName, isAppSessionCookie, STREAM_CHECK_MS } from "./app-proxy.ts";
import {
  downstreamResponseHeaders,
  hostOnlyCookie,
  rewriteLocation,
  upstreamRequestHeaders,
  withoutCookies,
} from "./headers.ts";
import {
  AppSessions,
  MAX_APP_SESSIONS,
  MAX_TICKETS,
  OPERATOR_RECHECK_MS,
  TICKET_TTL_MS,
} from "./sessions.ts";

function world() {
  let now = 1_000_000;
  let revocations = 0;
  const live = new Set(["op-1"]);
  const lookups = { count: 0 };
  const sessions = new AppSessions({
    clock: () => now,
    operatorValid: (key) => {
      lookups.count++;
      return live.has(key);
    },
    revocations: () => revocations,
  });
  const operator = { key: "op-1", expiresAt: now + 3_600_000 };
  /** What the daemon's logout does: the store forgets the session, and the revocation is counted. */
  const revoke = (key: string) => {
    live.delete(key);
    revocations++;
  };
  return { sessions, operator, live, revoke, lookups, advance: (ms: number) => (now += ms) };
}

describe("tickets", () => {
  test("a ticket is traded once, on its host, for a session of that host only", () => {
    const { sessions, operator } = world();
    const ticket = sessions.issueTicket("a.localhost:7780", "/x", operator);
    const redeemed = sessions.redeem(ticket, "a.localhost:7780");
    assert.ok(redeemed.ok);
    assert.equal(redeemed.path, "/x");
    assert.equal(sessions.redeem(ticket, "a.localhost:7780").ok, false, "replay");
    assert.ok(sessions.valid(redeemed.token, "a.localhost:7780"));
    assert.ok(!sessions.valid(redeemed.token, "b.localhost:7780"), "another host");
    const other = sessions.issueTicket("a.localhost:7780", "/", operator);
    assert.equal(sessions.redeem(other, "b.localhost:7780").ok, false, "redeemed elsewhere");
    assert.equal(sessions.redeem(other, "a.localhost:7780").ok, false, "and gone");
  });

  test("a ticket expires; an unknown, empty or huge one is refused", () => {
    const { sessions, operator, advance } = world();
    const ticket = sessions.issueTicket("a.localhost:7780", "/", operator);
    advance(TICKET_TTL_MS);
    assert.equal(sessions.redeem(ticket, "a.localhost:7780").ok, false);
    for (const bad of [undefined, "", "x".repeat(101), "unknown"])
      assert.equal(sessions.redeem(bad, "a.localhost:7780").ok, false);
  });

  test("the operator session's end (logout, expiry) ends every app-host session and voids waiting tickets", () => {
    const { sessions, operator, live, revoke, advance } = world();
    const ticket = sessions.issueTicket("a.localhost:7780", "/", operator);
    const redeemed = sessions.redeem(
      sessions.issueTicket("a.localhost:7780", "/", operator),
      "a.localhost:7780",
    );
    assert.ok(redeemed.ok);
    assert.ok(sessions.valid(redeemed.token, "a.localhost:7780"));
    revoke("op-1");
    assert.ok(!sessions.valid(redeemed.token, "a.localhost:7780"));
    assert.equal(sessions.redeem(ticket, "a.localhost:7780").ok, false);
    live.add("op-1");
    const again = sessions.redeem(
      sessions.issueTicket("a.localhost:7780", "/", operator),
      "a.localhost:7780",
    );
    assert.ok(again.ok);
    advance(3_600_000);
    assert.ok(!sessions.valid(again.token, "a.localhost:7780"), "past the operator session's end");
  });

  test("a session's check reads the operator session from the store at most once per OPERATOR_RECHECK_MS (bounded store reads per request)", () => {
    const { sessions, operator, lookups, advance } = world();
    const redeemed = sessions.redeem(
      sessions.issueTicket("a.localhost:7780", "/", operator),
      "a.localhost:7780",
    );
    assert.ok(redeemed.ok);
    const before = lookups.count;
    for (let i = 0; i < 1_000; i++) assert.ok(sessions.valid(redeemed.token, "a.localhost:7780"));
    assert.equal(lookups.count - before, 0, "the redemption's own check is trusted for a while");
    advance(OPERATOR_RECHECK_MS);
    for (let i = 0; i < 1_000; i++) assert.ok(sessions.valid(redeemed.token, "a.localhost:7780"));
    assert.equal(lookups.count - before, 1, "then read once again");
  });

  test("an operator session ended behind the daemon's back loses app access within OPERATOR_RECHECK_MS, streams within a second", () => {
    const { sessions, operator, live, advance } = world();
    const redeemed = sessions.redeem(
      sessions.issueTicket("a.localhost:7780", "/", operator),
      "a.localhost:7780",
    );
    assert.ok(redeemed.ok);
    live.delete("op-1"); // the store changed, no logout through this daemon: no revocation counted
    advance(OPERATOR_RECHECK_MS);
    assert.ok(!sessions.valid(redeemed.token, "a.localhost:7780"));
    assert.ok(
      OPERATOR_RECHECK_MS + STREAM_CHECK_MS <= 1_000,
      "an open stream is checked every STREAM_CHECK_MS: its session's end must show within a second",
    );
  });

  test("a clock set back does not stretch a check's trust", () => {
    const { sessions, operator, live, advance } = world();
    const redeemed = sessions.redeem(
      sessions.issueTicket("a.localhost:7780", "/", operator),
      "a.localhost:7780",
    );
    assert.ok(redeemed.ok);
    live.delete("op-1");
    advance(-60_000);
    assert.ok(!sessions.valid(redeemed.token, "a.localhost:7780"));
  });

  test("tickets and sessions are bounded: a flood pushes out the oldest", () => {
    const { sessions, operator } = world();
    for (let i = 0; i < MAX_TICKETS + 50; i++) sessions.issueTicket("a.localhost:7780", "/", operator);
    assert.equal(sessions.size.tickets, MAX_TICKETS);
    for (let i = 0; i < MAX_APP_SESSIONS + 10; i++)
      sessions.redeem(sessions.issueTicket("a.localhost:7780", "/", operator), "a.localhost:7780");
    assert.equal(sessions.size.sessions, MAX_APP_SESSIONS);
  });
});

describe("headers", () => {
  const forwarding = {
    client: "192.168.1.9",
    proto: "https" as const,
    host: "app.localhost:7780",
    port: 7780,
    operator: false,
    isNodeCookie: (name: string) => name === "archy_session" || isAppSessionCookie(name),
  };

  test("identity and forwarding headers a client sends are dropped, then set by the proxy", () => {
    const out = upstreamRequestHeaders(
      {
        "x-archipelago-user": "admin",
        "x-archipelago-anything": "x",
        "x-forwarded-for": "1.2.3.4",
        forwarded: "for=1.2.3.4",
        host: "app.localhost:7780",
        accept: "text/html",
      },
      forwarding,
    );
    assert.deepEqual(out, {
      host: "app.localhost:7780",
      accept: "text/html",
      "x-forwarded-for": "192.168.1.9",
      "x-forwarded-proto": "https",
      "x-forwarded-host": "app.localhost:7780",
      "x-forwarded-port": "7780",
    });
    assert.equal(
      upstreamRequestHeaders({}, { ...forwarding, operator: true })["x-archipelago-user"],
      "operator",
    );
  });

  test("the node's cookies are taken out of the Cookie header, the app's kept", () => {
    const { isNodeCookie } = forwarding;
    assert.equal(withoutCookies("archy_app=1; theirs=2; archy_session=3", isNodeCookie), "theirs=2");
    assert.equal(withoutCookies("archy_app=1", isNodeCookie), undefined);
    assert.equal(withoutCookies("archy_application=1", isNodeCookie), "archy_application=1");
    assert.equal(
      withoutCookies("archy_app_7801=1; archy_app_65535=2; archy_app_x=3", isNodeCookie),
      "archy_app_x=3",
      "every interface port's session cookie is the node's",
    );
  });

  test("an interface port's session cookie has a name of its own; a host name's keeps archy_app", () => {
    assert.equal(appCookieName({ port: 7801, interfacePort: true }), "archy_app_7801");
    assert.notEqual(
      appCookieName({ port: 7801, interfacePort: true }),
      appCookieName({ port: 7802, interfacePort: true }),
    );
    assert.equal(appCookieName({ port: 7780 }), "archy_app");
  });

  test("an app may not set the node's cookies (ports of one host share them); its own pass", () => {
    const origins = {
      upstream: { protocol: "http", address: "127.0.0.1", port: 18080 },
      public: "https://localhost:7801",
      isNodeCookie: forwarding.isNodeCookie,
    };
    const out = downstreamResponseHeaders(
      {
        "set-cookie": [
          "archy_session=planted; Path=/",
          "archy_app_7802=planted",
          " archy_app = planted",
          "theirs=1; Domain=localhost",
        ],
      },
      origins,
    );
    assert.deepEqual(out["set-cookie"], ["theirs=1"]);
  });

  test("redirects to the app's loopback address come back public; others are left alone", () => {
    const origins = {
      upstream: { protocol: "http", address: "127.0.0.1", port: 18080 },
      public: "https://app.localhost:7780",
      isNodeCookie: () => false,
    };
    assert.equal(
      rewriteLocation("http://127.0.0.1:18080/x?y#z", origins),
      "https://app.localhost:7780/x?y#z",
    );
    assert.equal(rewriteLocation("http://localhost:18080/", origins), "https://app.localhost:7780/");
    assert.equal(rewriteLocation("http://app.localhost:7780/in", origins), "https://app.localhost:7780/in");
    assert.equal(rewriteLocation("/relative", origins), "/relative");
    assert.equal(rewriteLocation("https://example.org/", origins), "https://example.org/");
    assert.equal(rewriteLocation("http://127.0.0.1:18081/", origins), "http://127.0.0.1:18081/");
  });

  test("an app's cookie never gets a Domain: it stays on the app's host", () => {
    assert.equal(hostOnlyCookie("a=1; Domain=localhost; Path=/"), "a=1; Path=/");
    assert.equal(hostOnlyCookie("a=1;domain=.node.lan;Secure"), "a=1;Secure");
    assert.equal(hostOnlyCookie("domain=1; Path=/"), "domain=1; Path=/", "a cookie named domain is kept");
  });
});
