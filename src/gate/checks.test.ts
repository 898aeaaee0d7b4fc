import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type ApiFact,
  allOf,
  checkDataKept,
  checkPurged,
  checkRebooted,
  checkRecreated,
  checkRemoved,
  checkRestarted,
  checkRunning,
  checkStartOrder,
  checkStopped,
  checkUnchanged,
  describePodman,
  type PodmanFact,
} from "./checks.ts";

const ID_WEB = "a".repeat(64);
const ID_DB = "b".repeat(64);
const podman = (state: string, overrides: Partial<PodmanFact> = {}): PodmanFact[] => [
  { id: ID_WEB, name: "notes-web", key: "web", state, startedAt: 1_000, ...overrides },
  { id: ID_DB, name: "notes-database", key: "db", state, startedAt: 2_000 },
];
const api = (
  phase: string,
  desired: string,
  health = "healthy",
  overrides: Partial<NonNullable<ApiFact>> = {},
): ApiFact => ({
  phase,
  desired,
  reason: null,
  observedAt: 5_000,
  containers: [
    { key: "db", containerId: ID_DB, state: phase === "running" ? "running" : "exited", health },
    { key: "web", containerId: ID_WEB, state: phase === "running" ? "running" : "exited", health },
  ],
  ...overrides,
});
const KEYS = ["db", "web"];

