/**
 * Key rotation end to end: the publisher rotates root and timestamp keys; a node pinned to the first
 * root follows the chain (each new root signed by a threshold of the old and the new root keys), and
 * from then on refuses what only the retired keys sign.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Metadata, MetadataKind, Timestamp } from "@tufjs/models";
import { readSigningKey } from "../../src/catalog/key-files.ts";
import { signer } from "../../src/catalog/keys.ts";
import { rotateCatalogRoot, signCatalog } from "../../src/catalog/publisher.ts";
import { metadataBytes } from "../../src/catalog/repository.ts";
import { lab, serve, served } from "./support.ts";

const keyFile = (dir: string, role: string) => {
  const names = readdirSync(dir).filter((n) => n.startsWith(`${role}-`));
  return names.map((n) => join(dir, n));
};

test("a node follows root rotations signed by old and new keys, then refuses the retired keys", async () => {
  const env = await lab({
    keys: { root: 2, targets: 1, snapshot: 1, timestamp: 1 },
    thresholds: { root: 2, targets: 1, snapshot: 1, timestamp: 1 },
  });
  const server = await serve(env.out);
  try {
    await env.release(env.app("alpha", "1.0.0"));
    const node = env.source(server.url);
    assert.equal((await node.refresh()).state, "ok");
    const keys = join(env.repo, "keys");
    const [oldRoot1, oldRoot2] = keyFile(keys, "root");
    const [oldTimestamp] = keyFile(keys, "timestamp");
    const retiredTimestamp = await readSigningKey(oldTimestamp as string);
    const keyId = (file: string) => (JSON.parse(readFileSync(file, "utf8")) as { keyid: string }).keyid;
    const now = Date.now();

    // Root 2: one root key replaced, and a new timestamp key instead of the old one.
    const rotation = await rotateCatalogRoot(env.repo, "root", {
      generate: 1,
      addPublic: [],
      remove: [keyId(oldRoot2 as string)],
      now,
    });
    assert.equal(rotation.version, 2);
    await rotateCatalogRoot(env.repo, "timestamp", {
      generate: 1,
      addPublic: [],
      remove: [keyId(oldTimestamp as string)],
      now,
    });
    // Signed by the new root key alone it is not complete: the old root's threshold (2) is missing.
    const partial = await signCatalog(env.repo, {
      roles: ["root"],
      keyFiles: [rotation.keyFiles[0] as string],
      renew: false,
      now,
    });
    assert.match(partial.status[0]?.problem ?? "", /not signed by enough keys of version 1/);
    await signCatalog(env.repo, {
      roles: ["root"],
      keyFiles: [oldRoot1 as string, oldRoot2 as string],
      renew: false,
      now,
    });
    // The timestamp is now signed by the new key (found in the key directory), then published.
    await env.release(env.app("alpha", "1.1.0"));
    assert.ok(readdirSync(join(env.out, "metadata")).includes("2.root.json"));

    // Root 3: the remaining original root key goes too; signed by root 2's keys.
    const third = await rotateCatalogRoot(env.repo, "root", {
      generate: 1,
      addPublic: [],
      remove: [keyId(oldRoot1 as string)],
      now,
    });
    assert.equal(third.version, 3);
    await signCatalog(env.repo, {
      roles: ["root"],
      keyFiles: [oldRoot1 as string, rotation.keyFiles[0] as string, third.keyFiles[0] as string],
      renew: false,
      now,
    });
    await env.release();

    const status = await node.refresh();
    assert.equal(status.state, "ok", JSON.stringify(status.error));
    assert.deepEqual(served(node), ["alpha@1.1.0"]);
    const trusted = Metadata.fromJSON(
      MetadataKind.Root,
      JSON.parse(readFileSync(join(env.dir, "node-1", "official", "metadata", "root.json"), "utf8")),
    );
    assert.equal(trusted.signed.version, 3, "the node walked 1 → 2 → 3");
    assert.ok(
      status.transferred.files.some((f) => f.url.endsWith("/2.root.json")) &&
        status.transferred.files.some((f) => f.url.endsWith("/3.root.json")),
    );

    // A new node pinned to root 1 gets there too, in one refresh.
    const fresh = env.source(server.url);
    assert.equal((await fresh.refresh()).state, "ok");
    assert.deepEqual(served(fresh), ["alpha@1.1.0"]);

    // The retired timestamp key signs a newer timestamp: refused, the last good catalog stays.
    const path = join(env.out, "metadata", "timestamp.json");
    const current = Metadata.fromJSON(MetadataKind.Timestamp, JSON.parse(readFileSync(path, "utf8")));
    const forged = new Metadata(
      new Timestamp({
        version: current.signed.version + 1,
        specVersion: current.signed.specVersion,
        expires: current.signed.expires,
        snapshotMeta: current.signed.snapshotMeta,
      }),
    );
    forged.sign(signer(retiredTimestamp));
    writeFileSync(path, metadataBytes(forged));
    const refused = await node.refresh();
    assert.equal(refused.error?.kind, "below-threshold", refused.error?.message);
    assert.match(refused.error?.message ?? "", /timestamp was signed by 0\/1 keys/);
    assert.deepEqual(served(node), ["alpha@1.1.0"]);
  } finally {
    await server.close();
    env.close();
  }
});
