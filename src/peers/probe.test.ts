/**
 * Adding a peer asks it once with the token: a node that takes it, a node that refuses it, a server
 * that is no node's daemon, and an address where nothing listens, each told apart. The other node's
 * side (its real peer listener) is exercised in test/marketplace/peers.test.ts.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { probePeer } from "./probe.ts";

const GRANTED = `archy-peer-${"G".repeat(43)}`;
let node: Server;
let other: Server;
const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

before(async () => {
  // What a node's peer listener answers at /v2/ (src/peers/serve.ts).
  node = createServer((request, response) => {
    if (request.url !== "/v2/") return response.writeHead(404).end();
    if (request.headers.authorization === `Bearer ${GRANTED}`)
      return response.writeHead(200, { "docker-distribution-api-version": "registry/2.0" }).end("{}");
    response.writeHead(401, { "www-authenticate": 'Basic realm="archipelago-peer"' }).end("not a peer\n");
  });
  other = createServer((_request, response) => response.writeHead(404).end("not found"));
  await Promise.all([node, other].map((s) => new Promise<void>((done) => s.listen(0, "127.0.0.1", done))));
});
after(() => {
  node.close();
  other.close();
});

test("a node that takes the token: answered and accepted", async () => {
  assert.deepEqual(await probePeer(urlOf(node), GRANTED), {
    answered: true,
    accepted: true,
    message: "it answered and takes the token",
  });
});

test("a node that refuses the token: answered, not accepted, and what to do", async () => {
  const check = await probePeer(urlOf(node), `archy-peer-${"X".repeat(43)}`);
  assert.equal(check.answered, true);
  assert.equal(check.accepted, false);
  assert.match(
    check.message,
    /^it answered HTTP 401: it does not take this node's token .*archy peers grant NAME/,
  );
});

test("a server that is not a node's daemon: answered, not accepted, naming the address to check", async () => {
  const check = await probePeer(urlOf(other), GRANTED);
  assert.deepEqual([check.answered, check.accepted], [true, false]);
  assert.match(
    check.message,
    /answered HTTP 404 to GET \/v2\/.*is http:\/\/127\.0\.0\.1:\d+\/ the other node's daemon address and port/,
  );
});

test("nothing listening: not answered (it may be off), saying the origin is used meanwhile", async () => {
  const closed = createServer();
  await new Promise<void>((done) => closed.listen(0, "127.0.0.1", done));
  const url = urlOf(closed);
  await new Promise((done) => closed.close(done));
  const check = await probePeer(url, GRANTED, { timeoutMs: 2_000 });
  assert.deepEqual([check.answered, check.accepted], [false, false]);
  assert.match(check.message, /^it did not answer \(ECONNREFUSED\); it is asked again at each fetch/);
});
