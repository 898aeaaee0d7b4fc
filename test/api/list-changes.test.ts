/**
 * The list told in changes, on a daemon run in-process on a real store (its Podman never answers):
 * `package.changes` answers only what changed since a revision, the ids removed since, and the whole
 * list (marked `full`) for a revision too old, unknown or from before a restart, never a partial
 * answer that would leave a copy wrong; the event stream carries each changed app view, before the
 * end of an operation that made it, and the apps only observed again apart.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { REVISIONS_KEPT } from "../../src/api/app-list.ts";
import { type Caller, connect, ok, settle, startDaemon, type TestDaemon } from "./support.ts";

type App = { id: string; desired: string; observedAt: number | null; observedAgeMs: number | null };
type Changes = {
  revision: string;
  full: boolean;
  apps: App[];
  removed: string[];
  observedAgeMs: Record<string, number | null>;
};

let d: TestDaemon;
let cli: Caller;

before(async () => {
  d = await startDaemon();
  cli = { bearer: readFileSync(d.tokenFile, "utf8").trim() };
});
after(() => d?.close());

const changes = async (since?: string) =>
  (await ok(d.port, "package.changes", since === undefined ? {} : { since }, cli)) as Changes;
const list = async () => (await ok(d.port, "package.list", {}, cli)) as App[];
/** An app as a change is judged: without when it was observed. */
const shown = ({ observedAt: _at, observedAgeMs: _age, ...app }: App) => app;

/** A client's copy kept by changes: what it holds after applying one answer. */
function apply(held: Map<string, App>, answer: Changes): Map<string, App> {
  const next = answer.full ? new Map<string, App>() : new Map(held);
  for (const id of answer.removed) next.delete(id);
  for (const app of answer.apps) next.set(app.id, app);
  return next;
}

/** The copy equals the list now (apart from observation times, which travel as ages). */
async function assertCurrent(held: Map<string, App>, answer: Changes, what: string): Promise<void> {
  const now = await list();
  assert.deepEqual(
    [...held.values()].map(shown),
    now.map(shown),
    `${what}: the copy kept by changes is the list`,
  );
  assert.deepEqual(Object.keys(answer.observedAgeMs).sort(), now.map((a) => a.id).sort());
}

test("package.changes answers only the apps changed and removed since; an old, unknown or pre-restart revision gets the whole list", async () => {
  let answer = await changes();
  assert.equal(answer.full, true, "no revision: the whole list");
  let held = apply(new Map(), answer);
  await assertCurrent(held, answer, "first");

  const step = async (what: string, expected: { apps: string[]; removed: string[] }) => {
    const next = await changes(answer.revision);
    assert.equal(next.full, false, `${what}: a partial answer`);
    assert.deepEqual(
      { apps: next.apps.map((a) => a.id), removed: next.removed },
      expected,
      `${what}: what changed`,
    );
    held = apply(held, next);
    await assertCurrent(held, next, what);
    answer = next;
  };
  await step("nothing changed", { apps: [], removed: [] });
  await ok(d.port, "package.install", { id: "api-alpha" }, cli);
  await ok(d.port, "package.install", { id: "api-gamma" }, cli);
  await step("two installs", { apps: ["api-alpha", "api-gamma"], removed: [] });
  await ok(d.port, "package.stop", { id: "api-alpha" }, cli);
  await step("a stop", { apps: ["api-alpha"], removed: [] });

  // An observation confirmed (every reconciler pass): its age moves, nothing else does.
  d.orchestrator.store.touchObservation("api-gamma", Date.now());
  await step("an observation alone", { apps: [], removed: [] });

  // A removal, as the reconciler ends an uninstall: the app is forgotten.
  await ok(d.port, "package.uninstall", { id: "api-gamma" }, cli);
  const gamma = d.orchestrator.store.getApp("api-gamma");
  assert.ok(gamma);
  d.orchestrator.store.forgetApp("api-gamma", gamma.generation, Date.now());
  await step("an uninstall ended", { apps: [], removed: ["api-gamma"] });

  // Unknown, malformed or too old: the whole list, never a wrong partial one.
  for (const since of ["nonsense", `${answer.revision}0`, "x.1"]) {
    const whole = await changes(since);
    assert.equal(whole.full, true, `since ${since}: the whole list`);
    await assertCurrent(apply(held, whole), whole, `since ${since}`);
  }
  const old = answer.revision;
  for (let i = 0; i < REVISIONS_KEPT; i++) {
    settle(d, "api-alpha");
    await ok(d.port, i % 2 === 0 ? "package.start" : "package.stop", { id: "api-alpha" }, cli);
    answer = await changes(answer.revision);
    held = apply(held, answer);
  }
  assert.equal(answer.full, false, "a recent revision stays partial");
  const tooOld = await changes(old);
  assert.equal(tooOld.full, true, `a revision ${REVISIONS_KEPT} changes old: the whole list`);
  await assertCurrent(apply(held, tooOld), tooOld, "too old");

  // A restarted daemon knows none of the revisions before: the whole list.
  await d.restart();
  cli = { bearer: readFileSync(d.tokenFile, "utf8").trim() };
  const afterRestart = await changes(answer.revision);
  assert.equal(afterRestart.full, true, "a revision from before the restart: the whole list");
  await assertCurrent(apply(held, afterRestart), afterRestart, "after a restart");
});

