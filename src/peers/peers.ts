/**
 * Peers: other Archipelago nodes this node shares what it has with (docs/peers.md): marketplace
 * bundles and pinned images. Two lists, one each way:
 *   - the peers this node fetches from (their URL and the token their operator gave ours), and
 *   - the grants: who may fetch from this node, each a name and a token this node issued (only its
 *     SHA-256 is kept: the token is shown once, when granted).
 * A peer is allowed by a token, not by its address: an address is not an identity (NAT, a reverse
 * proxy or a shared host put many behind one, DHCP moves them, anyone on a LAN can take one), while
 * a token is one peer's, works wherever that peer is, and is revoked alone. What peers serve is
 * content-addressed and verified by whoever fetches it (a marketplace bundle against its signed
 * release, an image against the digest it is pinned by): a peer is untrusted transport, never a source of trust. Pure; the store keeps the lists.
 */
import { createHash, randomBytes } from "node:crypto";

/** Where a node serves the marketplace bundles it has, by SHA-256: `<path><sha256>.tar`. */
export const PEER_BUNDLES_PATH = "/peer/v1/bundles/";

const TOKEN_PREFIX = "archy-peer-";
const TOKEN = /^archy-peer-[A-Za-z0-9_-]{43}$/;
const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export type Peer = { url: string; token: string; addedAt: number };
export type PeerGrant = { name: string; grantedAt: number };

/** A new token for a peer: 256 random bits. */
export const newPeerToken = (): string => `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;

/** What the node keeps of a token it issued. */
export const peerTokenDigest = (token: string): string => createHash("sha256").update(token).digest("hex");

export function peerTokenProblem(token: string): string | undefined {
  return TOKEN.test(token)
    ? undefined
    : "a peer token is what `archy peers grant NAME` printed on the other node (archy-peer-…, 54 characters)";
}

export function peerNameProblem(name: string): string | undefined {
  return NAME.test(name)
    ? undefined
    : `${JSON.stringify(name)} is not a peer name: lowercase letters, digits, '.', '_' and '-', at most 63, starting with a letter or digit`;
}

/** A peer's URL, canonical (`https://host:port/`), or the problem with the text given. */
export function parsePeerUrl(text: string): { url: string } | { problem: string } {
  if (text.length > 512) return { problem: "a peer URL is at most 512 characters" };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return {
      problem: `${JSON.stringify(text)} is not a URL: give the other node's address, http://host:port/ (or https:// when its certificate is one this node trusts)`,
    };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    return { problem: `${text}: a peer is reached over https:// (or http:// on a network you trust)` };
  if (url.username || url.password)
    return {
      // Never echoed: what is in it may be the token.
      problem: `the URL carries credentials (user:password@): give the address alone; the peer's token goes on stdin (echo TOKEN | archy peers add URL)`,
    };
  if (url.search || url.hash || (url.pathname !== "/" && url.pathname !== ""))
    return { problem: `${text}: give the node's address only (http://host:port/), no path or query` };
  return { url: `${url.protocol}//${url.host}/` };
}

/** Where a peer serves the bundle of this SHA-256. */
export const peerBundleUrl = (peer: Pick<Peer, "url">, sha256: string): string =>
  new URL(`${PEER_BUNDLES_PATH}${sha256}.tar`, peer.url).toString();
