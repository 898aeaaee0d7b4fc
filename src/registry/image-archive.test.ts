import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { tar } from "../runtime/tar.ts";
import {
  BUNDLE_ENTRY,
  ImageArchiveError,
  layoutBlobs,
  layoutName,
  layoutProblems,
  unpackArchive,
} from "./image-archive.ts";

const dir = mkdtempSync(join(tmpdir(), "archy-image-archive-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const sha = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
const file = (name: string, data: Uint8Array | string) => ({
  name,
  type: "file" as const,
  mode: 0o644,
  uid: 0,
  gid: 0,
  mtime: 0,
  data: typeof data === "string" ? Buffer.from(data) : data,
});

/** An image of one layer: its blobs and the manifest's digest. */
function image() {
  const layer = Buffer.from("layer bytes");
  const config = Buffer.from("{}");
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { digest: sha(config), size: config.length },
      layers: [{ digest: sha(layer), size: layer.length }],
    }),
  );
  return { layer, config, manifest, digest: sha(manifest) };
}

const IMAGE = "registry.example.org/team/web:1";

function archive(name: string, entries: ReturnType<typeof file>[]): string {
  const path = join(dir, name);
  writeFileSync(path, tar(entries));
  return path;
}

function wholeArchive(name: string, change: (blobs: ReturnType<typeof image>) => void = () => {}) {
  const img = image();
  const pinned = `${IMAGE}@${img.digest}`;
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        digest: img.digest,
        annotations: { "org.opencontainers.image.ref.name": layoutName(pinned, img.digest) },
      },
    ],
  };
  const hexOf = { manifest: img.digest, config: sha(img.config), layer: sha(img.layer) };
  change(img);
  return {
    pinned,
    path: archive(name, [
      file("oci-layout", '{"imageLayoutVersion":"1.0.0"}'),
      file("index.json", JSON.stringify(index)),
      ...(["manifest", "config", "layer"] as const).map((k) =>
        file(`blobs/sha256/${hexOf[k].slice(7)}`, img[k]),
      ),
      file(BUNDLE_ENTRY, "bundle"),
    ]),
    layer: hexOf.layer,
  };
}

async function problems(path: string, images: string[]): Promise<string[]> {
  const into = mkdtempSync(join(dir, "into-"));
  const unpacked = await unpackArchive(path, into);
  const index = JSON.parse(readFileSync(join(unpacked.layout, "index.json"), "utf8"));
  return layoutProblems(images, index, unpacked.badBlobs, layoutBlobs(unpacked.layout));
}

test("a whole archive carries its pinned image: no problems", async () => {
  const { path, pinned } = wholeArchive("whole.tar");
  assert.deepEqual(await problems(path, [pinned]), []);
});

test("integrity: a layer whose bytes are not its digest is named with the image that uses it", async () => {
  const { path, pinned, layer } = wholeArchive("tampered.tar", (img) => {
    img.layer[0] = 0x4c ^ 1;
  });
  assert.deepEqual(await problems(path, [pinned]), [
    `${pinned}: its blob ${layer} in the archive is not what its digest says: the archive was altered or damaged`,
  ]);
});

test("integrity: an image the manifest pins under another digest than the archive's is not in it", async () => {
  const { path } = wholeArchive("other.tar");
  const other = `${IMAGE}@sha256:${"1".repeat(64)}`;
  assert.deepEqual(await problems(path, [other]), [
    `${other}: the archive has no image registry.example.org/team/web@sha256:${"1".repeat(64)}`,
  ]);
  assert.match((await problems(path, [IMAGE]))[0] ?? "", /is not pinned by digest/);
});

/** A one-entry archive whose header says `name` and `type` (which the writer would refuse to write). */
function forged(name: string, type = "0"): string {
  const bytes = tar([file("placeholder", "x")]);
  bytes.fill(0, 0, 100);
  bytes.write(name, 0, 100, "utf8");
  bytes[156] = type.charCodeAt(0);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (bytes[i] as number);
  bytes.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
  const path = join(dir, "forged.tar");
  writeFileSync(path, bytes);
  return path;
}

test("canonical paths: an entry outside the layout's own names is refused, naming it", async () => {
  for (const name of ["../escape", "blobs/sha256/../../x", "blobs/sha256/ABC", "other/file", "/index.json"]) {
    const path = forged(name);
    await assert.rejects(unpackArchive(path, mkdtempSync(join(dir, "into-"))), (error: Error) => {
      assert.ok(error instanceof ImageArchiveError);
      assert.match(error.message, /has no place in an app's image archive/);
      return true;
    });
  }
});

test("only regular files: a link in the archive is refused", async () => {
  const path = forged("index.json", "2"); // a symbolic link
  await assert.rejects(unpackArchive(path, mkdtempSync(join(dir, "into-"))), /only regular files/);
});

test("a cut archive is refused, not taken as whole", async () => {
  const { path } = wholeArchive("cut.tar");
  const bytes = readFileSync(path);
  writeFileSync(path, bytes.subarray(0, bytes.length - 2048));
  await assert.rejects(unpackArchive(path, mkdtempSync(join(dir, "into-"))), /cut short/);
});
