import assert from "node:assert/strict";
import { test } from "node:test";
import { parsePeerUrl } from "./peers.ts";

test("a peer URL: the node's address only, made canonical", () => {
  assert.deepEqual(parsePeerUrl("http://192.168.1.20:7780"), { url: "http://192.168.1.20:7780/" });
  assert.deepEqual(parsePeerUrl("https://node.lan:7780/"), { url: "https://node.lan:7780/" });
});

test("a refused peer URL says what to give instead; the token's way in is stdin (there is no --token), and a token put in the URL is never echoed", () => {
  const problem = (text: string) => {
    const parsed = parsePeerUrl(text);
    assert.ok("problem" in parsed, text);
    return parsed.problem;
  };
  assert.match(
    problem("192.168.1.20:7780"),
    /is not a URL: give the other node's address, http:\/\/host:port\//,
  );
  const withToken = problem("http://u:archy-peer-x@192.168.1.20:7780/");
  assert.equal(
    withToken,
    "the URL carries credentials (user:password@): give the address alone; the peer's token goes on stdin (echo TOKEN | archy peers add URL)",
  );
  assert.doesNotMatch(withToken, /archy-peer-x/, "a token given in the URL is not repeated in the error");
  assert.doesNotMatch(problem("http://u:p@h/"), /--token/);
  assert.match(
    problem("http://192.168.1.20:7780/peer/v1/"),
    /give the node's address only \(http:\/\/host:port\/\)/,
  );
  assert.match(problem("ftp://192.168.1.20/"), /https:\/\/ \(or http:\/\/ on a network you trust\)/);
});
