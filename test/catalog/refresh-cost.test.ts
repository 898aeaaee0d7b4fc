/**
 * A refresh does only what changed: with nothing published since, it ends after the timestamp and
 * keeps the catalog as it was read (no app file read again, no manifest parsed again); after a new
 * release it reads what the new metadata signs differently and keeps every app whose signed files
 * are the same bytes. Over a catalog built by the publisher's tools, served over real HTTP.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, test } from "node:test";
import { type Lab, lab, type StaticServer, serve, served } from "./support.ts";

let env: Lab;
let server: StaticServer;

afterEach(async () => {
  await server?.close();
  env?.close();
});

test("a refresh with nothing published reads no app again: the same parsed apps are served", async () => {
  env = await lab();
  await env.release(env.app("alpha", "1.0.0"), env.app("beta", "1.0.0"));
  server = await serve(env.out);
  const node = env.source(server.url);
  assert.equal((await node.refresh()).state, "ok");
  const before = node.listing?.apps ?? [];
  // The node's copy of beta's manifest disappears: a refresh that read the apps again would fetch it.
  rmSync(join(env.dir, "node-1", "official", "apps", "beta", "1.0.0", "manifest.yml"));
  const status = await node.refresh();
  assert.equal(status.state, "ok");
  assert.deepEqual(
    status.transferred.files.filter((f) => f.status === 200).map((f) => new URL(f.url).pathname),
    ["/metadata/timestamp.json"],
    "only the timestamp was downloaded",
  );
  const after = node.listing?.apps ?? [];
  assert.equal(after.length, 2);
  for (const [i, app] of after.entries()) assert.equal(app, before[i], `${app.id} is the app read before`);
  assert.ok(status.lastSuccessAt !== null && status.lastSuccessAt >= (node.listing?.refreshedAt ?? 0));
});

test("a new release reads the app it changed and keeps the others as read", async () => {
  env = await lab();
  await env.release(env.app("alpha", "1.0.0"), env.app("beta", "1.0.0"));
  server = await serve(env.out);
  const node = env.source(server.url);
  assert.equal((await node.refresh()).state, "ok");
  const alpha = node.listing?.apps.find((a) => a.id === "alpha");
  await env.release(env.app("beta", "1.1.0"));
  const status = await node.refresh();
  assert.equal(status.state, "ok");
  assert.deepEqual(served(node), ["alpha@1.0.0", "beta@1.1.0"]);
  assert.equal(
    node.listing?.apps.find((a) => a.id === "alpha"),
    alpha,
    "alpha, signed the same, was not read again",
  );
  const fetched = status.transferred.files
    .filter((f) => f.status === 200)
    .map((f) => new URL(f.url).pathname);
  assert.ok(
    fetched.some((path) => path.startsWith("/targets/apps/beta/1.1.0/")),
    `beta 1.1.0 was downloaded: ${fetched.join(", ")}`,
  );
  assert.ok(
    !fetched.some((path) => path.includes("/alpha/")),
    `nothing of alpha was downloaded: ${fetched.join(", ")}`,
  );
});
