/**
 * Downloads a bundle from its mirrors: untrusted transport, whoever they are. A mirror is read only
 * up to the length the release signs (one byte more and it is refused), no redirect is followed,
 * and what it sent counts only once its length, SHA-256 and BLAKE3 are the signed ones. The first
 * mirror whose bytes verify wins; the others' problems are kept, to say why when none does.
 */
import { type Dispatcher, request } from "undici";
import { publicOnlyDispatcher, type ReachPolicy, refusedUrl } from "../system/public-address.ts";
import { digestProblem, MAX_BUNDLE_BYTES } from "./bundle.ts";
import type { BundleDigest } from "./events.ts";

export type FetchOutcome = { bytes: Uint8Array; url: string; problems: string[] } | { problems: string[] };

async function fromMirror(
  url: string,
  signed: BundleDigest,
  timeoutMs: number,
  dispatcher: Dispatcher | undefined,
): Promise<Uint8Array | string> {
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(url, {
      method: "GET",
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(dispatcher ? { dispatcher } : {}),
    });
  } catch (error) {
    return `cannot download: ${(error as Error).message}`;
  }
  const body = response.body;
  try {
    if (response.statusCode !== 200) return `the mirror answered HTTP ${response.statusCode}`;
    const announced = Number(response.headers["content-length"]);
    if (Number.isFinite(announced) && announced > signed.size)
      return `the mirror announces ${announced} bytes where ${signed.size} are signed`;
    const bytes = new Uint8Array(signed.size);
    let received = 0;
    for await (const chunk of body) {
      const data = chunk as Buffer;
      if (received + data.length > signed.size)
        return `the mirror sent more than the ${signed.size} signed bytes`;
      bytes.set(data, received);
      received += data.length;
    }
    const problem = digestProblem(bytes.subarray(0, received), signed);
    return problem ? `the mirror's bytes are not the signed bundle: ${problem}` : bytes;
  } catch (error) {
    return `the download failed: ${(error as Error).message}`;
  } finally {
    body.destroy();
  }
}

/**
 * `reach`: where a node may connect (mirrors are strangers' URLs: public addresses only, but for the
 * hosts of the operator's own relays); none for a developer reading back their own upload.
 */
export async function fetchBundle(
  urls: readonly string[],
  signed: BundleDigest,
  options: { timeoutMs?: number; reach?: ReachPolicy } = {},
): Promise<FetchOutcome> {
  const { timeoutMs = 60_000, reach } = options;
  if (signed.size > MAX_BUNDLE_BYTES)
    return {
      problems: [
        `the release signs a bundle of ${signed.size} bytes, over the ${MAX_BUNDLE_BYTES} a node downloads: an app's bundle holds its manifest and small files`,
      ],
    };
  const problems: string[] = [];
  const dispatcher = reach ? publicOnlyDispatcher(reach) : undefined;
  try {
    for (const url of urls) {
      const refused = reach ? refusedUrl(new URL(url), reach) : undefined;
      const outcome = refused ?? (await fromMirror(url, signed, timeoutMs, dispatcher));
      if (typeof outcome === "string") problems.push(`${url}: ${outcome}`);
      else return { bytes: outcome, url, problems };
    }
    return { problems };
  } finally {
    await dispatcher?.close();
  }
}
