/**
 * Generated secrets never reach a log line or an event (SPEC invariant 4), across the whole suite.
 *
 * The harnesses that run platform code generating secrets (the orchestrator driver's labs, the
 * operator CLI's daemon, the API tests' in-process daemons) collect what it produced into the run's
 * scan directory (`$ARCHY_SCAN_DIR`, see test/support/secret-scan.ts). scripts/test runs this file
 * alone after every other test file has finished; here every collected secret value — as is,
 * JSON-escaped, URL-encoded, hex, base64/base64url at any alignment — is searched for in every
 * collected log line and event, and in the containers' environment as `podman inspect` shows it.
 *
 * It cannot pass vacuously: it requires at least ARCHY_SCAN_MIN_LINES log lines and events (1000),
 * ARCHY_SCAN_MIN_SECRETS generated secrets (4), and lines, events and generated secrets from every
 * harness (the API daemons generate no app secrets: their fake Podman never lets an install run; their
 * CLI tokens are scanned instead), backup repository keys (test/backup/'s daemons), and lines where the daemon masked a secret: hooks that echo their
 * app's secrets and a dependency's (test/orchestrator/hook-secrets.test.ts) ran, and their output
 * was scanned.
 *
 * Podman before 5.3 shows the value of a `type=env` secret in `podman inspect` (`Config.Env`,
 * containers/podman#23788; this host runs 4.3): there, exactly `VAR=<value>` of a variable the
 * manifest fills from a reference is Podman's own exposure and is reported, not failed (as
 * test/render/podman-spec.test.ts does); from 5.3 on, any secret value in `Config.Env` fails.
 *
 * Run alone (without ARCHY_SCAN_DIR) it is skipped: only a whole run has something to scan.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SCAN_DIR_ENV, type ScanResult, SOURCE_KINDS, scanCollected } from "./support/secret-scan.ts";

const dir = process.env[SCAN_DIR_ENV];
const minLines = Number(process.env.ARCHY_SCAN_MIN_LINES ?? 1000);
const minSecrets = Number(process.env.ARCHY_SCAN_MIN_SECRETS ?? 4);

describe("the suite's secrets scan", {
  skip: dir ? false : `${SCAN_DIR_ENV} is not set: scripts/test sets it and runs this file after the suite`,
}, () => {
  let result: ScanResult;
  const scanned = () => {
    result ??= scanCollected(dir as string);
    return result;
  };

  test("it scanned something from every harness", () => {
    const r = scanned();
    const total = SOURCE_KINDS.reduce((sum, kind) => sum + r.lines[kind].logs + r.lines[kind].events, 0);
    process.stdout.write(
      `# scanned ${total} lines (${SOURCE_KINDS.map((k) => `${k}: ${r.lines[k].logs} log + ${r.lines[k].events} event`).join(", ")}) ` +
        `in ${r.files.logs + r.files.events} files for ${r.secrets.generated} generated secrets ` +
        `(${SOURCE_KINDS.map((k) => `${k}: ${r.secrets.bySource[k]}`).join(", ")}), ${r.secrets.cliTokens} CLI tokens and ${r.secrets.backupKeys} backup keys and credentials; ` +
        `${r.podman.containers} containers inspected (Podman ${r.podman.versions.join(", ") || "-"}); ` +
        `${SOURCE_KINDS.reduce((sum, k) => sum + r.masked[k], 0)} lines with a masked secret\n`,
    );
    assert.ok(total >= minLines, `only ${total} log lines and events collected (at least ${minLines})`);
    assert.ok(
      r.secrets.generated >= minSecrets,
      `only ${r.secrets.generated} generated secrets collected (at least ${minSecrets})`,
    );
    for (const kind of SOURCE_KINDS) {
      assert.ok(r.lines[kind].logs > 0, `no log line from the ${kind} harness`);
      assert.ok(r.lines[kind].events > 0, `no event from the ${kind} harness`);
    }
    assert.ok(r.secrets.bySource["orchestrator-driver"] > 0, "no secret from the orchestrator labs");
    assert.ok(r.secrets.bySource["cli-daemon"] > 0, "no secret from the operator CLI's daemon");
    assert.ok(r.secrets.cliTokens > 0, "no CLI token collected");
    assert.ok(
      r.secrets.backupKeys > 0,
      "no backup repository key collected: the daemons of test/backup/ were not scanned",
    );
    assert.ok(r.podman.containers > 0, "no container's environment recorded");
    assert.ok(
      r.masked["orchestrator-driver"] > 0,
      "no line where a secret was masked: the output of an app that prints its secrets (test/orchestrator/hook-secrets.test.ts) was not scanned",
    );
  });

  test("no secret value in any log line or event", () => {
    const hits = scanned().hits.map((h) => `${h.file}:${h.line}: ${h.secret} (${h.form}): ${h.excerpt}`);
    assert.deepEqual(hits, [], `secret values leaked into ${hits.length} places`);
  });

  test("no secret value in the containers' environment beyond Podman's own env secrets before 5.3", () => {
    const { hits } = scanned().podman;
    const accepted = hits.filter((h) => h.accepted);
    if (accepted.length > 0)
      process.stdout.write(
        `# Podman ${scanned().podman.versions.join(", ")} shows ${accepted.length} env secrets in Config.Env (containers/podman#23788): ${[...new Set(accepted.map((h) => h.variable))].join(", ")}\n`,
      );
    const leaks = hits.filter((h) => !h.accepted).map((h) => `${h.container}: ${h.variable}: ${h.secret}`);
    assert.deepEqual(leaks, [], "secret values in podman inspect's Config.Env");
  });
});
