/**
 * `archy doctor` on this machine, which `scripts/test` has set up with `archy doctor --fix`: every
 * check passes, and fixing again changes nothing (idempotence).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Outcome } from "../../src/host/doctor.ts";
import { exec } from "../../src/system/exec.ts";

const archy = fileURLToPath(new URL("../../bin/archy", import.meta.url));

async function doctor(...args: string[]) {
  const result = await exec(archy, ["doctor", "--json", ...args], { timeoutMs: 300_000 });
  assert.equal(result.stderr, "", "doctor printed to stderr");
  const report = JSON.parse(result.stdout) as { ok: boolean; changed: boolean; checks: Outcome[] };
  return { code: result.code, report };
}

const failures = (checks: Outcome[]) =>
  checks.filter((check) => check.status !== "pass").map((check) => `${check.id}: ${check.detail}`);

describe("archy doctor on this host", () => {
  it("passes every check", async () => {
    const { code, report } = await doctor();
    assert.deepEqual(failures(report.checks), []);
    assert.equal(report.ok, true);
    assert.equal(code, 0);
    const ids = report.checks.map((check) => check.id);
    for (const id of ["packages", "containers-conf", "storage-conf", "tun", "quadlet", "test-image"]) {
      assert.ok(ids.includes(id), `no ${id} check in ${ids.join(", ")}`);
    }
  });

  it("changes nothing when fixing an already set-up host", async () => {
    const { code, report } = await doctor("--fix");
    assert.deepEqual(failures(report.checks), []);
    assert.equal(report.changed, false);
    assert.equal(code, 0);
  });

  it("rejects unknown options with exit code 2", async () => {
    const result = await exec(archy, ["doctor", "--frobnicate"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Unknown option '--frobnicate'/);
  });
});
