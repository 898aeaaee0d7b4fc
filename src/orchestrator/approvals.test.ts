/**
 * Approvals: what counts as approved (name and content), and the upgrade of a store whose apps were
 * installed before the operator approved permissions (real SQLite, a real migration from the
 * schema before approvals).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { rewindStore } from "../../test/support/earlier-store.ts";
import { parseManifest } from "../manifest/parse.ts";
import { requestedPermissions } from "../manifest/permissions.ts";
import { decideApprovals, unapproved } from "./approvals.ts";
import { manifestHash } from "./manifest-cache.ts";
import { Orchestrator } from "./orchestrator.ts";
import { Store } from "./store.ts";

const root = mkdtempSync(join(tmpdir(), "archy-approvals-test-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

const TEXT = `manifest: 1
id: radio
version: 1.0.0
name: Radio
description: Talks to a radio
containers:
  web:
    image: localhost/archy-test/busybox:1
    devices: [{ permission: stick }]
    capabilities: [NET_ADMIN]
    volumes: [{ host_path: /srv/radio, permission: archive, path: /archive, read_only: true }]
permissions:
  stick: { kind: device, path: /dev/ttyUSB0, reason: The radio }
  vpn: { kind: capability, capability: NET_ADMIN, reason: Its tunnel }
  archive: { kind: host-path, path: /srv/radio, reason: Old recordings }
`;

function parsed(text = TEXT) {
  const result = parseManifest(text, "radio.yml");
  assert.ok(result.ok, JSON.stringify(result.ok ? [] : result.issues));
  return result.manifest;
}

describe("approvals: by name and content", () => {
  test("every named permission is requested, in plain words, whatever its kind", () => {
    assert.deepEqual(
      requestedPermissions(parsed()).map((p) => [p.name, p.content, p.description]),
      [
        ["archive", "host-path /srv/radio", "read the host directory /srv/radio and everything in it"],
        ["stick", "device /dev/ttyUSB0", "use the host device /dev/ttyUSB0"],
        ["vpn", "capability NET_ADMIN", "hold the elevated Linux capability NET_ADMIN"],
      ],
    );
  });

  test("an approval of a name with other content approves nothing: the manifest changed what it means", () => {
    const requested = requestedPermissions(parsed());
    const old = [
      { name: "archive", content: "host-path /srv/radio" },
      { name: "stick", content: "device /dev/ttyUSB1" },
      { name: "vpn", content: "capability NET_ADMIN" },
    ];
    assert.deepEqual(
      unapproved(requested, old).map((p) => p.content),
      ["device /dev/ttyUSB0"],
    );
    const decision = decideApprovals("radio", requested, old, []);
    assert.equal(decision.ok, false);
    const fixed = decideApprovals("radio", requested, old, [
      { name: "stick", content: "device /dev/ttyUSB0" },
    ]);
    assert.deepEqual(fixed, { ok: true, record: [{ name: "stick", content: "device /dev/ttyUSB0" }] });
  });
});

/** A store as the daemon before approvals left it (schema 5), with `radio` installed and running. */
function storeBeforeApprovals(): string {
  const stateDir = join(root, `case-${++n}`, "state");
  const store = new Store(join(stateDir, "store.db"));
  store.recordIntent(
    {
      appId: "radio",
      operation: { id: "op-install", kind: "install" },
      desired: "running",
      phase: "installing",
      manifest: { text: TEXT, hash: manifestHash(TEXT), version: "1.0.0", source: "local:/apps/radio" },
    },
    1_000,
  );
  store.setOperationState("op-install", "succeeded", 2_000);
  store.close();
  rewindStore(join(stateDir, "store.db"), 6); // before approvals
  return stateDir;
}

function orchestrator(stateDir: string, logs: string[]) {
  return new Orchestrator({
    stateDir,
    dataRoot: join(stateDir, ".."),
    clock: () => 5_000,
    log: { info: (m) => logs.push(m), warn: (m) => logs.push(m), error: (m) => logs.push(m) },
  });
}

describe("approvals: the upgrade keeps installed apps working", () => {
  test("at the first start, what installed apps were granted is recorded as approved, in both logs, once", async () => {
    const stateDir = storeBeforeApprovals();
    const logs: string[] = [];
    const first = orchestrator(stateDir, logs);
    const approvals = first.store.approvals("radio");
    assert.deepEqual(
      approvals.map((a) => [a.name, a.content, a.approvedBy, a.approvedAt]),
      [
        ["archive", "host-path /srv/radio", "upgrade", 5_000],
        ["stick", "device /dev/ttyUSB0", "upgrade", 5_000],
        ["vpn", "capability NET_ADMIN", "upgrade", 5_000],
      ],
    );
    assert.equal(unapproved(requestedPermissions(parsed()), approvals).length, 0, "nothing holds the app");
    const line = logs.find((l) => l.startsWith("radio: permissions recorded as approved at the upgrade"));
    assert.ok(line, `the daemon log says so: ${JSON.stringify(logs)}`);
    assert.match(line, /archive \(host-path \/srv\/radio\).*stick \(device \/dev\/ttyUSB0\).*vpn/);
    const [latest] = first.store.listOperations("radio", 1);
    assert.deepEqual([latest?.kind, latest?.state], ["approve", "succeeded"]);
    const [logLine] = first.store.operationLogs(latest?.id ?? "");
    assert.match(logLine?.message ?? "", /^recorded as approved at the upgrade.*archy revoke radio NAME/);
    await first.stop();

    // A revoke after the upgrade sticks: the next start records nothing again.
    const store = new Store(join(stateDir, "store.db"));
    store.recordIntent(
      {
        appId: "radio",
        operation: { id: "op-revoke", kind: "revoke" },
        desired: "running",
        phase: "stopping",
        revoke: "vpn",
      },
      6_000,
    );
    store.close();
    const again: string[] = [];
    const second = orchestrator(stateDir, again);
    assert.deepEqual(
      second.store.approvals("radio").map((a) => a.name),
      ["archive", "stick"],
    );
    assert.equal(again.length, 0);
    await second.stop();
  });

  test("a new store, or apps installed once approvals exist, get nothing approved for them", async () => {
    const stateDir = join(root, `case-${++n}`, "state");
    const logs: string[] = [];
    const first = orchestrator(stateDir, logs);
    first.store.recordIntent(
      {
        appId: "radio",
        operation: { id: "op-install", kind: "install" },
        desired: "running",
        phase: "installing",
        manifest: { text: TEXT, hash: manifestHash(TEXT), version: "1.0.0", source: "local:/apps/radio" },
      },
      1_000,
    );
    await first.stop();
    const second = orchestrator(stateDir, logs);
    assert.deepEqual(second.store.approvals("radio"), []);
    assert.deepEqual(logs, []);
    await second.stop();
  });
});
