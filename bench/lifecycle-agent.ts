/**
 * The orchestrator side of the lifecycle benchmark (bench/lifecycle.bench.ts): the real
 * `Orchestrator` (store, lifecycle, reconciler, health monitor) over a given Podman service, run by
 * the benchmark as the user whose rootless Podman runs the containers — as the daemon runs. It takes
 * JSON-line commands on stdin and answers one JSON line each on stdout; the times it reports are
 * taken here, in the orchestrator's process, from the request to the phase reached (the event the
 * reconciler emits), so a pipe between the benchmark and this process adds nothing to them.
 *
 *   node bench/lifecycle-agent.ts --state DIR --data DIR --socket PATH
 *   stdin:  {"id":1,"op":"install","path":"/…/app","healthy":false}   → ms to phase running
 *           {"id":2,"op":"stop","app":"…"}                            → ms to phase stopped
 *           {"id":3,"op":"purge","app":"…"}                           → gone from the store
 *           {"id":4,"op":"install-many","paths":[…]}                  → every app running
 *           {"id":5,"op":"pass"}                                      → one reconcile pass, counted
 *           {"id":6,"op":"settle"} | {"id":7,"op":"exit"}
 *   stdout: {"ready":true} once the first pass is done, then {"reply":1,"ok":true,"result":…}
 *
 * Every Podman call the orchestrator makes is recorded (operation, start, duration) through the
 * client's call observer, and every action it performs through `beforeAction`: a timed request
 * reports where its time went.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";
import { loadManifest } from "../src/manifest/load.ts";
import type { ReconcilerEvent } from "../src/orchestrator/model.ts";
import { Orchestrator } from "../src/orchestrator/orchestrator.ts";
import type { Action } from "../src/orchestrator/planner.ts";
import { Store } from "../src/orchestrator/store.ts";
import { PodmanClient } from "../src/runtime/libpod/client.ts";
import { PodmanRuntime } from "../src/runtime/podman-runtime.ts";

const { values } = parseArgs({
  options: {
    state: { type: "string" },
    data: { type: "string" },
    socket: { type: "string" },
    "health-tick-ms": { type: "string" },
  },
});
if (!values.state || !values.data || !values.socket) {
  process.stderr.write("usage: lifecycle-agent.ts --state DIR --data DIR --socket PATH\n");
  process.exit(2);
}

const emit = (message: unknown) => process.stdout.write(`${JSON.stringify(message)}\n`);

/** One Podman call, in ms relative to the start of the request being timed. */
export type Call = { op: string; start: number; ms: number; outcome: string };
/** When the app reached each phase, in ms relative to the start of the request. */
export type PhaseMark = { phase: string; at: number };

type Recording = {
  t0: number;
  calls: Call[];
  /** Store methods called (outermost calls only), with the time spent in them. */
  store: Record<string, { calls: number; ms: number }>;
  phases: PhaseMark[];
  actions: Array<{ kind: string; at: number }>;
  events: number;
  /** Podman events received, by type, action and whose app. */
  eventKinds: Record<string, number>;
  appId: string | undefined;
};
let recording: Recording | undefined;

const client = new PodmanClient(values.socket, { timeoutMs: 60_000 });
client.observe((call) => {
  if (!recording) return;
  const end = performance.now() - recording.t0;
  recording.calls.push({
    op: call.operation,
    start: end - call.durationMs,
    ms: call.durationMs,
    outcome: call.outcome,
  });
});
// Podman events (hints to the reconciler) counted as they arrive: during a reconcile pass they are
// news from other users of the same Podman, and each one makes the next observation a new call.
const events = client.events.bind(client);
client.events = (options) =>
  events({
    ...options,
    onEvent: (event) => {
      if (recording) {
        recording.events++;
        // By kind, and whether the app is one of this orchestrator's (the store's own method, untimed).
        const appId = event.labels["io.archipelago.app"];
        const own =
          appId !== undefined && Store.prototype.getApp.call(orchestrator.store, appId) !== undefined;
        const key = `${event.type} ${event.action} (${own ? "own app" : appId ? "other app" : "no app"})`;
        recording.eventKinds[key] = (recording.eventKinds[key] ?? 0) + 1;
      }
      options.onEvent(event);
    },
  });

/** Waiters for app events: phase changes and removals. */
const waiters = new Set<(event: ReconcilerEvent) => void>();
const log = {
  info: () => {},
  warn: (m: string) => process.stderr.write(`agent warn: ${m}\n`),
  error: (m: string) => process.stderr.write(`agent error: ${m}\n`),
};
const runtime = new PodmanRuntime({ client, createWith: "podman" });
const orchestrator = new Orchestrator({
  stateDir: values.state,
  dataRoot: values.data,
  runtime,
  log,
  // No periodic resync while measuring: passes are started by the benchmark, one at a time.
  resyncMs: 3_600_000,
  ...(values["health-tick-ms"] ? { healthTickMs: Number(values["health-tick-ms"]) } : {}),
  onEvent: (event) => {
    if (recording && event.type === "app" && event.appId === recording.appId)
      recording.phases.push({ phase: event.phase, at: performance.now() - recording.t0 });
    for (const waiter of [...waiters]) waiter(event);
  },
  beforeAction: (action: Action) => {
    if (recording) recording.actions.push({ kind: action.kind, at: performance.now() - recording.t0 });
  },
});

