/**
 * Every attack TUF defends against, on a catalog built by the publisher's tools and served over real
 * HTTP on loopback: each refresh fails with a clear reason of the right kind, and the node keeps
 * serving its last good catalog (an attack by a delegated namespace hides that namespace only:
 * see delegations.test.ts too).
 */
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, mock, test } from "node:test";
import { Metadata, MetadataKind, Targets } from "@tufjs/models";
import { readSigningKey } from "../../src/catalog/key-files.ts";
import { signer } from "../../src/catalog/keys.ts";
import type { CatalogSource } from "../../src/catalog/node/source.ts";
import { addApps, delegateNamespace, publishCatalog, signCatalog } from "../../src/catalog/publisher.ts";
import { metadataBytes, targetFile } from "../../src/catalog/repository.ts";
import {
  DAY_MS,
  ENDLESS_BYTES,
  endless,
  type Lab,
  lab,
  manifestText,
  type StaticServer,
  serve,
  served,
} from "./support.ts";

let env: Lab;
let server: StaticServer;
let node: CatalogSource;

/** A node that refreshed version 1 of the catalog (alpha 1.0.0) over HTTP. */
async function start(init: Parameters<typeof lab>[0] = {}) {
  env = await lab(init);
  await env.release(env.app("alpha", "1.0.0"));
  server = await serve(env.out);
  node = env.source(server.url);
  const first = await node.refresh();
  assert.equal(first.state, "ok", JSON.stringify(first.error));
  assert.deepEqual(served(node), ["alpha@1.0.0"]);
}

async function refused(kind: string, pattern: RegExp, keeps = ["alpha@1.0.0"]) {
  const status = await node.refresh();
  assert.equal(status.state, "failing", "the refresh must fail");
  assert.equal(status.error?.kind, kind, status.error?.message);
  assert.match(status.error?.message ?? "", pattern);
  assert.ok((status.error?.fix ?? "").length > 20, "the operator is told what to do");
  assert.deepEqual(served(node), keeps, "the last good catalog is still served");
  assert.equal(status.apps, keeps.length);
}

const metadataFile = (prefix: string) => {
  const name = readdirSync(join(env.out, "metadata"))
    .filter((n) => n.endsWith(`.${prefix}.json`))
    .sort((a, b) => Number.parseInt(b, 10) - Number.parseInt(a, 10))[0];
  assert.ok(name, `a published ${prefix} file`);
  return join(env.out, "metadata", name);
};

afterEach(async () => {
  mock.timers.reset();
  await server?.close();
  env?.close();
});

