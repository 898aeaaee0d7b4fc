/**
 * A peer checked when it is added: one request with its token to the other node's peer listener
 * (`GET /v2/`, which answers 200 to a granted token and 401 to any other). A token it refuses, or an
 * address that is not an Archipelago node, is told at once instead of at the first fetch, where it
 * would only be a line in an operation's log before the origin is used.
 */
import { type Dispatcher, request } from "undici";

/** What the peer said: `answered` false when it could not be reached (it may be off for now). */
export type PeerCheck = { answered: boolean; accepted: boolean; message: string };

const PROBE_TIMEOUT_MS = 5_000;

/** The TLS errors (OpenSSL's verification codes, as Node names them) that mean "issuer not trusted". */
export const UNTRUSTED_ISSUER = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_UNTRUSTED",
]);

/** What a peer's refusal means, and what to do, by its status (docs/marketplace.md#bundles-from-other-nodes-peers). */
export function peerStatusAdvice(status: number): string {
  if (status === 401)
    return ": it does not take this node's token (never granted, or revoked); ask its operator for a new one (archy peers grant NAME there), then give it here (echo TOKEN | archy peers add URL)";
  if (status === 403)
    return ": it does not answer to the name it was added under; add it by its IP address, or its operator allows that name (ARCHY_ALLOWED_HOSTS)";
  if (status === 404) return " (it has no copy of this bundle)";
  if (status >= 300 && status < 400)
    return ": it sends HTTP on to HTTPS; add it as https://… (which needs its certificate to be one this node trusts)";
  return "";
}

/** What to do about a peer over HTTPS whose certificate this node does not trust (docs/marketplace.md). */
export function untrustedPeerAdvice(url: string): string {
  const plain = url.replace(/^https:/, "http:");
  return `: bundles are fetched trusting the system's authorities only, and the one a node makes for itself is not among them; add it as ${plain} on a network you trust, or give that node a certificate of a public CA (archy daemon --tls-cert)`;
}

/** Asks the peer at `url` (canonical, ending in `/`) whether it takes `token`. */
export async function probePeer(
  url: string,
  token: string,
  options: { timeoutMs?: number; dispatcher?: Dispatcher } = {},
): Promise<PeerCheck> {
  const timeoutMs = options.timeoutMs ?? PROBE_TIMEOUT_MS;
  try {
    const response = await request(new URL("v2/", url), {
      method: "GET",
      headers: { authorization: `Bearer ${token}` },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
    await response.body.dump();
    const status = response.statusCode;
    if (status === 200 && response.headers["docker-distribution-api-version"] !== undefined)
      return { answered: true, accepted: true, message: "it answered and takes the token" };
    const advice = peerStatusAdvice(status);
    return {
      answered: true,
      accepted: false,
      message: advice.startsWith(":")
        ? `it answered HTTP ${status}${advice}`
        : `it answered HTTP ${status} to GET /v2/, which a node's daemon answers for its peers: is ${url} the other node's daemon address and port (the port of its archy daemon --listen)?`,
    };
  } catch (error) {
    const code = String((error as NodeJS.ErrnoException).code ?? (error as Error).name);
    if (UNTRUSTED_ISSUER.has(code))
      return {
        answered: false,
        accepted: false,
        message: `its certificate is not one this node trusts (TLS: ${code})${untrustedPeerAdvice(url)}`,
      };
    return {
      answered: false,
      accepted: false,
      message: `it did not answer (${code === "undefined" ? (error as Error).message : code}); it is asked again at each fetch, meanwhile bundles and images come from their origin`,
    };
  }
}
