/**
 * `package.list` is answered from a view kept between calls: repeated lists read the store's apps,
 * containers and approvals once, not three queries an app per call (what made the list 50x slower
 * than a static answer of its size under 50 clients); and the view never shows a stale state: any
 * write to the store or an observation time confirmed in memory gives the next call a fresh one, while the observation's age follows the clock at every call. A
 * list sent again with its ETag costs a 304 without a body until something changed. The daemon runs
 * in-process on a real store, with a Podman that never answers.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { benchManifest } from "../../bench/daemon-fixture.ts";
import { RPC_CODES } from "../../src/api/rpc/errors.ts";
import type { Store } from "../../src/orchestrator/store.ts";
import {
  type Caller,
  manualClock,
  ok,
  post,
  settle,
  startDaemon,
  TEST_APPS,
  type TestDaemon,
} from "./support.ts";

type Listed = {
  id: string;
  desired: string;
  observedAt: number | null;
  observedAgeMs: number | null;
  interfaces: Array<{ name: string; url: string | null }>;
  alerts: unknown[];
};

const clock = manualClock(1_800_000_000_000);
let d: TestDaemon;
let cli: Caller;
/** Store reads made answering API calls, counted on the daemon's own store. */
const reads = { listApps: 0, listContainers: 0, approvals: 0 };

before(async () => {
  // api-web has a web interface on a published port: its link is the node's (app access).
  d = await startDaemon({
    clock: clock.now,
    apps: { ...TEST_APPS, "api-web": benchManifest("api-web", 1, false) },
  });
  cli = { bearer: readFileSync(d.tokenFile, "utf8").trim() };
  for (const id of ["api-alpha", "api-gamma", "api-web"]) {
    await ok(d.port, "package.install", { id }, cli);
    settle(d, id);
  }
  const store = d.orchestrator.store as Store & Record<keyof typeof reads, (...args: never[]) => unknown>;
  for (const name of Object.keys(reads) as Array<keyof typeof reads>) {
    const read = store[name].bind(store) as (...args: unknown[]) => unknown;
    store[name] = ((...args: unknown[]) => {
      // Only reads made answering an API call: the reconciler's passes read the store meanwhile too.
      if (/\banswer \(.*rpc\/dispatch\.ts/.test(new Error().stack ?? "")) reads[name]++;
      return read(...args);
    }) as never;
  }
  d.orchestrator.store.saveObservation("api-alpha", [
    {
      appId: "api-alpha",
      key: "web",
      name: "api-alpha",
      containerId: "api-alpha-0123456789ab",
      state: "running",
      health: "healthy",
      exitCode: 0,
      restarts: 0,
      startedAt: clock.now() - 5_000,
      backend: "podman",
      specHash: "sha256:test",
      observedAt: clock.now() - 1_000,
    },
  ]);
});
after(() => d?.close());

const list = async (caller = cli) => (await ok(d.port, "package.list", {}, caller)) as Listed[];
const alpha = (apps: Listed[]) => apps.find((a) => a.id === "api-alpha") as Listed;

test("repeated lists read the store once; any change shows at the next list; the age follows the clock", async () => {
  const first = await list();
  assert.deepEqual(
    first.map((a) => a.id),
    ["api-alpha", "api-gamma", "api-web"],
  );
  const once = { ...reads };
  assert.ok(
    once.listApps > 0 && once.listContainers > 0,
    `the first list read the store: ${JSON.stringify(once)}`,
  );
  for (let i = 0; i < 20; i++) await list();
  assert.deepEqual(reads, once, "store reads for 20 more lists of an unchanged node");

  // The age is the clock's, at every call, from the view kept.
  clock.advance(5_000);
  assert.equal(alpha(await list()).observedAgeMs, 6_000);
  assert.deepEqual(reads, once, "no store read for a moved clock");

  // A write (the operator's stop) shows at once.
  await ok(d.port, "package.stop", { id: "api-alpha" }, cli);
  assert.equal(alpha(await list()).desired, "stopped");

  // So does an observation confirmed unchanged, kept in memory only.
  d.orchestrator.store.touchObservation("api-alpha", clock.now());
  const confirmed = alpha(await list());
  assert.deepEqual([confirmed.observedAt, confirmed.observedAgeMs], [clock.now(), 0]);
});

test("the list, kept as bytes between calls, holds the same views package.changes makes afresh", async () => {
  clock.advance(1_234);
  const listed = await list();
  const changes = (await ok(d.port, "package.changes", {}, cli)) as { full: boolean; apps: Listed[] };
  assert.equal(changes.full, true);
  assert.deepEqual(listed, changes.apps);
  assert.ok(
    listed.every(
      (app) => Array.isArray(app.alerts) && (app.observedAgeMs === null || app.observedAgeMs >= 0),
    ),
  );
});

test("every caller gets the node's own app links, whatever host name it used: one view serves all", async () => {
  const web = (apps: Listed[]) => apps.find((a) => a.id === "api-web")?.interfaces[0]?.url;
  const local = web(await list());
  const once = { ...reads };
  const other = web(await list({ ...cli, headers: { host: `192.0.2.7:${d.port}` } }));
  assert.ok(local, "api-web's interface has a link");
  assert.equal(other, local);
  assert.deepEqual(reads, once, "another host name read the store again");
});

test("a list sent again with its ETag gets 304 without a body while nothing changed, the new list once it did", async () => {
  const call = { jsonrpc: "2.0", id: 1, method: "package.list", params: {} };
  const first = await post(d.port, call, cli);
  assert.equal(first.status, 200);
  const etag = String(first.headers.etag);
  assert.match(etag, /^W\/"[A-Za-z0-9_-]+"$/);
  const again = await post(d.port, call, { ...cli, headers: { "if-none-match": etag } });
  assert.deepEqual([again.status, again.text, again.headers.etag], [304, "", etag]);
  // Authentication comes first: without credentials the tag gets the refusal, not a 304.
  const anonymous = await post(d.port, call, { headers: { "if-none-match": etag } });
  assert.equal((anonymous.body as { error?: { code: number } }).error?.code, RPC_CODES.unauthenticated);
  // A batch carries no tag and is always answered in full.
  const batch = await post(d.port, [call], { ...cli, headers: { "if-none-match": etag } });
  assert.deepEqual([batch.status, batch.headers.etag], [200, undefined]);
  // Links are the node's, whatever host was used: so is the tag.
  const other = await post(d.port, call, { ...cli, headers: { host: `192.0.2.7:${d.port}` } });
  assert.equal(other.headers.etag, etag);
  // A change: the old tag no longer matches; the answer is the new list with a new tag.
  settle(d, "api-alpha");
  await ok(d.port, "package.start", { id: "api-alpha" }, cli);
  const changed = await post(d.port, call, { ...cli, headers: { "if-none-match": etag } });
  assert.equal(changed.status, 200);
  assert.notEqual(changed.headers.etag, etag);
  const apps = (changed.body as { result: Listed[] }).result;
  assert.equal(alpha(apps).desired, "running");
});