describe("gate checks", () => {
  test("running: the daemon and Podman agree, every container runs and is healthy", () => {
    const verdict = checkRunning(KEYS, podman("running"), api("running", "running"));
    assert.equal(verdict.ok, true, verdict.observed);
    assert.match(verdict.expected, /phase running/);
    assert.match(verdict.observed, /db=running\(bbbbbbbbbbbb\), web=running\(aaaaaaaaaaaa\)/);
  });

  test("running fails: the API says running but Podman shows a container exited", () => {
    const verdict = checkRunning(KEYS, podman("running", { state: "exited" }), api("running", "running"));
    assert.equal(verdict.ok, false);
    assert.match(verdict.observed, /^web: exited in Podman/);
  });

  test("running fails: not healthy yet, a container missing, ids that differ, not installed", () => {
    assert.match(
      checkRunning(KEYS, podman("running"), api("running", "running", "starting")).observed,
      /db: starting/,
    );
    assert.match(
      checkRunning(KEYS, podman("running").slice(1), api("running", "running")).observed,
      /web: no container in Podman/,
    );
    const stale = api("running", "running");
    (stale as NonNullable<ApiFact>).containers[1] = {
      key: "web",
      containerId: "c".repeat(64),
      state: "running",
      health: "healthy",
    };
    assert.match(
      checkRunning(KEYS, podman("running"), stale).observed,
      /web: the daemon shows cccccccccccc, Podman aaaaaaaaaaaa/,
    );
    assert.match(checkRunning(KEYS, [], undefined).observed, /not installed/);
    assert.match(
      checkRunning(KEYS, podman("running"), api("waiting", "running")).observed,
      /phase is waiting/,
    );
  });

  test("stopped: what Podman shows decides, not the API's word (the seed's field failure)", () => {
    assert.equal(checkStopped(KEYS, podman("exited"), api("stopped", "stopped")).ok, true);
    const liar = checkStopped(KEYS, podman("running"), api("stopped", "stopped"));
    assert.equal(liar.ok, false);
    assert.match(liar.observed, /web is running in Podman; db is running in Podman/);
    assert.equal(
      checkStopped(KEYS, [], api("stopped", "stopped")).ok,
      true,
      "a removed container is not running either",
    );
    assert.equal(checkStopped(KEYS, podman("exited"), api("stopping", "stopped")).ok, false);
    assert.equal(checkStopped(KEYS, podman("paused"), api("stopped", "stopped")).ok, false);
  });

  test("removed: gone from the daemon and from Podman", () => {
    assert.equal(checkRemoved([], undefined).ok, true);
    assert.match(checkRemoved(podman("exited"), undefined).observed, /2 container\(s\) left/);
    assert.match(checkRemoved([], api("removing", "absent")).observed, /still lists it \(phase removing\)/);
  });

  test("unchanged: same ids and start times; a recreate or a restart is caught", () => {
    const before = podman("running");
    assert.equal(checkUnchanged(before, podman("running")).ok, true);
    assert.match(
      checkUnchanged(before, podman("running", { id: "d".repeat(64) })).observed,
      /web: recreated \(aaaaaaaaaaaa -> dddddddddddd\)/,
    );
    assert.match(checkUnchanged(before, podman("running", { startedAt: 9_000 })).observed, /web: restarted/);
    assert.match(checkUnchanged(before, podman("running").slice(1)).observed, /web: gone/);
  });

  test("restarted: same ids, each started again", () => {
    const before = podman("running");
    const after: PodmanFact[] = before.map((c) => ({ ...c, startedAt: (c.startedAt ?? 0) + 10_000 }));
    assert.equal(checkRestarted(before, after).ok, true);
    assert.match(checkRestarted(before, before).observed, /not started again/);
    assert.match(
      checkRestarted(before, podman("running", { id: "e".repeat(64), startedAt: 50_000 })).observed,
      /recreated/,
    );
  });

  test("restarted under Quadlet: each unit ran a new container, started after the old one", () => {
    const before = podman("running").map((c) => ({ ...c, backend: "quadlet" as const }));
    const after = before.map((c, i) => ({ ...c, id: String(i).repeat(64), startedAt: 50_000 }));
    const verdict = checkRestarted(before, after);
    assert.equal(verdict.ok, true, verdict.observed);
    assert.match(verdict.expected, /its unit's new one \(Quadlet\)/);
    // A new container that started no later than the old one is not the restart.
    assert.match(
      checkRestarted(
        before,
        after.map((c) => ({ ...c, startedAt: 1_000 })),
      ).observed,
      /web: not started again/,
    );
    assert.match(checkRestarted(before, after.slice(1)).observed, /web: gone/);
  });

  test("recreated: every container new", () => {
    const before = podman("running");
    const after = before.map((c, i) => ({ ...c, id: String(i).repeat(64) }));
    assert.equal(checkRecreated(before, after).ok, true);
    assert.match(
      checkRecreated(before, [after[0] as PodmanFact, before[1] as PodmanFact]).observed,
      /db: still bbbbbbbbbbbb/,
    );
    assert.match(checkRecreated(before, after.slice(0, 1)).observed, /db: missing/);
  });

  test("rebooted: every container back, running, started after the reboot; new ids are fine", () => {
    const before = podman("running");
    const after = podman("running").map((c) => ({ ...c, id: c.id.replace(/./g, "c"), startedAt: 9_000 }));
    const ok = checkRebooted(before, after, 8_000);
    assert.equal(ok.ok, true, ok.observed);
    assert.match(ok.observed, /web=running\(cccccccccccc\) started 1970-01-01T00:00:09\.000Z/);
    // Still the containers of before the reboot: not rebooted.
    const stale = checkRebooted(before, before, 8_000);
    assert.equal(stale.ok, false);
    assert.match(stale.observed, /db: not started since the reboot \(started 1970-01-01T00:00:02\.000Z\)/);
    assert.match(stale.observed, /web: not started since the reboot/);
    // One missing, one exited.
    const broken = checkRebooted(before, [{ ...(after[0] as PodmanFact), state: "exited" }], 8_000);
    assert.equal(broken.ok, false);
    assert.match(broken.observed, /db: missing/);
    assert.match(broken.observed, /web: exited/);
  });

  test("start order: an app's containers start no earlier than those of the apps it depends on", () => {
    const node: PodmanFact[] = [
      { id: ID_DB, name: "mini-node-node", key: "node", state: "running", startedAt: 10_000 },
    ];
    const explorer = (startedAt: number | undefined): PodmanFact[] => [
      { id: ID_WEB, name: "mini-explorer-web", key: "web", state: "running", startedAt },
    ];
    const ok = checkStartOrder(explorer(10_500), [{ id: "mini-node", containers: node }]);
    assert.equal(ok.ok, true, ok.observed);
    assert.equal(ok.expected, "started after mini-node");
    assert.equal(checkStartOrder(explorer(10_000), [{ id: "mini-node", containers: node }]).ok, true);
    const early = checkStartOrder(explorer(9_000), [{ id: "mini-node", containers: node }]);
    assert.equal(early.ok, false);
    assert.match(
      early.observed,
      /web started at 1970-01-01T00:00:09\.000Z, before mini-node\/node \(1970-01-01T00:00:10\.000Z\)/,
    );
    // A dependency with no container, or one never started, is no order at all.
    assert.equal(checkStartOrder(explorer(10_500), [{ id: "mini-node", containers: [] }]).ok, false);
    const never = checkStartOrder(explorer(10_500), [
      { id: "mini-node", containers: [{ ...(node[0] as PodmanFact), startedAt: undefined }] },
    ]);
    assert.equal(never.ok, false);
    assert.match(never.observed, /mini-node\/node: never started/);
    // No dependency: nothing to check.
    assert.equal(checkStartOrder(explorer(1), []).ok, true);
  });

  test("data kept: markers, secret digests and credentials compared, values never shown", () => {
    const before = { markers: { content: "m1" }, secrets: { "rpc-password": "d1" }, credentials: "c1" };
    assert.equal(checkDataKept(before, { ...before }, "after").ok, true);
    const lost = checkDataKept(
      before,
      { markers: { content: undefined }, secrets: {}, credentials: "c2" },
      "after",
    );
    assert.equal(lost.ok, false);
    assert.equal(
      lost.observed,
      "volume content: the marker file is gone; secret rpc-password: gone; the displayed credentials changed",
    );
    assert.match(
      checkDataKept(before, { markers: { content: "m2" }, secrets: { "rpc-password": "d2" } }, "x").observed,
      /marker file changed; secret rpc-password: changed/,
    );
    assert.match(
      checkDataKept({ markers: {}, secrets: {} }, { markers: {}, secrets: {} }, "after").expected,
      /nothing to keep/,
    );
    assert.ok(!lost.observed.includes("d1") && !lost.observed.includes("m1"));
  });

  test("purged: data and secrets gone", () => {
    assert.equal(checkPurged(false, false).ok, true);
    assert.equal(checkPurged(true, false).observed, "its data directory is still there");
  });

  test("allOf: ok only when all are; texts joined", () => {
    const yes = { ok: true, expected: "a", observed: "b" };
    const no = { ok: false, expected: "c", observed: "d" };
    assert.deepEqual(allOf(yes, no), { ok: false, expected: "a | c", observed: "b | d" });
    assert.equal(allOf(yes, yes).ok, true);
    assert.equal(describePodman([]), "no container");
  });
});
