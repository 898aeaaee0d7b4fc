/**
 * An app's air-gap archive: one tar that is an OCI archive (an OCI image layout: `oci-layout`,
 * `index.json`, `blobs/sha256/<hex>`) carrying every image of the app by its digest, plus the
 * app's bundle (`archipelago/bundle.tar`, the marketplace's canonical bundle: manifest and files).
 * Tools that read OCI archives ignore the bundle; the node reads nothing else.
 *
 * Reading is verify-first: only those paths, only regular files, every blob's bytes hashed against
 * the digest its name says as it is unpacked, then (`layoutProblems`) every image the app's
 * manifest pins must be in the index with everything its manifest lists, whole. A blob that is not
 * what its name says is reported with the images that use it.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { MAX_BUNDLE_BYTES } from "../marketplace/bundle.ts";
import { TAR_END, type TarEntry, tarHeader, tarPadding } from "../runtime/tar.ts";

export const BUNDLE_ENTRY = "archipelago/bundle.tar";
/** The annotation naming an image in an OCI layout's index. */
const REF_NAME = "org.opencontainers.image.ref.name";
const SMALL_FILE_BYTES = 1024 * 1024;

export class ImageArchiveError extends Error {
  override name = "ImageArchiveError";
}

const INDEX_TYPES = new Set([
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
]);

type Descriptor = {
  mediaType?: string;
  digest?: string;
  size?: number;
  annotations?: Record<string, string>;
};
type ManifestDoc = {
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
};

/** What an unpacked archive holds: its layout directory, the blobs whose bytes do not match their name, its bundle. */
export type UnpackedArchive = { layout: string; badBlobs: Set<string>; bundle: Uint8Array };

const entry = (name: string, mode = 0o644): TarEntry => ({
  name,
  type: "file",
  mode,
  uid: 0,
  gid: 0,
  mtime: 0,
});

/** Writes the archive of the OCI layout `layout` and `bundle` to `out` (streamed: blobs can be large). */
export async function writeArchive(layout: string, bundle: Uint8Array, out: Writable): Promise<void> {
  const write = (chunk: Buffer | Uint8Array) =>
    new Promise<void>((resolve, reject) => out.write(chunk, (error) => (error ? reject(error) : resolve())));
  const small = async (name: string, bytes: Uint8Array) => {
    await write(tarHeader(entry(name), bytes.length));
    await write(bytes);
    await write(tarPadding(bytes.length));
  };
  await small("oci-layout", await readFile(join(layout, "oci-layout")));
  await small("index.json", await readFile(join(layout, "index.json")));
  const blobs = join(layout, "blobs", "sha256");
  for (const hex of (await readdir(blobs)).sort()) {
    const file = join(blobs, hex);
    const { size } = await stat(file);
    await write(tarHeader(entry(`blobs/sha256/${hex}`), size));
    for await (const chunk of createReadStream(file)) await write(chunk as Buffer);
    await write(tarPadding(size));
  }
  await small(BUNDLE_ENTRY, bundle);
  await write(TAR_END);
}

function field(block: Buffer, offset: number, length: number): string {
  const bytes = block.subarray(offset, offset + length);
  const end = bytes.indexOf(0);
  return (end === -1 ? bytes : bytes.subarray(0, end)).toString("utf8");
}

/** Where an entry of the archive goes, or why it may not be there. */
function placeOf(
  path: string,
): { kind: "layout"; file: string } | { kind: "blob"; hex: string } | { kind: "bundle" } {
  if (path === "oci-layout" || path === "index.json") return { kind: "layout", file: path };
  if (path === BUNDLE_ENTRY) return { kind: "bundle" };
  const blob = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(path);
  if (blob) return { kind: "blob", hex: blob[1] as string };
  throw new ImageArchiveError(
    `${JSON.stringify(path)} has no place in an app's image archive (only oci-layout, index.json, blobs/sha256/<digest> and ${BUNDLE_ENTRY})`,
  );
}

/**
 * Unpacks the archive `file` into `into` (a new, empty directory of the caller's), hashing each
 * blob as it is written. Throws an ImageArchiveError for anything but the archive's own entries
 * (links, other paths, a file twice, a cut archive); blobs whose bytes are not their digest are
 * returned, for the caller to name the images that use them.
 */
