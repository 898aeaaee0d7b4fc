/** Runs host checks, applies fixes where asked and allowed, and reports (the report is pure). */
import type { Check } from "./checks.ts";

export type Outcome = {
  id: string;
  title: string;
  /** pass: fine as found; fixed: was failing, a fix made it pass; fail: still failing. */
  status: "pass" | "fixed" | "fail";
  /** What was found last. */
  detail: string;
  /** What was found before a fix (fixed, or failed after a fix attempt). */
  before?: string;
  /** The commands that fix it (failures only). */
  fix?: string[];
  needsRoot?: boolean;
  /** Why applying the fix failed. */
  error?: string;
  /** How many times a fix was applied (absent when none was). */
  applied?: number;
};

export type DoctorOptions = { fix: boolean; isRoot: boolean; onOutcome?: (outcome: Outcome) => void };

/** How often a check is fixed and re-checked (a fix can reveal the next one, e.g. a new user's ids). */
const MAX_FIX_ROUNDS = 3;

async function safeCheck(check: Check) {
  try {
    return await check.check();
  } catch (error) {
    return { ok: false, detail: `check failed: ${(error as Error).message}` };
  }
}

/** Runs `checks` in order; with `fix`, applies each failing check's fix (when allowed) before the next. */
export async function runDoctor(checks: readonly Check[], options: DoctorOptions): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const check of checks) {
    const base = { id: check.id, title: check.title };
    let result = await safeCheck(check);
    const before = result.detail;
    let outcome: Outcome | undefined;
    let applied = 0;
    if (result.ok) outcome = { ...base, status: "pass", detail: result.detail };
    for (let round = 0; !outcome && options.fix && round < MAX_FIX_ROUNDS; round++) {
      const fix = result.fix;
      if (!fix || (fix.needsRoot && !options.isRoot)) break;
      applied++;
      try {
        await fix.apply();
      } catch (error) {
        const failure = { detail: result.detail, fix: fix.steps, needsRoot: fix.needsRoot };
        outcome = { ...base, status: "fail", ...failure, before, error: (error as Error).message, applied };
        break;
      }
      result = await safeCheck(check);
      if (result.ok) outcome = { ...base, status: "fixed", detail: result.detail, before, applied };
    }
    outcome ??= {
      ...base,
      status: "fail",
      detail: result.detail,
      ...(applied > 0 ? { before, applied } : {}),
      ...(result.fix ? { fix: result.fix.steps, needsRoot: result.fix.needsRoot } : {}),
    };
    outcomes.push(outcome);
    options.onOutcome?.(outcome);
  }
  return outcomes;
}

const indent = (text: string, prefix: string) =>
  text
    .split("\n")
    .map((line) => prefix + line)
    .join("\n");

/** One check's lines in the human report. */
export function formatOutcome(outcome: Outcome, isRoot: boolean): string {
  const label = { pass: "PASS ", fixed: "FIXED", fail: "FAIL " }[outcome.status];
  const lines = [`${label} ${outcome.title}`];
  if (outcome.before !== undefined && outcome.before !== outcome.detail)
    lines.push(`      was: ${outcome.before}`);
  lines.push(`      ${outcome.status === "fixed" ? "now" : "found"}: ${outcome.detail}`);
  if (outcome.error) lines.push(indent(`fix failed: ${outcome.error}`, "      "));
  if (outcome.status === "fail") {
    if (outcome.fix) {
      const who = outcome.needsRoot && !isRoot ? " (needs root)" : "";
      lines.push(`      fix${who}:`, ...outcome.fix.map((step) => indent(step, "        ")));
    } else {
      lines.push("      fix: follows from the failures above; fix those and run again");
    }
  }
  return lines.join("\n");
}

/** The closing summary line (and what to do next). */
export function formatSummary(
  outcomes: readonly Outcome[],
  options: { fix: boolean; isRoot: boolean },
): string {
  const failed = outcomes.filter((o) => o.status === "fail").length;
  const fixed = outcomes.filter((o) => o.status === "fixed").length;
  const fixedText = fixed > 0 ? `, ${fixed} fixed` : "";
  if (failed === 0) return `doctor: all ${outcomes.length} checks pass${fixedText}.`;
  const next = !options.isRoot
    ? " Run `archy doctor --fix` as root (e.g. sudo bin/archy doctor --fix) to fix them."
    : options.fix
      ? ""
      : " Run `archy doctor --fix` to fix them.";
  return `doctor: ${failed} of ${outcomes.length} checks fail${fixedText}.${next}`;
}

/** The `--json` document. */
export function jsonReport(outcomes: readonly Outcome[]) {
  return {
    ok: outcomes.every((o) => o.status !== "fail"),
    changed: outcomes.some((o) => (o.applied ?? 0) > 0),
    checks: outcomes,
  };
}
