/**
 * Delegated namespaces on a catalog built by the publisher's tools and served over real HTTP on
 * loopback: a namespace that fails (metadata that does not verify, a target that does not match)
 * hides its own apps and nothing else, so the top-level apps and the other namespaces keep getting
 * their updates; and what the failing namespace signs is never taken from anyone else.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, test } from "node:test";
import { CatalogSource } from "../../src/catalog/node/source.ts";
import { delegateNamespace } from "../../src/catalog/publisher.ts";
import { type Lab, lab, type StaticServer, serve, served } from "./support.ts";

let env: Lab;
let server: StaticServer;
let node: CatalogSource;

afterEach(async () => {
  await server?.close();
  env?.close();
});

/** A node that refreshed a catalog of alpha 1.0.0 and two namespaces, community and acme. */
async function start() {
  env = await lab();
  const now = Date.now();
  for (const namespace of ["community", "acme"])
    await delegateNamespace(env.repo, namespace, { generate: 1, addPublic: [], threshold: 1, now });
  await env.release(
    env.app("alpha", "1.0.0"),
    env.app("community.relay", "0.1.0"),
    env.app("acme.echo", "0.1.0"),
  );
  server = await serve(env.out);
  node = env.source(server.url);
  const first = await node.refresh();
  assert.equal(first.state, "ok", JSON.stringify(first.error));
  assert.deepEqual(served(node), ["acme.echo@0.1.0", "alpha@1.0.0", "community.relay@0.1.0"]);
}

/** The newest published file of a role's metadata, as served (`/metadata/<V>.<role>.json`). */
function newestMetadata(role: string): string {
  const name = readdirSync(join(env.out, "metadata"))
    .filter((n) => n.endsWith(`.${role}.json`))
    .sort((a, b) => Number.parseInt(b, 10) - Number.parseInt(a, 10))[0];
  assert.ok(name, `a published ${role} file`);
  return name;
}

test("a namespace whose metadata fails hides only its apps: the top-level and other namespaces still update", async () => {
  await start();
  await env.release(
    env.app("alpha", "1.1.0"),
    env.app("community.relay", "0.2.0"),
    env.app("acme.echo", "0.2.0"),
  );
  // The server serves community's new metadata altered (one byte of its signature, same length):
  // it does not match what the snapshot says of it.
  const name = newestMetadata("community");
  const text = readFileSync(join(env.out, "metadata", name), "utf8");
  const sig = /"sig": "([0-9a-f])/.exec(text);
  assert.ok(sig, "a signature");
  const altered = Buffer.from(text.replace(sig[0], `"sig": "${sig[1] === "0" ? "1" : "0"}`));
  server.overrides.set(`/metadata/${name}`, (response) => {
    response.writeHead(200, { "content-length": altered.length });
    response.end(altered);
  });
  const status = await node.refresh();
  assert.equal(status.state, "partial", JSON.stringify(status.error));
  assert.equal(status.error, null, "the refresh itself completed");
  assert.deepEqual(served(node), ["acme.echo@0.2.0", "alpha@1.1.0"], "the updates of everyone else arrive");
  assert.deepEqual(
    status.failedRoles.map((f) => [f.role, f.kind]),
    [["community", "mix-and-match"]],
  );
  assert.match(status.failedRoles[0]?.message ?? "", /community/);
  assert.ok((status.failedRoles[0]?.fix ?? "").length > 20, "the operator is told what to do");

  // Once the server serves it right again, the namespace is back, updated.
  server.overrides.clear();
  const healed = await node.refresh();
  assert.equal(healed.state, "ok", JSON.stringify(healed.failedRoles));
  assert.deepEqual(served(node), ["acme.echo@0.2.0", "alpha@1.1.0", "community.relay@0.2.0"]);
});

test("a namespace's file that does not match what it signed hides that namespace, not the catalog", async () => {
  await start();
  await env.release(env.app("alpha", "1.1.0"), env.app("community.relay", "0.2.0"));
  const dir = join(env.out, "targets", "apps", "community.relay", "0.2.0");
  const [file] = readdirSync(dir).filter((n) => n.endsWith(".manifest.yml"));
  const path = join(dir, file as string);
  writeFileSync(path, readFileSync(path, "utf8").replace("sleep", "sleeq"));
  const status = await node.refresh();
  assert.equal(status.state, "partial");
  assert.deepEqual(served(node), ["acme.echo@0.1.0", "alpha@1.1.0"]);
  assert.deepEqual(
    status.failedRoles.map((f) => [f.role, f.kind]),
    [["community", "tampered"]],
  );
  assert.match(status.failedRoles[0]?.message ?? "", /community\.relay\/0\.2\.0\/manifest\.yml/);
});

test("a restarted node serves the partial catalog it last refreshed, and says which namespace failed", async () => {
  await start();
  await env.release(env.app("community.relay", "0.2.0"));
  const name = newestMetadata("community");
  server.overrides.set(`/metadata/${name}`, (response) => response.writeHead(404).end());
  assert.equal((await node.refresh()).state, "partial");
  // The same configuration and state directory: the node restarted before its next refresh.
  const again = new CatalogSource(node.config, { stateDir: join(env.dir, "node-1") });
  await again.load();
  assert.deepEqual(served(again), ["acme.echo@0.1.0", "alpha@1.0.0"]);
  assert.deepEqual(
    again.status.failedRoles.map((f) => [f.role, f.kind]),
    [["community", "unreachable"]],
  );
});