export async function unpackArchive(file: string, into: string): Promise<UnpackedArchive> {
  const layout = join(into, "layout");
  await mkdir(join(layout, "blobs", "sha256"), { recursive: true });
  const handle = await open(file, "r");
  const badBlobs = new Set<string>();
  const seen = new Set<string>();
  let bundle: Uint8Array | undefined;
  try {
    const { size: total } = await handle.stat();
    const header = Buffer.alloc(512);
    let offset = 0;
    for (;;) {
      if ((await handle.read(header, 0, 512, offset)).bytesRead !== 512)
        throw new ImageArchiveError("the archive ends without its end blocks: it was cut short");
      if (header.every((b) => b === 0)) break;
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (header[i] as number);
      if (Number.parseInt(field(header, 148, 8).trim(), 8) !== sum)
        throw new ImageArchiveError(`a tar header at byte ${offset} is damaged (its checksum is wrong)`);
      const prefix = field(header, 345, 155);
      const path = prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100);
      const type = String.fromCharCode(header[156] as number);
      if (type !== "0" && type !== "\0")
        throw new ImageArchiveError(`${path}: only regular files may be in the archive (entry type ${type})`);
      const size = Number.parseInt(field(header, 124, 12).trim(), 8);
      const start = offset + 512;
      if (!Number.isSafeInteger(size) || start + size > total)
        throw new ImageArchiveError(`${path}: the archive ends inside it: it was cut short`);
      const place = placeOf(path);
      if (seen.has(path)) throw new ImageArchiveError(`${path} is twice in the archive`);
      seen.add(path);
      if (place.kind === "blob") {
        const hash = createHash("sha256");
        const sink = createWriteStream(join(layout, "blobs", "sha256", place.hex), { mode: 0o600 });
        const source = handle.createReadStream({ start, end: start + size - 1, autoClose: false });
        source.on("data", (chunk) => hash.update(chunk));
        if (size > 0) await pipeline(source, sink);
        else
          await new Promise<void>((resolve, reject) =>
            sink.end((e?: Error | null) => (e ? reject(e) : resolve())),
          );
        if (hash.digest("hex") !== place.hex) badBlobs.add(`sha256:${place.hex}`);
      } else {
        const limit = place.kind === "bundle" ? MAX_BUNDLE_BYTES : SMALL_FILE_BYTES;
        if (size > limit) throw new ImageArchiveError(`${path} is larger than ${limit} bytes`);
        const bytes = Buffer.alloc(size);
        if ((await handle.read(bytes, 0, size, start)).bytesRead !== size)
          throw new ImageArchiveError(`${path}: the archive ends inside it: it was cut short`);
        if (place.kind === "bundle") bundle = bytes;
        else await writeFile(join(layout, place.file), bytes, { mode: 0o600 });
      }
      offset = start + Math.ceil(size / 512) * 512;
    }
  } finally {
    await handle.close();
  }
  for (const needed of ["oci-layout", "index.json", BUNDLE_ENTRY])
    if (!seen.has(needed))
      throw new ImageArchiveError(`the archive has no ${needed}: it is not an app's image archive`);
  return { layout, badBlobs, bundle: bundle as Uint8Array };
}

/** Reads and checks the blobs of an OCI layout directory. */
export function layoutBlobs(layout: string): Parameters<typeof layoutProblems>[3] {
  const path = (digest: string) => join(layout, "blobs", "sha256", digest.replace(/^sha256:/, ""));
  return {
    has: async (digest) => (await stat(path(digest)).catch(() => undefined))?.isFile() === true,
    read: (digest) => readFile(path(digest)),
  };
}

/** The reference name an image has in the layout: `host/repository@sha256:…` (tags are for people). */
export function layoutName(image: string, digest: string): string {
  const at = image.indexOf("@");
  const named = at < 0 ? image : image.slice(0, at);
  const colon = named.lastIndexOf(":");
  return `${colon > named.lastIndexOf("/") ? named.slice(0, colon) : named}@${digest}`;
}

/** The digest an image reference pins, or undefined. */
export function pinnedDigest(image: string): string | undefined {
  return /@(sha256:[0-9a-f]{64})$/.exec(image)?.[1];
}

/**
 * Why the layout does not carry `images` whole (one line per image, naming it), or an empty list.
 * `blobs` says whether a blob is there and reads one (only manifests and indexes are read); their
 * bytes were checked against their digests unless they are in `badBlobs`.
 */
export async function layoutProblems(
  images: readonly string[],
  index: { manifests?: Descriptor[] },
  badBlobs: ReadonlySet<string>,
  blobs: { has: (digest: string) => Promise<boolean>; read: (digest: string) => Promise<Uint8Array> },
): Promise<string[]> {
  const problems: string[] = [];
  for (const image of images) {
    const digest = pinnedDigest(image);
    if (!digest) {
      problems.push(`${image} is not pinned by digest: an archive carries images by digest only`);
      continue;
    }
    const name = layoutName(image, digest);
    if (!index.manifests?.some((m) => m.digest === digest && m.annotations?.[REF_NAME] === name)) {
      problems.push(`${image}: the archive has no image ${name}`);
      continue;
    }
    const missing: string[] = [];
    const corrupt: string[] = [];
    const walk = async (blob: string, isManifest: boolean): Promise<void> => {
      if (badBlobs.has(blob)) return void corrupt.push(blob);
      if (!/^sha256:[0-9a-f]{64}$/.test(blob) || !(await blobs.has(blob))) return void missing.push(blob);
      if (!isManifest) return;
      let doc: ManifestDoc;
      try {
        doc = JSON.parse(Buffer.from(await blobs.read(blob)).toString("utf8")) as ManifestDoc;
      } catch {
        return void corrupt.push(blob);
      }
      if (INDEX_TYPES.has(doc.mediaType ?? "") || doc.manifests)
        for (const child of doc.manifests ?? []) await walk(String(child.digest), true);
      else for (const d of [doc.config, ...(doc.layers ?? [])]) await walk(String(d?.digest), false);
    };
    await walk(digest, true);
    if (corrupt.length > 0)
      problems.push(
        `${image}: its blob${corrupt.length > 1 ? "s" : ""} ${corrupt.join(", ")} in the archive ${corrupt.length > 1 ? "are" : "is"} not what ${corrupt.length > 1 ? "their digests say" : "its digest says"}: the archive was altered or damaged`,
      );
    if (missing.length > 0)
      problems.push(
        `${image}: the archive lacks its blob${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`,
      );
  }
  return problems;
}
