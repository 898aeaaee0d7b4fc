/**
 * The decisions of update with rollback, pure: the update window from health checks, the deadline
 * after a daemon restart, when an update is done, waits or rolls back, the room check, and the
 * messages the operator reads.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseManifest } from "../manifest/parse.ts";
import type { Manifest } from "../manifest/schema.ts";
import {
  DEFAULT_UPDATE_MARGIN_MS,
  DEFAULT_UPDATE_WINDOW_MS,
  deadlineAfterJobs,
  effectiveDeadline,
  formatBytes,
  outcomeMessage,
  RESUME_GRACE_MS,
  ROOM_MARGIN_MIN_BYTES,
  rollbackFailedMessage,
  roomCheck,
  snapshotName,
  type UpdateProgress,
  updateVerdict,
  updateWindow,
} from "./update.ts";

function manifest(containers: string[]): Manifest {
  const text = [
    "manifest: 1",
    "id: alpha",
    "version: 1.0.0",
    "name: alpha",
    "description: A test app",
    "containers:",
    ...containers,
  ].join("\n");
  const parsed = parseManifest(`${text}\n`, "alpha.yml");
  assert.ok(parsed.ok, JSON.stringify(parsed.ok ? [] : parsed.issues));
  return parsed.manifest;
}

const health = (start: string, interval: string, timeout: string, retries: number, port = 80) => [
  "    ports:",
  `      - container: ${port}`,
  "    health:",
  "      type: tcp",
  `      port: ${port}`,
  `      start_period: ${start}`,
  `      interval: ${interval}`,
  `      timeout: ${timeout}`,
  `      retries: ${retries}`,
];

describe("update window", () => {
  test("without any health check: the default window (2 minutes)", () => {
    const window = updateWindow(manifest(["  web:", "    image: docker.io/library/nginx:1.27"]));
    assert.equal(window.ms, DEFAULT_UPDATE_WINDOW_MS);
    assert.equal(DEFAULT_UPDATE_WINDOW_MS, 120_000);
    assert.match(window.explanation, /no health check/);
  });

  test("one health check: start period + retries × (interval + timeout) + the margin", () => {
    const m = manifest([
      "  web:",
      "    image: docker.io/library/nginx:1.27",
      ...health("5s", "10s", "3s", 3),
    ]);
    assert.equal(updateWindow(m).ms, 5_000 + 3 * 13_000 + DEFAULT_UPDATE_MARGIN_MS);
    assert.equal(updateWindow(m, 1_000).ms, 5_000 + 3 * 13_000 + 1_000, "the margin is a parameter");
    assert.match(
      updateWindow(m, 1_000).explanation,
      /45 s \(health checks up to web: 44 s, plus a margin of 1 s\)/,
    );
  });

  test("the longest depends_on chain counts: a container waiting for a healthy one starts after it", () => {
    const m = manifest([
      "  db:",
      "    image: docker.io/library/postgres:16",
      ...health("10s", "5s", "1s", 2, 5432),
      "  web:",
      "    image: docker.io/library/nginx:1.27",
      "    depends_on:",
      "      db: healthy",
      ...health("1s", "1s", "500ms", 3),
      "  cache:",
      "    image: docker.io/library/redis:7",
      ...health("20s", "1s", "500ms", 1, 6379),
    ]);
    const db = 10_000 + 2 * 6_000;
    const web = 1_000 + 3 * 1_500;
    const cache = 20_000 + 1_500; // longer than either container alone, shorter than the chain
    assert.equal(updateWindow(m, 0).ms, Math.max(db + web, cache));
    assert.match(updateWindow(m, 0).explanation, /up to web/);
  });

  test("a container without health check in a chain adds nothing of its own", () => {
    const m = manifest([
      "  db:",
      "    image: docker.io/library/postgres:16",
      ...health("2s", "1s", "500ms", 1, 5432),
      "  web:",
      "    image: docker.io/library/nginx:1.27",
      "    depends_on:",
      "      db: started",
    ]);
    assert.equal(updateWindow(m, 0).ms, 3_500);
  });
});

describe("update deadline after a daemon restart", () => {
  test("a daemon that runs since before the update: the recorded deadline", () => {
    assert.equal(effectiveDeadline(100_000, 60_000, 10_000), 100_000);
  });

  test("resumed after the deadline passed: a short grace, bounded by the window", () => {
    assert.equal(effectiveDeadline(100_000, 60_000, 500_000), 500_000 + RESUME_GRACE_MS);
    assert.equal(effectiveDeadline(100_000, 5_000, 500_000), 505_000, "never more than the window");
    assert.equal(effectiveDeadline(100_000, 60_000, 90_000), 120_000, "pushed when it passes in a moment");
  });
});

describe("update verdict: commit, wait or roll back", () => {
  const base: UpdateProgress = {
    now: 1_000,
    deadline: 10_000,
    windowMs: 9_000,
    toVersion: "2.0.0",
    desired: "running",
    converged: true,
    waiting: [],
    health: { web: "healthy", db: "healthy" },
  };

  test("converged and every container healthy: commit", () => {
    assert.deepEqual(updateVerdict(base), { kind: "commit" });
  });

  test("running but not healthy yet, before the deadline: wait, saying for what", () => {
    const verdict = updateVerdict({ ...base, health: { web: "starting", db: "healthy" } });
    assert.deepEqual(verdict, { kind: "wait", waitingFor: ["web is not healthy yet"], remainingMs: 9_000 });
  });

  test("not converged yet, before the deadline: wait for what the planner waits for", () => {
    const verdict = updateVerdict({
      ...base,
      converged: false,
      waiting: ["web waits for db to be healthy"],
      health: { web: "unknown", db: "starting" },
    });
    assert.deepEqual(verdict, {
      kind: "wait",
      waitingFor: ["web waits for db to be healthy"],
      remainingMs: 9_000,
    });
  });

  test("unhealthy at the deadline: roll back, with the last probe output as the reason", () => {
    const verdict = updateVerdict({
      ...base,
      now: 10_000,
      health: { web: "unhealthy", db: "healthy" },
      details: { web: "probe 1\nwget: can't connect to remote host: Connection refused\n" },
    });
    assert.deepEqual(verdict, {
      kind: "rollback",
      reason:
        "2.0.0 did not become healthy within its update window of 9 s: web is unhealthy (wget: can't connect to remote host: Connection refused)",
    });
  });

  test("not running at the deadline (a crash loop): roll back", () => {
    const verdict = updateVerdict({
      ...base,
      now: 20_000,
      converged: false,
      health: { web: "unknown", db: "healthy" },
    });
    assert.equal(verdict.kind, "rollback");
    assert.match((verdict as { reason: string }).reason, /web is not running/);
  });

  test("healthy at the deadline: commit (health wins over the clock)", () => {
    assert.deepEqual(updateVerdict({ ...base, now: 50_000 }), { kind: "commit" });
  });

  test("an app the operator keeps stopped: converged is enough", () => {
    assert.deepEqual(
      updateVerdict({ ...base, desired: "stopped", health: { web: "unknown", db: "unknown" } }),
      { kind: "commit" },
    );
  });
});

describe("room for the snapshot", () => {
  test("enough room: the data plus a margin (10 %, at least 64 MiB) fits", () => {
    assert.deepEqual(roomCheck(1_000, ROOM_MARGIN_MIN_BYTES + 1_000, "/d"), {
      ok: true,
      neededBytes: ROOM_MARGIN_MIN_BYTES + 1_000,
    });
    const big = 10 * 1024 ** 3;
    assert.equal(roomCheck(big, big * 1.1, "/d").ok, true);
    assert.equal(roomCheck(big, big * 1.09, "/d").ok, false, "10 % margin for large data");
  });

  test("not enough: refused, with sizes, the place and the fix", () => {
    const check = roomCheck(5 * 1024 ** 3, 2 * 1024 ** 3, "/var/lib/archipelago/snapshots/alpha");
    assert.equal(check.ok, false);
    assert.equal(
      (check as { message: string }).message,
      "not enough free space for a snapshot of the data: it takes 5.0 GiB, 5.5 GiB needed with the margin, 2.0 GiB free on /var/lib/archipelago/snapshots/alpha; free some space and update again",
    );
  });

  test("an empty data directory still needs the margin", () => {
    assert.equal(roomCheck(0, ROOM_MARGIN_MIN_BYTES - 1, "/d").ok, false);
    assert.equal(roomCheck(0, ROOM_MARGIN_MIN_BYTES, "/d").ok, true);
  });

  test("sizes read as people read them", () => {
    assert.equal(formatBytes(512), "512 B");
    assert.equal(formatBytes(1536), "1.5 KiB");
    assert.equal(formatBytes(300 * 1024 ** 2), "300 MiB");
  });
});

describe("what the operator reads", () => {
  test("rolled back, refused, and a rollback that failed too", () => {
    assert.equal(
      outcomeMessage("rolled-back", "1.0.0", "2.0.0", "2.0.0 did not become healthy"),
      "update to 2.0.0 failed (2.0.0 did not become healthy): rolled back to 1.0.0",
    );
    assert.equal(
      outcomeMessage("refused", "1.0.0", "2.0.0", "image x is not on this node"),
      "update to 2.0.0 refused: image x is not on this node; 1.0.0 left as it was",
    );
    assert.equal(
      rollbackFailedMessage("1.0.0", "2.0.0", "hook failed", "disk full"),
      "update to 2.0.0 failed (hook failed); going back to 1.0.0 failed too: disk full (retry to resume)",
    );
  });

  test("snapshot names: the version, then the UTC time (sortable)", () => {
    assert.equal(snapshotName("1.0.0", Date.UTC(2026, 0, 2, 3, 4, 5, 678)), "1.0.0-20260102T030405.678Z");
  });
});

describe("an update's jobs run outside its window", () => {
  const WINDOW = 30_000;
  test("a running job keeps a whole window ahead of now; one that ended, a window past its end", () => {
    const deadline = 100_000;
    assert.equal(
      deadlineAfterJobs(deadline, WINDOW, 90_000, [{ state: "running", finishedAt: undefined }]),
      120_000,
    );
    assert.equal(
      deadlineAfterJobs(deadline, WINDOW, 500_000, [{ state: "running", finishedAt: undefined }]),
      530_000,
    );
    assert.equal(
      deadlineAfterJobs(deadline, WINDOW, 900_000, [{ state: "exited", finishedAt: 400_000 }]),
      430_000,
    );
  });

  test("no job, a job not started, or one that ended long before: the deadline as it was, never earlier", () => {
    assert.equal(deadlineAfterJobs(100_000, WINDOW, 90_000, []), 100_000);
    assert.equal(
      deadlineAfterJobs(100_000, WINDOW, 90_000, [{ state: "created", finishedAt: undefined }]),
      100_000,
    );
    assert.equal(
      deadlineAfterJobs(100_000, WINDOW, 90_000, [{ state: "exited", finishedAt: 10_000 }]),
      100_000,
    );
  });
});
