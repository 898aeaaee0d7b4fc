/**
 * Running `archy gate` from a test on the real rootless Podman of the test user, and reading what
 * Podman shows of its sandbox: its reports, the containers of the apps it installed (their ids
 * carry the run's prefix), Podman's event log, and removing exactly what a kept sandbox left.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { GateReport } from "../../src/gate/report.ts";
import { TEST_USER } from "../../src/host/layout.ts";
import { runAsTestUser } from "./rootless.ts";
import { REPO_ROOT } from "./stage.ts";

export const isRoot = process.getuid?.() === 0;
const ARCHY = join(REPO_ROOT, "bin", "archy");

export type GateRun = {
  code: number;
  stdout: string;
  stderr: string;
  report: GateReport | undefined;
  /** Where the reports are (`report.json`, `report.md`). */
  dir: string;
  durationMs: number;
};

/** Runs `archy gate ARGS` (as root: `--user` the test user) with its reports in a temporary directory. */
export function runGate(args: string[], timeoutMs: number): Promise<GateRun> {
  const dir = mkdtempSync("/tmp/archy-gate-test-");
  const base = join(dir, "report");
  const argv = ["gate", ...(isRoot ? ["--user", TEST_USER] : []), "--report", base, ...args];
  const began = Date.now();
  return new Promise((resolve) => {
    execFile(ARCHY, argv, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      let report: GateReport | undefined;
      try {
        report = JSON.parse(readFileSync(`${base}.json`, "utf8")) as GateReport;
      } catch {}
      resolve({
        code,
        stdout: String(stdout),
        stderr: String(stderr),
        report,
        dir,
        durationMs: Date.now() - began,
      });
    });
  });
}

export const showRun = (run: GateRun) =>
  `exit ${run.code} after ${run.durationMs} ms\n--- stderr (last lines) ---\n${run.stderr.split("\n").slice(-60).join("\n")}`;

/** `podman ARGS` as the test user; fails the test when it fails. */
export async function podman(args: string[]): Promise<string> {
  const result = await runAsTestUser(["podman", ...args], { timeoutMs: 120_000 });
  assert.equal(result.code, 0, `podman ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

/** Podman's event log since `since`, one `ID STATUS` line per event. */
export async function eventsSince(since: string): Promise<string[]> {
  const log = await podman(["events", "--stream=false", "--since", since, "--format", "{{.ID}} {{.Status}}"]);
  return log.split("\n").filter(Boolean);
}

export type PsEntry = { Id: string; Names: string[]; State: string; Labels: Record<string, string> | null };

/** Every container of the platform's apps whose app id matches `app`, as Podman shows it now. */
export async function containersWhere(app: (appId: string) => boolean): Promise<PsEntry[]> {
  const all = JSON.parse((await podman(["ps", "-a", "--format", "json"])) || "[]") as PsEntry[];
  return all.filter((c) => {
    const id = c.Labels?.["io.archipelago.app"];
    return id !== undefined && app(id);
  });
}

/** Every container of a sandbox (its app ids carry the run's prefix), as Podman shows it now. */
export function sandboxContainers(prefix: string): Promise<PsEntry[]> {
  return containersWhere((id) => id.startsWith(`${prefix}-`));
}

/** Removes exactly what a kept sandbox left: its containers, networks, volumes, secrets and directory. */
export async function removeSandbox(report: GateReport | undefined): Promise<void> {
  const prefix = report?.environment.isolation?.prefix;
  if (prefix) {
    const ids = (await sandboxContainers(prefix)).map((c) => c.Id);
    if (ids.length > 0) await runAsTestUser(["podman", "rm", "-f", "-t", "0", ...ids]);
    for (const kind of ["network", "volume", "secret"]) {
      const names = (await podman([kind, "ls", "--format", "{{.Name}}"]))
        .split("\n")
        .filter((n) => n.startsWith(`archy-${prefix}-`));
      if (names.length > 0)
        await runAsTestUser(["podman", kind, "rm", ...(kind === "secret" ? [] : ["-f"]), ...names]);
    }
  }
  const { workDir, hostRoot } = report?.environment ?? {};
  if (workDir?.startsWith("/tmp/archy-gate-")) {
    if (!isRoot) await runAsTestUser(["podman", "unshare", "rm", "-rf", workDir]);
    rmSync(workDir, { recursive: true, force: true });
  }
  if (hostRoot?.startsWith("/srv/archy-gate-")) rmSync(hostRoot, { recursive: true, force: true });
}

/** Removes everything a gate run left: its sandbox (when kept) and its reports' directory. */
export async function discardRun(run: GateRun | undefined): Promise<void> {
  if (!run) return;
  await removeSandbox(run.report);
  rmSync(run.dir, { recursive: true, force: true });
}

/** The cell of `app` at `step` in `iteration` (default the first). */
export function cellOf(report: GateReport, app: string, step: string, iteration = 1) {
  const cell = report.cells.find((c) => c.app === app && c.step === step && c.iteration === iteration);
  assert.ok(cell, `a ${step} cell for ${app}`);
  return cell;
}

/**
 * An app of a `--keep` run as Podman shows it now (`now`: the sandbox's containers): installed under
 * the run's prefix, with exactly the containers the report's last cell (install again) saw. Returns
 * that cell and those containers for the caller's own checks.
 */
export function keptAsReported(report: GateReport, app: GateReport["apps"][number], now: PsEntry[]) {
  const prefix = report.environment.isolation?.prefix as string;
  assert.equal(app.installedAs, `${prefix}-${app.id}`, "the sandbox keeps the app's id (dotted ones too)");
  const last = cellOf(report, app.id, "install-again");
  const inPodman = now.filter((c) => c.Labels?.["io.archipelago.app"] === app.installedAs);
  assert.deepEqual(
    inPodman.map((c) => c.Id).sort(),
    (last.podman ?? []).map((c) => c.id).sort(),
    `${app.id}: the containers Podman shows are the ones the report's last cell saw`,
  );
  return { last, inPodman };
}
