/**
 * The step runner against fakes of the daemon's API, its process and Podman: how a node step
 * (daemon-restart, one action for every app) times and judges each app's cell.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fakePodmanClient } from "../../test/support/fake-podman-client.ts";
import type { DaemonClient } from "../cli/client.ts";
import { LABELS, OWNER } from "../manifest/naming.ts";
import type { Manifest } from "../manifest/schema.ts";
import type { ContainerSummary } from "../runtime/libpod/containers.ts";
import type { AppData } from "./app-data.ts";
import type { DaemonControl } from "./daemon-process.ts";
import type { GateApp } from "./gate-app.ts";
import { type GatePlan, STEPS, type StepId } from "./matrix.ts";
import type { GatePodman } from "./podman-service.ts";
import { Runner } from "./runner.ts";

type FakeApp = { id: string; running: boolean; limitMs: number };

/**
 * Podman showing one container per app, and a daemon that, once restarted, answers `bootMs` after
 * it started, looks at every app as it boots (before it answers) and again only at its periodic
 * resync, `resyncMs` after it started (an app whose health nothing changes is not looked at sooner).
 */
function fakes(apps: FakeApp[], { bootMs, resyncMs }: { bootMs: number; resyncMs: number }) {
  let bootedAt: number | undefined;
  const started = Date.now() - 60_000;
  const client = {
    async call(method: string, params: { id: string }) {
      const app = apps.find((a) => a.id === params.id);
      if (method !== "package.get" || !app) throw new Error(`${method}: not in this fake`);
      const observedAt =
        bootedAt === undefined
          ? started
          : Date.now() >= bootedAt + resyncMs
            ? bootedAt + resyncMs
            : bootedAt + 5;
      return {
        phase: app.running ? "running" : "failed",
        desired: "running",
        reason: app.running ? null : "it never started",
        observedAt,
        containers: [
          {
            key: "main",
            containerId: `${app.id}-c`,
            state: app.running ? "running" : "exited",
            health: "healthy",
          },
        ],
      };
    },
  } as unknown as DaemonClient;
  const summary = (app: FakeApp): ContainerSummary => ({
    Id: `${app.id}-c`,
    Names: [app.id],
    Image: "localhost/test:1",
    State: app.running ? "running" : "exited",
    Labels: { [LABELS.owner]: OWNER, [LABELS.app]: app.id, [LABELS.container]: "main" },
    Created: new Date(started).toISOString(),
    StartedAt: Math.floor(started / 1000),
    Exited: !app.running,
    ExitedAt: app.running ? 0 : Math.floor(started / 1000),
    ExitCode: 0,
    Pid: 1,
  });
  const podman: GatePodman = {
    socketPath: "/fake/podman.sock",
    restartUnavailable: undefined,
    client: fakePodmanClient({
      containers: {
        list: async () => apps.map(summary),
        listByName: async () => [],
        find: async (id: string) => {
          const app = apps.find((a) => `${a.id}-c` === id);
          if (!app) return undefined;
          return {
            Id: id,
            Name: app.id,
            Created: new Date(started).toISOString(),
            State: {
              Status: app.running ? "running" : "exited",
              Running: app.running,
              ExitCode: 0,
              StartedAt: new Date(started).toISOString(),
              FinishedAt: "",
              Pid: app.running ? 1 : 0,
            },
            Config: { Labels: {} },
            HostConfig: {},
          };
        },
      },
    }),
    restart: async () => ({ downMs: 0 }),
    close: async () => {},
  };
  const daemon: DaemonControl = {
    url: "http://127.0.0.1:1",
    tokenFile: "/fake/token",
    restartHow: "a fake restart",
    restartUnavailable: undefined,
    crashUnavailable: undefined,
    restart: async () => {
      bootedAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, bootMs));
      return { downMs: bootMs, bootedAt };
    },
    crash: async () => ({ downMs: 0, bootedAt: Date.now() }),
    logTail: () => [],
    close: async () => {},
  };
  const data = {
    secrets: async () => ({ digests: {}, values: [] }),
  } as unknown as AppData;
  return { client, podman, daemon, data };
}

