/**
 * The live event stream at /ws/v1: refused without a session and from another origin (an `error`
 * message, then close code 4401, and no event ever); an authenticated client (session cookie or CLI
 * token) receives the events of operations recorded through the API, each one fitting the documented
 * message schemas; a session that ends (logout, every session revoked) ends its stream, and so does a
 * CLI token that was replaced.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { within } from "../support/wait.ts";
import { connect, login, ok, type Session, settle, setup, startDaemon, type TestDaemon } from "./support.ts";

describe("the event stream", () => {
  let d: TestDaemon;
  let session: Session;
  let token: string;
  before(async () => {
    d = await startDaemon();
    session = await setup(d.port);
    token = readFileSync(d.tokenFile, "utf8").trim();
  });
  after(() => d.close());

  const sameOrigin = () => `http://127.0.0.1:${d.port}`;

  async function assertRefused(headers: Record<string, string>) {
    const client = connect(d, headers);
    const { code } = await client.closed;
    assert.equal(code, 4401);
    assert.deepEqual(
      client.messages.map((m) => m.type),
      ["error"],
      "only the refusal, no event",
    );
  }

  test("refuses a client without a session, with a forged cookie or a wrong token", async () => {
    await assertRefused({});
    await assertRefused({ cookie: "archy_session=forged-token" });
    await assertRefused({ cookie: "archy_session=%zz" });
    await assertRefused({ authorization: `Bearer ${token}x` });
  });

  test("refuses a cross-origin client even with a valid session", async () => {
    await assertRefused({ cookie: session.cookie, origin: "http://evil.example" });
    await assertRefused({ cookie: session.cookie, origin: `http://127.0.0.1:${d.port + 1}` });
    await assertRefused({ authorization: `Bearer ${token}`, origin: "http://evil.example" });
  });

  test("an authenticated client receives the app phase and the operation when one is recorded", async () => {
    const client = connect(d, { cookie: session.cookie, origin: sameOrigin() });
    await client.next((m) => m.type === "hello");
    const accepted = (await ok(d.port, "package.install", { id: "api-alpha" }, session)) as {
      operationId: string;
    };
    const phase = await client.next((m) => m.type === "app" && m.appId === "api-alpha");
    assert.equal(phase.phase, "installing");
    const operation = await client.next(
      (m) => m.type === "operation" && m.operationId === accepted.operationId,
    );
    const { seq, ...event } = operation;
    assert.ok(typeof seq === "number" && seq > (phase.seq as number), "numbered after the phase");
    assert.deepEqual(event, {
      type: "operation",
      operationId: accepted.operationId,
      appId: "api-alpha",
      kind: "install",
      state: "pending",
    });

    // A stop supersedes the install: the stream says the install ended and the stop is pending.
    const stop = (await ok(d.port, "package.stop", { id: "api-alpha" }, session)) as { operationId: string };
    const ended = await client.next(
      (m) => m.type === "operation" && m.operationId === accepted.operationId && m.state === "failed",
    );
    assert.match(String(ended.error), /superseded by stop/);
    await client.next((m) => m.type === "app" && m.phase === "stopping");
    await client.next(
      (m) => m.type === "operation" && m.operationId === stop.operationId && m.state === "pending",
    );

    // A repeated stop records nothing new, so it announces nothing.
    const count = client.messages.length;
    await ok(d.port, "package.stop", { id: "api-alpha" }, session);
    await ok(d.port, "package.list", {}, session);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(client.messages.length, count);
    client.socket.close();
    settle(d, "api-alpha");
  });

  test("the CLI token opens the stream too, and every client gets every event", async () => {
    const cli = connect(d, { authorization: `Bearer ${token}` });
    const browser = connect(d, { cookie: session.cookie });
    await cli.next((m) => m.type === "hello");
    await browser.next((m) => m.type === "hello");
    const accepted = (await ok(d.port, "package.start", { id: "api-alpha" }, { bearer: token })) as {
      operationId: string;
    };
    for (const client of [cli, browser])
      await client.next((m) => m.type === "operation" && m.operationId === accepted.operationId);
    cli.socket.close();
    browser.socket.close();
    settle(d, "api-alpha");
  });

  test("a client that comes back with its stream and last seq gets every event it missed, in order", async () => {
    const first = connect(d, { cookie: session.cookie });
    const hello = await first.next((m) => m.type === "hello");
    assert.equal(hello.resumed, false, "a first connection asks for nothing");
    const accepted = (await ok(d.port, "package.restart", { id: "api-alpha" }, session)) as {
      operationId: string;
    };
    const seen = await first.next((m) => m.type === "operation" && m.operationId === accepted.operationId);
    first.socket.close();
    await first.closed;
    // While it is away: a stop's events, and a start's.
    await ok(d.port, "package.stop", { id: "api-alpha" }, session);
    settle(d, "api-alpha");
    const live = connect(d, { cookie: session.cookie });
    await live.next((m) => m.type === "hello");
    await ok(d.port, "package.start", { id: "api-alpha" }, session);
    const last = await live.next((m) => m.type === "operation" && m.kind === "start");
    const missed = live.messages.filter(
      (m) => m.type !== "hello" && (m.seq as number) <= (last.seq as number),
    );
    live.socket.close();

    const back = connect(d, {
      cookie: session.cookie,
      path: `/ws/v1?stream=${hello.stream}&after=${seen.seq}`,
    } as Record<string, string>);
    const resumed = await back.next((m) => m.type === "hello");
    assert.equal(resumed.resumed, true);
    await back.next((m) => m.seq === last.seq);
    // Up to the last one the live client saw: the daemon may tell more since (the list's changes).
    const replayed = back.messages.filter(
      (m) => m.type !== "hello" && (m.seq as number) <= (last.seq as number),
    );
    const seqs = replayed.map((m) => m.seq as number);
    assert.deepEqual(
      seqs,
      Array.from(
        { length: (last.seq as number) - (seen.seq as number) },
        (_, i) => (seen.seq as number) + 1 + i,
      ),
      "every event after the last one seen, each once, in order",
    );
    assert.ok(
      replayed.some((m) => m.type === "operation" && m.kind === "stop"),
      "the stop made while away",
    );
    assert.deepEqual(
      replayed.filter((m) => m.seq !== undefined && (m.seq as number) >= (missed[0]?.seq as number)),
      missed,
      "the same events as a client that stayed",
    );
    back.socket.close();
    settle(d, "api-alpha");
  });

  test("a client of another stream, or asking past what the daemon has, is told to read the state again", async () => {
    for (const path of [
      "/ws/v1?stream=another-run&after=1",
      "/ws/v1?stream=x&after=abc",
      "/ws/v1?after=999999",
    ]) {
      const client = connect(d, { cookie: session.cookie, path } as Record<string, string>);
      const hello = await client.next((m) => m.type === "hello");
      assert.equal(hello.resumed, false, path);
      client.socket.close();
    }
  });

  test("a logged-out session's stream ends at the next event", async () => {
    const other = await login(d.port);
    const client = connect(d, { cookie: other.cookie });
    await client.next((m) => m.type === "hello");
    await ok(d.port, "auth.logout", {}, other);
    await ok(d.port, "package.restart", { id: "api-alpha" }, session);
    const { code } = await client.closed;
    assert.equal(code, 4401);
    assert.equal(client.messages.at(-1)?.type, "error");
    assert.ok(!client.messages.some((m) => m.type === "operation"), "no event after the logout");
  });

  test("revoking every session or rotating the CLI token ends their streams at the next event", async () => {
    const other = await login(d.port);
    const browser = connect(d, { cookie: other.cookie });
    const cli = connect(d, { authorization: `Bearer ${token}` });
    await browser.next((m) => m.type === "hello");
    await cli.next((m) => m.type === "hello");
    await ok(d.port, "auth.logoutAll", {}, { bearer: token });
    await ok(d.port, "auth.rotateCliToken", {}, { bearer: token });
    token = readFileSync(d.tokenFile, "utf8").trim();
    settle(d, "api-alpha");
    await ok(d.port, "package.restart", { id: "api-alpha" }, { bearer: token });
    for (const client of [browser, cli]) {
      const { code } = await Promise.race([
        client.closed,
        new Promise<never>((_, reject) =>
          setTimeout(
            () =>
              reject(new Error(`the stream is still open after 10 s: ${JSON.stringify(client.messages)}`)),
            10_000,
          ).unref(),
        ),
      ]);
      assert.equal(code, 4401);
      assert.ok(!client.messages.some((m) => m.type === "operation"), "no event after the revocation");
    }
  });
});

// The listener's close completes only when its last connection has ended: a page left open (its
// event stream, its keep-alive connection) held a stopping daemon until the browser let go.
test("a daemon stop ends the open event streams and keep-alive connections instead of waiting for them to leave", async () => {
  const d = await startDaemon();
  const session = await setup(d.port); // its keep-alive connection stays open, idle
  const client = connect(d, { cookie: session.cookie });
  try {
    await client.next((m) => m.type === "hello");
    await within(d.stop(), { what: "the daemon to stop while a client's event stream is open" });
    await within(client.closed, { what: "the stopped daemon to end the client's event stream" });
  } finally {
    client.socket.terminate(); // a daemon that waits for its clients can then stop
    await d.close();
  }
});