// Every store method timed (synchronous SQLite work: reads, and writes that each commit and, with
// synchronous = FULL, wait for the disk); nested calls (inside a transaction) count in the outer one.
{
  const store = orchestrator.store as unknown as Record<string, unknown>;
  let depth = 0;
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(store))) {
    const original = store[name];
    if (name === "constructor" || typeof original !== "function") continue;
    store[name] = (...params: unknown[]) => {
      const started = performance.now();
      depth++;
      try {
        return (original as (...p: unknown[]) => unknown).apply(store, params);
      } finally {
        depth--;
        if (depth === 0 && recording) {
          const entry = recording.store[name] ?? { calls: 0, ms: 0 };
          recording.store[name] = entry;
          entry.calls++;
          entry.ms += performance.now() - started;
        }
      }
    };
  }
}

function record(appId: string | undefined): Recording {
  recording = {
    t0: performance.now(),
    calls: [],
    store: {},
    phases: [],
    actions: [],
    events: 0,
    eventKinds: {},
    appId,
  };
  return recording;
}

/** Resolves with the time (performance.now()) of the first event that passes `test`. */
function until(test: (event: ReconcilerEvent) => boolean, timeoutMs: number, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const waiter = (event: ReconcilerEvent) => {
      if (!test(event)) return;
      const at = performance.now();
      waiters.delete(waiter);
      clearTimeout(timer);
      resolve(at);
    };
    const timer = setTimeout(() => {
      waiters.delete(waiter);
      reject(new Error(`no ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    waiters.add(waiter);
  });
}

const failedOrPhase = (appId: string, phase: string) => (event: ReconcilerEvent) =>
  event.type === "app" && event.appId === appId && (event.phase === phase || event.phase === "failed");

function appReason(appId: string): string {
  const row = orchestrator.store.getApp(appId);
  return `${appId} is ${row?.phase ?? "not installed"}${row?.reason ? ` (${row.reason})` : ""}`;
}

/** Waits until the reconciler has nothing queued, twice, with a pause between (late Podman events). */
async function settle(pauseMs = 250): Promise<void> {
  await orchestrator.reconciler.idle();
  await new Promise((resolve) => setTimeout(resolve, pauseMs));
  await orchestrator.reconciler.idle();
}

async function install(path: string, healthy: boolean) {
  const rec = record(undefined);
  // The request: the manifest read and validated as package.install does, then the intent recorded.
  const loaded = await loadManifest(path);
  if (!loaded.ok) throw new Error(loaded.issues.map((i) => i.message).join("; "));
  const appId = loaded.manifest.id;
  rec.appId = appId;
  const running = until(failedOrPhase(appId, "running"), 120_000, `${appId} running`);
  const accepted = orchestrator.lifecycle.install({
    text: loaded.text,
    manifest: loaded.manifest,
    source: `local:${loaded.dir}`,
  });
  const acceptedAt = performance.now() - rec.t0;
  const runningAt = (await running) - rec.t0;
  let healthyAt: number | undefined;
  if (orchestrator.store.getApp(appId)?.phase !== "running") throw new Error(appReason(appId));
  if (healthy) {
    // The daemon's own probes: the first healthy verdict, as the store records it.
    const deadline = performance.now() + 60_000;
    for (;;) {
      const rows = orchestrator.store.listContainers(appId);
      if (rows.length > 0 && rows.every((r) => r.health === "healthy")) break;
      if (performance.now() > deadline) throw new Error(`${appId} not healthy within 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    healthyAt = performance.now() - rec.t0;
  }
  recording = undefined;
  // After the clock: the container really runs (Podman's own word, not the reconciler's).
  const name = orchestrator.store.listContainers(appId)[0]?.name ?? appId;
  const inspect = await client.containers.find(name);
  if (!inspect?.State.Running)
    throw new Error(`${appId} is running per the orchestrator, but ${name} is not`);
  return {
    appId,
    operationId: accepted.operationId,
    ms: runningAt,
    acceptedMs: acceptedAt,
    healthyMs: healthyAt,
    calls: rec.calls,
    phases: rec.phases,
    actions: rec.actions,
    events: rec.events,
    eventKinds: rec.eventKinds,
    store: rec.store,
  };
}

async function stop(appId: string) {
  const rec = record(appId);
  const stopped = until(failedOrPhase(appId, "stopped"), 120_000, `${appId} stopped`);
  orchestrator.lifecycle.stop(appId);
  const acceptedAt = performance.now() - rec.t0;
  const stoppedAt = (await stopped) - rec.t0;
  recording = undefined;
  if (orchestrator.store.getApp(appId)?.phase !== "stopped") throw new Error(appReason(appId));
  const name = orchestrator.store.listContainers(appId)[0]?.name ?? appId;
  const inspect = await client.containers.find(name);
  if (!inspect || inspect.State.Running)
    throw new Error(
      `${appId} is stopped per the orchestrator, but ${name} is ${inspect ? "running" : "gone"}`,
    );
  return {
    appId,
    ms: stoppedAt,
    acceptedMs: acceptedAt,
    calls: rec.calls,
    phases: rec.phases,
    actions: rec.actions,
    events: rec.events,
    eventKinds: rec.eventKinds,
    store: rec.store,
  };
}

async function purge(appId: string) {
  if (!orchestrator.store.getApp(appId)) return { appId };
  const gone = until((e) => e.type === "app-removed" && e.appId === appId, 120_000, `${appId} removed`);
  orchestrator.lifecycle.purge(appId);
  await gone;
  return { appId };
}

async function installMany(paths: string[]) {
  const started = performance.now();
  const ids: string[] = [];
  const waits: Promise<number>[] = [];
  for (const path of paths) {
    const loaded = await loadManifest(path);
    if (!loaded.ok) throw new Error(loaded.issues.map((i) => i.message).join("; "));
    const appId = loaded.manifest.id;
    ids.push(appId);
    waits.push(until(failedOrPhase(appId, "running"), 600_000, `${appId} running`));
    orchestrator.lifecycle.install({
      text: loaded.text,
      manifest: loaded.manifest,
      source: `local:${loaded.dir}`,
    });
  }
  await Promise.all(waits);
  const failed = ids.filter((id) => orchestrator.store.getApp(id)?.phase !== "running");
  if (failed.length > 0) throw new Error(`not running: ${failed.map(appReason).join("; ")}`);
  await settle();
  return { apps: ids.length, ms: performance.now() - started };
}

/** One reconcile pass over every installed app, as the periodic resync runs it. */
async function pass() {
  await settle(50);
  const apps = orchestrator.store.listApps();
  const notRunning = apps.filter((a) => a.phase !== "running" || a.desired !== "running");
  if (notRunning.length > 0)
    throw new Error(`not converged: ${notRunning.map((a) => appReason(a.id)).join("; ")}`);
  const rec = record(undefined);
  const writesBefore = orchestrator.store.writes;
  await orchestrator.reconciler.syncAll();
  const enqueuedAt = performance.now() - rec.t0;
  await orchestrator.reconciler.idle();
  const ms = performance.now() - rec.t0;
  recording = undefined;
  const changed = orchestrator.store.listApps().filter((a) => a.phase !== "running");
  return {
    apps: apps.length,
    ms,
    enqueuedMs: enqueuedAt,
    calls: rec.calls,
    actions: rec.actions,
    events: rec.events,
    eventKinds: rec.eventKinds,
    store: rec.store,
    writes: orchestrator.store.writes - writesBefore,
    changed: changed.map((a) => a.id),
  };
}

/**
 * What one committed write costs on the store's disk: autocommit UPDATEs on a scratch database
 * beside the store (WAL, as the store), with synchronous = FULL (the store's setting) and NORMAL.
 */
function sqliteProbe(writes: number) {
  const path = join(values.state as string, "probe.db");
  const out: Record<string, number> = {};
  for (const mode of ["FULL", "NORMAL"]) {
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${mode};`);
    db.exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, at INTEGER)");
    db.exec("INSERT OR IGNORE INTO t (id, at) VALUES (1, 0)");
    const update = db.prepare("UPDATE t SET at = ? WHERE id = 1");
    const started = performance.now();
    for (let i = 0; i < writes; i++) update.run(i);
    out[`msPerWrite${mode === "FULL" ? "Full" : "Normal"}`] = (performance.now() - started) / writes;
    db.close();
  }
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
  return out;
}

async function handle(command: { id: number; op: string; [key: string]: unknown }): Promise<unknown> {
  switch (command.op) {
    case "install":
      return install(command.path as string, command.healthy === true);
    case "stop":
      return stop(command.app as string);
    case "purge":
      return purge(command.app as string);
    case "install-many":
      return installMany(command.paths as string[]);
    case "pass":
      return pass();
    case "sqlite-probe":
      return sqliteProbe(Number(command.writes ?? 200));
    case "settle":
      await settle();
      return {};
    case "exit":
      await orchestrator.stop();
      await client.close();
      process.exit(0);
      return undefined;
    default:
      throw new Error(`unknown op ${command.op}`);
  }
}

orchestrator.start();
// The first pass (start() runs one at once) is over before the benchmark starts measuring.
await orchestrator.reconciler.syncAll();
await settle(100);
emit({ ready: true, pid: process.pid, uid: process.getuid?.() });

// One command at a time: the benchmark waits for each reply before it sends the next.
let chain: Promise<unknown> = Promise.resolve();
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const command = JSON.parse(line) as { id: number; op: string };
  chain = chain.then(() =>
    handle(command).then(
      (result) => emit({ reply: command.id, ok: true, result }),
      (error) => emit({ reply: command.id, ok: false, error: (error as Error).stack ?? String(error) }),
    ),
  );
}
// stdin closed: the benchmark is gone; do not linger.
await chain;
await orchestrator.stop().catch(() => {});
await client.close().catch(() => {});
process.exit(0);
