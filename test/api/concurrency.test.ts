/**
 * Concurrent requests: many parallel reads all answer with complete lists; parallel conflicting
 * lifecycle requests on one app record exactly one operation (identical requests share it), the
 * others are refused with -32011, and the store stays consistent: one operation in flight, and the
 * app's state is the one the accepted request asked for. Floods of anonymous password calls cannot
 * stall the daemon: argon2 work is bounded for the whole daemon and done off the event loop, and
 * refusals are decided before any of it (counted, not timed: bench/auth-flood.bench.ts times it).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { LOGIN_LIMITS } from "../../src/api/login-limits.ts";
import { PASSWORD_WORK, PasswordWork } from "../../src/api/password-work.ts";
import { RPC_CODES, type RpcError } from "../../src/api/rpc/errors.ts";
import {
  type Caller,
  manualClock,
  rpc,
  type Session,
  settle,
  setup,
  startDaemon,
  type TestDaemon,
} from "./support.ts";

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
    // The reconciler's last step of an uninstall.
    const removing = d.orchestrator.store.getApp(appId);
    assert.ok(removing, `${appId} is still listed, being removed`);
    d.orchestrator.store.forgetApp(appId, removing.generation, Date.now());

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

describe("anonymous password calls cannot stall the daemon", () => {
  test("argon2 work is bounded: at most `concurrency` jobs run, `queue` more wait in order, beyond that one is refused at once", async () => {
    const work = new PasswordWork({ concurrency: 2, queue: 3 });
    const started: number[] = [];
    const releases = new Map<number, () => void>();
    const job = (i: number) => () =>
      new Promise<number>((resolve) => {
        started.push(i);
        releases.set(i, () => resolve(i));
      });
    const jobs = [0, 1, 2, 3, 4].map((i) => work.run(job(i)));
    assert.throws(
      () => work.run(job(5)),
      (error: RpcError) => {
        assert.equal(error.code, RPC_CODES.rateLimited);
        assert.match(error.message, /busy checking other passwords: try again/);
        assert.deepEqual(error.data, { retryAfterSeconds: 1, busy: true });
        return true;
      },
    );
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    await turn();
    assert.deepEqual(started, [0, 1], "two run, three wait");
    releases.get(1)?.();
    await turn();
    assert.deepEqual(started, [0, 1, 2], "the first waiting one takes the free place");
    for (const i of [0, 2, 3, 4]) {
      releases.get(i)?.();
      await turn();
    }
    assert.deepEqual(await Promise.all(jobs), [0, 1, 2, 3, 4]);
    assert.deepEqual(work.stats, { computed: 0, refused: 1, maxActive: 2 });
    await work.run(async () => {}); // places are given back
  });

  test("a password check leaves the event loop free: other callbacks run while argon2 computes", async () => {
    const work = new PasswordWork();
    let turns = 0;
    let hashing = true;
    const tick = () => {
      if (!hashing) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const hash = await work.run((argon) => argon.hash("a password of the test"));
    hashing = false;
    assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.ok(turns >= 1, `the event loop turned ${turns} times during the computation`);
    assert.equal(await work.run((argon) => argon.verify("a password of the test", hash)), true);
    assert.equal(await work.run((argon) => argon.verify("another password", hash)), false);
    assert.equal(work.stats.computed, 3);
  });

  test("a flood of anonymous setups and logins: refused setups hash nothing, logins check at most the global budget, two at a time; the operator's calls are answered", async (t) => {
    const work = new PasswordWork();
    // A clock that stands still: the global budget's delays do not run out during the flood.
    const d = await startDaemon({ passwordWork: work, clock: manualClock().now });
    try {
      const session = await setup(d.port);
      const bearer = readFileSync(d.tokenFile, "utf8").trim();
      await rpc(d.port, "package.install", { id: "api-alpha" }, { bearer });
      const computedAfterSetup = work.stats.computed;
      const from = (i: number) => `127.0.1.${(i % 20) + 2}`;
      const [setups, logins, lists] = await Promise.all([
        Promise.all(
          Array.from({ length: 300 }, (_, i) =>
            rpc(d.port, "auth.setup", { password: `attacker password ${i}` }, { from: from(i) }),
          ),
        ),
        Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            rpc(d.port, "auth.login", { password: `guess number ${i}` }, { from: from(i) }),
          ),
        ),
        Promise.all(
          Array.from({ length: 20 }, (_, i) => rpc(d.port, "package.list", {}, i % 2 ? session : { bearer })),
        ),
      ]);
      for (const reply of setups)
        assert.equal(reply.error?.code, RPC_CODES.setupState, JSON.stringify(reply.error));
      const checked = logins.filter((r) => r.error?.code === RPC_CODES.unauthenticated).length;
      const refused = logins.filter((r) => r.error?.code === RPC_CODES.rateLimited).length;
      assert.equal(checked + refused, logins.length, "every login was checked or refused");
      assert.ok(checked <= LOGIN_LIMITS.global.freeAttempts, `${checked} guesses were checked`);
      assert.equal(
        work.stats.computed - computedAfterSetup,
        checked,
        "one argon2 computation per checked guess, none for a refused setup",
      );
      assert.ok(work.stats.maxActive <= PASSWORD_WORK.concurrency, `${work.stats.maxActive} at once`);
      t.diagnostic(
        `300 setups, 200 logins: ${work.stats.computed - computedAfterSetup} argon2 computations, ${checked} guesses checked, ${refused} refused (${work.stats.refused} of them busy), at most ${work.stats.maxActive} at once`,
      );
      for (const reply of lists) {
        assert.equal(reply.error, undefined, JSON.stringify(reply.error));
        assert.deepEqual(
          (reply.result as Array<{ id: string }>).map((a) => a.id),
          ["api-alpha"],
        );
      }
    } finally {
      await d.close();
    }
  });

  test("first-run setups in a flood: the queue is bounded, one password is set, the rest refused; never more than two hashes at once", async (t) => {
    const work = new PasswordWork();
    const d = await startDaemon({ passwordWork: work });
    try {
      const replies = await Promise.all(
        Array.from({ length: 100 }, (_, i) => rpc(d.port, "auth.setup", { password: `first password ${i}` })),
      );
      const set = replies.filter((r) => r.error === undefined);
      const busy = replies.filter((r) => (r.error?.data as { busy?: boolean } | undefined)?.busy === true);
      const already = replies.filter((r) => r.error?.code === RPC_CODES.setupState);
      assert.equal(set.length, 1, "one password is set");
      assert.equal(set.length + busy.length + already.length, replies.length, "nothing else happened");
      assert.equal(busy.length, work.stats.refused);
      assert.ok(work.stats.computed <= replies.length - busy.length, "a refused setup computes nothing");
      assert.ok(work.stats.maxActive <= PASSWORD_WORK.concurrency, `${work.stats.maxActive} at once`);
      t.diagnostic(
        `100 setups: ${work.stats.computed} argon2 computations, ${busy.length} refused as busy, ${already.length} as already set, at most ${work.stats.maxActive} at once`,
      );
    } finally {
      await d.close();
    }
  });
});
