/**
 * A peer reached over HTTPS whose certificate comes from the authority a node makes for itself (what
 * every node serves by default): a real HTTPS server on loopback. The install's log says what to do,
 * not only TLS's words; the release's mirror then serves the bundle.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import {
  certificatePem,
  createAuthority,
  issueServerCertificate,
  newKeyPair,
  privateKeyPem,
} from "../tls/x509.ts";
import { digestOf } from "./bundle.ts";
import { fetchBundle } from "./fetch-bundle.ts";

const bundle = new TextEncoder().encode("a bundle's bytes\n");
const signed = digestOf(bundle);
const servers: Array<{ close: () => void }> = [];
let peerPort = 0;
let mirrorUrl = "";

before(async () => {
  const now = Date.now();
  const authority = await createAuthority("a peer node", now, 2);
  const leaf = await newKeyPair();
  const certificate = await issueServerCertificate(
    authority,
    leaf.publicKey,
    { dns: [], ips: ["127.0.0.1"] },
    now,
    1,
  );
  const peer = createHttpsServer(
    // As a node serves it: its certificate, then its authority's.
    {
      cert: certificatePem(certificate) + certificatePem(authority.certificate),
      key: await privateKeyPem(leaf.privateKey),
    },
    (_request, response) => response.end(bundle),
  );
  const mirror = createHttpServer((_request, response) => response.end(bundle));
  for (const server of [peer, mirror]) {
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    servers.push(server);
  }
  peerPort = (peer.address() as AddressInfo).port;
  mirrorUrl = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/bundle.tar`;
});

after(() => {
  for (const server of servers) server.close();
});

test("a peer over HTTPS with a node's own certificate: the log says to add it over http:// or give it a trusted certificate; the mirror serves", async () => {
  const outcome = await fetchBundle([mirrorUrl], signed, {
    peers: [{ url: `https://127.0.0.1:${peerPort}/`, token: "archy-peer-x", addedAt: 0 }],
  });
  assert.ok("bytes" in outcome, JSON.stringify(outcome));
  assert.equal(outcome.url, mirrorUrl);
  assert.equal(outcome.fromPeer, false);
  assert.deepEqual(outcome.problems, [
    `peer https://127.0.0.1:${peerPort}/: its certificate is not one this node trusts (TLS: SELF_SIGNED_CERT_IN_CHAIN): the authority a node makes for itself is trusted by no other node; add it as http://127.0.0.1:${peerPort}/ on a network you trust, or give that node a certificate this one trusts (archy daemon --tls-cert)`,
  ]);
});
