/**
 * Images shared between nodes (docs/peers.md), with the real registry (TLS, basic auth), the real
 * rootless Podman and skopeo, through the stand-in daemon: a node that shares keeps the registry's
 * bytes of what it pulls, in one download; a peer serving that cache with the real serving code
 * (src/peers/serve.ts) gives a node the image without the registry being asked for a blob; a peer
 * whose blob is not what its digest says is dropped and the registry, the origin, serves the image.
 */
import assert from "node:assert/strict";
import { closeSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { YAMLMap } from "yaml";
import { ImageCache, peerImageCacheDir } from "../../src/peers/image-cache.ts";
import { type Driver, Lab, type OperationRecord, type TestApp } from "../support/driver.ts";
import { type ImagePeer, startImagePeer } from "../support/image-peer.ts";
import {
  buildUniqueImage,
  forgetImage,
  type PushedImage,
  startRegistry,
  type TestRegistry,
} from "../support/registry.ts";

const LAYER_BYTES = 2 * 1024 * 1024;

let lab: Lab;
let registry: TestRegistry;
let driver: Driver;
let image: PushedImage;
let app: TestApp;
/** The stand-in peer: the real serving code over a copy of the node's cache. */
let peer: ImagePeer;

/** The blob requests the registry answered for `image`'s repository since `from` requests. */
function blobRequests(from: number): string[] {
  const repository = image.reference.slice(registry.host.length + 1).replace(/:[^/]*$/, "");
  return registry
    .requests()
    .slice(from)
    .filter((line) => line.includes(`GET /v2/${repository}/blobs/`));
}

async function install(): Promise<OperationRecord> {
  const { operationId } = await driver.call<{ operationId: string }>("install", { path: app.dir });
  const record = await driver.operationDone(operationId, 180_000);
  assert.equal(record.operation?.state, "succeeded", JSON.stringify(record.logs));
  return record;
}

/** Uninstalls the app and removes its image from Podman's store, so that the next install pulls it. */
async function forgetApp(): Promise<void> {
  await driver.call("uninstall", { app: app.id, purge: true });
  await driver.waitPhase(app.id, "removed", 120_000);
  await forgetImage(image.pinned);
}

/** The layer of the test's image that no other image has (the last: it adds the random bytes). */
const uniqueLayer = () => registry.layers(image).at(-1) as string;

const messages = (record: OperationRecord) => record.logs.map((l) => l.message);

describe("images shared between nodes: kept once, served by digest to granted peers, origin wins over a lying peer", {
  concurrency: false,
}, () => {
  before(async () => {
    lab = await Lab.create();
    registry = await startRegistry();
    driver = await lab.driver({ pullBaseMs: 200, backoffBaseMs: 60_000 });
    await driver.call("registry-login", {
      host: registry.host,
      username: registry.username,
      password: registry.password,
    });
    const local = await buildUniqueImage(`${lab.prefix}-peers`, LAYER_BYTES);
    image = await registry.push(`archy/${lab.prefix}-peers:1`, local);
    await forgetImage(local);
    app = await lab.app("hello-web", { variant: "peers" });
    await lab.editManifest(app, (doc) =>
      (doc.getIn(["containers", "web"]) as YAMLMap).set("image", image.pinned),
    );
  });

  after(async () => {
    await driver?.exit();
    await lab?.close();
    await peer?.close();
    if (image) await forgetImage(image.pinned);
    await registry?.stop();
  });

  test("a node that shares keeps the registry's bytes of what it pulls, downloading each blob from the registry once", async () => {
    await driver.call("peers-grant", { name: "node-b" });
    const from = registry.requests().length;
    const record = await install();
    assert.ok(
      messages(record).includes(`pulled ${image.pinned} from ${registry.host} (kept for peers)`),
      JSON.stringify(record.logs),
    );
    const cache = new ImageCache(peerImageCacheDir(lab.dataDir), Number.MAX_SAFE_INTEGER);
    assert.ok(await cache.blobFile(image.digest), "the cache has the image's manifest under its digest");
    for (const layer of registry.layers(image))
      assert.ok(await cache.blobFile(layer), `the cache has ${layer}`);
    // Each layer once: the registry is not asked again to fill Podman's store.
    for (const layer of registry.layers(image))
      assert.equal(
        blobRequests(from).filter((line) => line.includes(layer)).length,
        1,
        `${layer}: ${blobRequests(from).join("\n")}`,
      );
  });

  test("a node asks its peer first: the image comes from the peer, verified, and the registry is asked for no blob", async () => {
    // The peer serves a copy of the node's cache; the node no longer shares (it copies straight into
    // Podman's store) and has forgotten the image.
    peer = await startImagePeer(peerImageCacheDir(lab.dataDir));
    await driver.call("peers-revoke", { name: "node-b" });
    await forgetApp();
    await driver.call("peers-add", { url: peer.url, token: peer.token });

    const from = registry.requests().length;
    const record = await install();
    assert.ok(
      messages(record).includes(
        `pulled ${image.pinned} from peer ${peer.url} (every blob verified against its digest)`,
      ),
      JSON.stringify(record.logs),
    );
    assert.deepEqual(blobRequests(from), [], "the registry was asked for no blob");
    // The image's own layer; the one it shares with the test image is in Podman's store already.
    const layer = uniqueLayer();
    assert.ok(
      peer.served.some((line) => line.startsWith(`served blob ${layer.slice(7, 19)}`)),
      `the peer served ${layer}: ${peer.served.join("\n")}`,
    );
  });

  test("a peer serving a corrupted layer is dropped and the origin serves the image: the install succeeds", async () => {
    await forgetApp();
    // One byte of the layer changed, its length kept: only its digest tells.
    const layer = uniqueLayer();
    const file = join(peer.dir, "blobs", "sha256", layer.slice(7));
    const fd = openSync(file, "r+");
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, 4096);
    byte[0] = (byte[0] as number) ^ 0xff;
    writeSync(fd, byte, 0, 1, 4096);
    closeSync(fd);
    assert.notEqual(readFileSync(file).length, 0);

    const from = registry.requests().length;
    const record = await install();
    const dropped = record.logs.find((l) =>
      l.message.startsWith(`peer ${peer.url} dropped for the rest of this operation`),
    );
    assert.equal(dropped?.level, "warn", JSON.stringify(record.logs));
    assert.match(
      dropped?.message ?? "",
      new RegExp(`the origin ${registry.host.replace(/\./g, "\\.")} is used`),
    );
    assert.ok(messages(record).includes(`pulled ${image.pinned}`), JSON.stringify(record.logs));
    assert.ok(
      blobRequests(from).some((line) => line.includes(layer)),
      "the registry served the layer the peer corrupted",
    );
    assert.ok((await driver.app(app.id))?.containers?.length, "the app runs on the image from the origin");
  });

  test("a peer serving another manifest under the pinned digest is dropped and the origin serves the image", async () => {
    await forgetApp();
    // The same manifest with one more space: valid JSON, the same layers, another digest.
    const file = join(peer.dir, "blobs", "sha256", image.digest.slice(7));
    writeFileSync(file, `${readFileSync(file, "utf8")} `);

    const record = await install();
    const dropped = record.logs.find((l) =>
      l.message.startsWith(`peer ${peer.url} dropped for the rest of this operation`),
    );
    assert.match(
      dropped?.message ?? "",
      /[Mm]anifest does not match provided manifest digest/,
      JSON.stringify(record.logs),
    );
    assert.ok(messages(record).includes(`pulled ${image.pinned}`), JSON.stringify(record.logs));
  });
});
