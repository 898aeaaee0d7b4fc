/**
 * Concurrent requests: many parallel reads all answer with complete lists; parallel conflicting
 * lifecycle requests on one app record exactly one operation (identical requests share it), the
 * others are refused with -32011, and the store stays consistent: one operation in flight, and the
 * app's state is the one the accepted request asked for.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { RPC_CODES } from "../../src/api/rpc/errors.ts";
import { type Caller, rpc, type Session, settle, setup, startDaemon, type TestDaemon } from "./support.ts";

const APP_COUNT = 30;

const manifest = (id: string) => `manifest: 1
id: ${id}
version: 1.0.0
name: ${id}
description: An app of the concurrency tests
containers:
  web:
    image: localhost/archy-test/busybox:1
`;

const appIds = Array.from({ length: APP_COUNT }, (_, i) => `api-app-${String(i + 1).padStart(2, "0")}`);

describe("concurrent API calls", () => {
  let d: TestDaemon;
  let session: Session;
  let cli: Caller;
  before(async () => {
    d = await startDaemon({ apps: Object.fromEntries(appIds.map((id) => [id, manifest(id)])) });
    session = await setup(d.port);
    cli = { bearer: readFileSync(d.tokenFile, "utf8").trim() };
    for (const id of appIds) {
      const reply = await rpc(d.port, "package.install", { id }, session);
      assert.equal(reply.error, undefined, JSON.stringify(reply.error));
    }
  });
  after(() => d.close());

  test("100 parallel package.list calls all succeed with the complete list", async () => {
    const callers = [session, cli];
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) => rpc(d.port, "package.list", {}, callers[i % 2])),
    );
    for (const reply of replies) {
      assert.equal(reply.error, undefined, JSON.stringify(reply.error));
      const apps = reply.result as Array<{ id: string; phase: string; desired: string }>;
      assert.deepEqual(
        apps.map((a) => a.id),
        appIds,
      );
      for (const app of apps) {
        assert.equal(app.desired, "running");
        assert.equal(app.phase, "installing");
      }
    }
  });

  test("parallel reads of every kind while installs are recorded", async () => {
    const extra = await Promise.all([
      ...Array.from({ length: 40 }, () => rpc(d.port, "container-list", {}, cli)),
      ...Array.from({ length: 40 }, () => rpc(d.port, "package.available", {}, cli)),
      ...appIds.map((id) => rpc(d.port, "package.get", { id }, session)),
    ]);
    for (const reply of extra) assert.equal(reply.error, undefined, JSON.stringify(reply.error));
  });

  test("10 parallel conflicting lifecycle calls on one app: one accepted, identical ones share it, the rest -32011", async () => {
    const appId = appIds[0] as string;
    settle(d, appId);
    const kinds = [
      "start",
      "restart",
      "retry",
      "restart",
      "start",
      "retry",
      "restart",
      "start",
      "retry",
      "restart",
    ];
    const replies = await Promise.all(
      kinds.map((kind, i) => rpc(d.port, `package.${kind}`, { id: appId }, i % 2 ? session : cli)),
    );
    const accepted = replies.filter((r) => r.result !== undefined) as Array<{
      result: { operationId: string; kind: string; existing: boolean };
    }>;
    const fresh = accepted.filter((r) => !r.result.existing);
    assert.equal(fresh.length, 1, "exactly one operation is recorded");
    const winner = fresh[0]?.result;
    assert.ok(winner);
    for (const reply of accepted) {
      assert.equal(reply.result.operationId, winner.operationId, "identical requests share the operation");
      assert.equal(reply.result.kind, winner.kind);
    }
    const refused = replies.filter((r) => r.error !== undefined);
    assert.equal(accepted.length + refused.length, kinds.length);
    assert.equal(
      accepted.length,
      kinds.filter((kind) => kind === winner.kind).length,
      "every request of the winning kind shares it",
    );
    for (const reply of refused) {
      assert.equal(reply.error?.code, RPC_CODES.operationInProgress, JSON.stringify(reply.error));
      assert.deepEqual(reply.error?.data, { operation: { id: winner.operationId, kind: winner.kind } });
    }

    const { store } = d.orchestrator;
    const active = store.activeOperations(appId);
    assert.deepEqual(
      active.map((o) => [o.id, o.kind, o.state]),
      [[winner.operationId, winner.kind, "pending"]],
      "one operation in flight: the accepted one",
    );
    const app = store.getApp(appId);
    assert.equal(app?.desired, "running");
    assert.equal(app?.phase, winner.kind === "restart" ? "restarting" : "starting");
    assert.equal(
      app?.generation,
      store.getOperation(winner.operationId)?.generation ?? -1,
      "one new generation",
    );
  });

  test("10 parallel installs of one app record one install; stop supersedes it; the store stays consistent", async () => {
    const appId = appIds[1] as string;
    settle(d, appId);
    await rpc(d.port, "package.uninstall", { id: appId }, cli);
    settle(d, appId);
    d.orchestrator.store.deleteApp(appId); // the reconciler's last step of an uninstall

    const installs = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        rpc(d.port, "package.install", { id: appId }, i % 2 ? session : cli),
      ),
    );
    const ids = new Set(installs.map((r) => (r.result as { operationId: string }).operationId));
    assert.equal(ids.size, 1, "one install operation");
    assert.equal(installs.filter((r) => !(r.result as { existing: boolean }).existing).length, 1);

    const mixed = await Promise.all([
      rpc(d.port, "package.stop", { id: appId }, cli),
      rpc(d.port, "package.stop", { id: appId }, session),
      rpc(d.port, "package.start", { id: appId }, cli),
      rpc(d.port, "package.restart", { id: appId }, session),
      rpc(d.port, "package.stop", { id: appId }, cli),
    ]);
    const { store } = d.orchestrator;
    const active = store.activeOperations(appId);
    assert.equal(active.length, 1, `one operation in flight: ${JSON.stringify(active)}`);
    for (const reply of mixed)
      if (reply.error)
        assert.equal(reply.error.code, RPC_CODES.operationInProgress, JSON.stringify(reply.error));
      else assert.equal((reply.result as { operationId: string }).operationId !== undefined, true);
    const current = active[0];
    assert.ok(current);
    const app = store.getApp(appId);
    assert.equal(
      app?.desired,
      current.kind === "stop" ? "stopped" : "running",
      "the app wants what its operation asks",
    );
    const journal = store.listOperations(appId);
    for (const operation of journal)
      if (operation.id !== current.id)
        assert.notEqual(operation.state, "pending", "superseded ones are closed");
  });
});
