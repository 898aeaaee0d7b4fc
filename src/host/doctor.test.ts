import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Check, CheckResult } from "./checks.ts";
import { formatOutcome, formatSummary, jsonReport, runDoctor } from "./doctor.ts";

/** A check over a fake piece of state, fixed by `fixes` applications (each needing root or not). */
function fakeCheck(
  id: string,
  state: { broken: number },
  options: { needsRoot?: boolean; throws?: boolean } = {},
) {
  let applied = 0;
  const check: Check = {
    id,
    title: `title ${id}`,
    async check(): Promise<CheckResult> {
      if (state.broken === 0) return { ok: true, detail: "fine" };
      return {
        ok: false,
        detail: `${state.broken} broken`,
        fix: {
          steps: [`fix ${id}`],
          needsRoot: options.needsRoot ?? true,
          async apply() {
            applied++;
            if (options.throws) throw new Error("no space left");
            state.broken--;
          },
        },
      };
    },
  };
  return { check, applied: () => applied };
}

describe("runDoctor", () => {
  it("only checks without --fix", async () => {
    const fake = fakeCheck("a", { broken: 1 });
    const [outcome] = await runDoctor([fake.check], { fix: false, isRoot: true });
    assert.deepEqual(outcome, {
      id: "a",
      title: "title a",
      status: "fail",
      detail: "1 broken",
      fix: ["fix a"],
      needsRoot: true,
    });
    assert.equal(fake.applied(), 0);
  });

  it("fixes as root, re-checks, and repeats while a fix reveals another", async () => {
    const fake = fakeCheck("a", { broken: 2 });
    const outcomes = await runDoctor([fake.check], { fix: true, isRoot: true });
    assert.deepEqual(outcomes, [
      { id: "a", title: "title a", status: "fixed", detail: "fine", before: "2 broken", applied: 2 },
    ]);
    assert.deepEqual(jsonReport(outcomes), { ok: true, changed: true, checks: outcomes });
  });

  it("gives up after three rounds", async () => {
    const fake = fakeCheck("a", { broken: 10 });
    const [outcome] = await runDoctor([fake.check], { fix: true, isRoot: true });
    assert.equal(outcome?.status, "fail");
    assert.equal(fake.applied(), 3);
  });

  it("does not apply root fixes when not root, but applies the others", async () => {
    const rootOnly = fakeCheck("a", { broken: 1 });
    const mine = fakeCheck("b", { broken: 1 }, { needsRoot: false });
    const outcomes = await runDoctor([rootOnly.check, mine.check], { fix: true, isRoot: false });
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ["fail", "fixed"],
    );
    assert.equal(rootOnly.applied(), 0);
  });

  it("reports a fix that fails, and still runs the later checks", async () => {
    const failing = fakeCheck("a", { broken: 1 }, { throws: true });
    const later = fakeCheck("b", { broken: 0 });
    const outcomes = await runDoctor([failing.check, later.check], { fix: true, isRoot: true });
    assert.equal(outcomes[0]?.status, "fail");
    assert.equal(outcomes[0]?.error, "no space left");
    assert.equal(outcomes[1]?.status, "pass");
    assert.deepEqual(jsonReport(outcomes).changed, true);
  });

  it("turns a check that throws into a failure", async () => {
    const check: Check = {
      id: "x",
      title: "x",
      check: async () => {
        throw new Error("EACCES");
      },
    };
    const [outcome] = await runDoctor([check], { fix: true, isRoot: true });
    assert.deepEqual(outcome, { id: "x", title: "x", status: "fail", detail: "check failed: EACCES" });
  });

  it("reports every outcome as it comes", async () => {
    const seen: string[] = [];
    await runDoctor([fakeCheck("a", { broken: 0 }).check, fakeCheck("b", { broken: 0 }).check], {
      fix: false,
      isRoot: false,
      onOutcome: (o) => seen.push(o.id),
    });
    assert.deepEqual(seen, ["a", "b"]);
  });
});

describe("formatOutcome", () => {
  it("shows a pass in two lines", () => {
    assert.equal(
      formatOutcome({ id: "a", title: "tun", status: "pass", detail: "mode 0666" }, true),
      "PASS  tun\n      found: mode 0666",
    );
  });

  it("shows a failure with its exact fix, and says when it needs root", () => {
    const outcome = {
      id: "a",
      title: "tun",
      status: "fail" as const,
      detail: "mode 0600",
      fix: ["chmod 0666 /dev/net/tun"],
      needsRoot: true,
    };
    assert.equal(
      formatOutcome(outcome, false),
      "FAIL  tun\n      found: mode 0600\n      fix (needs root):\n        chmod 0666 /dev/net/tun",
    );
    assert.match(formatOutcome(outcome, true), /\n {6}fix:\n/);
  });

  it("indents multi-line steps and shows what a fix changed", () => {
    const fixed = { id: "a", title: "t", status: "fixed" as const, detail: "ok", before: "missing" };
    assert.equal(formatOutcome(fixed, true), "FIXED t\n      was: missing\n      now: ok");
    const multi = { id: "a", title: "t", status: "fail" as const, detail: "d", fix: ["cat <<EOF\nx\nEOF"] };
    assert.match(formatOutcome(multi, true), / {8}cat <<EOF\n {8}x\n {8}EOF/);
  });
});

describe("formatSummary", () => {
  const pass = { id: "a", title: "a", status: "pass" as const, detail: "" };
  const fail = { id: "b", title: "b", status: "fail" as const, detail: "" };
  const fixed = { id: "c", title: "c", status: "fixed" as const, detail: "" };

  it("says all pass, counting fixes", () => {
    assert.equal(
      formatSummary([pass, fixed], { fix: true, isRoot: true }),
      "doctor: all 2 checks pass, 1 fixed.",
    );
  });

  it("says how to fix failures", () => {
    assert.match(
      formatSummary([pass, fail], { fix: false, isRoot: true }),
      /1 of 2 checks fail\. Run `archy doctor --fix`/,
    );
    assert.match(formatSummary([fail], { fix: true, isRoot: false }), /as root/);
    assert.equal(formatSummary([fail], { fix: true, isRoot: true }), "doctor: 1 of 1 checks fail.");
  });
});
