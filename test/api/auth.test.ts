/**
 * Attack tests of the daemon's authentication: CSRF (missing, wrong, another session's), cross-origin
 * requests, session fixation, logout and expiry, login brute force (per address, over many
 * addresses, and never a lock-out of the operator's browser), first-run setup, changing the
 * password and revoking sessions, the session and device cookies' attributes, and the CLI's bearer
 * token, its file and its rotation. Every refused call must change nothing in the store.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { readCliToken, SESSION_TTL_MS } from "../../src/api/auth.ts";
import { DEVICE_TTL_MS } from "../../src/api/device-cookie.ts";
import { EXAMPLES } from "../../src/api/docs.ts";
import { LOGIN_LIMITS } from "../../src/api/login-limits.ts";
import { METHODS } from "../../src/api/methods.ts";
import { PasswordWork } from "../../src/api/password-work.ts";
import { RPC_CODES } from "../../src/api/rpc/errors.ts";
import { hostAllowed } from "../../src/api/server.ts";
import { DaemonClient } from "../../src/cli/client.ts";
import {
  type Caller,
  deviceCookieOf,
  fails,
  headersOf,
  http,
  login,
  manualClock,
  ok,
  PASSWORD,
  post,
  rpc,
  type Session,
  sessionCookieOf,
  settle,
  setup,
  startDaemon,
  storeSnapshot,
  type TestDaemon,
} from "./support.ts";

const ARCHY = resolve(import.meta.dirname, "../../bin/archy");

function archy(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) =>
    execFile(ARCHY, args, { env, timeout: 60_000 }, (error, stdout, stderr) =>
      done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    ),
  );
}

const EVIL = "http://evil.example";
const MUTATING_SESSION_METHODS = METHODS.filter((m) => m.mutates && m.access === "session").map(
  (m) => m.name,
);

/** Calls that must be refused with `code` and leave every table of the store as it was. */
async function refusedUnchanged(
  d: TestDaemon,
  method: string,
  params: unknown,
  caller: Caller,
  code: number,
) {
  const before = storeSnapshot(d.storePath);
  const error = await fails(d.port, method, params, caller, code);
  assert.deepEqual(storeSnapshot(d.storePath), before, `${method} was refused but changed the store`);
  return error;
}

describe("CSRF and cross-origin requests", () => {
  let d: TestDaemon;
  let session: Session;
  before(async () => {
    d = await startDaemon();
    session = await setup(d.port);
    await ok(d.port, "package.install", { id: "api-alpha" }, session);
    settle(d, "api-alpha");
  });
  after(() => d.close());

  test("the state-changing methods are the ones that need the CSRF token", () => {
    assert.deepEqual(MUTATING_SESSION_METHODS.sort(), [
      "auth.changePassword",
      "auth.logout",
      "auth.logoutAll",
      "auth.rotateCliToken",
      "backup.restore",
      "backup.run",
      "backup.targets.add",
      "backup.targets.remove",
      "backup.targets.schedule",
      "catalog.refresh",
      "catalog.sources.add",
      "catalog.sources.remove",
      "market.refresh",
      "market.relays.add",
      "market.relays.remove",
      "market.settings.set",
      "package.approve",
      "package.install",
      "package.reinstall",
      "package.restart",
      "package.retry",
      "package.revoke",
      "package.start",
      "package.stop",
      "package.uninstall",
      "package.update",
      "peers.add",
      "peers.grant",
      "peers.remove",
      "peers.revoke",
      "registry.login",
      "registry.logout",
    ]);
  });

  test("a valid cookie without the CSRF header: -32002 for every state-changing call, nothing changed", async () => {
    for (const method of MUTATING_SESSION_METHODS) {
      const error = await refusedUnchanged(
        d,
        method,
        EXAMPLES[method]?.params.id === undefined ? {} : { id: "api-alpha" },
        { cookie: session.cookie },
        RPC_CODES.csrfRejected,
      );
      assert.match(error.message, /X-CSRF-Token/, method);
    }
  });

  test("a wrong CSRF token, an empty one, or another session's: -32002, nothing changed", async () => {
    const other = await login(d.port);
    const wrong = [session.csrf.slice(0, -1), "", `${session.csrf}x`, other.csrf, session.token];
    for (const csrf of wrong)
      for (const method of ["package.stop", "package.uninstall", "auth.logout"])
        await refusedUnchanged(
          d,
          method,
          method === "auth.logout" ? {} : { id: "api-alpha" },
          { cookie: session.cookie, headers: { "x-csrf-token": csrf } },
          RPC_CODES.csrfRejected,
        );
  });

  test("read-only calls need the session but no CSRF token", async () => {
    await ok(d.port, "package.list", {}, { cookie: session.cookie });
    await ok(d.port, "package.get", { id: "api-alpha" }, { cookie: session.cookie });
  });

  test("another origin is refused even with a valid cookie and CSRF token", async () => {
    const origins = [
      EVIL,
      "null",
      `http://127.0.0.1:${d.port + 1}`,
      `https://127.0.0.1:${d.port}.evil.example`,
    ];
    for (const origin of origins) {
      for (const method of ["package.stop", "package.restart", "auth.logout"]) {
        const error = await refusedUnchanged(
          d,
          method,
          method === "auth.logout" ? {} : { id: "api-alpha" },
          { ...session, origin },
          RPC_CODES.csrfRejected,
        );
        assert.match(error.message, /cross-origin/, `${method} from ${origin}`);
      }
    }
    // The CLI token does not get around it either.
    const bearer = readFileSync(d.tokenFile, "utf8").trim();
    await refusedUnchanged(
      d,
      "package.stop",
      { id: "api-alpha" },
      { bearer, origin: EVIL },
      RPC_CODES.csrfRejected,
    );
    // The same origin is accepted.
    const accepted = (await ok(
      d.port,
      "package.restart",
      { id: "api-alpha" },
      { ...session, origin: `http://127.0.0.1:${d.port}` },
    )) as { kind: string };
    assert.equal(accepted.kind, "restart");
    settle(d, "api-alpha");
  });

  test("a login from another origin is refused and sets no cookie, the right password included", async () => {
    const before = storeSnapshot(d.storePath);
    const reply = await rpc(d.port, "auth.login", { password: PASSWORD }, { origin: EVIL });
    assert.equal(reply.error?.code, RPC_CODES.csrfRejected);
    assert.equal(reply.http.headers["set-cookie"], undefined);
    assert.deepEqual(storeSnapshot(d.storePath), before, "no session was created");
  });

  test("the first-run setup from another origin is refused and sets no password", async () => {
    const fresh = await startDaemon();
    try {
      const reply = await rpc(fresh.port, "auth.setup", { password: PASSWORD }, { origin: EVIL });
      assert.equal(reply.error?.code, RPC_CODES.csrfRejected);
      assert.equal(reply.http.headers["set-cookie"], undefined);
      assert.equal(((await ok(fresh.port, "system.info", {}, {})) as { setUp: boolean }).setUp, false);
    } finally {
      await fresh.close();
    }
  });
});

