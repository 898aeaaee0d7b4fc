/**
 * `archy image export` / `import`: an app's images and bundle in one archive (image-archive.ts)
 * for a node without registry access. Export copies each image by its pinned digest from its
 * registry (the bytes the digest names: Podman's store keeps layers unpacked, so an image saved
 * from it would have another digest); import verifies the whole archive first and changes nothing
 * unless every image of the app is in it, whole and unaltered, then copies the images into
 * Podman's store by digest and unpacks the bundle as the app's package, ready to install.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Writable } from "node:stream";
import { MANIFEST_TARGET } from "../catalog/layout.ts";
import { readAppVersion } from "../catalog/publisher.ts";
import { parseManifest } from "../manifest/parse.ts";
import type { Manifest } from "../manifest/schema.ts";
import { BundleError, packBundle, readBundle } from "../marketplace/bundle.ts";
import type { RegistryAuth } from "../runtime/runtime.ts";
import {
  BUNDLE_ENTRY,
  ImageArchiveError,
  layoutBlobs,
  layoutName,
  layoutProblems,
  pinnedDigest,
  unpackArchive,
  writeArchive,
} from "./image-archive.ts";
import { copyToLayout, copyToStore, SkopeoError } from "./skopeo.ts";

/** The images an app's archive carries: every container's, each once. */
export function archiveImages(manifest: Manifest): string[] {
  return [...new Set(Object.values(manifest.containers).map((c) => c.image))];
}

/**
 * Writes the archive of the app in `dir` (its package: manifest and files) to the stream `open`
 * gives, opened once every image is copied (a failure before says so instead of cutting an
 * archive short). Every image must be pinned by digest; each is copied from its registry with
 * `credentialsFor`'s credentials.
 */
export async function exportAppArchive(
  dir: string,
  open: () => Writable,
  options: { credentialsFor: (image: string) => RegistryAuth | undefined; workDir: string },
): Promise<{ id: string; version: string; images: string[] }> {
  const app = await readAppVersion(dir);
  const images = archiveImages(app.manifest);
  const unpinned = images.filter((image) => !pinnedDigest(image));
  if (unpinned.length > 0)
    throw new ImageArchiveError(
      `${unpinned.join(", ")} ${unpinned.length > 1 ? "are" : "is"} not pinned by digest: an archive carries images by digest only (image: NAME:TAG@sha256:<digest>); nothing was exported`,
    );
  await mkdir(options.workDir, { recursive: true });
  const work = await mkdtemp(join(options.workDir, "export-"));
  try {
    const layout = join(work, "layout");
    for (const image of images) {
      try {
        await copyToLayout(
          image,
          layout,
          layoutName(image, pinnedDigest(image) as string),
          options.credentialsFor(image),
        );
      } catch (error) {
        if (!(error instanceof SkopeoError)) throw error;
        throw new ImageArchiveError(
          `image ${image} could not be copied from its registry: ${error.message}; nothing was exported`,
        );
      }
    }
    // What skopeo wrote must be what the import will check: every image whole under its digest.
    const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8")) as { manifests?: [] };
    const problems = await layoutProblems(images, index, new Set(), layoutBlobs(layout));
    if (problems.length > 0)
      throw new ImageArchiveError(
        `the copied images are not whole: ${problems.join("; ")}; nothing was exported`,
      );
    await writeArchive(layout, packBundle(app.files), open());
    return { id: app.id, version: app.version, images };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export type ImportedApp = {
  id: string;
  version: string;
  /** The app's package, unpacked: install it from here. */
  dir: string;
  images: string[];
  /** The images copied into Podman's store (the others were there already). */
  loaded: string[];
};

/**
 * Imports the archive `file`: verifies it whole (refusing, with nothing changed, an archive that
 * lacks an image of the app or whose bytes are not what their digests say, naming the image), then
 * copies the images that are not on the node into Podman's store and unpacks the app's package in
 * the directory `placeOf` names for it (refused, before anything changes, when it is there).
 */
export async function importAppArchive(
  file: string,
  options: {
    workDir: string;
    placeOf: (id: string, version: string) => string;
    imagePresent: (image: string) => Promise<boolean>;
  },
): Promise<ImportedApp> {
  await mkdir(options.workDir, { recursive: true });
  const work = await mkdtemp(join(options.workDir, "import-"));
  const refuse = (why: string) => new ImageArchiveError(`${file} was refused, nothing was imported: ${why}`);
  try {
    let unpacked: Awaited<ReturnType<typeof unpackArchive>>;
    let files: ReturnType<typeof readBundle>;
    try {
      unpacked = await unpackArchive(file, work);
      files = readBundle(unpacked.bundle);
    } catch (error) {
      if (error instanceof ImageArchiveError || error instanceof BundleError) throw refuse(error.message);
      throw error;
    }
    const text = Buffer.from(files.find((f) => f.path === MANIFEST_TARGET)?.bytes ?? []).toString("utf8");
    const parsed = parseManifest(text, `${file}:${BUNDLE_ENTRY}/${MANIFEST_TARGET}`);
    if (!parsed.ok)
      throw refuse(
        `the app's manifest in it is invalid: ${parsed.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
      );
    const { manifest } = parsed;
    const images = archiveImages(manifest);
    let index: { manifests?: [] };
    try {
      index = JSON.parse(await readFile(join(unpacked.layout, "index.json"), "utf8")) as { manifests?: [] };
    } catch {
      throw refuse("its index.json is not JSON");
    }
    const problems = await layoutProblems(images, index, unpacked.badBlobs, layoutBlobs(unpacked.layout));
    if (problems.length > 0) throw refuse(problems.join("; "));
    const dir = options.placeOf(manifest.id, manifest.version);
    if (await stat(dir).catch(() => undefined))
      throw refuse(
        `${dir} is there already: remove it (or move it away) to import ${manifest.id} ${manifest.version} there`,
      );
    const loaded: string[] = [];
    for (const image of images) {
      if (await options.imagePresent(image)) continue;
      try {
        await copyToStore(unpacked.layout, layoutName(image, pinnedDigest(image) as string), image);
      } catch (error) {
        if (!(error instanceof SkopeoError)) throw error;
        throw new ImageArchiveError(
          `image ${image} could not be copied into Podman's store: ${error.message}`,
        );
      }
      loaded.push(image);
    }
    for (const f of files) {
      const path = join(dir, ...f.path.split("/"));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, f.bytes, { mode: 0o644 });
    }
    return { id: manifest.id, version: manifest.version, dir, images, loaded };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
