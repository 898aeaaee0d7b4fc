/**
 * Publishing an app release to the marketplace (developer side): the app directory validated and
 * packed as a bundle, the bundle put where the developer said (a directory served by a web server,
 * or an HTTP PUT target; several mirrors allowed) and read back to check it, then the signed asset,
 * release and app events sent to every relay. A version that is not newer than the last one this
 * key published to any of the relays is refused before anything is uploaded or sent.
 */

import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { request } from "undici";
import { CatalogError } from "../catalog/errors.ts";
import { writeFileAtomic } from "../catalog/files.ts";
import { readAppVersion, unpinnedProblem } from "../catalog/publisher.ts";
import { isNewerVersion } from "../manifest/app-version.ts";
import { loadManifest } from "../manifest/load.ts";
import { digestOf, packBundle } from "./bundle.ts";
import { type BundleDigest, KINDS, recordOf } from "./events.ts";
import { fetchBundle } from "./fetch-bundle.ts";
import { type DevKey, MarketError, npub } from "./identity.ts";
import { type PublishResult, publish, query, relayUrlProblem } from "./relay.ts";
import { buildPublication } from "./signing.ts";

export type PublishOptions = {
  dir: string;
  relays: string[];
  /** HTTP PUT targets (a URL ending in `/` gets the bundle's file name appended). */
  putUrls: string[];
  /** A local directory the bundle is copied into, served at `publicUrl`. */
  bundleDir?: string | undefined;
  publicUrl?: string | undefined;
  notes: string;
  now: number;
  /** Lets images by tag through (development only); by default every registry image is pinned. */
  allowUnpinned?: boolean;
};

export type PublishReport = {
  id: string;
  version: string;
  npub: string;
  bundle: BundleDigest & { urls: string[] };
  events: { app: string; release: string; asset: string };
  relays: PublishResult[];
};

const bundleName = (digest: BundleDigest) => `${digest.sha256}.tar`;
const withName = (url: string, name: string) => (url.endsWith("/") ? `${url}${name}` : url);

/** The highest version of `id` this key published to the relays (those that answer). */
async function lastPublished(
  relays: string[],
  pubkey: string,
  id: string,
): Promise<{ version: string; relay: string } | undefined> {
  let last: { version: string; relay: string } | undefined;
  for (const relay of relays) {
    const result = await query(relay, [{ kinds: [KINDS.release], authors: [pubkey], "#i": [id] }]);
    if (result.error && !result.complete)
      throw new MarketError(
        `cannot read what you published to ${relay}: ${result.error}; nothing was published`,
      );
    for (const event of result.events) {
      const record = recordOf(event);
      if ("problem" in record || record.kind !== "release" || record.pubkey !== pubkey || record.appId !== id)
        continue;
      if (!last || isNewerVersion(record.version, last.version)) last = { version: record.version, relay };
    }
  }
  return last;
}

async function put(url: string, bytes: Uint8Array): Promise<void> {
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(url, {
      method: "PUT",
      body: bytes,
      headers: { "content-type": "application/octet-stream" },
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    });
  } catch (error) {
    throw new MarketError(
      `cannot upload the bundle to ${url}: ${(error as Error).message}; nothing was published`,
    );
  }
  await response.body.dump();
  if (response.statusCode < 200 || response.statusCode > 299)
    throw new MarketError(
      `uploading the bundle to ${url} was refused (HTTP ${response.statusCode}); nothing was published`,
    );
}

export async function publishApp(key: DevKey, options: PublishOptions): Promise<PublishReport> {
  if (options.relays.length === 0) throw new MarketError("give at least one relay: --relay ws://HOST:PORT");
  for (const relay of options.relays) {
    const problem = relayUrlProblem(relay);
    if (problem) throw new MarketError(problem);
  }
  if (options.putUrls.length === 0 && !options.bundleDir)
    throw new MarketError(
      "say where the bundle goes: --bundle-url URL (an HTTP PUT target) or --bundle-dir DIR --public-url URL",
    );
  if (options.bundleDir && !options.publicUrl)
    throw new MarketError(
      "--bundle-dir needs --public-url: the URL at which a web server serves that directory",
    );
  for (const url of [...options.putUrls, ...(options.publicUrl ? [options.publicUrl] : [])])
    if (!/^https?:\/\//.test(url) || !URL.canParse(url))
      throw new MarketError(`${url} is not an http(s) URL`);
  let app: Awaited<ReturnType<typeof readAppVersion>>;
  try {
    app = await readAppVersion(options.dir);
  } catch (error) {
    if (error instanceof CatalogError)
      throw new MarketError(error.message.replace("nothing was added", "nothing was published"));
    throw error;
  }
  const loaded = await loadManifest(options.dir);
  if (!loaded.ok)
    throw new MarketError(`the manifest of ${options.dir} is invalid: run archy app validate ${options.dir}`);
  const { manifest } = loaded;
  const unpinned = options.allowUnpinned ? undefined : unpinnedProblem(options.dir, manifest);
  if (unpinned) throw new MarketError(`${unpinned}; nothing was published`);
  const last = await lastPublished(options.relays, key.pubkey, app.id);
  if (last && !isNewerVersion(app.version, last.version))
    throw new MarketError(
      `${app.id} ${app.version} is not newer than ${last.version}, which this key published to ${last.relay}: raise the version in the manifest; nothing was published`,
    );
  const bytes = packBundle(app.files);
  const digest = digestOf(bytes);
  const name = bundleName(digest);
  const urls: string[] = [];
  if (options.bundleDir && options.publicUrl) {
    await mkdir(options.bundleDir, { recursive: true });
    await writeFileAtomic(join(options.bundleDir, name), bytes);
    urls.push(withName(options.publicUrl.endsWith("/") ? options.publicUrl : `${options.publicUrl}/`, name));
  }
  for (const target of options.putUrls) {
    const url = withName(target, name);
    await put(url, bytes);
    urls.push(url);
  }
  // Read every mirror back as a node would: a URL that does not serve the signed bytes is not published.
  for (const url of urls) {
    const outcome = await fetchBundle([url], digest);
    if (!("bytes" in outcome))
      throw new MarketError(
        `${outcome.problems.join("; ")}: the bundle is not served there; nothing was published`,
      );
  }
  const publication = buildPublication(
    key,
    {
      id: manifest.id,
      name: manifest.name,
      description: manifest.description,
      category: manifest.category,
      license: manifest.license,
      website: manifest.links.homepage,
    },
    { version: manifest.version, notes: options.notes, bundle: digest, urls },
    options.now,
  );
  const results: PublishResult[] = [];
  for (const relay of options.relays)
    results.push(await publish(relay, [publication.asset, publication.release, publication.app]));
  return {
    id: manifest.id,
    version: manifest.version,
    npub: npub(key.pubkey),
    bundle: { ...digest, urls },
    events: { app: publication.app.id, release: publication.release.id, asset: publication.asset.id },
    relays: results,
  };
}
