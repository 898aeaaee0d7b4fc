/**
 * `archy gate` end to end on the real rootless Podman of the test user: the gate starts its own
 * sandboxed daemon (as root in CI: as the test user), runs the matrix over the sample apps, and the
 * report is checked against what Podman itself shows — the containers each cell saw, the final
 * containers (`--keep` leaves the sandbox as the last step left it), Podman's event log for the
 * faults injected — and for secrets it must never contain. A sabotaged app shows the gate failing,
 * with its evidence.
 */
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { GateReport } from "../../src/gate/report.ts";
import {
  cellOf,
  discardRun,
  eventsSince,
  type GateRun,
  keptAsReported,
  runGate,
  sandboxContainers,
  showRun as show,
} from "../support/gate-run.ts";
import { APPS_DIR } from "../support/samples.ts";

const SAMPLES = ["hello-web", "mini-explorer", "mini-node", "notes"];
const LOG_LINE = "gate test, the app writes this line";

type Run = GateRun;

/** Runs `archy gate ARGS --keep` (the sandbox left for the checks against Podman). */
const gate = (args: string[], timeoutMs = 1_500_000): Promise<Run> => runGate(["--keep", ...args], timeoutMs);

/** Every secret value the sandbox's daemon generated (the kept data directory). */
function generatedSecrets(report: GateReport): string[] {
  const root = join(report.environment.workDir as string, "data", "state", "secrets");
  const values: string[] = [];
  for (const app of readdirSync(root, { withFileTypes: true }))
    if (app.isDirectory())
      for (const name of readdirSync(join(root, app.name)))
        values.push(readFileSync(join(root, app.name, name), "utf8").trim());
  return values;
}

describe("real Podman: archy gate over the sample apps (1 iteration, no chaos)", () => {
  let run: Run;
  after(async () => {
    await discardRun(run);
  });

  test("the gate runs the whole matrix and writes both reports", { timeout: 1_800_000 }, async () => {
    run = await gate(["--iterations", "1", "--timeout-scale", "0.5"]);
    assert.ok(run.report, `a JSON report\n${show(run)}`);
    const report = run.report;
    assert.equal(report.schema, "archipelago.gate/v1");
    assert.deepEqual([...report.options.apps].sort(), SAMPLES);
    assert.equal(report.steps.length, 11, "every step is a column");
    assert.equal(report.cells.length, SAMPLES.length * 11, "one cell per app and step");
    assert.equal(report.aborted, undefined, report.aborted);
    assert.equal(run.code, report.exitCode, "the exit code is the report's");
    const markdown = readFileSync(join(run.dir, "report.md"), "utf8");
    assert.equal(run.stdout, markdown, "stdout is the Markdown report");
    assert.match(
      markdown,
      new RegExp(`^# Archipelago production gate: ${report.verdict === "pass" ? "PASS" : "FAIL"}`),
    );
  });

  test("skips are honest: reboot (no node), purge (no --destructive), and the UI of an app without one", () => {
    const report = run.report as GateReport;
    for (const app of SAMPLES) {
      const reboot = cellOf(report, app, "reboot");
      assert.equal(reboot.status, "skip");
      assert.match(reboot.reason ?? "", /no node to reboot/);
      assert.match(cellOf(report, app, "purge").reason ?? "", /--destructive/);
    }
    assert.equal(cellOf(report, "mini-node", "ui").status, "skip");
    assert.equal(cellOf(report, "hello-web", "ui").status, "pass");
    assert.equal(report.environment.reboot.available, false);
  });

  test("the report matches what Podman shows", async () => {
    const report = run.report as GateReport;
    const prefix = report.environment.isolation?.prefix as string;
    assert.match(prefix, /^g[0-9a-z]{4}$/);
    const now = await sandboxContainers(prefix);
    for (const app of report.apps) {
      // --keep: the apps are as the last step (install again) left them; the report saw them so.
      const { last, inPodman } = keptAsReported(report, app, now);
      assert.deepEqual(
        inPodman.map((c) => c.State),
        inPodman.map(() => "running"),
        `${app.id}: running, as the report says`,
      );
      if (last.status === "pass")
        assert.equal((last.podman ?? []).length, app.containers.length, `${app.id}: every container`);
      // A stop that passed saw no running container; the uninstall that passed saw none at all.
      const stop = cellOf(report, app.id, "stop");
      if (stop.status === "pass")
        assert.ok(
          (stop.podman ?? []).every((c) => c.state !== "running"),
          `${app.id}: ${JSON.stringify(stop.podman)}`,
        );
      const uninstall = cellOf(report, app.id, "uninstall");
      if (uninstall.status === "pass") assert.deepEqual(uninstall.podman, []);
      // Start and stop act on the same containers; a reinstall makes new ones.
      const start = cellOf(report, app.id, "start");
      if (stop.status === "pass" && start.status === "pass")
        assert.deepEqual(
          (start.podman ?? []).map((c) => c.id).sort(),
          (stop.podman ?? []).map((c) => c.id).sort(),
        );
      const reinstall = cellOf(report, app.id, "reinstall");
      if (reinstall.status === "pass") {
        const before = new Set((start.podman ?? []).map((c) => c.id));
        assert.ok(
          (reinstall.podman ?? []).every((c) => !before.has(c.id)),
          `${app.id}: recreated`,
        );
      }
    }
    // Podman's own history agrees: every container a passing stop cell saw stopped has died since.
    const events = await eventsSince(report.startedAt);
    for (const app of report.apps) {
      const stop = cellOf(report, app.id, "stop");
      if (stop.status !== "pass") continue;
      for (const c of stop.podman ?? [])
        assert.ok(
          events.some((e) => e.startsWith(c.id) && /\b(died|stop)\b/.test(e)),
          `Podman's events show ${c.name} stopping`,
        );
    }
  });

  test("no generated secret appears in the reports or the daemon's log", () => {
    const report = run.report as GateReport;
    const secrets = generatedSecrets(report);
    assert.ok(secrets.length >= 2, "mini-node and mini-explorer generate secrets");
    const texts = {
      json: readFileSync(join(run.dir, "report.json"), "utf8"),
      markdown: readFileSync(join(run.dir, "report.md"), "utf8"),
      daemonLog: readFileSync(join(report.environment.workDir as string, "daemon.log"), "utf8"),
    };
    for (const secret of secrets)
      for (const [name, text] of Object.entries(texts))
        assert.ok(!text.includes(secret), `a secret in the ${name}`);
  });

  test("every cell passed: the sample apps pass the gate", () => {
    const report = run.report as GateReport;
    const failures = report.cells
      .filter((c) => c.status === "fail")
      .map((c) => `${c.app} ${c.step}: ${c.reason} — ${c.evidence?.observed}`);
    assert.deepEqual(failures, []);
    assert.equal(run.code, 0);
  });
});

