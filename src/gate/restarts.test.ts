import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Cell, ContainerStart, FaultRecord, SetupRecord } from "./report.ts";
import { expectedStarts, unexpectedStarts } from "./restarts.ts";

const T = 1_800_000_000_000;

function cell(app: string, step: Cell["step"], from: number, ms: number, iteration = 1): Cell {
  return { iteration, app, step, status: "pass", startedAt: T + from, durationMs: ms };
}

const start = (app: string, at: number, container = "web"): ContainerStart => ({
  at: T + at,
  app,
  container,
  id: `${app}-${at}`,
});

function fault(kind: FaultRecord["kind"], app: string | undefined, at: number, injected = true): FaultRecord {
  return {
    id: `f-${at}`,
    kind,
    iteration: 1,
    step: "ui",
    ...(app ? { app } : {}),
    detail: "",
    injected,
    at: T + at,
  };
}

// hello: install 0–5 s, ui 5–6 s, stop 6–8 s, start 8–12 s, restart 12–16 s, daemon-restart 16–20 s.
const cells: Cell[] = [
  cell("hello", "install", 0, 5_000),
  cell("notes", "install", 5_000, 10_000),
  cell("hello", "ui", 15_000, 1_000),
  cell("notes", "ui", 16_000, 1_000),
  cell("hello", "stop", 17_000, 2_000),
  cell("hello", "start", 19_000, 4_000),
  cell("hello", "restart", 23_000, 4_000),
  cell("hello", "daemon-restart", 27_000, 4_000),
];

describe("unexpectedStarts", () => {
  test("starts inside the app's starting cells are the gate's own", () => {
    const starts = [
      start("hello", 1_000),
      start("notes", 9_000),
      start("hello", 20_000),
      start("hello", 25_000),
    ];
    assert.deepEqual(unexpectedStarts(starts, cells, [], []), { starts: 4, unexpected: [] });
  });

  test("a start in a cell that starts nothing, in another app's cell or between cells, with what the gate was doing", () => {
    const starts = [
      start("hello", 15_500), // during its ui
      start("hello", 10_000), // during notes' install, hello's own install long over
      start("hello", 29_000, "db"), // during the daemon restart: must not restart anything
      start("hello", 40_000), // after the last cell
    ];
    const { unexpected } = unexpectedStarts(starts, cells, [], []);
    assert.deepEqual(
      unexpected.map((u) => [u.container, u.at - T, u.during]),
      [
        ["web", 15_500, "iteration 1, ui of hello"],
        ["web", 10_000, "iteration 1, install of notes"],
        ["db", 29_000, "iteration 1, daemon-restart of hello"],
        ["web", 40_000, "between cells (the gate was not acting)"],
      ],
    );
  });

  test("a container fault on the app excuses its starts until the app's next cell has ended", () => {
    // Killed at 14.9 s, before hello's ui (15–16 s): started again by the platform, maybe late.
    const faults = [fault("container-kill", "hello", 14_900)];
    assert.deepEqual(unexpectedStarts([start("hello", 15_800)], cells, [], faults).unexpected, []);
    assert.equal(
      unexpectedStarts([start("hello", 17_500)], cells, [], faults).unexpected.length,
      1,
      "not after that cell",
    );
    assert.equal(
      unexpectedStarts([start("notes", 16_500)], cells, [], faults).unexpected.length,
      1,
      "not for another app",
    );
  });

  test("faults that restart no container excuse nothing: a Podman restart, a daemon kill, one not injected", () => {
    const faults = [
      fault("podman-restart", undefined, 14_900),
      fault("daemon-sigkill", "hello", 14_900),
      fault("container-kill", "hello", 14_900, false),
    ];
    assert.equal(unexpectedStarts([start("hello", 15_500)], cells, [], faults).unexpected.length, 1);
  });

  test("setup steps that bring an app up are the gate's own too; a second of slack at the edges", () => {
    const setup: SetupRecord[] = [
      {
        iteration: 2,
        app: "hello",
        step: "install",
        why: "so that ui can run",
        ok: true,
        durationMs: 3_000,
        startedAt: T + 50_000,
      },
    ];
    const starts = [start("hello", 51_000), start("hello", 4_900 + 1_000), start("hello", 53_900)];
    assert.deepEqual(unexpectedStarts(starts, cells, setup, []).unexpected, []);
    assert.equal(unexpectedStarts([start("hello", 55_000)], cells, setup, []).unexpected.length, 1);
  });

  test("cells without a start time (skipped, blocked) make no span", () => {
    const skipped: Cell = { iteration: 1, app: "hello", step: "reboot", status: "skip", reason: "no reboot" };
    assert.deepEqual(expectedStarts([skipped], [], []), []);
  });
});
