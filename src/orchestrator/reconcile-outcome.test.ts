/** The reconcile outcome's pure parts: which failures are terminal, and how wake-ups merge. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PodmanError } from "../runtime/libpod/errors.ts";
import { RuntimeError } from "../runtime/runtime.ts";
import { NotApprovedError } from "./approvals.ts";
import { HookError } from "./hooks.ts";
import {
  DONE,
  failed,
  isTerminal,
  type ReconcileOutcome,
  requeue,
  Wakeups,
  withWakeup,
} from "./reconcile-outcome.ts";

describe("isTerminal: failures a retry cannot fix", () => {
  const rows: Array<[string, unknown, boolean]> = [
    ["a failing hook", new HookError("post_install step 1: exited with 1"), true],
    ["a permission not approved", new NotApprovedError("alpha", []), true],
    ["a missing image", new RuntimeError("image-missing", "image x is not on this node"), true],
    ["a name held by another", new RuntimeError("name-conflict", "name taken"), true],
    ["a backend that cannot run", new RuntimeError("backend-unavailable", "no systemd"), true],
    ["a stop that did not stop", new RuntimeError("stop-ineffective", "still running"), false],
    ["Podman refusing the request", new PodmanError("bad-request", "container.create", "invalid"), true],
    ["Podman not answering", new PodmanError("unavailable", "container.list", "ENOENT"), false],
    ["Podman timing out", new PodmanError("timeout", "container.start", "no answer"), false],
    ["any other error", new Error("OCI runtime error"), false],
    ["a render error", Object.assign(new Error("cannot render"), { name: "RenderError" }), true],
  ];
  for (const [name, error, terminal] of rows)
    test(`${name}: ${terminal ? "terminal" : "retried"}`, () => {
      assert.equal(isTerminal(error), terminal);
      assert.deepEqual(failed(error), { kind: "failed", error, terminal });
    });
});

describe("withWakeup: the sooner look wins, a failure keeps the backoff's schedule", () => {
  const failure = failed(new Error("boom"));
  const rows: Array<[string, ReconcileOutcome, number | undefined, ReconcileOutcome]> = [
    ["done, no wake-up", DONE, undefined, DONE],
    ["done, a restart due in 10 s", DONE, 10_000, requeue(10_000)],
    ["a look in 2 s before a wake-up in 10 s", requeue(2_000), 10_000, requeue(2_000)],
    ["a look in 2 s after a wake-up in 1 s", requeue(2_000), 1_000, requeue(1_000)],
    ["at once stays at once", requeue(0), 5_000, requeue(0)],
    ["a failure", failure, 1_000, failure],
  ];
  for (const [name, outcome, wake, expected] of rows)
    test(name, () => {
      assert.deepEqual(withWakeup(outcome, wake), expected);
    });

  test("Wakeups keeps the soonest, never a negative delay, and ignores no deadline", () => {
    const wakeups = new Wakeups();
    assert.equal(wakeups.soonest, undefined);
    wakeups.in(Number.POSITIVE_INFINITY);
    assert.equal(wakeups.soonest, undefined);
    wakeups.in(5_000);
    wakeups.in(2_000);
    wakeups.in(3_000);
    assert.equal(wakeups.soonest, 2_000);
    wakeups.in(-10);
    assert.equal(wakeups.soonest, 0);
  });
});
