/**
 * Images from peers (docs/peers.md): a pinned image copied by skopeo from a peer that serves it
 * (serve.ts) into Podman's store — through this node's own cache when it shares too — with the
 * token the peer's operator granted as basic auth. skopeo checks the manifest against the pinned
 * digest and every blob against the digest the manifest lists: a peer cannot make this node take
 * other bytes, only fail the copy. A failure that says the bytes were not what their digest names
 * is a lie (the peer is dropped by the caller); any other (no such image, unreachable) is not.
 */

import {
  copyFromRegistry,
  type ImageSource,
  isDigestMismatch,
  SkopeoError,
  storeReference,
} from "../registry/skopeo.ts";
import type { RegistryAuth } from "../runtime/runtime.ts";
import type { ImageCache } from "./image-cache.ts";
import type { Peer } from "./peers.ts";

/** Any user name: a peer reads the token, which is basic auth's password. */
const PEER_USER = "peer";

/** How skopeo reaches `peer`: its host, its token; TLS verified unless the operator named it by http://. */
export function peerImageSource(peer: Pick<Peer, "url" | "token">): ImageSource {
  const url = new URL(peer.url);
  return {
    host: url.host,
    auth: { username: PEER_USER, password: peer.token, serveraddress: url.host },
    tlsVerify: url.protocol === "https:",
  };
}

export type PeerCopy = { served: true } | { served: false; problem: string; lied: boolean };

/** Where a pinned image may come from besides Podman's pull from its registry (docs/peers.md). */
export type PullSources = {
  /** The peers to ask first, in order. */
  peers: readonly Peer[];
  /** Copies the pinned image from `peer` into Podman's store. */
  fromPeer: (peer: Peer, image: string) => Promise<PeerCopy>;
  /** When the node shares: copies the pinned image from its registry into Podman's store through the peer cache. */
  throughCache?: (image: string, auth: RegistryAuth | undefined) => Promise<void>;
};

/** Copies `image` (pinned by digest) from `peer` into Podman's store, through `cache` when given. */
export async function copyFromPeer(
  peer: Peer,
  image: string,
  cache: ImageCache | undefined,
): Promise<PeerCopy> {
  const source = peerImageSource(peer);
  try {
    if (cache) await cache.pull(image, source);
    else await copyFromRegistry(image, storeReference(image), source);
    return { served: true };
  } catch (error) {
    if (!(error instanceof SkopeoError)) throw error;
    return { served: false, problem: error.message, lied: isDigestMismatch(error.message) };
  }
}

/**
 * Where the pull step takes pinned images from besides Podman's pull (image-pulls.ts): `peers`
 * first; and when the node shares (`cache`: it granted at least one peer), through its cache, so
 * that what it pulls it can serve. Undefined when it neither asks nor shares.
 */
export function pullSources(peers: readonly Peer[], cache: ImageCache | undefined): PullSources | undefined {
  if (peers.length === 0 && !cache) return undefined;
  return {
    peers,
    fromPeer: (peer, image) => copyFromPeer(peer, image, cache),
    ...(cache ? { throughCache: (image, auth) => cache.pull(image, auth ? { auth } : {}) } : {}),
  };
}
