/**
 * The event stream's connection logic against a scripted WebSocket (fault injection: drops,
 * refusals, replays): it reconnects with a growing delay and asks for what it missed, delivers each
 * event once and in order, tells its owner to read the state again when the daemon cannot replay,
 * and stops for good when the session is refused. The real daemon's side: test/api/websocket.test.ts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { EventStream, type StreamEvent, streamUrl, type WebSocketLike } from "./events.ts";

class ScriptedSocket implements WebSocketLike {
  onopen: WebSocketLike["onopen"] = null;
  onmessage: WebSocketLike["onmessage"] = null;
  onclose: WebSocketLike["onclose"] = null;
  onerror: WebSocketLike["onerror"] = null;
  closedByClient = false;
  readonly url: string;
  constructor(url: string) {
    this.url = url;
  }
  send(message: object): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  drop(code = 1006): void {
    this.onclose?.({ code, reason: "" });
  }
  close(): void {
    this.closedByClient = true;
  }
}

function harness() {
  const sockets: ScriptedSocket[] = [];
  const stream = new EventStream({
    url: "ws://127.0.0.1:1/ws/v1",
    connect: (url) => {
      const socket = new ScriptedSocket(url);
      sockets.push(socket);
      return socket;
    },
    backoff: { baseMs: 100, maxMs: 1_000 },
    random: () => 1,
  });
  const events: StreamEvent[] = [];
  let resyncs = 0;
  const statuses: string[] = [];
  stream.onEvent((e) => events.push(e));
  stream.onResync(() => resyncs++);
  stream.onStatus(({ status }) => statuses.push(status));
  return { stream, sockets, events, statuses, resyncs: () => resyncs };
}

const app = (seq: number) => ({ type: "app-removed", appId: `a${seq}`, seq });

test("reconnects after a loss with a growing delay and asks for the events after the last one seen", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const h = harness();
  h.stream.start();
  const first = h.sockets[0] as ScriptedSocket;
  assert.equal(first.url, "ws://127.0.0.1:1/ws/v1", "the first connection asks for nothing");
  first.send({ type: "hello", stream: "s1", seq: 4, resumed: false });
  assert.equal(h.resyncs(), 1, "the first connection reads the state");
  first.send(app(5));
  first.send(app(6));
  first.drop();
  assert.equal(h.stream.status, "connecting");
  t.mock.timers.tick(99);
  assert.equal(h.sockets.length, 1, "waits the first delay");
  t.mock.timers.tick(1);
  const second = h.sockets[1] as ScriptedSocket;
  assert.equal(second.url, "ws://127.0.0.1:1/ws/v1?stream=s1&after=6");
  second.drop();
  t.mock.timers.tick(199);
  assert.equal(h.sockets.length, 2, "the second delay is twice the first");
  t.mock.timers.tick(1);
  const third = h.sockets[2] as ScriptedSocket;
  third.send({ type: "hello", stream: "s1", seq: 8, resumed: true });
  third.send(app(6)); // seen already: dropped
  third.send(app(7));
  third.send(app(8));
  assert.deepEqual(
    h.events.map((e) => e.seq),
    [5, 6, 7, 8],
    "each event once, in order",
  );
  assert.equal(h.resyncs(), 1, "resumed: nothing to read again");
  assert.equal(h.stream.status, "open");
  assert.equal(h.stream.attempt, 0, "a connection resets the delay");
  h.stream.close();
});

test("a daemon that cannot replay (restarted, gap too old) makes the owner read the state again", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const h = harness();
  h.stream.start();
  (h.sockets[0] as ScriptedSocket).send({ type: "hello", stream: "s1", seq: 10, resumed: false });
  (h.sockets[0] as ScriptedSocket).drop();
  t.mock.timers.tick(100);
  const back = h.sockets[1] as ScriptedSocket;
  back.send({ type: "hello", stream: "s2", seq: 3, resumed: false });
  assert.equal(h.resyncs(), 2);
  back.send(app(4));
  assert.deepEqual(
    h.events.map((e) => e.seq),
    [4],
    "the new stream's events count from its own numbers",
  );
  h.stream.close();
});

test("a refused session stops the stream: no reconnect until asked", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const h = harness();
  h.stream.start();
  const socket = h.sockets[0] as ScriptedSocket;
  socket.send({ type: "error", message: "the session has ended: log in again" });
  socket.drop(4401);
  assert.equal(h.stream.status, "unauthenticated");
  t.mock.timers.tick(60_000);
  assert.equal(h.sockets.length, 1, "no attempt without a session");
  h.stream.reconnect();
  assert.equal(h.sockets.length, 2);
  h.stream.close();
  assert.ok((h.sockets[1] as ScriptedSocket).closedByClient);
  assert.equal(h.stream.status, "closed");
});

test("the delay between attempts stops growing at its maximum", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const h = harness();
  h.stream.start();
  for (let i = 0; i < 10; i++) {
    const count = h.sockets.length;
    (h.sockets.at(-1) as ScriptedSocket).drop();
    t.mock.timers.tick(1_000);
    assert.equal(h.sockets.length, count + 1, `attempt ${i + 2} within the 1 s maximum`);
  }
  h.stream.close();
});

test("streamUrl: ws for http, wss for https, from a base URL or the page's location", () => {
  assert.equal(streamUrl("http://127.0.0.1:7780/"), "ws://127.0.0.1:7780/ws/v1");
  assert.equal(streamUrl({ protocol: "https:", host: "node.local:8443" }), "wss://node.local:8443/ws/v1");
});
