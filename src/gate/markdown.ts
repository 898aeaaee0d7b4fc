/**
 * The human report: the JSON report rendered as Markdown. The verdict first, then the matrix (apps ×
 * steps over all iterations, then each iteration with durations), timings per step, the faults
 * injected, every failure with its evidence, and every distinct reason for a skip. Pure.
 */
import { STEP_INFO, type StepId } from "./matrix.ts";
import type { Cell, GateReport } from "./report.ts";
import { stepTitle } from "./report.ts";
import { formatMs } from "./stats.ts";

const ICON = { pass: "✅", fail: "❌", skip: "⏭️" } as const;
const column = (step: StepId) => STEP_INFO[step].column;

/** A table cell: no line breaks, pipes escaped. */
function cell(text: string): string {
  return text.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
}

function table(header: string[], rows: string[][]): string {
  return [
    `| ${header.map(cell).join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${row.map(cell).join(" | ")} |`),
  ].join("\n");
}

function fence(lines: readonly string[]): string {
  const body = lines.join("\n");
  const ticks = body.includes("```") ? "````" : "```";
  return `${ticks}\n${body}\n${ticks}`;
}

/** One matrix entry over every iteration: `✅ 5/5`, `❌ 2/5 failed`, `⏭️ skipped`. */
export function aggregate(cells: readonly Cell[]): string {
  if (cells.length === 0) return "";
  const ran = cells.filter((c) => c.status !== "skip");
  const failed = ran.filter((c) => c.status === "fail").length;
  const faults = cells.filter((c) => (c.faults?.length ?? 0) > 0).length;
  const chaos = faults > 0 ? ` ⚡${faults}` : "";
  if (ran.length === 0) return `${ICON.skip} skipped`;
  if (failed > 0) return `${ICON.fail} ${failed}/${ran.length} failed${chaos}`;
  const skipped = cells.length - ran.length;
  return `${ICON.pass} ${ran.length}/${ran.length}${skipped > 0 ? ` (${skipped} skipped)` : ""}${chaos}`;
}

function one(c: Cell | undefined): string {
  if (!c) return "";
  const chaos = (c.faults?.length ?? 0) > 0 ? " ⚡" : "";
  if (c.status === "skip") return `${ICON.skip}`;
  return `${ICON[c.status]} ${formatMs(c.durationMs)}${chaos}`;
}

