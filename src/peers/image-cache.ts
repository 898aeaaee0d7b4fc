/**
 * The images a sharing node keeps for its peers (docs/peers.md): an OCI layout under the data
 * directory holding the registry's own bytes of each pinned image it pulled. Podman's store keeps
 * layers unpacked, so what it could give back has other digests than the ones manifests pin; only
 * the registry's blobs, kept as they came, are what a digest names. A pull through the cache is
 * one download: source (registry or peer) → layout → Podman's store, skopeo checking every blob
 * against its digest both ways.
 *
 * Bounded: after each image, the oldest images are dropped until the blobs the others use fit in
 * `maxBytes` (a blob shared by two images counts once, and goes with the last of them); an image
 * larger than the bound alone is not kept. Pulls through the cache run one at a time: skopeo
 * rewrites the layout's index.json whole, and eviction must not remove what a copy is writing.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { layoutName, pinnedDigest } from "../registry/image-archive.ts";
import {
  copyFromRegistry,
  copyToStore,
  type ImageSource,
  layoutReference,
  SkopeoError,
} from "../registry/skopeo.ts";

/** The cache's place under the daemon's data directory. */
export const peerImageCacheDir = (dataDir: string): string => join(dataDir, "peer-images");

export const DEFAULT_PEER_IMAGE_CACHE_MIB = 10 * 1024;

const REF_NAME = "org.opencontainers.image.ref.name";
const DIGEST = /^sha256:[0-9a-f]{64}$/;
/** The distribution registry's own limit on a manifest's size. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

type Descriptor = {
  mediaType?: string;
  digest?: string;
  size?: number;
  annotations?: Record<string, string>;
};
type Index = { schemaVersion?: number; manifests?: Descriptor[] } & Record<string, unknown>;

/** What an eviction removes: the images (by reference name) and the blob files no kept image uses. */
export type EvictionPlan = { dropImages: string[]; deleteBlobs: string[] };

/**
 * Which images go so that the blobs of those that stay fit in `maxBytes`: the oldest first, then
 * (when it alone is too large) the newest. Blob files no kept image uses go too (what a dropped
 * image used alone, and leftovers of an interrupted copy). Pure.
 */
export function evictionPlan(
  images: ReadonlyArray<{ name: string; blobs: ReadonlySet<string> }>,
  blobSizes: ReadonlyMap<string, number>,
  maxBytes: number,
): EvictionPlan {
  const kept = [...images];
  const used = () => new Set(kept.flatMap((image) => [...image.blobs]));
  const bytes = (blobs: Set<string>) => [...blobs].reduce((sum, b) => sum + (blobSizes.get(b) ?? 0), 0);
  const dropImages: string[] = [];
  while (kept.length > 0 && bytes(used()) > maxBytes)
    dropImages.push((kept.shift() as { name: string }).name);
  const keep = used();
  return { dropImages, deleteBlobs: [...blobSizes.keys()].filter((blob) => !keep.has(blob)).sort() };
}

export class ImageCache {
  readonly dir: string;
  readonly maxBytes: number;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(dir: string, maxBytes: number) {
    this.dir = dir;
    this.maxBytes = maxBytes;
  }

  /**
   * Copies `image` (pinned by digest) from its registry, or `source`, into the cache and from there
   * into Podman's store; then evicts down to the bound. A cached blob that is not what its digest
   * says (a disk that rotted, a hand that edited it) fails the copy into the store: the image's
   * blobs that do not verify are removed, so that the next copy fetches them again.
   */
  pull(image: string, source: ImageSource = {}): Promise<void> {
    const digest = pinnedDigest(image);
    if (!digest) return Promise.reject(new SkopeoError(`${image} is not pinned by digest`));
    const name = layoutName(image, digest);
    return this.#exclusive(async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await copyFromRegistry(image, layoutReference(this.dir, name), source);
      try {
        await copyToStore(this.dir, name, image);
      } catch (error) {
        await this.#removeUnverified(digest);
        throw error;
      }
      await this.#evict();
    });
  }

  /** The file of the blob (or manifest) `digest`, when the cache has it. */
  async blobFile(digest: string): Promise<string | undefined> {
    if (!DIGEST.test(digest)) return undefined;
    const file = this.#blobPath(digest);
    return (await stat(file).catch(() => undefined))?.isFile() ? file : undefined;
  }

  /** The images the cache holds, oldest first, and the bytes of its blobs. */
  async contents(): Promise<{ images: string[]; bytes: number }> {
    const sizes = await this.#blobSizes();
    return {
      images: ((await this.#index())?.manifests ?? []).map(
        (m) => m.annotations?.[REF_NAME] ?? String(m.digest),
      ),
      bytes: [...sizes.values()].reduce((a, b) => a + b, 0),
    };
  }

  #blobPath(digest: string): string {
    return join(this.dir, "blobs", "sha256", digest.slice("sha256:".length));
  }

  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #index(): Promise<Index | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dir, "index.json"), "utf8")) as Index;
    } catch {
      return undefined;
    }
  }

  async #blobSizes(): Promise<Map<string, number>> {
    const dir = join(this.dir, "blobs", "sha256");
    const sizes = new Map<string, number>();
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const info = await stat(join(dir, name)).catch(() => undefined);
      if (info?.isFile()) sizes.set(`sha256:${name}`, info.size);
    }
    return sizes;
  }

  /** Every blob `digest` reaches (itself, and for a manifest or index what it lists), as far as the cache has them. */
  async #reach(digest: string, into = new Set<string>()): Promise<Set<string>> {
    if (!DIGEST.test(digest) || into.has(digest)) return into;
    into.add(digest);
    let doc: { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
    try {
      const file = this.#blobPath(digest);
      // Only manifests, indexes and configs are small JSON: a layer is never read.
      if ((await stat(file)).size > MAX_MANIFEST_BYTES) return into;
      const bytes = await readFile(file);
      if (bytes[0] !== 0x7b) return into;
      doc = JSON.parse(bytes.toString("utf8")) as typeof doc;
    } catch {
      return into;
    }
    for (const child of [...(doc.manifests ?? []), doc.config, ...(doc.layers ?? [])])
      if (child?.digest) await this.#reach(child.digest, into);
    return into;
  }

  async #evict(): Promise<void> {
    const index = await this.#index();
    const entries = index?.manifests ?? [];
    const images = await Promise.all(
      entries.map(async (entry) => ({
        name: entry.annotations?.[REF_NAME] ?? String(entry.digest),
        blobs: await this.#reach(String(entry.digest)),
      })),
    );
    const plan = evictionPlan(images, await this.#blobSizes(), this.maxBytes);
    if (index && plan.dropImages.length > 0) {
      const dropped = new Set(plan.dropImages);
      const kept = entries.filter(
        (entry) => !dropped.has(entry.annotations?.[REF_NAME] ?? String(entry.digest)),
      );
      const file = join(this.dir, "index.json");
      await writeFile(`${file}.tmp`, JSON.stringify({ ...index, manifests: kept }), { mode: 0o600 });
      await rename(`${file}.tmp`, file);
    }
    for (const blob of plan.deleteBlobs) await rm(this.#blobPath(blob), { force: true });
  }

  /** Removes the blobs of the image `digest` whose bytes are not what their digests say. */
  async #removeUnverified(digest: string): Promise<void> {
    for (const blob of await this.#reach(digest)) {
      const file = this.#blobPath(blob);
      const hash = createHash("sha256");
      try {
        for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
      } catch {
        continue;
      }
      if (`sha256:${hash.digest("hex")}` !== blob) await rm(file, { force: true });
    }
  }
}
