import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { Store } from "../orchestrator/store.ts";
import { ImageCache } from "./image-cache.ts";
import { newPeerToken, peerTokenDigest } from "./peers.ts";
import { registerPeerRoutes } from "./serve.ts";

const digestOf = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

describe("the images a node serves its peers: read-only, by digest only, to granted tokens only", () => {
  let dir: string;
  let store: Store;
  let server: FastifyInstance;
  const token = newPeerToken();
  const revoked = newPeerToken();
  const layer = Buffer.from("layer bytes ".repeat(100));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      layers: [{ digest: digestOf(layer), size: layer.length }],
    }),
  );
  const served: string[] = [];
  const basic = (password: string) => `Basic ${Buffer.from(`anyone:${password}`).toString("base64")}`;
  const get = (url: string, authorization?: string, method: "GET" | "HEAD" = "GET") =>
    server.inject({ method, url, ...(authorization ? { headers: { authorization } } : {}) });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "archy-peer-serve-"));
    const blobs = join(dir, "cache", "blobs", "sha256");
    mkdirSync(blobs, { recursive: true });
    for (const bytes of [layer, manifest]) writeFileSync(join(blobs, digestOf(bytes).slice(7)), bytes);
    writeFileSync(join(dir, "secret"), "not a blob");
    store = new Store(join(dir, "store.db"));
    store.addPeerGrant("node-b", peerTokenDigest(token), 1);
    store.addPeerGrant("node-c", peerTokenDigest(revoked), 1);
    store.removePeerGrant("node-c");
    server = Fastify();
    registerPeerRoutes(server, {
      store,
      bundleFile: (sha256) => join(dir, `${sha256}.tar`),
      images: new ImageCache(join(dir, "cache"), Number.MAX_SAFE_INTEGER),
      log: { info: (m) => served.push(m), warn: () => {} },
    });
    await server.ready();
  });

  after(async () => {
    await server.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a granted token, as basic auth's password or a bearer token, reads the manifest and blobs by digest, with their digest and type", async () => {
    const m = await get(`/v2/archy/web/manifests/${digestOf(manifest)}`, basic(token));
    assert.equal(m.statusCode, 200);
    assert.equal(m.headers["docker-content-digest"], digestOf(manifest));
    assert.equal(m.headers["content-type"], "application/vnd.docker.distribution.manifest.v2+json");
    assert.deepEqual(m.rawPayload, manifest);
    const b = await get(`/v2/archy/web/blobs/${digestOf(layer)}`, `Bearer ${token}`);
    assert.equal(b.statusCode, 200);
    assert.deepEqual(b.rawPayload, layer);
    const head = await get(`/v2/archy/web/blobs/${digestOf(layer)}`, basic(token), "HEAD");
    assert.equal(head.statusCode, 200);
    assert.equal(Number(head.headers["content-length"]), layer.length);
    assert.equal((await get("/v2/", basic(token))).statusCode, 200);
    assert.ok(served.some((line) => line.includes("to peer node-b")));
  });

  test("no token, a revoked one or a wrong one: 401 with a basic challenge, and nothing is read", async () => {
    const path = `/v2/archy/web/blobs/${digestOf(layer)}`;
    for (const authorization of [
      undefined,
      basic(revoked),
      `Bearer ${revoked}`,
      basic("archy-cli-token"),
      "Basic !!",
    ]) {
      const reply = await get(path, authorization);
      assert.equal(reply.statusCode, 401, String(authorization));
      assert.equal(reply.headers["www-authenticate"], 'Basic realm="archipelago-peer"');
      assert.ok(!reply.rawPayload.includes(layer), "no byte of the blob");
    }
    assert.equal((await get("/v2/", undefined)).statusCode, 401, "the base path says who may come in");
  });

  test("a tag, a digest that is not sha256:<64 hex>, a path out of the cache or a digest it lacks: 404 with the registry's error code", async () => {
    const cases: Array<[string, string]> = [
      ["/v2/archy/web/manifests/latest", "MANIFEST_UNKNOWN"],
      ["/v2/archy/web/manifests/sha256:abc", "MANIFEST_UNKNOWN"],
      ["/v2/archy/web/blobs/sha256:../../secret", "DIGEST_INVALID"],
      ["/v2/archy/web/blobs/..%2F..%2Fsecret", "UNSUPPORTED"],
      [`/v2/Archy/web/blobs/${digestOf(layer)}`, "NAME_INVALID"],
      [`/v2/archy//web/blobs/${digestOf(layer)}`, "NAME_INVALID"],
      [`/v2/archy/web/blobs/sha256:${"0".repeat(64)}`, "BLOB_UNKNOWN"],
      [`/v2/archy/web/tags/list`, "UNSUPPORTED"],
    ];
    for (const [path, code] of cases) {
      const reply = await get(path, basic(token));
      assert.equal(reply.statusCode, 404, path);
      assert.equal((reply.json() as { errors: Array<{ code: string }> }).errors[0]?.code, code, path);
    }
  });
});