describe("sessions: fixation, logout, expiry, cookie attributes", () => {
  let d: TestDaemon;
  const clock = manualClock();
  before(async () => {
    d = await startDaemon({ clock: clock.now });
    await setup(d.port);
  });
  after(() => d.close());

  test("the cookie is HttpOnly, SameSite=Strict, Path=/, lives as long as the session, and is not Secure without TLS", async () => {
    const reply = await rpc(d.port, "auth.login", { password: PASSWORD });
    const { attributes } = sessionCookieOf(reply.http);
    assert.ok(attributes.includes("HttpOnly"), attributes.join("; "));
    assert.ok(attributes.includes("SameSite=Strict"));
    assert.ok(attributes.includes("Path=/"));
    assert.ok(!attributes.some((a) => a.toLowerCase() === "secure"), "no Secure over plain HTTP");
    assert.ok(!attributes.some((a) => a.toLowerCase().startsWith("domain")), "a host-only cookie");
    assert.ok(attributes.includes(`Max-Age=${SESSION_TTL_MS / 1000}`), attributes.join("; "));
    const { expiresAt } = reply.result as { expiresAt: number };
    assert.equal(expiresAt, clock.now() + SESSION_TTL_MS);
  });

  test("session fixation: a cookie planted before login is never the session after it", async () => {
    const planted = "archy_session=attacker-chosen-session-token-0123456789";
    const session = await login(d.port, PASSWORD, { cookie: planted });
    assert.notEqual(session.cookie, planted);
    assert.ok(session.token.length >= 40, "a long random token");
    await fails(d.port, "package.list", {}, { cookie: planted }, RPC_CODES.unauthenticated);
    await ok(d.port, "package.list", {}, { cookie: session.cookie });
  });

  test("every login issues a new token, and the session the request carried ends", async () => {
    const first = await login(d.port);
    const second = await login(d.port, PASSWORD, { cookie: first.cookie });
    assert.notEqual(second.token, first.token);
    assert.notEqual(second.csrf, first.csrf);
    await fails(d.port, "package.list", {}, { cookie: first.cookie }, RPC_CODES.unauthenticated);
    await ok(d.port, "package.list", {}, { cookie: second.cookie });
  });

  test("sessions are stored hashed, the password as an argon2id hash", async () => {
    const session = await login(d.port);
    const text = JSON.stringify(storeSnapshot(d.storePath));
    assert.ok(!text.includes(session.token), "the session token is not in the store");
    assert.ok(!text.includes(PASSWORD), "the password is not in the store");
    assert.match(text, /\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  test("a logged-out session no longer works, and logout clears the cookie", async () => {
    const session = await login(d.port);
    const reply = await rpc(d.port, "auth.logout", {}, session);
    assert.deepEqual(reply.result, { ok: true });
    const header = String(reply.http.headers["set-cookie"]);
    assert.match(header, /^archy_session=; Max-Age=0; Path=\/; HttpOnly; SameSite=Strict$/);
    await fails(d.port, "package.list", {}, session, RPC_CODES.unauthenticated);
    await fails(d.port, "auth.logout", {}, session, RPC_CODES.unauthenticated);
  });

  test("a session expires after its lifetime", async () => {
    const session = await login(d.port);
    clock.advance(SESSION_TTL_MS - 1_000);
    await ok(d.port, "package.list", {}, session);
    clock.advance(1_000);
    await fails(d.port, "package.list", {}, session, RPC_CODES.unauthenticated);
    await fails(d.port, "package.install", { id: "api-alpha" }, session, RPC_CODES.unauthenticated);
  });
});

describe("login brute force", () => {
  let d: TestDaemon;
  const clock = manualClock();
  before(async () => {
    d = await startDaemon({ clock: clock.now });
    await setup(d.port);
  });
  after(() => d.close());

  const retryAfter = (error: { data?: unknown }) =>
    (error.data as { retryAfterSeconds: number }).retryAfterSeconds;

  test("after 5 wrong passwords every attempt waits, longer each time, the right password included", async () => {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const error = await fails(
        d.port,
        "auth.login",
        { password: `wrong ${attempt}` },
        {},
        RPC_CODES.unauthenticated,
      );
      assert.match(error.message, /wrong password/);
    }
    const first = await fails(d.port, "auth.login", { password: PASSWORD }, {}, RPC_CODES.rateLimited);
    assert.equal(retryAfter(first), 1);
    assert.match(first.message, /try again in 1 s/);
    const none = await rpc(d.port, "auth.login", { password: PASSWORD });
    assert.equal(none.http.headers["set-cookie"], undefined, "no session while rate-limited");

    const delays = [retryAfter(first)];
    for (let round = 0; round < 4; round++) {
      clock.advance((delays.at(-1) as number) * 1000);
      await fails(d.port, "auth.login", { password: "still wrong" }, {}, RPC_CODES.unauthenticated);
      const limited = await fails(d.port, "auth.login", { password: PASSWORD }, {}, RPC_CODES.rateLimited);
      delays.push(retryAfter(limited));
    }
    assert.deepEqual(delays, [1, 2, 4, 8, 16], "the delay doubles with every further failure");

    clock.advance(8_000);
    const partway = await fails(d.port, "auth.login", { password: PASSWORD }, {}, RPC_CODES.rateLimited);
    assert.equal(retryAfter(partway), 8, "the wait counts down");
    clock.advance(8_000);
    const session = await login(d.port);
    await ok(d.port, "package.list", {}, session);

    // A success clears the count: the next failure is free again.
    await fails(d.port, "auth.login", { password: "wrong again" }, {}, RPC_CODES.unauthenticated);
    await login(d.port);
  });

  test("the delay stops growing at 15 minutes", async () => {
    for (let failures = 0; failures < 16; ) {
      const reply = await rpc(d.port, "auth.login", { password: "wrong" });
      if (reply.error?.code === RPC_CODES.unauthenticated) failures++;
      else if (reply.error?.code === RPC_CODES.rateLimited) clock.advance(retryAfter(reply.error) * 1000);
      else assert.fail(`unexpected answer: ${JSON.stringify(reply.error ?? reply.result)}`);
    }
    const limited = await fails(d.port, "auth.login", { password: PASSWORD }, {}, RPC_CODES.rateLimited);
    assert.equal(retryAfter(limited), 15 * 60);
    clock.advance(15 * 60_000);
    await login(d.port);
  });
});

test("parallel wrong passwords: only 5 are tried, the rest are rate-limited", async () => {
  const d = await startDaemon();
  try {
    await setup(d.port);
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => rpc(d.port, "auth.login", { password: `guess number ${i}` })),
    );
    const codes = replies.map((r) => r.error?.code);
    assert.equal(codes.filter((c) => c === RPC_CODES.unauthenticated).length, 5, JSON.stringify(codes));
    assert.equal(codes.filter((c) => c === RPC_CODES.rateLimited).length, 15, JSON.stringify(codes));
  } finally {
    await d.close();
  }
});

