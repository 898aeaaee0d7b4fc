import assert from "node:assert/strict";
import { test } from "node:test";
import type { AppView } from "../client.ts";
import { describeApp } from "./status.ts";

const APP: AppView = {
  id: "wiki",
  name: "Wiki",
  version: "1.0.0",
  description: "",
  category: "other",
  icon: null,
  source: "local:/apps/wiki",
  publisher: null,
  desired: "running",
  phase: "running",
  reason: null,
  observedAt: 0,
  observedAgeMs: 0,
  containers: [],
  interfaces: [],
  memoryLimits: [],
  permissions: [],
  warnings: [],
  localOverride: false,
  flags: [],
  alerts: [],
};

test("status shows each memory limit, and says when this node does not enforce it", () => {
  const text = describeApp(
    {
      ...APP,
      memoryLimits: [
        {
          container: "db",
          bytes: 256 * 1024 ** 2,
          enforced: false,
          why: "rootless Podman on cgroup v1 ignores resource limits",
        },
        { container: "web", bytes: 1024 ** 3, enforced: true, why: null },
      ],
    },
    undefined,
    0,
  );
  assert.match(
    text,
    /^ {2}memory db: 256m \(limit not enforced: rootless Podman on cgroup v1 ignores resource limits\)$/m,
  );
  assert.match(text, /^ {2}memory web: 1g$/m);
});

test("status shows the app's alerts, each with its words", () => {
  const text = describeApp(
    {
      ...APP,
      alerts: [
        {
          kind: "backup-failed",
          target: "usb",
          appId: "wiki",
          since: 0,
          message: "the last backup to usb failed (2026-12-07T03:00:00Z): target usb: no such file",
        },
      ],
    },
    [],
    0,
  );
  assert.match(text, /^ {2}ALERT: {5}the last backup to usb failed .*no such file$/m);
});

test("status shows how many times each container started again", () => {
  const container = {
    name: "wiki-web",
    containerId: "0123456789ab",
    health: "healthy",
    exitCode: 0,
    backend: "podman",
    observedAt: 0,
    job: false,
  };
  const text = describeApp(
    {
      ...APP,
      containers: [
        { ...container, key: "db", state: "running", startedAt: 0, restarts: 0 },
        { ...container, key: "web", state: "running", startedAt: 0, restarts: 3 },
      ],
    },
    [],
    0,
  );
  assert.match(text, /^ {2}KEY +NAME +STATE +HEALTH +STARTED +RESTARTS +EXIT$/m);
  assert.match(text, /^ {2}db +wiki-web +running +healthy +\S.* +0 +-$/m);
  assert.match(text, /^ {2}web +wiki-web +running +healthy +\S.* +3 +-$/m);
});
