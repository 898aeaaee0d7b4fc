import assert from "node:assert/strict";
import { test } from "node:test";
import { grantedWords } from "./peers.ts";

test("a grant says how the other node adds this one: over http:// at the daemon's port, and that the daemon must listen where that node reaches it", () => {
  const words = grantedWords("garage-node", "http://127.0.0.1:7780");
  assert.equal(
    words,
    "granted garage-node: give this token to its operator, who adds this node with: echo TOKEN | archy peers add http://<this node's address>:7780/ (this node must listen on an address that node reaches, e.g. archy daemon --listen 0.0.0.0:7780; by default it listens on 127.0.0.1, this machine only); the token is not shown again",
  );
  assert.match(
    grantedWords("b", "http://127.0.0.1:17911/"),
    /peers add http:\/\/<this node's address>:17911\//,
  );
});
