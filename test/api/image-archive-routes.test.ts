/**
 * The refusals of the image archive routes, before any work: a fast check of the HTTP surface with
 * stand-ins for the daemon's parts (the archive's real path, with Podman, skopeo and a registry, is
 * test/cli/image-archive-cli.test.ts). Each refusal is JSON naming what to do, and nothing is read
 * or written for a caller without the CLI token.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import Fastify from "fastify";
import {
  type ImageArchiveRoutesOptions,
  registerImageArchiveRoutes,
} from "../../src/api/image-archive-routes.ts";
import { waitFor } from "../support/wait.ts";

const work = mkdtempSync(join(tmpdir(), "archy-archive-routes-"));
after(() => rmSync(work, { recursive: true, force: true }));
const TOKEN = "the-cli-token";

async function server(overrides: Partial<ImageArchiveRoutesOptions> = {}) {
  const app = Fastify();
  registerImageArchiveRoutes(app, {
    authorized: (request) => request.headers.authorization === `Bearer ${TOKEN}`,
    packageDirOf: () => undefined,
    credentialsFor: () => undefined,
    imagePresent: async () => false,
    podmanReady: () => true,
    appsDir: join(work, "apps"),
    workDir: join(work, "scratch"),
    ...overrides,
  });
  await app.ready();
  return app;
}

const tarBody = { "content-type": "application/x-tar" };

test("authorization: without the CLI token, export and import are refused and nothing of the body is stored", async () => {
  const app = await server();
  const exported = await app.inject({ method: "GET", url: "/images/v1/export?app=x" });
  assert.equal(exported.statusCode, 401);
  assert.match(exported.json().error, /CLI token/);
  const imported = await app.inject({
    method: "POST",
    url: "/images/v1/import",
    headers: { ...tarBody, authorization: "Bearer wrong" },
    payload: Buffer.alloc(4096, 1),
  });
  assert.equal(imported.statusCode, 401);
  assert.deepEqual(readdirSync(work), [], "no scratch space was even made");
  await app.close();
});

test("export of an app that is not installed, or of no app, says so", async () => {
  const app = await server();
  const auth = { authorization: `Bearer ${TOKEN}` };
  const none = await app.inject({ method: "GET", url: "/images/v1/export", headers: auth });
  assert.equal(none.statusCode, 400);
  assert.match(none.json().error, /\?app=ID/);
  const missing = await app.inject({ method: "GET", url: "/images/v1/export?app=nope", headers: auth });
  assert.equal(missing.statusCode, 404);
  assert.match(missing.json().error, /^nope is not installed/);
  await app.close();
});

test("import refuses another body type, a daemon without an apps directory, and one without Podman yet", async () => {
  const auth = { authorization: `Bearer ${TOKEN}` };
  const app = await server();
  const json = await app.inject({
    method: "POST",
    url: "/images/v1/import",
    headers: { ...auth, "content-type": "application/json" },
    payload: "{}",
  });
  assert.equal(json.statusCode, 415);
  assert.match(json.json().error, /application\/x-tar/);
  await app.close();

  const noApps = await server({ appsDir: undefined });
  const refused = await noApps.inject({
    method: "POST",
    url: "/images/v1/import",
    headers: { ...auth, ...tarBody },
    payload: Buffer.alloc(512),
  });
  assert.equal(refused.statusCode, 409);
  assert.match(refused.json().error, /--apps-dir DIR/);
  await noApps.close();

  const noPodman = await server({ podmanReady: () => false });
  const waiting = await noPodman.inject({
    method: "POST",
    url: "/images/v1/import",
    headers: { ...auth, ...tarBody },
    payload: Buffer.alloc(512),
  });
  assert.equal(waiting.statusCode, 503);
  assert.match(waiting.json().error, /not connected to Podman yet/);
  await noPodman.close();
});

test("import of bytes that are not an archive is refused as such (422), naming no path of the daemon", async () => {
  const app = await server();
  const response = await app.inject({
    method: "POST",
    url: "/images/v1/import",
    headers: { authorization: `Bearer ${TOKEN}`, ...tarBody },
    payload: Buffer.alloc(300, 7),
  });
  assert.equal(response.statusCode, 422);
  const { error } = response.json() as { error: string };
  assert.match(
    error,
    /^the archive was refused, nothing was imported: the archive ends without its end blocks/,
  );
  assert.ok(!error.includes(work), error);
  // The handler removes them once the answer is sent.
  await waitFor(async () => readdirSync(join(work, "scratch")).length === 0, {
    what: "the upload and its unpacked copy to be removed",
    seen: () => readdirSync(join(work, "scratch")).join(", "),
  });
  await app.close();
});
