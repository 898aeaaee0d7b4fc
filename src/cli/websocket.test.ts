/**
 * The CLI's WebSocket client against the `ws` package's server (what @fastify/websocket runs in the
 * daemon): the handshake with its headers, messages of each length encoding and in fragments, a
 * ping answered, closes both ways with their code and reason, and a server that does not open a
 * WebSocket. The whole stream through it, on a real daemon: test/cli/operator-cli.test.ts.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { type WebSocket, WebSocketServer } from "ws";
import { openWebSocket, PlainWebSocket } from "./websocket.ts";

let server: Server;
let sockets: WebSocketServer;
let port: number;
/** What the next connection does once open (set by each test). */
let onConnection: (socket: WebSocket, request: IncomingMessage) => void = () => {};

before(async () => {
  server = createServer((_request, response) => response.writeHead(404).end("no WebSocket here\n"));
  sockets = new WebSocketServer({ noServer: true });
  server.on("upgrade", (request, socket, head) => {
    if (request.url?.startsWith("/refuse")) {
      socket.end("HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    sockets.handleUpgrade(request, socket, head, (ws) => onConnection(ws, request));
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  port = (server.address() as AddressInfo).port;
});
after(async () => {
  for (const client of sockets.clients) client.terminate();
  await new Promise((done) => server.close(done));
});

type Seen = { open: boolean; messages: string[]; closed: Promise<{ code: number; reason: string }> };

function open(path: string, headers: Record<string, string> = {}): { socket: PlainWebSocket; seen: Seen } {
  const socket = openWebSocket(`ws://127.0.0.1:${port}${path}`, headers) as PlainWebSocket;
  assert.ok(socket instanceof PlainWebSocket, "ws:// goes through the plain client");
  const seen: Seen = {
    open: false,
    messages: [],
    closed: new Promise((resolve) => {
      socket.onclose = resolve;
    }),
  };
  socket.onopen = () => {
    seen.open = true;
  };
  socket.onmessage = (event) => seen.messages.push(String(event.data));
  return { socket, seen };
}

test("the handshake carries the path, the query and the headers; messages of every length come whole, fragmented ones joined", async () => {
  const long = "é".repeat(40_000); // 80,000 bytes: a 64-bit length
  const medium = "m".repeat(300); // a 16-bit length
  let request: IncomingMessage | undefined;
  onConnection = (ws, req) => {
    request = req;
    ws.send("hello");
    ws.send(medium);
    ws.send(long);
    ws.send("frag", { fin: false });
    ws.send("ment", { fin: true });
    ws.close(4401, "the session has ended");
  };
  const { seen } = open("/ws/v1?stream=s1&after=7", { authorization: "Bearer t0k3n" });
  const closed = await seen.closed;
  assert.equal(request?.url, "/ws/v1?stream=s1&after=7");
  assert.equal(request?.headers.authorization, "Bearer t0k3n");
  assert.equal(seen.open, true);
  assert.deepEqual(seen.messages, ["hello", medium, long, "fragment"]);
  assert.deepEqual(closed, { code: 4401, reason: "the session has ended" });
});

test("a ping is answered with its payload; a close from the client reaches the server with its code", async () => {
  const pong = new Promise<string>((resolve) => {
    onConnection = (ws) => {
      ws.on("pong", (data) => resolve(data.toString()));
      ws.ping("are you there");
    };
  });
  const { socket, seen } = open("/ws/v1");
  assert.equal(await pong, "are you there");
  const serverSaw = new Promise<number>((resolve) => {
    for (const client of sockets.clients) client.once("close", (code) => resolve(code));
  });
  socket.close(1000, "done");
  assert.equal(await serverSaw, 1000);
  assert.equal((await seen.closed).code, 1000);
});

test("a server that does not open a WebSocket: never open, closed as abnormal (1006), no message", async () => {
  const refused = open("/refuse");
  assert.equal((await refused.seen.closed).code, 1006);
  assert.equal(refused.seen.open, false);
  const plain = await new Promise<Server>((resolve) => {
    const s = createServer((_q, r) => r.writeHead(200).end("hi")).listen(0, "127.0.0.1", () => resolve(s));
  });
  const socket = new PlainWebSocket(new URL(`ws://127.0.0.1:${(plain.address() as AddressInfo).port}/`), {});
  const closed = await new Promise<{ code: number }>((resolve) => {
    socket.onclose = resolve;
  });
  assert.equal(closed.code, 1006);
  plain.close();
});

test("a connection lost without a close frame is abnormal (1006)", async () => {
  onConnection = (ws) => {
    ws.send("one");
    setTimeout(() => ws.terminate(), 20);
  };
  const { seen } = open("/ws/v1");
  assert.equal((await seen.closed).code, 1006);
  assert.deepEqual(seen.messages, ["one"]);
});
