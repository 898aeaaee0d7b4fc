/**
 * Downloads a bundle from the operator's peers (other nodes that may have it, src/peers/), then
 * from its mirrors: untrusted transport, whoever they are. A source is read only up to the length
 * the release signs (one byte more and it is refused), no redirect is followed, and what it sent
 * counts only once its length, SHA-256 and BLAKE3 are the signed ones. The first source whose bytes
 * verify wins; the others' problems are kept, to say why when none does. A peer that sends other
 * bytes than the signed ones is dropped (it is a liar, not merely without the bundle): the mirrors
 * the release names, its origin, decide.
 */
import { type Dispatcher, request } from "undici";
import { type Peer, peerBundleUrl } from "../peers/peers.ts";
import { peerStatusAdvice, UNTRUSTED_ISSUER, untrustedPeerAdvice } from "../peers/probe.ts";
import { publicOnlyDispatcher, type ReachPolicy, refusedUrl } from "../system/public-address.ts";
import { digestProblem, MAX_BUNDLE_BYTES } from "./bundle.ts";
import type { BundleDigest } from "./events.ts";

export type FetchOutcome =
  | { bytes: Uint8Array; url: string; fromPeer: boolean; problems: string[] }
  | { problems: string[] };

/**
 * Why a source's answer is not the bundle; `lied` when it sent bytes that are not the signed ones,
 * `untrusted` when its certificate's issuer is not one this node trusts.
 */
type Failure = { problem: string; lied: boolean; untrusted?: boolean };

async function fromSource(
  url: string,
  signed: BundleDigest,
  options: { timeoutMs: number; dispatcher: Dispatcher | undefined; token?: string },
): Promise<Uint8Array | Failure> {
  const { timeoutMs, dispatcher, token } = options;
  const who = token ? "the peer" : "the mirror";
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(url, {
      method: "GET",
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
      ...(dispatcher ? { dispatcher } : {}),
    });
  } catch (error) {
    const code = String((error as NodeJS.ErrnoException).code);
    // Node's own words for these suggest flags of Node's: the operator needs what the code means.
    if (UNTRUSTED_ISSUER.has(code))
      return {
        problem: `its certificate is not one this node trusts (TLS: ${code})`,
        lied: false,
        untrusted: true,
      };
    return { problem: `cannot download: ${(error as Error).message}`, lied: false };
  }
  const body = response.body;
  try {
    if (response.statusCode !== 200)
      return {
        problem: `${who} answered HTTP ${response.statusCode}${token ? peerStatusAdvice(response.statusCode) : ""}`,
        lied: false,
      };
    const announced = Number(response.headers["content-length"]);
    if (Number.isFinite(announced) && announced > signed.size)
      return { problem: `${who} announces ${announced} bytes where ${signed.size} are signed`, lied: true };
    const bytes = new Uint8Array(signed.size);
    let received = 0;
    for await (const chunk of body) {
      const data = chunk as Buffer;
      if (received + data.length > signed.size)
        return { problem: `${who} sent more than the ${signed.size} signed bytes`, lied: true };
      bytes.set(data, received);
      received += data.length;
    }
    const problem = digestProblem(bytes.subarray(0, received), signed);
    return problem ? { problem: `${who}'s bytes are not the signed bundle: ${problem}`, lied: true } : bytes;
  } catch (error) {
    return { problem: `the download failed: ${(error as Error).message}`, lied: false };
  } finally {
    // Destroying a body not read to its end (an error page, a refused one) makes undici emit an
    // AbortError on it: with no listener, an uncaught exception that would end the daemon.
    body.on("error", () => {});
    body.destroy();
  }
}

/**
 * `reach`: where a node may connect for mirrors (strangers' URLs: public addresses only, but for the
 * hosts of the operator's own relays); none for a developer reading back their own upload. `peers`:
 * the nodes the operator chose, asked first, wherever they are (the operator named them).
 */
export async function fetchBundle(
  urls: readonly string[],
  signed: BundleDigest,
  options: { timeoutMs?: number; reach?: ReachPolicy; peers?: readonly Peer[] } = {},
): Promise<FetchOutcome> {
  const { timeoutMs = 60_000, reach, peers = [] } = options;
  if (signed.size > MAX_BUNDLE_BYTES)
    return {
      problems: [
        `the release signs a bundle of ${signed.size} bytes, over the ${MAX_BUNDLE_BYTES} a node downloads: an app's bundle holds its manifest and small files`,
      ],
    };
  const problems: string[] = [];
  for (const peer of peers) {
    const url = peerBundleUrl(peer, signed.sha256);
    const outcome = await fromSource(url, signed, { timeoutMs, dispatcher: undefined, token: peer.token });
    if (outcome instanceof Uint8Array) return { bytes: outcome, url, fromPeer: true, problems };
    problems.push(
      outcome.lied
        ? `peer ${peer.url} dropped: ${outcome.problem}; the release's own mirrors are used`
        : `peer ${peer.url}: ${outcome.problem}${outcome.untrusted ? untrustedPeerAdvice(peer.url) : ""}`,
    );
  }
  const dispatcher = reach ? publicOnlyDispatcher(reach) : undefined;
  try {
    for (const url of urls) {
      const refused = reach ? refusedUrl(new URL(url), reach) : undefined;
      const outcome = refused
        ? { problem: refused, lied: false }
        : await fromSource(url, signed, { timeoutMs, dispatcher });
      if (outcome instanceof Uint8Array) return { bytes: outcome, url, fromPeer: false, problems };
      problems.push(`${url}: ${outcome.problem}`);
    }
    return { problems };
  } finally {
    await dispatcher?.close();
  }
}