function gateApp(app: FakeApp): GateApp {
  const timeouts = Object.fromEntries(STEPS.map((s) => [s, app.limitMs])) as Record<StepId, number>;
  return {
    id: app.id,
    installedAs: app.id,
    manifest: {} as Manifest,
    keys: ["main"],
    volumes: [],
    targets: [],
    timeouts,
  };
}

/** `phases` judged daemon-restart phases over `apps`, in that order. */
function daemonRestartPlan(apps: FakeApp[], phases = 1): GatePlan {
  const phase = {
    step: "daemon-restart" as const,
    judged: true,
    order: apps.map((a) => a.id),
    skipped: {},
    before: Object.fromEntries(apps.map((a) => [a.id, "running" as const])),
  };
  return {
    steps: ["daemon-restart"],
    apps: apps.map((a) => a.id),
    iterations: [{ iteration: 1, phases: Array.from({ length: phases }, () => ({ ...phase })) }],
    teardown: [],
  };
}

async function runDaemonRestart(
  apps: FakeApp[],
  daemonTiming: { bootMs: number; resyncMs: number },
  { phases = 1, stopAtFailure = false } = {},
) {
  const { client, podman, daemon, data } = fakes(apps, daemonTiming);
  const runner = new Runner({
    client,
    podman,
    daemon,
    data,
    apps: new Map(apps.map((a) => [a.id, gateApp(a)])),
    plan: daemonRestartPlan(apps, phases),
    faults: [],
    settleMs: 50,
    progress: () => {},
    keep: true,
    stopAtFailure,
  });
  return (await runner.run()).cells;
}

test("stopAtFailure (app test): an app's cells after its first failure are skipped, saying which failed; other apps go on", async () => {
  const apps: FakeApp[] = [
    { id: "broken", running: false, limitMs: 300 },
    { id: "fine", running: true, limitMs: 5_000 },
  ];
  const timing = { bootMs: 50, resyncMs: 100 };
  const stopped = await runDaemonRestart(apps, timing, { phases: 2, stopAtFailure: true });
  const of = (cells: typeof stopped, app: string) => cells.filter((c) => c.app === app).map((c) => c.status);
  assert.deepEqual(of(stopped, "broken"), ["fail", "skip"]);
  assert.equal(stopped.filter((c) => c.app === "broken")[1]?.reason, "not run: daemon-restart failed first");
  assert.deepEqual(of(stopped, "fine"), ["pass", "pass"]);
  // Without it (archy gate), every cell of the broken app is judged: it fails each.
  const judged = await runDaemonRestart(apps, timing, { phases: 2 });
  assert.deepEqual(of(judged, "broken"), ["fail", "fail"]);
});

test("daemon restart: an app that is not running does not use up the time of the apps that are", async () => {
  // `broken` comes first and never runs; `fine` runs. The broken app's wait before the restart
  // (its whole limit) is not the fine app's: its cell is timed from the restart and passes. Were it
  // timed from the broken app's wait, it would be past its own, shorter limit: it would fail.
  const apps: FakeApp[] = [
    { id: "broken", running: false, limitMs: 10_000 },
    { id: "fine", running: true, limitMs: 5_000 },
  ];
  const cells = await runDaemonRestart(apps, { bootMs: 100, resyncMs: 300 });
  const broken = cells.find((c) => c.app === "broken");
  const fine = cells.find((c) => c.app === "fine");
  assert.equal(broken?.status, "fail");
  assert.match(broken?.reason ?? "", /not running and reachable before the daemon restart/);
  assert.equal(
    fine?.status,
    "pass",
    `the fine app's cell is timed from the restart: ${fine?.reason}: ${fine?.evidence?.observed}`,
  );
});

test("daemon restart: what the new daemon observed as it booted, before it answered, counts", async () => {
  // The daemon looks at the app as it boots and then not for a minute (its resync): an app whose
  // state and health nothing changes (a worker without a health check). The cell's limit ends
  // before that resync: it passes only on what the daemon observed as it booted.
  const apps: FakeApp[] = [{ id: "quiet", running: true, limitMs: 30_000 }];
  const cells = await runDaemonRestart(apps, { bootMs: 100, resyncMs: 60_000 });
  const quiet = cells.find((c) => c.app === "quiet");
  assert.equal(
    quiet?.status,
    "pass",
    `observed at boot, not only at the next resync: ${quiet?.reason}: ${quiet?.evidence?.observed}`,
  );
});