describe("a node refuses every TUF attack and keeps its last good catalog", () => {
  test("tampered manifest: an app file that does not match its signed hashes", async () => {
    await start();
    await env.release(env.app("alpha", "1.1.0"));
    const dir = join(env.out, "targets", "apps", "alpha", "1.1.0");
    const [file] = readdirSync(dir).filter((n) => n.endsWith(".manifest.yml"));
    const path = join(dir, file as string);
    // Same length, other content: only the hash can tell.
    writeFileSync(path, readFileSync(path, "utf8").replace("sleep", "sleeq"));
    await refused("tampered", /alpha\/1\.1\.0\/manifest\.yml.*Expected hash/);
  });

  test("rollback: an older timestamp than the one the node trusts", async () => {
    await start();
    const old = readFileSync(join(env.out, "metadata", "timestamp.json"));
    await env.release(env.app("alpha", "1.1.0"));
    assert.equal((await node.refresh()).state, "ok");
    writeFileSync(join(env.out, "metadata", "timestamp.json"), old);
    await refused("rollback", /New timestamp version \d+ is less than current version/, ["alpha@1.1.0"]);
  });

  test("freeze: the server keeps serving a timestamp that has expired", async () => {
    await start();
    // Nothing new is published; two days later the one-day timestamp has expired.
    mock.timers.enable({ apis: ["Date"], now: Date.now() + 2 * DAY_MS });
    await refused("freeze", /timestamp\.json is expired/);
  });

  test("mix-and-match: a new snapshot served with the targets metadata of an older version", async () => {
    await start();
    const oldTargets = readFileSync(metadataFile("targets"));
    await env.release(env.app("alpha", "1.1.0"));
    writeFileSync(metadataFile("targets"), oldTargets);
    await refused("mix-and-match", /targets|Expected/);
  });

  test("signatures below the threshold: a timestamp with one of its two required signatures", async () => {
    await start({
      keys: { root: 1, targets: 1, snapshot: 1, timestamp: 2 },
      thresholds: { root: 1, targets: 1, snapshot: 1, timestamp: 2 },
    });
    await env.release(env.app("alpha", "1.1.0"));
    const path = join(env.out, "metadata", "timestamp.json");
    const json = JSON.parse(readFileSync(path, "utf8")) as { signatures: unknown[] };
    assert.equal(json.signatures.length, 2);
    json.signatures = json.signatures.slice(0, 1);
    writeFileSync(path, JSON.stringify(json));
    await refused("below-threshold", /timestamp was signed by 1\/2 keys/);
  });

  test("endless data: a timestamp.json that never ends is cut off at its byte cap", async () => {
    await start();
    const stream = endless();
    server.overrides.set("/metadata/timestamp.json", stream);
    await refused("endless-data", /timestamp\.json sent more than 16384 bytes/);
    // Bytes, not time: the node hung up at its cap, so the server could hand the connection only
    // what the socket buffers hold, not the download it offered.
    assert.ok(
      stream.written() <= ENDLESS_BYTES / 8,
      `cut off at once, not after a download: the server wrote ${stream.written()} of ${ENDLESS_BYTES} bytes`,
    );
  });

  test("endless data in a target: cut off at the target's signed length, and reported as tampered", async () => {
    await start();
    await env.release(env.app("alpha", "1.1.0"));
    const dir = join(env.out, "targets", "apps", "alpha", "1.1.0");
    const [file] = readdirSync(dir).filter((n) => n.endsWith(".manifest.yml"));
    const stream = endless();
    server.overrides.set(`/targets/apps/alpha/1.1.0/${file}`, stream);
    // Not a server failing to stop: a file longer than the one signed is not the signed file.
    await refused(
      "tampered",
      /alpha\/1\.1\.0\/manifest\.yml: longer than its signed length of \d+ bytes \(.*sent more than \d+ bytes/,
    );
    assert.ok(stream.written() <= ENDLESS_BYTES / 8, `the server wrote ${stream.written()} bytes`);
  });

  test("a target with a few bytes more than signed is tampered, not endless data", async () => {
    await start();
    await env.release(env.app("alpha", "1.1.0"));
    const dir = join(env.out, "targets", "apps", "alpha", "1.1.0");
    const [file] = readdirSync(dir).filter((n) => n.endsWith(".manifest.yml"));
    const path = join(dir, file as string);
    writeFileSync(path, `${readFileSync(path, "utf8")}# one more line\n`);
    await refused("tampered", /alpha\/1\.1\.0\/manifest\.yml: longer than its signed length/);
  });

  test("a delegated key signing outside its namespace: never accepted; only that namespace is hidden", async () => {
    await start();
    const now = Date.now();
    const { keyFiles } = await delegateNamespace(env.repo, "community", {
      generate: 1,
      addPublic: [],
      threshold: 1,
      now,
    });
    await env.release(env.app("community.relay", "0.1.0"));
    assert.equal((await node.refresh()).state, "ok");
    assert.deepEqual(served(node), ["alpha@1.0.0", "community.relay@0.1.0"]);

    // The publisher's tools refuse it outright...
    await assert.rejects(
      addApps(env.repo, [env.app("alpha", "9.0.0")], { role: "community", now }),
      /role community may only sign apps community\.\*, not alpha/,
    );
    // ...so the holder of the community key signs its own metadata claiming alpha 9.0.0, and the
    // catalog's online snapshot and timestamp sign whatever the namespace uploaded.
    const file = join(env.repo, "metadata", "delegated", "community.json");
    const community = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(readFileSync(file, "utf8")));
    const text = Buffer.from(manifestText("alpha", "9.0.0", "Alpha, hijacked"));
    const path = "apps/alpha/9.0.0/manifest.yml";
    const forged = new Metadata(
      new Targets({
        version: community.signed.version + 1,
        specVersion: community.signed.specVersion,
        expires: community.signed.expires,
        targets: { ...community.signed.targets, [path]: targetFile(path, text) },
      }),
    );
    forged.sign(signer(await readSigningKey(keyFiles[0] as string)));
    writeFileSync(file, metadataBytes(forged));
    mkdirSync(join(env.repo, "targets", "apps", "alpha", "9.0.0"), { recursive: true });
    writeFileSync(join(env.repo, "targets", ...path.split("/")), text);
    await signCatalog(env.repo, { roles: ["snapshot", "timestamp"], keyFiles: [], renew: false, now });
    await publishCatalog(env.repo, env.out, now);
    // TUF looks each target up on its own: the namespace that misbehaves is hidden (its own apps
    // too), the rest of the catalog stays served, and alpha 9.0.0 is never taken from it.
    const status = await node.refresh();
    assert.equal(status.state, "partial");
    assert.deepEqual(served(node), ["alpha@1.0.0"]);
    assert.deepEqual(
      status.failedRoles.map((f) => [f.role, f.kind]),
      [["community", "namespace"]],
    );
    assert.match(
      status.failedRoles[0]?.message ?? "",
      /role community signed apps\/alpha\/9\.0\.0\/manifest\.yml, outside what community was delegated/,
    );
  });
});
