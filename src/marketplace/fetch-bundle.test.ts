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
/** A peer answering with each status, by status. */
const refusing = new Map<number, string>();

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
  for (const status of [401, 403, 404, 308]) {
    const server = createHttpServer((_request, response) => response.writeHead(status).end());
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    servers.push(server);
    refusing.set(status, `http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  }
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
    `peer https://127.0.0.1:${peerPort}/: its certificate is not one this node trusts (TLS: SELF_SIGNED_CERT_IN_CHAIN): bundles are fetched trusting the system's authorities only, and the one a node makes for itself is not among them; add it as http://127.0.0.1:${peerPort}/ on a network you trust, or give that node a certificate of a public CA (archy daemon --tls-cert)`,
  ]);
});

test("a peer's refusal says what it means and what to do: a token it does not take, a name it does not answer to, no copy, HTTP sent on to HTTPS", async () => {
  const peers = [...refusing.values()].map((url) => ({ url, token: "archy-peer-x", addedAt: 0 }));
  const outcome = await fetchBundle([mirrorUrl], signed, { peers });
  assert.ok("bytes" in outcome, JSON.stringify(outcome));
  assert.equal(outcome.url, mirrorUrl);
  const url = (status: number) => refusing.get(status) as string;
  assert.deepEqual(outcome.problems, [
    `peer ${url(401)}: the peer answered HTTP 401: it does not take this node's token (never granted, or revoked); ask its operator for a new one (archy peers grant NAME there), then give it here (echo TOKEN | archy peers add URL)`,
    `peer ${url(403)}: the peer answered HTTP 403: it does not answer to the name it was added under; add it by its IP address, or its operator allows that name (ARCHY_ALLOWED_HOSTS)`,
    `peer ${url(404)}: the peer answered HTTP 404 (it has no copy of this bundle)`,
    `peer ${url(308)}: the peer answered HTTP 308: it sends HTTP on to HTTPS; add it as https://… (which needs its certificate to be one this node trusts)`,
  ]);
});

test("a mirror's refusal is its status alone: mirrors are strangers' servers, the advice is for peers", async () => {
  const outcome = await fetchBundle([refusing.get(401) as string, mirrorUrl], signed);
  assert.ok("bytes" in outcome, JSON.stringify(outcome));
  assert.deepEqual(outcome.problems, [`${refusing.get(401)}: the mirror answered HTTP 401`]);
});
