/** How `archy app test` prints a run: a failure's evidence readable, repeated lines said once. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Cell, GateReport } from "../../gate/report.ts";
import { collapseRepeats, summary } from "./app-test.ts";

test("collapseRepeats: consecutive equal lines become one with their count; others stay in order", () => {
  assert.deepEqual(collapseRepeats(["a", "a", "a", "b", "a", "a"]), ["a  (3 times)", "b", "a  (2 times)"]);
  assert.deepEqual(collapseRepeats([]), []);
});

test("summary: a crash loop's evidence says the app's words once with their count, and what the unfinished install was doing", () => {
  const said = "web stdout: cannot read /data/config.yml, exiting";
  const install: Cell = {
    iteration: 1,
    app: "demo",
    step: "install",
    status: "fail",
    reason: "operation op-1 still running at the time limit",
    durationMs: 27_000,
    evidence: {
      expected: "the operation finished in time",
      observed: `still running; its last output:\n${"cannot read\n".repeat(3)}(attempt 3 of 5)`,
      operation: {
        id: "op-1",
        kind: "install",
        state: "running",
        error: null,
        log: [
          "info starting demo",
          "warn web exited (exit code 3): starting it again",
          "warn web exited (exit code 3): starting it again",
        ],
      },
      logs: [said, said, said, said],
    },
  };
  const skipped: Cell = {
    iteration: 1,
    app: "demo",
    step: "ui",
    status: "skip",
    reason: "not run: install failed first",
  };
  const report = {
    cells: [install, skipped],
    incidents: [],
    restarts: { unexpected: [] },
    verdict: "fail",
    summary: "1 of 1 cells failed",
  } as unknown as GateReport;
  assert.equal(
    summary(report, "demo"),
    [
      "FAIL  install        27.0s  operation op-1 still running at the time limit",
      "      expected: the operation finished in time",
      "      observed: still running; its last output:",
      "        cannot read  (3 times)",
      "        (attempt 3 of 5)",
      "      the install's last steps (running):",
      "        info starting demo",
      "        warn web exited (exit code 3): starting it again  (2 times)",
      "      the app's last log lines:",
      `        ${said}  (4 times)`,
      "skip  ui             not run: install failed first",
      "FAIL: 1 of 1 cells failed",
      "",
    ].join("\n"),
  );
});