describe("real Podman: archy gate fails with evidence, and survives faults", () => {
  const runs: Run[] = [];
  after(async () => {
    for (const run of runs) {
      await discardRun(run);
    }
  });

  test("an app whose UI does not answer: exit code 1, the cell fails with expected, observed and logs", {
    timeout: 900_000,
  }, async () => {
    const apps = mkdtempSync("/tmp/archy-gate-apps-");
    try {
      cpSync(join(APPS_DIR, "hello-web"), join(apps, "hello-web"), { recursive: true });
      const path = join(apps, "hello-web", "manifest.yml");
      const text = readFileSync(path, "utf8");
      assert.match(text, /interfaces:\n {2}ui:\n {4}container: web\n {4}port: 8080\n {4}path: \//);
      // The UI's path does not exist (the health check probes another one), and the app says something.
      const sabotaged = text
        .replace(
          /(interfaces:\n {2}ui:\n {4}container: web\n {4}port: 8080\n {4}path: )\//,
          "$1/missing.html",
        )
        .replace("      - mkdir -p /data/www &&", `      - echo "${LOG_LINE}" && mkdir -p /data/www &&`);
      assert.ok(sabotaged.includes("/missing.html") && sabotaged.includes(LOG_LINE), sabotaged);
      writeFileSync(path, sabotaged);
      // The UI cell waits out its whole limit: a smaller one (as test/cli/app-test.test.ts does) costs
      // less; install's, scaled alike, still gives hello-web well over a minute.
      const run = await gate(["--apps-dir", apps, "--steps", "install,ui", "--timeout-scale", "0.5"]);
      runs.push(run);
      assert.equal(run.code, 1, show(run));
      const report = run.report as GateReport;
      assert.ok(report, `a report\n${show(run)}`);
      assert.equal(report.verdict, "fail");
      assert.equal(cellOf(report, "hello-web", "install").status, "pass");
      const ui = cellOf(report, "hello-web", "ui");
      assert.equal(ui.status, "fail");
      assert.match(ui.evidence?.expected ?? "", /\/missing\.html 2xx\/3xx/);
      assert.match(ui.evidence?.observed ?? "", /HTTP 404/);
      assert.ok(
        (ui.evidence?.logs ?? []).some((line) => line.includes(LOG_LINE)),
        `the app's last log lines are in the evidence: ${JSON.stringify(ui.evidence?.logs)}`,
      );
      assert.ok(
        (ui.durationMs ?? 0) >= (ui.timeoutMs ?? Number.POSITIVE_INFINITY),
        "it waited for its time limit",
      );
      const markdown = readFileSync(join(run.dir, "report.md"), "utf8");
      assert.match(markdown, /### hello-web · UI reachable · iteration 1/);
      assert.match(markdown, /- Observed: .*HTTP 404/);
    } finally {
      rmSync(apps, { recursive: true, force: true });
    }
  });

  test("chaos over hello-web: every fault injected, as Podman's events show, and every step passes anyway", {
    timeout: 900_000,
  }, async () => {
    const run = await gate([
      "--apps",
      "hello-web",
      "--steps",
      "install,ui,stop,start,uninstall,install-again,purge",
      "--destructive",
      "--chaos",
      "--seed",
      "7",
    ]);
    runs.push(run);
    const report = run.report as GateReport;
    assert.ok(report, show(run));
    assert.equal(report.environment.chaos.enabled, true);
    assert.equal(report.environment.chaos.seed, 7);
    assert.deepEqual(
      report.faults.map((f) => f.kind),
      // Before install-again the app is not installed: no container to hit, the next kind in turn.
      [
        "container-kill",
        "container-remove",
        "podman-restart",
        "daemon-sigkill",
        "podman-restart",
        "daemon-sigkill",
      ],
      "a fault before every step but the first, the kinds in turn",
    );
    for (const fault of report.faults) {
      assert.equal(fault.injected, true, `${fault.id}: ${fault.detail}`);
      const next = cellOf(report, "hello-web", fault.step);
      assert.ok(next.faults?.includes(fault.id), `${fault.id} is recorded on the ${fault.step} cell`);
    }
    assert.deepEqual(
      report.cells
        .filter((c) => c.status !== "pass")
        .map((c) => `${c.step}: ${c.reason} ${c.evidence?.observed}`),
      [],
      "every step passed despite the faults",
    );
    assert.equal(run.code, 0, show(run));
    // Podman saw the container faults happen to the containers the report names.
    const events = await eventsSince(report.startedAt);
    // Every start of the app's containers in Podman's log is in the report, and the gate caused
    // each one: its steps, and the platform repairing a kill or a removal (no restart behind its back).
    const ids = new Set(report.cells.flatMap((c) => (c.podman ?? []).map((f) => f.id)));
    for (const fault of report.faults) {
      const id = /\(([0-9a-f]{12})/.exec(fault.detail)?.[1];
      for (const line of events) if (id && line.startsWith(id)) ids.add(line.split(" ")[0] as string);
    }
    const started = events.filter((e) => / start$/.test(e) && ids.has(e.split(" ")[0] as string));
    assert.equal(report.restarts.starts, started.length, started.join("\n"));
    assert.deepEqual(report.restarts.unexpected, [], "no start the gate did not cause");
    for (const fault of report.faults.filter(
      (f) => f.kind === "container-kill" || f.kind === "container-remove",
    )) {
      const id = /\(([0-9a-f]{12})/.exec(fault.detail)?.[1];
      assert.ok(id, fault.detail);
      const expected = fault.kind === "container-kill" ? /\bdied\b/ : /\bremove\b/;
      assert.ok(
        events.some((e) => e.startsWith(id) && expected.test(e)),
        `Podman's events show ${fault.kind} of ${id}`,
      );
    }
    for (const daemonKill of report.faults.filter((f) => f.kind === "daemon-sigkill"))
      assert.match(daemonKill.detail, /daemon SIGKILLed \d+ ms later and started again/);
    // The purge (the daemon killed during it) left nothing: no container, no data, no secrets.
    const app = report.apps[0];
    assert.ok(app);
    assert.deepEqual(await sandboxContainers(report.environment.isolation?.prefix as string), []);
    const data = join(report.environment.workDir as string, "data");
    assert.equal(existsSync(join(data, "apps", app.installedAs)), false, "the app's data directory is gone");
    assert.equal(existsSync(join(data, "state", "secrets", app.installedAs)), false, "its secrets are gone");
  });
});