test("the event stream carries each changed app view, before the end of the operation that made it, and observations apart", async () => {
  const stream = connect(d, { authorization: `Bearer ${cli.bearer}` });
  after(() => stream.socket.close());
  await stream.next((m) => m.type === "hello");
  const installed = (await ok(d.port, "package.install", { id: "api-beta" }, cli)) as { operationId: string };
  const view = await stream.next((m) => m.type === "app-view" && m.appId === "api-beta", 30_000);
  assert.equal((view.app as App).id, "api-beta");

  // A stop supersedes the install in flight: the install ends (failed) once the stop is recorded.
  await ok(d.port, "package.stop", { id: "api-beta" }, cli);
  const ended = await stream.next(
    (m) => m.type === "operation" && m.operationId === installed.operationId && m.state === "failed",
  );
  const stopped = stream.messages.findIndex(
    (m) => m.type === "app-view" && m.appId === "api-beta" && (m.app as App).desired === "stopped",
  );
  assert.ok(
    stopped !== -1 && stopped < stream.messages.indexOf(ended),
    `the stopped view before the install's end: ${JSON.stringify(stream.messages.map((m) => m.type))}`,
  );

  // A container observed is a change; the same observation confirmed later is only its age.
  const seenAt = Date.now();
  d.orchestrator.store.saveObservation("api-beta", [
    {
      appId: "api-beta",
      key: "web",
      name: "api-beta",
      containerId: "api-beta-0123456789ab",
      state: "exited",
      health: "unknown",
      exitCode: 0,
      startedAt: seenAt - 2_000,
      restarts: 0,
      backend: "podman",
      specHash: "sha256:test",
      observedAt: seenAt - 1_000,
    },
  ]);
  await stream.next(
    (m) =>
      m.type === "app-view" &&
      m.appId === "api-beta" &&
      (m.app as { containers: unknown[] }).containers.length === 1,
    30_000,
  );
  const views = stream.messages.filter((m) => m.type === "app-view").length;
  const touched = Date.now();
  d.orchestrator.store.touchObservation("api-beta", touched);
  const observed = await stream.next(
    (m) => m.type === "apps-observed" && "api-beta" in (m.observedAgeMs as object),
    30_000,
  );
  assert.equal(typeof (observed.observedAgeMs as Record<string, unknown>)["api-beta"], "number");
  const beta = (await list()).find((a) => a.id === "api-beta");
  assert.equal(beta?.observedAt, touched, "the observation the event told of");
  assert.equal(
    stream.messages.filter((m) => m.type === "app-view").length,
    views,
    "no app view for an observation alone",
  );
});
