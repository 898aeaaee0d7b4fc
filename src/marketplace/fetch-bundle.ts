/**
 * Downloads a bundle from its mirrors: untrusted transport, whoever they are. A mirror is read only
 * up to the length the release signs (one byte more and it is refused), no redirect is followed,
 * and what it sent counts only once its length, SHA-256 and BLAKE3 are the signed ones. The first
 * mirror whose bytes verify wins; the others' problems are kept, to say why when none does.
 */
import { request } from "undici";
import { digestProblem, MAX_BUNDLE_BYTES } from "./bundle.ts";
import type { BundleDigest } from "./events.ts";

export type FetchOutcome = { bytes: Uint8Array; url: string; problems: string[] } | { problems: string[] };

async function fromMirror(
  url: string,
  signed: BundleDigest,
  timeoutMs: number,
): Promise<Uint8Array | string> {
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(url, { method: "GET", headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
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

export async function fetchBundle(
  urls: readonly string[],
  signed: BundleDigest,
  timeoutMs = 60_000,
): Promise<FetchOutcome> {
  if (signed.size > MAX_BUNDLE_BYTES)
    return {
      problems: [
        `the release signs a bundle of ${signed.size} bytes, over the ${MAX_BUNDLE_BYTES} a node downloads: an app's bundle holds its manifest and small files`,
      ],
    };
  const problems: string[] = [];
  for (const url of urls) {
    const outcome = await fromMirror(url, signed, timeoutMs);
    if (typeof outcome === "string") problems.push(`${url}: ${outcome}`);
    else return { bytes: outcome, url, problems };
  }
  return { problems };
}
