/**
 * What a node serves its peers (docs/peers.md), on its own listener, read-only, to a peer holding a
 * token this node granted:
 *   - the marketplace bundles it has, by SHA-256: `GET /peer/v1/bundles/<sha256>.tar`;
 *   - the images it keeps for its peers (image-cache.ts), as the read side of the OCI distribution
 *     API, by digest only: `GET|HEAD /v2/<name>/manifests/<digest>` and `/v2/<name>/blobs/<digest>`
 *     (a tag is refused: only a digest names the same bytes for everyone).
 * The token comes as `Authorization: Bearer archy-peer-…`, or as the password of basic auth (what
 * skopeo and Podman send a registry; the user name is not looked at). Anything else — no token, a
 * revoked or unknown one, the CLI's or a session's credentials, a name that is not a digest — is
 * refused and reads nothing. The bytes are served as they are kept: whoever fetches them verifies
 * them (a bundle against its signed release, an image against the digest its manifest pins).
 */
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Store } from "../orchestrator/store.ts";
import type { ImageCache } from "./image-cache.ts";
import { distributionPath } from "./image-paths.ts";
import { PEER_BUNDLES_PATH, peerTokenDigest } from "./peers.ts";

const BUNDLE_NAME = /^([0-9a-f]{64})\.tar$/;

export type PeerServing = {
  store: Store;
  /** Where this node keeps the bundle of a SHA-256 (the marketplace's cache). */
  bundleFile: (sha256: string) => string;
  /** The images this node keeps for its peers. */
  images: ImageCache;
  log: { info: (message: string) => void; warn: (message: string) => void };
};

/** The token a request carries: a bearer token, or basic auth's password. */
function presentedToken(header: string | undefined): string | undefined {
  if (header?.startsWith("Bearer ")) return header.slice(7).trim();
  if (!header?.startsWith("Basic ")) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

/** The name of the peer whose granted token the request carries; otherwise answers 401 and gives undefined. */
function grantedPeer(request: FastifyRequest, reply: FastifyReply, serving: PeerServing): string | undefined {
  reply.header("cache-control", "no-store");
  const token = presentedToken(request.headers.authorization);
  const peer = token ? serving.store.peerGrantOf(peerTokenDigest(token)) : undefined;
  if (peer) return peer;
  serving.log.warn(`peer request from ${request.ip} refused: no valid peer token`);
  // Basic: what registry clients answer with the credentials they were given (a Bearer challenge
  // would send them looking for a token service).
  reply
    .code(401)
    .header("www-authenticate", 'Basic realm="archipelago-peer"')
    .type("text/plain")
    .send(
      "not a peer of this node: its operator grants access with `archy peers grant NAME` and gives you the token\n",
    );
  return undefined;
}

/** The media type a manifest's bytes declare (OCI ones may leave it out: an index lists manifests). */
function manifestType(bytes: Buffer): string {
  try {
    const doc = JSON.parse(bytes.toString("utf8")) as { mediaType?: unknown; manifests?: unknown };
    if (typeof doc.mediaType === "string" && /^[\w.+/-]+$/.test(doc.mediaType)) return doc.mediaType;
    return doc.manifests
      ? "application/vnd.oci.image.index.v1+json"
      : "application/vnd.oci.image.manifest.v1+json";
  } catch {
    return "application/octet-stream";
  }
}

const distributionError = (reply: FastifyReply, status: number, code: string, message: string) =>
  reply
    .code(status)
    .type("application/json")
    .send({ errors: [{ code, message }] });

export function registerPeerRoutes(app: FastifyInstance, serving: PeerServing): void {
  app.get(`${PEER_BUNDLES_PATH}:name`, async (request, reply) => {
    const peer = grantedPeer(request, reply, serving);
    if (!peer) return reply;
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

  // GET routes answer HEAD too (Fastify's exposeHeadRoutes): skopeo asks HEAD before a blob.
  app.get("/v2/*", async (request, reply) => {
    const peer = grantedPeer(request, reply, serving);
    if (!peer) return reply;
    reply.header("docker-distribution-api-version", "registry/2.0");
    const path = distributionPath((request.params as { "*": string })["*"]);
    if (path.kind === "base") return reply.code(200).type("application/json").send({});
    if (path.kind === "refused") return distributionError(reply, 404, path.code, path.message);
    const unknown = () =>
      distributionError(
        reply,
        404,
        path.kind === "manifest" ? "MANIFEST_UNKNOWN" : "BLOB_UNKNOWN",
        `this node keeps no ${path.kind} ${path.digest}`,
      );
    const file = await serving.images.blobFile(path.digest);
    // Read or opened before anything is sent: the cache may evict it meanwhile.
    const manifest =
      file && path.kind === "manifest" ? await readFile(file).catch(() => undefined) : undefined;
    const size = file && path.kind === "blob" ? (await stat(file).catch(() => undefined))?.size : undefined;
    if (!file || (manifest === undefined && size === undefined)) return unknown();
    serving.log.info(
      `served ${path.kind} ${path.digest.slice(7, 19)}… of ${path.name} to peer ${peer} (${request.ip})`,
    );
    reply.code(200).header("docker-content-digest", path.digest);
    if (manifest) return reply.type(manifestType(manifest)).send(manifest);
    // A layer can be hundreds of MiB: streamed, never read whole.
    return reply
      .type("application/octet-stream")
      .header("content-length", size as number)
      .send(createReadStream(file));
  });
}