export function renderMarkdown(report: GateReport): string {
  const out: string[] = [];
  const env = report.environment;
  const apps = report.apps.map((a) => a.id);
  const steps = report.steps;
  const find = (app: string, step: StepId, iteration?: number) =>
    report.cells.filter(
      (c) => c.app === app && c.step === step && (iteration === undefined || c.iteration === iteration),
    );

  out.push(`# Archipelago production gate: ${report.verdict === "pass" ? "PASS" : "FAIL"}`, "");
  out.push(
    `${report.summary.charAt(0).toUpperCase()}${report.summary.slice(1)}. Exit code ${report.exitCode}.`,
    "",
  );
  if (report.aborted) out.push(`**The run was aborted:** ${report.aborted}`, "");
  const chaos = env.chaos.enabled
    ? `on (seed ${env.chaos.seed}): ${report.faults.length} faults injected (${env.chaos.kinds.join(", ")})${
        Object.keys(env.chaos.unavailable).length > 0
          ? `; not available: ${Object.entries(env.chaos.unavailable)
              .map(([k, why]) => `${k} (${why})`)
              .join(", ")}`
          : ""
      }`
    : "off";
  out.push(
    table(
      ["", ""],
      [
        ["Started", report.startedAt],
        ["Duration", formatMs(report.durationMs)],
        ["Iterations", String(report.options.iterations)],
        [
          "Apps",
          report.apps
            .map((a) => (a.installedAs === a.id ? a.id : `${a.id} (as ${a.installedAs})`))
            .join(", "),
        ],
        [
          "Daemon",
          `${env.mode === "managed" ? "started by the gate" : "existing"}: ${env.daemonUrl}${
            env.daemonVersion ? ` (version ${env.daemonVersion})` : ""
          }`,
        ],
        ...(env.daemonBackend
          ? [
              [
                "Backend",
                `${env.daemonBackend.backend}${env.daemonBackend.reason ? ` (${env.daemonBackend.reason})` : ""}`,
              ],
            ]
          : []),
        [
          "Daemon restart",
          env.daemonRestart.available
            ? (env.daemonRestart.how ?? "yes")
            : `not possible: ${env.daemonRestart.reason}`,
        ],
        ["Reboot", env.reboot.available ? (env.reboot.how ?? "yes") : `not possible: ${env.reboot.reason}`],
        ["Podman", `${env.podmanVersion ?? "?"}, rootless as ${env.user}, socket ${env.podmanSocket}`],
        ["Host", env.host],
        ["Chaos", chaos],
        ["Destructive", report.options.destructive ? "yes (purge runs)" : "no (purge skipped)"],
        ["Timeout scale", String(report.options.timeoutScale)],
      ],
    ),
    "",
  );
  if (env.notes.length > 0) out.push(...env.notes.map((n) => `- ${n}`), "");

  out.push("## Matrix", "");
  out.push(
    `Each entry: passed/ran over ${report.options.iterations} iteration(s). ${ICON.pass} passed, ${ICON.fail} failed, ${ICON.skip} skipped (reason below), ⚡ a fault was injected right before (chaos). Steps: ${steps
      .map((s) => `${column(s)} = ${stepTitle(s)}`)
      .filter((_, i) => STEP_INFO[steps[i] as StepId].column !== stepTitle(steps[i] as StepId))
      .join("; ")}.`,
    "",
  );
  out.push(
    table(
      ["App", ...steps.map(column)],
      apps.map((app) => [app, ...steps.map((step) => aggregate(find(app, step)))]),
    ),
    "",
  );

  for (let iteration = 1; iteration <= report.options.iterations; iteration++) {
    const cells = report.cells.filter((c) => c.iteration === iteration);
    if (cells.length === 0) continue;
    out.push(`### Iteration ${iteration}`, "");
    out.push(
      table(
        ["App", ...steps.map(column)],
        apps.map((app) => [app, ...steps.map((step) => one(find(app, step, iteration)[0]))]),
      ),
      "",
    );
  }

  out.push("## Timings per step", "");
  out.push(
    table(
      ["Step", "Runs", "Passed", "Failed", "p50", "p95", "max", "Time limit (largest)"],
      report.timings.byStep.map((t) => {
        const limits = report.apps.map((a) => a.timeouts[t.key as StepId]);
        return [
          stepTitle(t.key as StepId),
          String(t.runs),
          String(t.passed),
          String(t.failed),
          formatMs(t.p50Ms),
          formatMs(t.p95Ms),
          formatMs(t.maxMs),
          formatMs(Math.max(...limits)),
        ];
      }),
    ),
    "",
  );

  if (report.faults.length > 0) {
    out.push("## Faults injected", "");
    out.push(
      table(
        ["Fault", "Iteration", "Kind", "Before step", "Target", "What was done"],
        report.faults.map((f) => [
          f.id,
          String(f.iteration),
          f.kind,
          stepTitle(f.step),
          f.app ? `${f.app}${f.container ? `/${f.container}` : ""}` : "every app",
          `${f.injected ? "" : "NOT INJECTED: "}${f.detail}`,
        ]),
      ),
      "",
    );
  }

  const failures = report.cells.filter((c) => c.status === "fail");
  if (failures.length > 0) {
    out.push("## Failures", "");
    for (const c of failures) {
      out.push(
        `### ${c.app} · ${stepTitle(c.step)} · iteration ${c.iteration} (${formatMs(c.durationMs)}, limit ${formatMs(c.timeoutMs)})`,
        "",
      );
      if (c.reason) out.push(`**${c.reason}**`, "");
      for (const id of c.faults ?? []) {
        const fault = report.faults.find((f) => f.id === id);
        if (fault) out.push(`- Fault ${fault.id} (${fault.kind}): ${fault.detail}`);
      }
      const e = c.evidence;
      if (e) {
        out.push(`- Expected: ${e.expected}`, `- Observed: ${e.observed}`);
        if (e.operation)
          out.push(
            `- Operation ${e.operation.id} (${e.operation.kind}): ${e.operation.state}${e.operation.error ? ` — ${e.operation.error}` : ""}`,
          );
        out.push("");
        if (e.operation && e.operation.log.length > 0)
          out.push("Operation log (last lines):", "", fence(e.operation.log), "");
        if (e.logs && e.logs.length > 0) out.push("Container logs (last lines):", "", fence(e.logs), "");
        if (e.daemonLog && e.daemonLog.length > 0)
          out.push("Daemon log, warnings and errors (last lines):", "", fence(e.daemonLog), "");
      } else out.push("");
    }
  }

  const { starts, unexpected } = report.restarts;
  out.push(
    "## Restarts",
    "",
    `Podman started the gated apps' containers ${starts} time(s); ${
      unexpected.length === 0
        ? "the gate caused every start (its steps, and the platform repairing its faults)."
        : `${unexpected.length} of them the gate did not cause (each fails the run):`
    }`,
    "",
  );
  for (const u of unexpected)
    out.push(
      `- ${new Date(u.at).toISOString()} ${u.app}/${u.container} (${u.id.slice(0, 12)}), during ${u.during}`,
    );
  if (unexpected.length > 0) out.push("");

  if (report.incidents.length > 0) {
    out.push("## Incidents", "", "Outside any cell (each fails the run):", "");
    for (const incident of report.incidents) out.push(`- ${incident.split("\n")[0]}`);
    out.push("");
  }

  const setupFailures = report.setup.filter((s) => !s.ok);
  if (setupFailures.length > 0) {
    out.push("## Setup steps that failed", "");
    for (const s of setupFailures)
      out.push(
        `- ${s.app} · ${stepTitle(s.step)} (${s.why}) · iteration ${s.iteration}: expected ${s.evidence?.expected ?? "?"}; observed ${
          s.evidence?.observed ?? "?"
        }`,
      );
    out.push("");
  }

  const skips = new Map<string, Set<string>>();
  for (const c of report.cells)
    if (c.status === "skip") {
      const key = `${stepTitle(c.step)}: ${c.reason ?? "no reason given"}`;
      const set = skips.get(key) ?? new Set<string>();
      set.add(c.app);
      skips.set(key, set);
    }
  if (skips.size > 0) {
    out.push("## Skipped", "");
    for (const [key, appsSkipped] of skips) out.push(`- ${key} (${[...appsSkipped].join(", ")})`);
    out.push("");
  }

  const substituted = report.apps.filter((a) => a.substitutions.length > 0);
  if (substituted.length > 0) {
    out.push("## Sandbox copies", "");
    out.push(
      "The gate installed copies of the apps that cannot collide with anything else on this host; they differ from the manifests as written only in:",
      "",
    );
    for (const a of substituted) out.push(`- **${a.id}**: ${a.substitutions.join("; ")}`);
    out.push("");
  }
  return `${out.join("\n").trimEnd()}\n`;
}
