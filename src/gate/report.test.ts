import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { aggregate, renderMarkdown } from "./markdown.ts";
import { STEPS } from "./matrix.ts";
import { buildReport, type Cell, REPORT_SCHEMA, type ReportInput, redact, reportJson } from "./report.ts";

const timeouts = Object.fromEntries(STEPS.map((s) => [s, 60_000])) as Record<(typeof STEPS)[number], number>;

function input(cells: Cell[], extra: Partial<ReportInput> = {}): ReportInput {
  return {
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:10:00.000Z",
    durationMs: 600_000,
    options: {
      iterations: 2,
      apps: ["web", "node"],
      steps: ["install", "stop", "reboot"],
      destructive: false,
      chaos: true,
      timeoutScale: 1,
    },
    environment: {
      mode: "managed",
      daemonUrl: "http://127.0.0.1:4000",
      podmanSocket: "/tmp/s/podman.sock",
      user: "archy-test",
      host: "vm",
      reboot: { available: false, reason: "no systemd node" },
      daemonRestart: { available: true, how: "SIGKILL" },
      chaos: {
        enabled: true,
        seed: 42,
        kinds: ["container-kill"],
        unavailable: { "podman-restart": "not ours" },
      },
      notes: [],
    },
    apps: [
      {
        id: "web",
        installedAs: "g1-web",
        version: "1.0.0",
        containers: ["web"],
        dependsOn: [],
        timeouts,
        substitutions: ["id web -> g1-web"],
      },
      {
        id: "node",
        installedAs: "g1-node",
        version: "1.0.0",
        containers: ["node"],
        dependsOn: [],
        timeouts,
        substitutions: [],
      },
    ],
    steps: ["install", "stop", "reboot"],
    cells,
    setup: [],
    faults: [],
    restarts: { starts: 0, unexpected: [] },
    incidents: [],
    ...extra,
  };
}

const pass = (app: string, step: Cell["step"], iteration: number, durationMs: number): Cell => ({
  iteration,
  app,
  step,
  status: "pass",
  durationMs,
  timeoutMs: 60_000,
  checked: "ok",
});
const skip = (app: string, iteration: number): Cell => ({
  iteration,
  app,
  step: "reboot",
  status: "skip",
  reason: "no systemd node",
});

const allPassing = [1, 2].flatMap((i) => [
  pass("web", "install", i, 1_000 * i),
  pass("node", "install", i, 2_000 * i),
  pass("web", "stop", i, 500),
  pass("node", "stop", i, 700),
  skip("web", i),
  skip("node", i),
]);

