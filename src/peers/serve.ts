/**
 * What a node serves its peers (docs/peers.md), on its own listener: the marketplace bundles it
 * has, read-only, by SHA-256 (`GET /peer/v1/bundles/<sha256>.tar`), to a peer holding a token this
 * node granted (`Authorization: Bearer archy-peer-…`). Anything else — no token, a revoked or
 * unknown one, the CLI's or a session's credentials, a name that is not 64 hex digits and `.tar` —
 * is refused and reads nothing. The bytes are served as they are kept: the node wrote them only
 * after verifying them, and the peer that fetches them verifies them again against the signed
 * release.
 */
import { readFile } from "node:fs/promises";
import type { FastifyInstance } from "fastify";
import type { Store } from "../orchestrator/store.ts";
import { PEER_BUNDLES_PATH, peerTokenDigest } from "./peers.ts";

const BUNDLE_NAME = /^([0-9a-f]{64})\.tar$/;

export type PeerServing = {
  store: Store;
  /** Where this node keeps the bundle of a SHA-256 (the marketplace's cache). */
  bundleFile: (sha256: string) => string;
  log: { info: (message: string) => void; warn: (message: string) => void };
};

export function registerPeerRoutes(app: FastifyInstance, serving: PeerServing): void {
  app.get(`${PEER_BUNDLES_PATH}:name`, async (request, reply) => {
    reply.header("cache-control", "no-store");
    const header = request.headers.authorization;
    const token = header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
    const peer = token ? serving.store.peerGrantOf(peerTokenDigest(token)) : undefined;
    if (!peer) {
      serving.log.warn(`peer request from ${request.ip} refused: no valid peer token`);
      return reply
        .code(401)
        .header("www-authenticate", 'Bearer realm="archipelago-peer"')
        .type("text/plain")
        .send(
          "not a peer of this node: its operator grants access with `archy peers grant NAME` and gives you the token\n",
        );
    }
    const match = BUNDLE_NAME.exec((request.params as { name: string }).name);
    if (!match)
      return reply
        .code(404)
        .type("text/plain")
        .send("a bundle is named by its SHA-256: <64 hex digits>.tar\n");
    const bytes = await readFile(serving.bundleFile(match[1] as string)).catch(() => undefined);
    if (!bytes) return reply.code(404).type("text/plain").send("this node has no such bundle\n");
    serving.log.info(`served bundle ${match[1]?.slice(0, 12)}… to peer ${peer} (${request.ip})`);
    return reply.code(200).type("application/octet-stream").send(bytes);
  });
}