test("parallel first-run setups: exactly one sets the password", async () => {
  const d = await startDaemon();
  try {
    const passwords = Array.from({ length: 5 }, (_, i) => `first password ${i}`);
    const replies = await Promise.all(passwords.map((password) => rpc(d.port, "auth.setup", { password })));
    const winners = replies.filter((r) => r.error === undefined);
    assert.equal(winners.length, 1);
    for (const reply of replies)
      if (reply.error) assert.equal(reply.error.code, RPC_CODES.setupState, JSON.stringify(reply.error));
    const winner = passwords[replies.indexOf(winners[0] as (typeof replies)[number])] as string;
    await login(d.port, winner);
    for (const other of passwords.filter((p) => p !== winner))
      await fails(d.port, "auth.login", { password: other }, {}, RPC_CODES.unauthenticated);
  } finally {
    await d.close();
  }
});

/** Distinct loopback source addresses (Linux routes all of 127.0.0.0/8 to lo). */
const addresses = (count: number, offset = 0) =>
  Array.from(
    { length: count },
    (_, i) => `127.0.${Math.floor((i + offset) / 250) + 1}.${((i + offset) % 250) + 2}`,
  );

/** The wait a rate-limit answer asks for (failing clearly on any other answer). */
function retryAfterOf(error: { data?: unknown } | undefined): number {
  const seconds = (error?.data as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
  assert.ok(seconds !== undefined, `a rate-limit answer, not ${JSON.stringify(error)}`);
  return seconds;
}

describe("login limits: bounded over every address, and never a lock-out of the operator", () => {
  test("many addresses share one global budget: 20 addresses × 5 guesses check 20 passwords, not 100", async () => {
    const work = new PasswordWork();
    // The clock stands still: on a busy machine the global slow-down could end mid-run and let one
    // more guess be checked, as it should (a slow-down, never a lock-out; tested below).
    const clock = manualClock();
    const d = await startDaemon({ passwordWork: work, clock: clock.now });
    try {
      await setup(d.port);
      const computedBefore = work.stats.computed;
      const codes: Array<number | undefined> = [];
      for (let guess = 0; guess < 5; guess++)
        for (const from of addresses(20)) {
          const reply = await rpc(
            d.port,
            "auth.login",
            { password: `guess ${guess} from ${from}` },
            { from },
          );
          codes.push(reply.error?.code);
        }
      const checked = codes.filter((c) => c === RPC_CODES.unauthenticated).length;
      assert.equal(checked, LOGIN_LIMITS.global.freeAttempts, JSON.stringify(codes));
      assert.equal(codes.filter((c) => c === RPC_CODES.rateLimited).length, 100 - checked);
      assert.equal(work.stats.computed - computedBefore, checked, "a refused guess computes no hash");
    } finally {
      await d.close();
    }
  });

  test("the global slow-down doubles up to 60 s and is never a lock-out: the right password gets in after the wait, and resets it", async () => {
    const clock = manualClock();
    const d = await startDaemon({ clock: clock.now });
    try {
      await setup(d.port);
      const fresh = addresses(200);
      const next = () => fresh.shift() as string;
      for (let i = 0; i < LOGIN_LIMITS.global.freeAttempts; i++)
        await fails(d.port, "auth.login", { password: "wrong" }, { from: next() }, RPC_CODES.unauthenticated);
      const delays: number[] = [];
      for (let round = 0; round < 9; round++) {
        const limited = await fails(
          d.port,
          "auth.login",
          { password: PASSWORD },
          { from: next() },
          RPC_CODES.rateLimited,
        );
        delays.push(retryAfterOf(limited));
        clock.advance(retryAfterOf(limited) * 1000);
        await fails(d.port, "auth.login", { password: "wrong" }, { from: next() }, RPC_CODES.unauthenticated);
      }
      assert.deepEqual(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60], "doubling, then one guess a minute at most");
      const limited = await fails(
        d.port,
        "auth.login",
        { password: PASSWORD },
        { from: next() },
        RPC_CODES.rateLimited,
      );
      clock.advance(retryAfterOf(limited) * 1000);
      await login(d.port, PASSWORD, { from: next() });
      // The operator's login ended the slow-down: the next guess, from anywhere, is checked.
      await fails(d.port, "auth.login", { password: "wrong" }, { from: next() }, RPC_CODES.unauthenticated);
    } finally {
      await d.close();
    }
  });

  test("a local user failing from 127.0.0.1 never locks the operator's browser out: its device cookie has its own budget", async () => {
    const clock = manualClock();
    const d = await startDaemon({ clock: clock.now });
    try {
      const operator = await setup(d.port);
      await ok(d.port, "auth.logout", {}, operator);
      // The local user keeps 127.0.0.1 at the longest delay.
      for (let failures = 0; failures < 15; ) {
        const reply = await rpc(d.port, "auth.login", { password: "local guess" });
        if (reply.error?.code === RPC_CODES.unauthenticated) failures++;
        else clock.advance(retryAfterOf(reply.error) * 1000);
      }
      const limited = await fails(d.port, "auth.login", { password: PASSWORD }, {}, RPC_CODES.rateLimited);
      assert.ok(retryAfterOf(limited) >= (60 * 60) / 4, `127.0.0.1 waits ${retryAfterOf(limited)} s`);
      // The operator's browser, from the same address, gets in at once.
      const back = await login(d.port, PASSWORD, { cookie: operator.device });
      await ok(d.port, "package.list", {}, back);
      // That success cleared 127.0.0.1's count: the next guess from there is checked again.
      await fails(d.port, "auth.login", { password: "local guess" }, {}, RPC_CODES.unauthenticated);
    } finally {
      await d.close();
    }
  });

  test("guesses with a device cookie spend only that device's budget, not the address's or the global one", async () => {
    const d = await startDaemon();
    try {
      const operator = await setup(d.port);
      for (let i = 0; i < LOGIN_LIMITS.perDevice.freeAttempts; i++)
        await fails(
          d.port,
          "auth.login",
          { password: "typo" },
          { cookie: operator.device },
          RPC_CODES.unauthenticated,
        );
      await fails(
        d.port,
        "auth.login",
        { password: PASSWORD },
        { cookie: operator.device },
        RPC_CODES.rateLimited,
      );
      await login(d.port); // without the cookie, from the same address: its budget is untouched
    } finally {
      await d.close();
    }
  });

  test("a forged, altered, foreign or expired device cookie counts as none", async () => {
    const clock = manualClock();
    const d = await startDaemon({ clock: clock.now });
    const other = await startDaemon();
    try {
      const operator = await setup(d.port);
      const foreign = (await setup(other.port, "another daemon's password")).device;
      for (let i = 0; i < LOGIN_LIMITS.perAddress.freeAttempts; i++)
        await fails(d.port, "auth.login", { password: "wrong" }, {}, RPC_CODES.unauthenticated);
      const value = operator.device.slice("archy_device=".length);
      const [issued, id, signature] = value.split(".") as [string, string, string];
      const flip = (text: string) => `${text.slice(0, -1)}${text.endsWith("A") ? "B" : "A"}`;
      for (const cookie of [
        `archy_device=${issued}.${id}.${flip(signature)}`,
        `archy_device=${issued}.${flip(id)}.${signature}`,
        `archy_device=${(Number.parseInt(issued, 36) - 1).toString(36)}.${id}.${signature}`,
        `archy_device=${issued}.${"A".repeat(22)}.${signature}`,
        foreign,
        "archy_device=",
        `archy_device=${value}.extra`,
      ])
        await fails(d.port, "auth.login", { password: PASSWORD }, { cookie }, RPC_CODES.rateLimited);
      clock.advance(DEVICE_TTL_MS);
      await fails(d.port, "auth.login", { password: "wrong" }, {}, RPC_CODES.unauthenticated); // blocked again
      await fails(
        d.port,
        "auth.login",
        { password: PASSWORD },
        { cookie: operator.device },
        RPC_CODES.rateLimited,
      );
    } finally {
      await d.close();
      await other.close();
    }
  });

  test("the device cookie is HttpOnly, SameSite=Strict, lives a year, and is no session", async () => {
    const d = await startDaemon();
    try {
      const reply = await rpc(d.port, "auth.setup", { password: PASSWORD });
      const header = reply.http.headers["set-cookie"] as string[];
      const line = header.find((l) => l.startsWith("archy_device=")) as string;
      assert.match(
        line,
        new RegExp(
          `^archy_device=[0-9a-z]+\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}; Max-Age=${DEVICE_TTL_MS / 1000}; Path=/; HttpOnly; SameSite=Strict$`,
        ),
      );
      const device = deviceCookieOf(reply.http);
      await fails(d.port, "package.list", {}, { cookie: device }, RPC_CODES.unauthenticated);
    } finally {
      await d.close();
    }
  });

  test("the CLI token is never rate-limited", async () => {
    const d = await startDaemon();
    try {
      await setup(d.port);
      for (let i = 0; i < 30; i++) await rpc(d.port, "auth.login", { password: "wrong" });
      await fails(d.port, "auth.login", { password: PASSWORD }, {}, RPC_CODES.rateLimited);
      await ok(
        d.port,
        "package.install",
        { id: "api-alpha" },
        { bearer: readFileSync(d.tokenFile, "utf8").trim() },
      );
    } finally {
      await d.close();
    }
  });

  test("password methods are never batched: one request carries one guess", async () => {
    const work = new PasswordWork();
    const d = await startDaemon({ passwordWork: work });
    try {
      const session = await setup(d.port);
      const computed = work.stats.computed;
      const bearer = readFileSync(d.tokenFile, "utf8").trim();
      const guesses = Array.from({ length: 10 }, (_, i) => ({
        jsonrpc: "2.0",
        id: i,
        method: "auth.login",
        params: { password: i === 9 ? PASSWORD : `guess ${i}` },
      }));
      for (const caller of [{ bearer }, session]) {
        const response = await post(
          d.port,
          [...guesses, { jsonrpc: "2.0", id: 99, method: "system.info" }],
          caller,
        );
        const replies = response.body as Array<{ id: number; error?: { code: number; message: string } }>;
        assert.equal(replies.length, 11);
        for (const reply of replies.slice(0, 10)) {
          assert.equal(reply.error?.code, RPC_CODES.invalidRequest);
          assert.match(reply.error?.message ?? "", /send auth\.login alone/);
        }
        assert.equal(replies[10]?.error, undefined, "the rest of the batch is answered");
        assert.equal(response.headers["set-cookie"], undefined, "no session");
      }
      assert.equal(work.stats.computed, computed, "no password was checked");
    } finally {
      await d.close();
    }
  });
});