describe("gate report", () => {
  test("every cell that ran passed: verdict pass, exit code 0, skips counted apart", () => {
    const report = buildReport(input(allPassing));
    assert.equal(report.schema, REPORT_SCHEMA);
    assert.equal(report.verdict, "pass");
    assert.equal(report.exitCode, 0);
    assert.deepEqual(report.counts, { cells: 12, passed: 8, failed: 0, skipped: 4, setupFailed: 0 });
    assert.match(report.summary, /every cell that ran passed \(8 passed, 4 skipped\)/);
    const install = report.timings.byStep.find((t) => t.key === "install");
    assert.deepEqual([install?.runs, install?.p50Ms, install?.maxMs], [4, 2_000, 4_000]);
    assert.equal(report.timings.byStep.find((t) => t.key === "reboot")?.runs, 0);
    assert.deepEqual(JSON.parse(reportJson(report)), report);
  });

  test("one failed cell, a failed setup step, an abort, or nothing that ran: verdict fail, exit code 1", () => {
    const failed: Cell = { ...pass("web", "stop", 2, 45_000), status: "fail", reason: "still running" };
    const oneFailed = buildReport(
      input([
        ...allPassing.filter((c) => !(c.app === "web" && c.step === "stop" && c.iteration === 2)),
        failed,
      ]),
    );
    assert.equal(oneFailed.exitCode, 1);
    assert.equal(oneFailed.summary, "1 of 8 cells failed");
    const setupFailed = buildReport(
      input(allPassing, {
        setup: [{ iteration: 2, app: "web", step: "uninstall", why: "x", ok: false, durationMs: 1 }],
      }),
    );
    assert.equal(setupFailed.exitCode, 1);
    assert.match(setupFailed.summary, /1 setup step\(s\) failed/);
    assert.equal(buildReport(input(allPassing, { aborted: "daemon died" })).exitCode, 1);
    const incident = buildReport(
      input(allPassing, { incidents: ["the daemon exited on its own (SIGSEGV)"] }),
    );
    assert.equal(incident.exitCode, 1, "a daemon that crashed by itself fails the run");
    assert.match(incident.summary, /1 incident\(s\) outside the cells/);
    assert.match(
      renderMarkdown(incident),
      /## Incidents\n\nOutside any cell \(each fails the run\):\n\n- the daemon exited on its own \(SIGSEGV\)/,
    );
    const churn = buildReport(
      input(allPassing, {
        restarts: {
          starts: 9,
          unexpected: [
            {
              at: Date.parse("2026-01-01T00:05:00Z"),
              app: "web",
              container: "web",
              id: "0123456789abcdef",
              during: "iteration 2, ui of web",
            },
          ],
        },
      }),
    );
    assert.equal(churn.exitCode, 1, "a container restarted behind the gate's back fails the run");
    assert.match(churn.summary, /1 container start\(s\) the gate did not cause/);
    assert.match(
      renderMarkdown(churn),
      /## Restarts\n\nPodman started the gated apps' containers 9 time\(s\); 1 of them the gate did not cause \(each fails the run\):\n\n- 2026-01-01T00:05:00\.000Z web\/web \(0123456789ab\), during iteration 2, ui of web/,
    );
    assert.match(
      renderMarkdown(buildReport(input(allPassing, { restarts: { starts: 4, unexpected: [] } }))),
      /containers 4 time\(s\); the gate caused every start/,
    );
    const nothing = buildReport(input([skip("web", 1), skip("node", 1)]));
    assert.equal(nothing.exitCode, 1, "all skipped is not a pass");
    assert.match(nothing.summary, /no cell ran/);
  });

  test("the Markdown report: verdict, matrix, per-iteration durations, timings, skips with reasons", () => {
    const failed: Cell = {
      ...pass("node", "stop", 2, 45_000),
      status: "fail",
      reason: "not stopped in Podman in time",
      faults: ["f2.1"],
      evidence: {
        expected: "daemon: phase stopped; Podman: node not running",
        observed: "node is running in Podman — daemon: phase stopped",
        operation: { id: "op-1", kind: "stop", state: "succeeded", error: null, log: ["info stopping node"] },
        logs: ["node stdout: listening | port 8332"],
        daemonLog: ["2026 WARN something"],
      },
    };
    const cells = [
      ...allPassing.filter((c) => !(c.app === "node" && c.step === "stop" && c.iteration === 2)),
      failed,
    ];
    const report = buildReport(
      input(cells, {
        faults: [
          {
            id: "f2.1",
            kind: "container-kill",
            iteration: 2,
            step: "stop",
            app: "node",
            container: "node",
            detail: "SIGKILL to g1-node",
            injected: true,
            at: 0,
          },
        ],
      }),
    );
    const md = renderMarkdown(report);
    assert.match(md, /^# Archipelago production gate: FAIL\n\n1 of 8 cells failed\. Exit code 1\./);
    assert.match(md, /\| App \| install \| stop \| reboot \|/);
    assert.match(md, /Steps: reboot = reboot survives\./);
    assert.match(md, /\| web \| ✅ 2\/2 \| ✅ 2\/2 \| ⏭️ skipped \|/);
    assert.match(md, /\| node \| ✅ 2\/2 \| ❌ 1\/2 failed ⚡1 \| ⏭️ skipped \|/);
    assert.match(
      md,
      /### Iteration 2\n\n\| App \| install \| stop \| reboot \|\n\| --- \| --- \| --- \| --- \|\n\| web \| ✅ 2\.0 s \| ✅ 500 ms \| ⏭️ \|/,
    );
    assert.match(md, /\| install \| 4 \| 4 \| 0 \| 2\.0 s \| 4\.0 s \| 4\.0 s \| 1 min 00 s \|/);
    assert.match(md, /### node · stop · iteration 2 \(45\.0 s, limit 1 min 00 s\)/);
    assert.match(md, /- Expected: daemon: phase stopped; Podman: node not running/);
    assert.match(md, /- Observed: node is running in Podman/);
    assert.match(md, /- Fault f2\.1 \(container-kill\): SIGKILL to g1-node/);
    assert.match(md, /Container logs \(last lines\):\n\n```\nnode stdout: listening \| port 8332\n```/);
    assert.match(md, /## Skipped\n\n- reboot survives: no systemd node \(web, node\)/);
    assert.match(md, /seed 42.*not available: podman-restart \(not ours\)/);
    assert.match(md, /- \*\*web\*\*: id web -> g1-web/);
  });

  test("aggregate entries", () => {
    assert.equal(aggregate([]), "");
    assert.equal(aggregate([skip("web", 1)]), "⏭️ skipped");
    assert.equal(
      aggregate([pass("web", "stop", 1, 1), { ...skip("web", 2), step: "stop" }]),
      "✅ 1/1 (1 skipped)",
    );
  });

  test("secrets are redacted from evidence text, URL-encoded forms too", () => {
    assert.equal(
      redact("password=s3cr3t+val/ue and s3cr3t%2Bval%2Fue", ["s3cr3t+val/ue"]),
      "password=[redacted] and [redacted]",
    );
    assert.equal(redact("short abc", ["abc"]), "short abc", "too short to be a generated secret");
  });
});
