/**
 * `archy gate` against the systemd test node (scripts/gate-node): the daemon runs in the node as a
 * systemd user service, and the gate's reboot step really reboots the node. The report's reboot
 * cells are checked against what the node shows: the node's container was restarted (root's
 * Podman), and the node user's Podman logged a start of every container the reboot cells saw,
 * after that boot, the dependency's before its dependent's.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { GateReport } from "../../src/gate/report.ts";
import { exec } from "../../src/system/exec.ts";
import { REPO_ROOT } from "../support/stage.ts";

const isRoot = process.getuid?.() === 0;
const GATE_NODE = join(REPO_ROOT, "scripts", "gate-node");
const SYSTEMD_NODE = join(REPO_ROOT, "scripts", "systemd-node");
const NAME = `archy-gn-test-${process.pid}`;

type Run = { code: number; stderr: string; report: GateReport | undefined };

function gateNode(args: string[], dir: string, timeoutMs: number): Promise<Run> {
  const base = join(dir, "report");
  return new Promise((resolve) => {
    execFile(
      GATE_NODE,
      ["--name", NAME, "--keep", "--report", base, ...args],
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, cwd: dir },
      (error, _stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        let report: GateReport | undefined;
        try {
          report = JSON.parse(readFileSync(`${base}.json`, "utf8")) as GateReport;
        } catch {}
        resolve({ code, stderr: String(stderr), report });
      },
    );
  });
}

const show = (run: Run) =>
  `exit ${run.code}\n--- stderr (last lines) ---\n${run.stderr.split("\n").slice(-50).join("\n")}`;

describe("systemd node: archy gate against the node (scripts/gate-node)", {
  skip: isRoot ? false : "needs root (the node and its network holder are root's privileged containers)",
}, () => {
  const dir = isRoot ? mkdtempSync("/tmp/archy-gate-node-test-") : "";
  let kept: string | undefined;
  after(async () => {
    // --keep left the node for the checks below; remove exactly what this run created.
    await exec(SYSTEMD_NODE, ["rm", NAME], { timeoutMs: 120_000 });
    await exec("podman", ["rm", "-f", "-t", "0", `${NAME}-net`], { timeoutMs: 60_000 });
    if (kept) rmSync(kept, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the reboot step reboots the node; each app comes back after its dependencies, as the node's Podman shows", {
    timeout: 900_000,
  }, async () => {
    const began = Date.now();
    const run = await gateNode(
      ["--iterations", "1", "--apps", "hello-web,mini-explorer", "--steps", "install,ui,reboot,uninstall"],
      dir,
      600_000,
    );
    kept = /rm -rf (\/var\/tmp\/archy-gate-node\.\S+)/.exec(run.stderr)?.[1];
    assert.equal(run.code, 0, show(run));
    const report = run.report;
    assert.ok(report, show(run));
    assert.equal(report.verdict, "pass", show(run));
    assert.equal(report.environment.reboot.available, true);
    assert.match(report.environment.reboot.how ?? "", /systemd-node reboot/);
    for (const cell of report.cells)
      assert.ok(cell.status !== "fail", `${cell.app} ${cell.step}: ${cell.reason ?? ""}`);
    const reboots = report.cells.filter((c) => c.step === "reboot");
    assert.deepEqual(reboots.map((c) => c.app).sort(), ["hello-web", "mini-explorer", "mini-node"]);

    // The node's container was restarted during the run: the reboot.
    const nodeStarted = Date.parse(
      (await exec("podman", ["container", "inspect", "--format", "{{.State.StartedAt}}", NAME])).stdout
        .trim()
        .replace(/ \+0000 UTC$/, "Z")
        .replace(" ", "T"),
    );
    assert.ok(nodeStarted > began, `the node last started at ${new Date(nodeStarted).toISOString()}`);

    // Each reboot cell: passed, its containers started after that boot (as the cell says and as
    // the node user's Podman logged it).
    const events = await exec(
      SYSTEMD_NODE,
      [
        "exec-user",
        NAME,
        "podman",
        "events",
        "--stream=false",
        "--filter",
        "event=start",
        "--format",
        "json",
      ],
      { timeoutMs: 60_000 },
    );
    assert.equal(events.code, 0, events.stderr);
    const starts = events.stdout
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { ID: string; timeNano?: number; time?: number })
      .map((e) => ({ id: e.ID, at: e.timeNano ? e.timeNano / 1e6 : (e.time ?? 0) * 1000 }));
    const startOf = new Map<string, number>();
    for (const cell of reboots) {
      assert.equal(cell.status, "pass", `${cell.app}: ${cell.reason ?? ""}`);
      assert.match(cell.checked ?? "", /node rebooted/);
      for (const [, iso] of (cell.checked ?? "").matchAll(/started (\S+Z)/g))
        assert.ok(
          Date.parse(iso as string) > nodeStarted - 1_000,
          `${cell.app} started ${iso}, before the boot`,
        );
      assert.ok(cell.podman && cell.podman.length > 0, `${cell.app}: no container in the cell`);
      for (const container of cell.podman ?? []) {
        const logged = starts.filter((s) => s.id === container.id && s.at >= nodeStarted - 1_000);
        assert.ok(
          logged.length > 0,
          `${cell.app}: no start of ${container.id.slice(0, 12)} after the boot in the node's Podman events`,
        );
        startOf.set(cell.app, Math.min(...logged.map((s) => s.at)));
      }
    }
    // Dependency order, from the node's own log: mini-node before mini-explorer.
    assert.ok(
      (startOf.get("mini-node") ?? Number.POSITIVE_INFINITY) <= (startOf.get("mini-explorer") ?? 0),
      `mini-node started at ${startOf.get("mini-node")}, mini-explorer at ${startOf.get("mini-explorer")}`,
    );
  });
});