describe("changing the password and revoking sessions", () => {
  let d: TestDaemon;
  let bearer: string;
  const NEW = "a brand new operator password";
  before(async () => {
    d = await startDaemon();
    await setup(d.port);
    bearer = readFileSync(d.tokenFile, "utf8").trim();
  });
  after(() => d.close());

  test("a wrong current password or a short new one is refused naming the field, and changes nothing", async () => {
    const session = await login(d.port);
    const wrong = await refusedUnchanged(
      d,
      "auth.changePassword",
      { oldPassword: "not the password", newPassword: NEW },
      session,
      RPC_CODES.invalidParams,
    );
    assert.deepEqual((wrong.data as { issues: unknown[] }).issues, [
      { field: "oldPassword", problem: "not the current password" },
    ]);
    const short = await refusedUnchanged(
      d,
      "auth.changePassword",
      { oldPassword: PASSWORD, newPassword: "short" },
      session,
      RPC_CODES.invalidParams,
    );
    assert.equal((short.data as { issues: Array<{ field: string }> }).issues[0]?.field, "newPassword");
    await ok(d.port, "package.list", {}, session);
  });

  test("guessing through auth.changePassword with a stolen session is rate-limited like a login", async () => {
    const session = await login(d.port);
    const stolen = { cookie: session.cookie, csrf: session.csrf }; // no device cookie
    for (let i = 0; i < LOGIN_LIMITS.perAddress.freeAttempts - 1; i++)
      await fails(
        d.port,
        "auth.changePassword",
        { oldPassword: `guess ${i}`, newPassword: NEW },
        stolen,
        RPC_CODES.invalidParams,
      );
    await fails(
      d.port,
      "auth.changePassword",
      { oldPassword: "last guess", newPassword: NEW },
      stolen,
      RPC_CODES.invalidParams,
    );
    await fails(
      d.port,
      "auth.changePassword",
      { oldPassword: PASSWORD, newPassword: NEW },
      stolen,
      RPC_CODES.rateLimited,
    );
    await login(d.port, PASSWORD, { cookie: session.device }); // the operator's browser: unaffected, and it resets the address
  });

  test("a new password: every session is revoked, the caller gets a new one; the old password and device cookies stop working", async () => {
    const caller = await login(d.port);
    const other = await login(d.port);
    const reply = await rpc(
      d.port,
      "auth.changePassword",
      { oldPassword: PASSWORD, newPassword: NEW },
      caller,
    );
    assert.equal(reply.error, undefined, JSON.stringify(reply.error));
    const renewed = sessionCookieOf(reply.http);
    assert.notEqual(renewed.token, caller.token, "a new session for the caller");
    const csrf = (reply.result as { csrfToken: string }).csrfToken;
    await fails(d.port, "package.list", {}, caller, RPC_CODES.unauthenticated);
    await fails(d.port, "package.list", {}, other, RPC_CODES.unauthenticated);
    await ok(d.port, "package.list", {}, { cookie: renewed.pair, csrf });
    await fails(d.port, "auth.login", { password: PASSWORD }, {}, RPC_CODES.unauthenticated);
    await login(d.port, NEW);
    await ok(d.port, "package.list", {}, { bearer });
    // A device cookie signed under the old password is no device any more.
    for (let i = 0; i < LOGIN_LIMITS.perAddress.freeAttempts; i++)
      await fails(d.port, "auth.login", { password: "wrong" }, {}, RPC_CODES.unauthenticated);
    await fails(d.port, "auth.login", { password: NEW }, { cookie: caller.device }, RPC_CODES.rateLimited);
    await login(d.port, NEW, { cookie: deviceCookieOf(reply.http) });
  });

  test("with the CLI token: the current password is still required", async () => {
    await fails(
      d.port,
      "auth.changePassword",
      { oldPassword: PASSWORD, newPassword: NEW },
      { bearer },
      RPC_CODES.invalidParams,
    );
    await ok(d.port, "auth.changePassword", { oldPassword: NEW, newPassword: PASSWORD }, { bearer });
    await login(d.port, PASSWORD);
  });

  test("auth.logoutAll revokes every session, the caller's too, and clears its cookie; the CLI token stays", async () => {
    const sessions = [await login(d.port), await login(d.port), await login(d.port)];
    const reply = await rpc(d.port, "auth.logoutAll", {}, sessions[0]);
    assert.ok(((reply.result as { revoked: number }).revoked ?? 0) >= 3, JSON.stringify(reply.result));
    assert.match(String(reply.http.headers["set-cookie"]), /^archy_session=; Max-Age=0;/);
    for (const session of sessions)
      await fails(d.port, "package.list", {}, session, RPC_CODES.unauthenticated);
    await ok(d.port, "package.list", {}, { bearer });
    assert.deepEqual(await ok(d.port, "auth.logoutAll", {}, { bearer }), { revoked: 0 });
  });
});

