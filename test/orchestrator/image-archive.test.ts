/**
 * Air-gapped install, with the real registry (TLS, auth), skopeo and the real rootless Podman: an
 * app installed on daemon A from the registry is exported (its image by digest and its bundle in
 * one OCI archive); with the image gone from the node and the registry down, daemon B (its own
 * state, no credentials) imports the archive and installs the app. An archive with one byte of a
 * layer changed is refused naming the image, and nothing of it reaches Podman's store or B's state.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { YAMLMap } from "yaml";
import { type Driver, Lab } from "../support/driver.ts";
import {
  buildUniqueImage,
  forgetImage,
  type PushedImage,
  startRegistry,
  type TestRegistry,
} from "../support/registry.ts";
import { entryOffset } from "../support/tar-offsets.ts";

let labA: Lab;
let labB: Lab;
let registry: TestRegistry;
let driverA: Driver;
let driverB: Driver;
let image: PushedImage;
/** An image index (multi-platform list) holding its own image: pinned by the index's digest. */
let indexed: PushedImage;

describe("air-gapped install: image export and import between two daemons", { concurrency: false }, () => {
  let archive: string;
  let indexArchive: string;

  before(async () => {
    labA = await Lab.create();
    labB = await Lab.create();
    registry = await startRegistry();
    driverA = await labA.driver();
    driverB = await labB.driver();
    const local = await buildUniqueImage(`${labA.prefix}-airgap`, 1024 * 1024);
    image = await registry.push(`archy/${labA.prefix}-airgap:1`, local);
    await forgetImage(local);
    const other = await buildUniqueImage(`${labA.prefix}-airgap-index`, 1024 * 1024);
    indexed = await registry.pushIndex(`archy/${labA.prefix}-airgap-index:1`, other);
    await forgetImage(other);
    archive = join(labA.root, "app.tar");
    indexArchive = join(labA.root, "index-app.tar");
  });

  after(async () => {
    await driverA?.exit();
    await driverB?.exit();
    await labA?.close();
    await labB?.close();
    if (image) await forgetImage(image.pinned);
    if (indexed) await forgetImage(indexed.pinned);
    await registry?.stop();
  });

  test("export on daemon A writes an OCI archive with the image by its pinned digest and the app's bundle", async () => {
    const app = await labA.app("hello-web", { variant: "airgap" });
    await labA.editManifest(app, (doc) =>
      (doc.getIn(["containers", "web"]) as YAMLMap).set("image", image.pinned),
    );
    await driverA.call("registry-login", {
      host: registry.host,
      username: registry.username,
      password: registry.password,
    });
    const { operationId } = await driverA.call<{ operationId: string }>("install", { path: app.dir });
    const record = await driverA.operationDone(operationId, 180_000);
    assert.equal(record.operation?.state, "succeeded", JSON.stringify(record.logs));
    const exported = await driverA.call<{ images: string[] }>("image-export", { app: app.id, file: archive });
    assert.deepEqual(exported.images, [image.pinned]);
    const bytes = readFileSync(archive);
    const index = JSON.parse(
      bytes.subarray(entryOffset(bytes, "index.json")).toString("utf8").replace(/\0.*$/s, ""),
    ) as { manifests: Array<{ digest: string }> };
    assert.deepEqual(
      index.manifests.map((m) => m.digest),
      [image.digest],
      "the index names the image by the digest the manifest pins",
    );
    const manifestBytes = readFileSync(registry.blobFile(image.digest));
    const offset = entryOffset(bytes, `blobs/sha256/${image.digest.slice("sha256:".length)}`);
    assert.ok(
      bytes.subarray(offset, offset + manifestBytes.length).equals(manifestBytes),
      "the image's manifest is the registry's, byte for byte",
    );
    entryOffset(bytes, "archipelago/bundle.tar");
    await driverA.call("uninstall", { app: app.id, purge: true });
    await driverA.waitPhase(app.id, "removed", 120_000);

    // The same app pinned by an image index (another version): the index is kept whole, byte for byte.
    const indexApp = await labA.app("hello-web", { variant: "airgap-index", version: "1.3.0" });
    await labA.editManifest(indexApp, (doc) =>
      (doc.getIn(["containers", "web"]) as YAMLMap).set("image", indexed.pinned),
    );
    const indexInstall = await driverA.call<{ operationId: string }>("install", { path: indexApp.dir });
    const indexRecord = await driverA.operationDone(indexInstall.operationId, 180_000);
    assert.equal(indexRecord.operation?.state, "succeeded", JSON.stringify(indexRecord.logs));
    await driverA.call("image-export", { app: indexApp.id, file: indexArchive });
    const indexBytes = readFileSync(indexArchive);
    const indexBlob = readFileSync(registry.blobFile(indexed.digest));
    const at = entryOffset(indexBytes, `blobs/sha256/${indexed.digest.slice("sha256:".length)}`);
    assert.ok(
      indexBytes.subarray(at, at + indexBlob.length).equals(indexBlob),
      "the registry's index, byte for byte",
    );

    // The node forgets the images and the registry goes away: only the archives have them now.
    await driverA.call("uninstall", { app: indexApp.id, purge: true });
    await driverA.waitPhase(indexApp.id, "removed", 120_000);
    await forgetImage(image.pinned);
    await forgetImage(indexed.pinned);
    await registry.halt();
  });

  test("an archive with one byte of a layer changed is refused naming the image and blob: nothing reaches Podman's store or daemon B's state", async () => {
    const bytes = readFileSync(archive);
    const [layer] = registry.layers(image).slice(-1);
    const offset = entryOffset(bytes, `blobs/sha256/${(layer as string).slice("sha256:".length)}`);
    bytes[offset + 100] = ((bytes[offset + 100] as number) + 1) % 256;
    const tampered = join(labA.root, "tampered.tar");
    writeFileSync(tampered, bytes, { mode: 0o644 });
    await assert.rejects(driverB.call("image-import", { file: tampered }), (error: Error) => {
      assert.match(
        error.message,
        new RegExp(
          `refused, nothing was imported: ${image.pinned.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: its blob ${layer} in the archive is not what its digest says`,
        ),
      );
      return true;
    });
    await assert.rejects(labB.podman(["image", "exists", image.pinned]), "the image is not in the store");
    assert.ok(!existsSync(join(labB.stateDir, "imported")), "no package was unpacked");
  });

  test("import on daemon B, whose registry is down, loads the image by digest; the app installs from it and runs", async () => {
    const imported = await driverB.call<{ id: string; dir: string; loaded: string[] }>("image-import", {
      file: archive,
    });
    assert.deepEqual(imported.loaded, [image.pinned]);
    const inspected = JSON.parse(await labB.podman(["image", "inspect", image.pinned])) as Array<{
      Digest: string;
      RepoDigests: string[];
    }>;
    assert.equal(inspected[0]?.Digest, image.digest, "the image in the store has the pinned digest");
    const { operationId } = await driverB.call<{ operationId: string }>("install", { path: imported.dir });
    const record = await driverB.operationDone(operationId, 180_000);
    assert.equal(record.operation?.state, "succeeded", JSON.stringify(record.logs));
    assert.ok(
      !record.logs.some((l) => l.message.startsWith("pulling ")),
      "nothing was pulled: the registry is down",
    );
    await driverB.waitPhase(imported.id, "running", 120_000);
    await driverB.call("uninstall", { app: imported.id, purge: true });
    await driverB.waitPhase(imported.id, "removed", 120_000);
  });

  test("an app pinned by an image index imports and installs the same way: the store answers to the index's digest", async () => {
    const imported = await driverB.call<{ id: string; dir: string; loaded: string[] }>("image-import", {
      file: indexArchive,
    });
    assert.deepEqual(imported.loaded, [indexed.pinned]);
    const inspected = JSON.parse(await labB.podman(["image", "inspect", indexed.pinned])) as Array<{
      Digest: string;
    }>;
    assert.equal(inspected[0]?.Digest, indexed.digest);
    const { operationId } = await driverB.call<{ operationId: string }>("install", { path: imported.dir });
    const record = await driverB.operationDone(operationId, 180_000);
    assert.equal(record.operation?.state, "succeeded", JSON.stringify(record.logs));
    await driverB.waitPhase(imported.id, "running", 120_000);
    await driverB.call("uninstall", { app: imported.id, purge: true });
    await driverB.waitPhase(imported.id, "removed", 120_000);
  });
});
