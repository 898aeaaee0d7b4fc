/**
 * NIP-05: a publisher's handle (`name@domain`) is verified, not believed. The node asks the domain
 * (`https://<domain>/.well-known/nostr.json?name=<name>`) and the handle counts only if the answer
 * names that very public key. The domain is a stranger's word, so the request goes only to public
 * addresses (as mirrors do), follows no redirect (NIP-05 forbids it), reads at most MAX_ANSWER_BYTES
 * and waits at most TIMEOUT_MS. A result is kept for a while (verified: VERIFIED_TTL_MS; not:
 * UNVERIFIED_TTL_MS) so that a listing never waits on a domain.
 */
import { type Dispatcher, request } from "undici";

export const MAX_ANSWER_BYTES = 64 * 1024;
export const TIMEOUT_MS = 10_000;
export const VERIFIED_TTL_MS = 24 * 3600_000;
export const UNVERIFIED_TTL_MS = 3600_000;

export type Nip05Check = { handle: string; verified: boolean; reason: string; checkedAt: number };

/** Whether a nostr.json answer names `pubkey` for `name`; why not, if not. Pure. */
export function answerProblem(text: string, name: string, pubkey: string): string | undefined {
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    return "its nostr.json is not JSON";
  }
  const names = (answer as { names?: unknown } | null)?.names;
  if (typeof names !== "object" || names === null) return "its nostr.json has no names";
  const named = (names as Record<string, unknown>)[name];
  if (named === undefined) return `its nostr.json does not name ${name}`;
  if (typeof named !== "string" || named.toLowerCase() !== pubkey)
    return `its nostr.json gives ${name} another key`;
  return undefined;
}

/** Asks the handle's domain; never rejects. */
export async function checkNip05(
  handle: string,
  pubkey: string,
  dispatcher: Dispatcher,
  now: number,
): Promise<Nip05Check> {
  const at = handle.lastIndexOf("@");
  const name = handle.slice(0, at);
  const domain = handle.slice(at + 1);
  const result = (reason: string | undefined): Nip05Check => ({
    handle,
    verified: reason === undefined,
    reason: reason === undefined ? `${domain} names this key ${name}` : `${domain}: ${reason}`,
    checkedAt: now,
  });
  const url = `https://${domain}/.well-known/nostr.json?name=${encodeURIComponent(name)}`;
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(url, {
      dispatcher,
      headersTimeout: TIMEOUT_MS,
      bodyTimeout: TIMEOUT_MS,
    });
  } catch (error) {
    return result(`cannot ask it: ${(error as Error).message}`);
  }
  const body = response.body;
  try {
    if (response.statusCode !== 200)
      return result(
        `it answered HTTP ${response.statusCode}${response.statusCode >= 300 && response.statusCode < 400 ? " (a redirect, which NIP-05 forbids)" : ""}`,
      );
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > MAX_ANSWER_BYTES) return result(`its nostr.json is over ${MAX_ANSWER_BYTES} bytes`);
      chunks.push(chunk as Buffer);
    }
    return result(answerProblem(Buffer.concat(chunks).toString("utf8"), name, pubkey));
  } catch (error) {
    return result(`the answer failed: ${(error as Error).message}`);
  } finally {
    // An unread body's destruction emits an AbortError nobody needs (see fetch-bundle.ts).
    body.on("error", () => {});
    body.destroy();
  }
}

/** Whether a kept check is still good at `now`. */
export const fresh = (check: Nip05Check, now: number): boolean =>
  now - check.checkedAt < (check.verified ? VERIFIED_TTL_MS : UNVERIFIED_TTL_MS);