describe("first-run setup", () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon();
  });
  after(() => d.close());

  test("login before setup: -32004", async () => {
    const error = await fails(d.port, "auth.login", { password: PASSWORD }, {}, RPC_CODES.setupState);
    assert.match(error.message, /auth\.setup/);
  });

  test("a password shorter than 10 characters is refused, 10 are enough", async () => {
    await refusedUnchanged(d, "auth.setup", { password: "123456789" }, {}, RPC_CODES.invalidParams);
    await setup(d.port, "0123456789");
  });

  test("auth.setup a second time: -32004, and the first password stays", async () => {
    const error = await refusedUnchanged(d, "auth.setup", { password: PASSWORD }, {}, RPC_CODES.setupState);
    assert.match(error.message, /already set/);
    await login(d.port, "0123456789");
    await fails(d.port, "auth.login", { password: PASSWORD }, {}, RPC_CODES.unauthenticated);
  });
});

describe("the CLI token", () => {
  let d: TestDaemon;
  let token: string;
  before(async () => {
    d = await startDaemon();
    await setup(d.port);
    token = readFileSync(d.tokenFile, "utf8").trim();
  });
  after(() => d.close());

  test("the daemon writes it 0600, long and random", () => {
    assert.equal(statSync(d.tokenFile).mode & 0o777, 0o600);
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(statSync(join(d.dataDir, "state")).mode & 0o077, 0, "its directory is private too");
  });

  test("a bearer token authenticates state-changing calls without a CSRF token", async () => {
    const accepted = (await ok(d.port, "package.install", { id: "api-alpha" }, { bearer: token })) as {
      kind: string;
    };
    assert.equal(accepted.kind, "install");
    assert.equal(d.orchestrator.store.getApp("api-alpha")?.desired, "running");
  });

  test("a wrong, truncated or padded token does not authenticate", async () => {
    for (const bearer of [`${token}x`, token.slice(0, -1), token.toUpperCase(), "x".repeat(43)])
      await refusedUnchanged(d, "package.stop", { id: "api-alpha" }, { bearer }, RPC_CODES.unauthenticated);
    await refusedUnchanged(
      d,
      "package.stop",
      { id: "api-alpha" },
      { headers: { authorization: `Basic ${token}` } },
      RPC_CODES.unauthenticated,
    );
  });

  test("readCliToken refuses a file others can read, with the chmod fix", async () => {
    const dir = mkdtempSync(join(tmpdir(), "archy-token-"));
    try {
      const path = join(dir, "cli-token");
      writeFileSync(path, `${token}\n`, { mode: 0o644 });
      chmodSync(path, 0o644);
      await assert.rejects(readCliToken(path), (error: Error) => {
        assert.match(error.message, /readable by other users \(mode 644\)/);
        assert.ok(error.message.includes(`chmod 600 ${path}`), error.message);
        return true;
      });
      chmodSync(path, 0o640);
      await assert.rejects(readCliToken(path), /mode 640/);
      chmodSync(path, 0o600);
      assert.equal(await readCliToken(path), token);
      await assert.rejects(readCliToken(join(dir, "missing")), /no CLI token at .*ARCHY_TOKEN_FILE/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("every daemon start writes a new token, 0600: the previous one stops working at once", async () => {
    chmodSync(d.tokenFile, 0o644); // a file someone loosened is replaced, not reused
    writeFileSync(`${d.tokenFile}.tmp-${process.pid}`, "left over\n", { mode: 0o644 });
    await d.restart();
    const rotated = readFileSync(d.tokenFile, "utf8").trim();
    assert.match(rotated, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(rotated, token, "a new token");
    assert.equal(statSync(d.tokenFile).mode & 0o777, 0o600);
    await refusedUnchanged(d, "package.list", {}, { bearer: token }, RPC_CODES.unauthenticated);
    await ok(d.port, "package.list", {}, { bearer: rotated });
    token = rotated;
  });

  test("auth.rotateCliToken writes a new token on request; the old one stops working at once", async () => {
    assert.deepEqual(await ok(d.port, "auth.rotateCliToken", {}, { bearer: token }), { ok: true });
    const rotated = readFileSync(d.tokenFile, "utf8").trim();
    assert.notEqual(rotated, token);
    assert.equal(statSync(d.tokenFile).mode & 0o777, 0o600);
    await fails(d.port, "package.list", {}, { bearer: token }, RPC_CODES.unauthenticated);
    await ok(d.port, "package.list", {}, { bearer: rotated });
    token = rotated;
  });

  test("a CLI client made before a rotation or a daemon restart reads the token file again (the gate restarts the daemon)", async () => {
    const client = new DaemonClient({ url: d.url, tokenFile: d.tokenFile });
    await client.call("package.list");
    await d.restart();
    const restarted = new DaemonClient({ url: d.url, tokenFile: d.tokenFile });
    await restarted.call("package.list");
    await restarted.call("auth.rotateCliToken");
    await restarted.call("package.list");
    // A wrong token file is still reported as such, once read again.
    const wrong = join(d.dir, "other-token");
    writeFileSync(wrong, "x".repeat(43), { mode: 0o600 });
    await assert.rejects(
      new DaemonClient({ url: d.url, tokenFile: wrong }).call("package.list"),
      (error: Error) => {
        assert.match(error.message, /does not accept the CLI token in .*other-token/);
        return true;
      },
    );
    token = readFileSync(d.tokenFile, "utf8").trim();
  });

  test("`archy auth rotate-token` and `archy auth logout-all` work with the CLI token alone", async () => {
    const browser = await login(d.port);
    const env = { ...process.env, ARCHY_URL: d.url, ARCHY_TOKEN_FILE: d.tokenFile };
    const rotate = await archy(["auth", "rotate-token"], env);
    assert.equal(rotate.code, 0, rotate.stderr);
    assert.match(rotate.stdout, /a new CLI token is in .*cli-token; the previous one no longer works/);
    await fails(d.port, "package.list", {}, { bearer: token }, RPC_CODES.unauthenticated);
    token = readFileSync(d.tokenFile, "utf8").trim();
    const logoutAll = await archy(["auth", "logout-all"], env);
    assert.equal(logoutAll.code, 0, logoutAll.stderr);
    assert.match(logoutAll.stdout, /^[1-9]\d* sessions? revoked; every browser must log in again$/m);
    await fails(d.port, "package.list", {}, browser, RPC_CODES.unauthenticated);
    await ok(d.port, "package.list", {}, { bearer: token });
    const unknown = await archy(["auth", "rotate"], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown subcommand 'auth rotate'/);
  });
});

describe("DNS rebinding", () => {
  let d: Awaited<ReturnType<typeof startDaemon>>;
  before(async () => {
    d = await startDaemon();
  });
  after(() => d.close());

  test("hostAllowed accepts IP literals, localhost and allowed names only", () => {
    for (const host of ["127.0.0.1:7780", "10.0.0.5", "[::1]:7780", "localhost:7780", "LOCALHOST"])
      assert.ok(hostAllowed(host, []), host);
    assert.ok(hostAllowed("node.lan:7780", ["node.lan"]));
    for (const host of [
      undefined,
      "",
      "attacker.example",
      "attacker.example:7780",
      "127.0.0.1.nip.io",
      "node.lan",
    ])
      assert.ok(!hostAllowed(host, []), String(host));
  });

  test("a request addressed to a rebound domain name is refused before anything runs, setup included", async () => {
    const before = storeSnapshot(d.storePath);
    const response = await http(d.port, {
      method: "POST",
      path: "/rpc/v1",
      headers: { ...headersOf(), host: "attacker.example:7780" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "auth.setup", params: { password: PASSWORD } }),
    });
    assert.equal(response.status, 403);
    assert.equal((response.body as { error: { code: number } }).error.code, RPC_CODES.csrfRejected);
    assert.match((response.body as { error: { message: string } }).error.message, /ARCHY_ALLOWED_HOSTS/);
    assert.deepEqual(storeSnapshot(d.storePath), before, "nothing changed");
  });
});
