/**
 * The reconciler over a fake runtime (an in-memory Podman with a call counter, fault injection and
 * simulated crashes) and a real store: convergence, one Podman call per pass, backoff to `failed`,
 * terminal errors, retry, the sacred stop, crash resume, adoption and dependencies.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, afterEach, describe, test } from "node:test";
import { FakeRuntime } from "../../test/support/fake-runtime.ts";
import { parseManifest } from "../manifest/parse.ts";
import { podmanPlan } from "../render/podman-spec.ts";
import type { ObservedContainer } from "../runtime/observed.ts";
import { RuntimeError } from "../runtime/runtime.ts";
import { approvalOfAll, NotApprovedError } from "./approvals.ts";
import type { BackoffPolicy } from "./backoff.ts";
import { appDataDir, Executor } from "./executor.ts";
import type { AppPackage } from "./hooks.ts";
import { HostPathError, HostPathGuard } from "./host-path-guard.ts";
import { Lifecycle, type LifecycleError, type SourcedManifest } from "./lifecycle.ts";
import { ManifestCache, manifestHash } from "./manifest-cache.ts";
import type { Note, ReconcilerEvent } from "./model.ts";
import { clashingNames, InstalledNames } from "./name-clashes.ts";
import type { Health } from "./planner.ts";
import { Reconciler } from "./reconciler.ts";
import { SecretFiles } from "./secrets.ts";
import { DataSnapshots, type Snapshots } from "./snapshots.ts";
import { Store } from "./store.ts";

describe("reconciler: pre_start under Quadlet", () => {
  test("Quadlet containers get the copies once they run again: their unit makes a new container at every start", async () => {
    const w = setup();
    w.install("alpha", { preStart: "/data/seed.txt", data: true });
    await w.settle();
    // From here on the container runs from a Quadlet unit (as a daemon with that backend makes it).
    Object.assign(w.runtime.of("alpha")[0] as ObservedContainer, {
      backend: "quadlet",
      unit: "alpha.service",
    });
    for (const [request, acted] of [
      [() => w.lifecycle.restart("alpha"), "restart"],
      [
        async () => {
          w.lifecycle.stop("alpha");
          await w.settle();
          w.lifecycle.start("alpha");
        },
        "start",
      ],
    ] as const) {
      const mark = w.runtime.calls.length;
      await request();
      await w.settle();
      const calls = w.runtime.calls.slice(mark);
      assert.ok(calls.includes("copy into /data"), `${acted}: no copy (${calls.join(", ")})`);
      assert.ok(
        calls.lastIndexOf(acted) < calls.indexOf("copy into /data"),
        `${acted}: copied before the unit ran the container (${calls.join(", ")})`,
      );
    }
    assert.ok(
      w.logs.some((l) => /the pre_start hook waits until web runs again from its Quadlet unit/.test(l)),
    );
    runningOnce(w.runtime, "alpha");
  });
});

// ---- manifests

type AppOptions = {
  version?: string;
  dependencies?: Array<{ id: string; state?: "installed" | "running" | "healthy" }>;
  data?: boolean;
  secret?: boolean;
  stack?: boolean;
  adopt?: string;
  env?: string;
  /** The web container's image (default nginx:1.27). */
  image?: string;
  /** A tcp health check on the web container (interval 1 s, timeout 500 ms, 3 retries, start 1 s). */
  health?: boolean;
  /** A post_install hook running this shell command in the web container. */
  postInstall?: string;
  /** A post_update hook running this shell command in the web container. */
  postUpdate?: string;
  /** A pre_uninstall hook running this shell command in the web container. */
  preUninstall?: string;
  /** A pre_start hook copying the package's files/seed.txt to this path in the web container. */
  preStart?: string;
  /** A device on the web container, granted by a `radio` permission naming this host device. */
  device?: string;
  /** The web container's memory limit (`256m`). */
  memory?: string;
};

function manifestText(id: string, o: AppOptions = {}): string {
  const lines = [
    "manifest: 1",
    `id: ${id}`,
    `version: ${o.version ?? "1.0.0"}`,
    `name: ${id}`,
    "description: A test app",
    "containers:",
  ];
  if (o.stack)
    lines.push(
      "  cache:",
      "    image: docker.io/library/redis:7",
      "  db:",
      "    image: docker.io/library/postgres:16",
      "    ports:",
      "      - container: 5432",
      "    health:",
      "      type: tcp",
      "      port: 5432",
      "  web:",
      "    image: docker.io/library/nginx:1.27",
      "    depends_on:",
      "      db: healthy",
      "      cache: started",
    );
  else {
    lines.push("  web:", `    image: ${o.image ?? "docker.io/library/nginx:1.27"}`);
    if (o.data) lines.push("    volumes:", "      - name: data", "        path: /data");
    if (o.health)
      lines.push(
        "    ports:",
        "      - container: 80",
        "    health:",
        "      type: tcp",
        "      port: 80",
        "      interval: 1s",
        "      timeout: 500ms",
        "      retries: 3",
        "      start_period: 1s",
      );
    if (o.device) lines.push("    devices: [{ permission: radio }]");
    if (o.memory) lines.push(`    memory: ${o.memory}`);
    if (o.secret || o.env) lines.push("    environment:");
    if (o.secret) lines.push("      TOKEN:", "        secret: token");
    if (o.env) lines.push(`      NOTE: ${o.env}`);
  }
  if (o.secret) lines.push("secrets:", "  token:", "    type: hex", "    length: 32");
  if (o.dependencies?.length)
    lines.push(
      "dependencies:",
      ...o.dependencies.flatMap((d) => [`  - id: ${d.id}`, `    state: ${d.state ?? "running"}`]),
    );
  if (o.adopt) lines.push("adoption:", "  containers:", `    web: [${o.adopt}]`);
  if (o.device)
    lines.push("permissions:", `  radio: { kind: device, path: ${o.device}, reason: Talks to the radio }`);
  const hooks = Object.entries({
    post_install: o.postInstall,
    post_update: o.postUpdate,
    pre_uninstall: o.preUninstall,
  });
  if (o.preStart || hooks.some(([, command]) => command)) lines.push("hooks:");
  if (o.preStart)
    lines.push(
      "  pre_start:",
      `    - copy_from_host: { from: files/seed.txt, container: web, to: ${o.preStart} }`,
    );
  for (const [hook, command] of hooks)
    if (command)
      lines.push(
        `  ${hook}:`,
        "    - exec:",
        "        container: web",
        `        command: [/bin/sh, -c, ${JSON.stringify(command)}]`,
      );
  return `${lines.join("\n")}\n`;
}

// ---- the world under test

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

const BACKOFF: BackoffPolicy = { baseMs: 10_000, factor: 2, maxMs: 600_000, jitter: 0.2, maxAttempts: 4 };
const reconcilers: Reconciler[] = [];
afterEach(() => {
  // Clears every reconciler's timers (synchronously, first thing in stop()); a "crashed" one never
  // becomes idle, so its stop is not awaited.
  for (const r of reconcilers.splice(0)) void r.stop();
});

function setup(
  options: {
    random?: () => number;
    backoff?: BackoffPolicy;
    snapshots?: (dataRoot: string) => Snapshots;
    /** The package's check of what hooks copy from it (a catalog app's; none by default). */
    verifyCopy?: AppPackage["verifyCopy"];
    hostPaths?: HostPathGuard;
  } = {},
) {
  // Memory-backed when the host has it: these tests are about the reconciler, not about fsync (the
  // store's own tests run on disk), and 100 apps make thousands of synchronous commits.
  const dir = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "archy-reconciler-test-"));
  roots.push(dir);
  let now = 1_700_000_000_123;
  const clock = () => now;
  const store = new Store(join(dir, "state", "store.db"));
  const manifests = new ManifestCache();
  const names = new InstalledNames(store, manifests);
  const runtime = new FakeRuntime(clock);
  const secrets = new SecretFiles(join(dir, "state", "secrets"));
  const dataRoot = join(dir, "data");
  const health = new Map<string, Health>();
  /** Health by container (e.g. by its image, to tell versions apart); undefined falls back to `health`. */
  let healthOf: (appId: string, key: string, c: ObservedContainer) => Health | undefined = () => undefined;
  const snapshots = options.snapshots?.(dataRoot) ?? new DataSnapshots({ dataRoot, userNamespace: false });
  const events: ReconcilerEvent[] = [];
  const listeners: Array<(event: ReconcilerEvent) => void> = [];
  const logs: string[] = [];
  const log = {
    info: (m: string) => logs.push(`info ${m}`),
    warn: (m: string) => logs.push(`warn ${m}`),
    error: (m: string) => logs.push(`error ${m}`),
  };
  // Every app's package: the files its hooks copy.
  const packageDir = join(dir, "package");
  mkdirSync(join(packageDir, "files"), { recursive: true });
  writeFileSync(join(packageDir, "files", "seed.txt"), "seed\n");
  const hostPaths =
    options.hostPaths ??
    new HostPathGuard({ protectedDirs: () => [{ path: dir, what: "the test's directory" }] });
  const newReconciler = () => {
    const reconciler = new Reconciler({
      store,
      manifests,
      runtime,
      executor: new Executor({
        runtime,
        secrets,
        dataRoot,
        hostPaths,
        approvals: (appId) => store.approvals(appId),
        sharedNames: (appId) => {
          const app = store.getApp(appId);
          return app ? clashingNames(names.clashesOf(app)) : new Set();
        },
      }),
      names,
      dataRoot,
      hostPaths,
      packageOf: () => ({ dir: packageDir, verifyCopy: options.verifyCopy }),
      health: {
        healthOf: (appId, key, c) =>
          c?.state === "running"
            ? (healthOf(appId, key, c) ?? health.get(`${appId}/${key}`) ?? "healthy")
            : "unknown",
        detail: (_appId, _key, c) => (c?.state === "running" ? "probe: connection refused" : undefined),
      },
      snapshots,
      log,
      clock,
      random: options.random ?? (() => 0.5),
      backoff: options.backoff ?? BACKOFF,
      onEvent: (e) => {
        events.push(e);
        for (const listener of listeners) listener(e);
      },
    });
    reconcilers.push(reconciler);
    return reconciler;
  };
  const world = {
    dir,
    store,
    runtime,
    secrets,
    dataRoot,
    health,
    setHealth: (fn: typeof healthOf) => {
      healthOf = fn;
    },
    snapshots,
    events,
    listeners,
    logs,
    reconciler: newReconciler(),
    lifecycle: undefined as unknown as Lifecycle,
    clock,
    advance: (ms: number) => {
      now += ms;
    },
    /** A daemon restart: a new reconciler over the same store and the same Podman. */
    restart: () => {
      world.reconciler = newReconciler();
      return world.reconciler;
    },
    /** Installs `id`, the operator approving every permission it asks for. */
    install: (id: string, o: AppOptions = {}) => {
      const app = sourced(id, o);
      return world.lifecycle.install(app, { approve: approvalOfAll(app.manifest) });
    },
    /** Lets the queue run until nothing is left to do. */
    settle: async () => {
      await world.reconciler.idle();
    },
    app: (id: string) => store.getApp(id),
    op: (id: string) => store.getOperation(id),
  };
  world.lifecycle = new Lifecycle({ store, manifests, clock, wake: (id) => world.reconciler.enqueue(id) });
  return world;
}

function sourced(id: string, o: AppOptions = {}): SourcedManifest {
  const text = manifestText(id, o);
  const parsed = parseManifest(text, `${id}.yml`);
  assert.ok(parsed.ok, JSON.stringify(parsed.ok ? [] : parsed.issues));
  return { text, manifest: parsed.manifest, source: "test" };
}

function runningOnce(runtime: FakeRuntime, appId: string, keys = ["web"]): void {
  const mine = runtime.of(appId);
  assert.deepEqual(
    mine.map((c) => c.key).sort(),
    [...keys].sort(),
    `one container per key: ${JSON.stringify(mine)}`,
  );
  for (const c of mine) assert.equal(c.state, "running", `${c.name} runs`);
}

// ---- tests

describe("reconciler: convergence", () => {
  test("install converges: prepared, created, started; the operation succeeds", async () => {
    const w = setup();
    const op = w.install("alpha", { data: true, secret: true });
    await w.settle();
    runningOnce(w.runtime, "alpha");
    const app = w.app("alpha");
    assert.deepEqual(
      [app?.phase, app?.reason, app?.observedGeneration, app?.attempts],
      ["running", undefined, 1, 0],
    );
    assert.equal(w.op(op.operationId)?.state, "succeeded");
    assert.ok(w.runtime.networks.has("archy-alpha"));
    assert.ok(w.runtime.volumes.has("archy-alpha_data"));
    assert.ok(existsSync(join(appDataDir(w.dataRoot, "alpha"), "volumes", "data")));
    const token = await w.secrets.read("alpha", "token");
    assert.match(token ?? "", /^[0-9a-f]{32}$/);
    assert.equal(w.runtime.secrets.get("archy-alpha_token"), token);
    // The last observation is in the store, and the journal tells the story without the secret.
    assert.deepEqual(
      w.store.listContainers("alpha").map((c) => [c.key, c.state]),
      [["web", "running"]],
    );
    const lines = w.store.operationLogs(op.operationId).map((l) => l.message);
    assert.ok(lines.some((l) => l.includes("generated secret token")));
    assert.ok(!lines.some((l) => l.includes(token as string)), "no secret value in the journal");
    assert.ok(!w.logs.some((l) => l.includes(token as string)), "no secret value in the log");
    assert.deepEqual(
      w.events.filter((e) => e.type === "operation").map((e) => (e as { state: string }).state),
      ["running", "succeeded"],
    );
  });

  test("install says per container that a memory limit is not enforced where Podman cannot enforce it", async () => {
    const w = setup();
    w.runtime.memoryLimits = { enforced: false, why: "rootless Podman on cgroup v1 ignores resource limits" };
    const op = w.install("alpha", { memory: "256m" });
    await w.settle();
    assert.equal(w.op(op.operationId)?.state, "succeeded");
    const warnings = w.store
      .operationLogs(op.operationId)
      .filter((l) => l.level === "warn")
      .map((l) => l.message);
    assert.deepEqual(warnings, [
      "the memory limit of alpha/web (256m) is not enforced on this host: rootless Podman on cgroup v1 ignores resource limits",
    ]);
    const enforced = setup();
    const quiet = enforced.install("alpha", { memory: "256m" });
    await enforced.settle();
    assert.deepEqual(
      enforced.store.operationLogs(quiet.operationId).filter((l) => l.level === "warn"),
      [],
    );
  });

  test("a stack starts in depends_on order and waits for health", async () => {
    const w = setup();
    w.health.set("alpha/db", "starting");
    w.install("alpha", { stack: true });
    await w.settle();
    assert.deepEqual(w.runtime.starts, ["alpha--cache", "alpha--db"]);
    assert.equal(w.app("alpha")?.phase, "starting");
    // The reason reads as a sentence: "waiting: web waits for db…", not "waiting for web waits for db…".
    assert.match(w.app("alpha")?.reason ?? "", /^waiting: web waits for db to be healthy/);
    w.health.set("alpha/db", "healthy");
    w.reconciler.enqueue("alpha");
    await w.settle();
    assert.deepEqual(w.runtime.starts, ["alpha--cache", "alpha--db", "alpha--web"]);
    runningOnce(w.runtime, "alpha", ["cache", "db", "web"]);
    assert.equal(w.app("alpha")?.phase, "running");
  });

  test("one pass over 100 installed, converged apps makes exactly one Podman call", async () => {
    const w = setup();
    for (let i = 0; i < 100; i++) w.install(`app-${i}`);
    await w.settle();
    for (let i = 0; i < 100; i++) {
      assert.equal(w.app(`app-${i}`)?.phase, "running", `app-${i}: ${w.app(`app-${i}`)?.reason}`);
      runningOnce(w.runtime, `app-${i}`);
    }
    for (let pass = 0; pass < 3; pass++) {
      w.advance(30_000);
      w.runtime.calls = [];
      await w.reconciler.syncAll();
      await w.settle();
      // The work is bounded by the calls; the time a pass takes is the lifecycle benchmark's
      // (bench/lifecycle.bench.ts), not a unit test's: it measures the machine.
      assert.deepEqual(w.runtime.calls, ["observe"], `pass ${pass}: ${w.runtime.calls.join(", ")}`);
    }
    // The stored observation is confirmed, not rewritten.
    assert.ok(w.store.listContainers().every((c) => c.observedAt === w.clock()));
  });

  test("passes over converged apps write nothing to the store; when they were last seen is written once a minute", async () => {
    const w = setup();
    for (let i = 0; i < 20; i++) w.install(`app-${i}`);
    await w.settle();
    const writesPerPass: number[] = [];
    // A pass every 10 s, as the daemon's resync runs them, for two minutes.
    for (let pass = 0; pass < 12; pass++) {
      w.advance(10_000);
      const before = w.store.writes;
      await w.reconciler.syncAll();
      await w.settle();
      writesPerPass.push(w.store.writes - before);
      assert.ok(
        w.store.listContainers().every((c) => c.observedAt === w.clock()),
        `pass ${pass}: observedAt`,
      );
    }
    // Statements that write, per pass: none, but for the last-seen times of all 20 apps, in one
    // statement, in the first pass a minute after the first time kept in memory only.
    const flushes = writesPerPass.flatMap((writes, pass) => (writes > 0 ? [pass] : []));
    assert.ok(
      writesPerPass.every((writes) => writes <= 1),
      `writes per pass: ${writesPerPass}`,
    );
    assert.ok(flushes.length >= 1 && flushes.length <= 2, `writes per pass: ${writesPerPass}`);
    assert.ok(
      flushes.every((pass, i) => i === 0 || pass - (flushes[i - 1] as number) >= 6),
      `a minute between flushes: ${writesPerPass}`,
    );
    assert.ok(w.store.listApps().every((a) => a.phase === "running"));
  });

  test("concurrent workers never act on a list taken before their own last action (no double create)", async () => {
    const w = setup();
    w.runtime.observeLatencyMs = 3;
    for (let i = 0; i < 12; i++) w.install(`app-${i}`);
    await w.settle();
    assert.equal(w.runtime.count("create"), 12, "one create per app");
    for (let i = 0; i < 12; i++) {
      assert.equal(w.app(`app-${i}`)?.phase, "running", w.app(`app-${i}`)?.reason);
      runningOnce(w.runtime, `app-${i}`);
    }
  });

  test("duplicates of a container (same labels) are reduced to one, the right one kept", async () => {
    const w = setup();
    const app = sourced("alpha");
    const spec = podmanPlan(app.manifest, { dataRoot: w.dataRoot, dependencies: {} }).containers[0];
    const base = {
      appId: "alpha",
      key: "web",
      specHash: spec?.hash,
      image: "img",
      exitCode: 0,
      createdAt: 1,
      finishedAt: undefined,
      backend: "podman" as const,
      unit: undefined,
      labels: {},
    };
    w.runtime.containers.push(
      { ...base, id: "keep", name: "alpha", state: "running", startedAt: 5 },
      { ...base, id: "copy", name: "alpha-copy", state: "exited", startedAt: 9 },
    );
    const op = w.lifecycle.install(app);
    await w.settle();
    assert.deepEqual(
      w.runtime.containers.map((c) => [c.id, c.state]),
      [["keep", "running"]],
    );
    assert.equal(w.runtime.count("create"), 0);
    assert.equal(w.op(op.operationId)?.state, "succeeded");
    assert.deepEqual(
      w.store.listContainers("alpha").map((c) => c.containerId),
      ["keep"],
    );
  });

  test("containers adopted by legacy name are kept as they are, not recreated", async () => {
    const w = setup();
    w.runtime.containers.push({
      id: "legacy-1",
      name: "old-web",
      appId: undefined,
      key: undefined,
      specHash: undefined,
      image: "docker.io/library/nginx:1.26",
      state: "running",
      exitCode: 0,
      createdAt: 1,
      startedAt: 2,
      finishedAt: undefined,
      backend: "podman",
      unit: undefined,
      labels: {},
    });
    const op = w.install("alpha", { adopt: "old-web" });
    await w.settle();
    assert.equal(w.runtime.count("create"), 0);
    assert.equal(w.runtime.count("remove"), 0);
    assert.deepEqual(
      w.runtime.containers.map((c) => [c.id, c.state]),
      [["legacy-1", "running"]],
    );
    assert.equal(w.app("alpha")?.phase, "running");
    assert.equal(w.op(op.operationId)?.state, "succeeded");
  });
});

describe("reconciler: events", () => {
  test("a container killed behind the platform's back is restarted on its Podman event, at once", async () => {
    const w = setup();
    w.reconciler.start();
    w.install("alpha");
    await w.settle();
    runningOnce(w.runtime, "alpha");
    // Killed right after an observation was taken: the event is news that observation lacks.
    const container = w.runtime.of("alpha")[0] as ObservedContainer;
    Object.assign(container, { state: "exited", exitCode: 137 });
    w.runtime.onChange?.("alpha");
    await w.settle();
    runningOnce(w.runtime, "alpha");
    assert.equal(w.runtime.count("start"), 2);
  });
});

describe("reconciler: pre_start", () => {
  test("copies before the first start of a new container, and before an operator's start or restart only", async () => {
    const w = setup();
    const copies = () => w.runtime.calls.filter((c) => c === "copy into /data").length;
    w.install("alpha", { preStart: "/data/seed.txt", data: true });
    await w.settle();
    const calls = w.runtime.calls;
    assert.ok(calls.indexOf("create") < calls.indexOf("copy into /data"), calls.join(", "));
    assert.ok(calls.indexOf("copy into /data") < calls.indexOf("start"), calls.join(", "));
    assert.equal(copies(), 1);
    // The daemon starting again a container that exited on its own: no copy.
    Object.assign(w.runtime.of("alpha")[0] as ObservedContainer, { state: "exited", exitCode: 1 });
    w.advance(5_000);
    await w.reconciler.reconcileApp("alpha");
    assert.equal(w.runtime.count("start"), 2);
    assert.equal(copies(), 1);
    w.lifecycle.restart("alpha");
    await w.settle();
    assert.equal(copies(), 2, "an operator's restart copies again");
    w.lifecycle.reinstall("alpha");
    await w.settle();
    assert.equal(copies(), 3, "a reinstall's new container gets the copy before its first start");
    runningOnce(w.runtime, "alpha");
  });
});

describe("reconciler: a catalog app's package is verified at use", () => {
  test("a pre_start copy its package's check refuses fails the app with the reason; nothing is copied or started", async () => {
    const checked: string[] = [];
    const w = setup({
      verifyCopy: (from) => {
        checked.push(from);
        return "files/seed.txt does not match its signed length and hashes";
      },
    });
    w.install("alpha", { preStart: "/data/seed.txt", data: true });
    await w.settle();
    assert.deepEqual(checked, ["files/seed.txt"]);
    assert.equal(w.app("alpha")?.phase, "failed");
    assert.match(
      w.app("alpha")?.reason ?? "",
      /pre_start step 1: files\/seed\.txt does not match its signed/,
    );
    assert.equal(w.runtime.calls.filter((c) => c === "copy into /data").length, 0);
    assert.equal(w.runtime.count("start"), 0);
  });
});

describe("reconciler: exits on their own", () => {
  test("a container that exits again and again is started again after growing delays", async () => {
    const w = setup();
    w.install("alpha");
    await w.settle();
    const exit = () =>
      Object.assign(w.runtime.of("alpha")[0] as ObservedContainer, { state: "exited", exitCode: 2 });
    const passAfter = async (ms: number) => {
      w.advance(ms);
      await w.reconciler.reconcileApp("alpha");
    };
    exit();
    await passAfter(5_000);
    assert.equal(w.runtime.count("start"), 2, "the first exit: started again at once");
    exit();
    await passAfter(5_000);
    assert.equal(w.runtime.count("start"), 2, "the second waits 10 s");
    assert.equal(w.app("alpha")?.phase, "restarting");
    assert.match(w.app("alpha")?.reason ?? "", /web exited again: starting it again at /);
    await passAfter(5_000);
    assert.equal(w.runtime.count("start"), 3);
    exit();
    await passAfter(15_000);
    assert.equal(w.runtime.count("start"), 3, "the third waits 20 s");
    await passAfter(5_000);
    assert.equal(w.runtime.count("start"), 4);
    assert.equal(w.app("alpha")?.phase, "running");
    // Ten minutes running without a break: the next exit is started again at once.
    await passAfter(600_000);
    exit();
    await passAfter(5_000);
    assert.equal(w.runtime.count("start"), 5);
    assert.ok(
      w.logs.some((l) => /web exited on its own \(exit code 2\): starting it again \(start 3 /.test(l)),
    );
    // An operator's request starts the count again: the next exit is started again at once.
    exit();
    await passAfter(5_000);
    assert.equal(w.runtime.count("start"), 5, "held 10 s");
    w.lifecycle.restart("alpha");
    await w.settle();
    assert.equal(w.runtime.count("start"), 6, "the restart starts it");
    exit();
    await passAfter(5_000);
    assert.equal(w.runtime.count("start"), 7, "and the next exit is started again without a wait");
  });

  test("an exit seen after the container went through removing (a Quadlet unit removing it) is an exit on its own", async () => {
    const w = setup();
    w.install("alpha");
    await w.settle();
    const web = w.runtime.of("alpha")[0] as ObservedContainer;
    // What Podman lists while a unit's ExecStopPost removes its dead container: a transient state
    // the app waits out ("waiting"), before the container is gone (observed from its unit as exited).
    Object.assign(web, { state: "removing", exitCode: 137 });
    w.advance(5_000);
    await w.reconciler.reconcileApp("alpha");
    assert.equal(w.runtime.count("start"), 1, "nothing started while it is removed");
    Object.assign(web, { state: "exited" });
    w.advance(5_000);
    await w.reconciler.reconcileApp("alpha");
    assert.equal(w.runtime.count("start"), 2);
    assert.ok(
      w.logs.some((l) => /web exited on its own \(exit code 137\): starting it again \(start 1 /.test(l)),
      w.logs.join("\n"),
    );
  });

  test("an operator's start of a stopped app is not counted as an exit on its own", async () => {
    const w = setup();
    w.install("alpha");
    await w.settle();
    for (let i = 0; i < 3; i++) {
      w.lifecycle.stop("alpha");
      await w.settle();
      w.lifecycle.start("alpha");
      await w.settle();
    }
    assert.equal(w.runtime.count("start"), 4);
    assert.equal(w.app("alpha")?.phase, "running");
    assert.ok(!w.logs.some((l) => /exited on its own/.test(l)));
  });
});

describe("reconciler: restarts for health", () => {
  test("an unhealthy container waiting out the delay before its next restart: the reason says until when", async () => {
    const w = setup();
    w.install("alpha", { health: true });
    await w.settle();
    const passAfter = async (ms: number) => {
      w.advance(ms);
      await w.reconciler.reconcileApp("alpha");
    };
    w.health.set("alpha/web", "unhealthy");
    await passAfter(1_000);
    assert.equal(w.runtime.count("restart"), 1, "the first time: restarted at once");
    await passAfter(4_000);
    assert.equal(w.runtime.count("restart"), 1, "the second waits 10 s");
    const due = new Date(w.clock() + 6_000).toISOString();
    assert.deepEqual(
      [w.app("alpha")?.phase, w.app("alpha")?.reason],
      ["running", `web is unhealthy: restarting it at ${due} (restart 2 since it was last healthy)`],
    );
    await passAfter(6_000);
    assert.equal(w.runtime.count("restart"), 2);
    // Healthy again: nothing to wait for, nothing to say.
    w.health.set("alpha/web", "healthy");
    await passAfter(1_000);
    assert.deepEqual([w.app("alpha")?.phase, w.app("alpha")?.reason], ["running", undefined]);
  });
});

describe("reconciler: updates", () => {
  test("an update that lands during a reconcile succeeds only once the new containers run", async () => {
    const w = setup();
    w.install("alpha", { env: "one" });
    await w.settle();
    const v2 = sourced("alpha", { version: "2.0.0", env: "two" });
    const v2Hash = podmanPlan(v2.manifest, { dataRoot: w.dataRoot, dependencies: {} }).containers[0]?.hash;
    // The container died; a resync restarts it, and the operator updates while that runs.
    (w.runtime.of("alpha")[0] as ObservedContainer).state = "exited";
    let update = "";
    w.runtime.afterMutation = (method) => {
      if (method !== "start" || update) return;
      update = w.lifecycle.update(v2).operationId;
    };
    const hashesWhenSucceeded: Array<string | undefined> = [];
    w.listeners.push((e) => {
      if (e.type === "operation" && e.operationId === update && e.state === "succeeded")
        hashesWhenSucceeded.push(...w.runtime.of("alpha").map((c) => c.specHash));
    });
    w.advance(30_000);
    await w.reconciler.syncAll();
    await w.settle();
    assert.ok(update, "the update was requested mid-reconcile");
    assert.deepEqual(hashesWhenSucceeded, [v2Hash], "the update succeeded on the new container only");
    runningOnce(w.runtime, "alpha");
    assert.equal(w.runtime.of("alpha")[0]?.specHash, v2Hash);
  });
});

describe("reconciler: failures", () => {
  test("a failing action backs off with growing delays, then fails with the error as reason", async () => {
    const w = setup();
    w.runtime.fail("start", () => new Error("OCI runtime error: boom"));
    const op = w.install("alpha");
    await w.settle();
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      if (attempt > 1) await w.reconciler.reconcileApp("alpha");
      const app = w.app("alpha");
      assert.equal(app?.phase, "retrying");
      assert.equal(app?.attempts, attempt);
      assert.equal(app?.reason, `OCI runtime error: boom (attempt ${attempt} of 4)`);
      assert.equal(w.op(op.operationId)?.state, "running");
      delays.push((app?.nextAttemptAt ?? 0) - w.clock());
      // Before the delay is over, nothing is tried.
      const calls = w.runtime.count();
      await w.reconciler.reconcileApp("alpha");
      assert.equal(w.runtime.count(), calls, "no attempt before the backoff delay");
      w.advance(delays.at(-1) as number);
    }
    assert.deepEqual(delays, [10_000, 20_000, 40_000], "exponential (random 0.5 = no jitter)");
    await w.reconciler.reconcileApp("alpha");
    const app = w.app("alpha");
    assert.deepEqual(
      [app?.phase, app?.reason, app?.attempts, app?.nextAttemptAt],
      ["failed", "OCI runtime error: boom", 4, undefined],
    );
    assert.deepEqual(
      [w.op(op.operationId)?.state, w.op(op.operationId)?.error],
      ["failed", "OCI runtime error: boom"],
    );
    // Failed is terminal: passes leave it alone.
    const calls = w.runtime.count("start");
    w.advance(3_600_000);
    await w.reconciler.reconcileApp("alpha");
    await w.reconciler.syncAll();
    await w.settle();
    assert.equal(w.runtime.count("start"), calls);
    assert.equal(w.app("alpha")?.phase, "failed");
  });

  test("jitter spreads the delay around the exponential value", async () => {
    for (const [random, expected] of [
      [0, 8_000],
      [0.999_999, 12_000],
    ] as const) {
      const w = setup({ random: () => random });
      w.runtime.fail("create", () => new Error("flaky"));
      w.install("alpha");
      await w.settle();
      assert.equal((w.app("alpha")?.nextAttemptAt ?? 0) - w.clock(), expected);
    }
  });

  for (const [kind, method] of [
    ["name-conflict", "create"],
    ["image-missing", "create"],
  ] as const) {
    test(`a terminal error (${kind}) fails at once, without retries`, async () => {
      const w = setup();
      w.runtime.fail(method, () => new RuntimeError(kind, `${kind}: operator must act`));
      const op = w.install("alpha");
      await w.settle();
      const app = w.app("alpha");
      assert.deepEqual([app?.phase, app?.reason, app?.attempts], ["failed", `${kind}: operator must act`, 1]);
      assert.equal(w.op(op.operationId)?.state, "failed");
      assert.equal(w.runtime.count(method), 1);
    });
  }

  test("retry after failed starts from the first attempt and converges", async () => {
    const w = setup();
    w.runtime.fail("create", () => new RuntimeError("image-missing", "image missing"));
    w.install("alpha");
    await w.settle();
    assert.equal(w.app("alpha")?.phase, "failed");
    w.runtime.heal();
    const retry = w.lifecycle.retry("alpha");
    assert.equal(w.app("alpha")?.attempts, 0);
    await w.settle();
    runningOnce(w.runtime, "alpha");
    assert.equal(w.app("alpha")?.phase, "running");
    assert.equal(w.op(retry.operationId)?.state, "succeeded");
  });

  test("a container that exits right after it starts is not restarted in a tight loop", async () => {
    const w = setup();
    w.runtime.crashing.add("alpha");
    w.install("alpha");
    await w.settle();
    assert.equal(w.runtime.count("start"), 1, "one start per attempt");
    const app = w.app("alpha");
    assert.equal(app?.phase, "retrying");
    assert.match(app?.reason ?? "", /alpha exited right after it was started \(exit code 1\)/);
    for (let i = 0; i < 3; i++) {
      w.advance(600_000);
      await w.reconciler.reconcileApp("alpha");
    }
    assert.equal(w.runtime.count("start"), 4);
    assert.equal(w.app("alpha")?.phase, "failed");
    assert.match(w.app("alpha")?.reason ?? "", /exited right after it was started/);
  });

  test("a container that crashes between the look that saw it running and the hook is told as a crash", async () => {
    const w = setup();
    // Podman's answer to an exec in a container that has just exited.
    w.runtime.execResult = () => {
      for (const c of w.runtime.of("alpha")) Object.assign(c, { state: "exited", exitCode: 3 });
      throw new Error(
        "container.exec: can only create exec sessions on running containers: container state improper",
      );
    };
    w.install("alpha", { postInstall: "seed-data" });
    await w.settle();
    assert.equal(w.runtime.count("exec"), 1);
    const app = w.app("alpha");
    assert.equal(app?.phase, "retrying");
    assert.match(app?.reason ?? "", /^alpha exited right after it was started \(exit code 3\)/);
    assert.doesNotMatch(app?.reason ?? "", /post_install/);
  });

  test("a hook that fails in a container still running is told as the hook's failure", async () => {
    const w = setup();
    w.runtime.execResult = () => ({ exitCode: 1, stdout: "", stderr: "no seed file" });
    w.install("alpha", { postInstall: "seed-data" });
    await w.settle();
    assert.match(w.app("alpha")?.reason ?? "", /post_install step 1: .*no seed file/);
  });

  test("a failing pre_uninstall hook fails an uninstall, and a purge removes the app anyway", async () => {
    const w = setup();
    w.install("alpha", { preUninstall: "flush-queue" });
    await w.settle();
    w.runtime.execResult = () => ({ exitCode: 1, stdout: "", stderr: "queue broken" });
    w.lifecycle.uninstall("alpha");
    await w.settle();
    assert.equal(w.app("alpha")?.phase, "failed", "a hook that exits non-zero is not retried");
    assert.match(w.app("alpha")?.reason ?? "", /pre_uninstall step 1: .*queue broken/);
    assert.equal(w.runtime.of("alpha").length, 1, "the uninstall removed nothing");
    const purge = w.lifecycle.purge("alpha");
    await w.settle();
    assert.equal(w.app("alpha"), undefined);
    assert.equal(w.runtime.of("alpha").length, 0);
    assert.equal(w.op(purge.operationId)?.state, "succeeded");
    const logs = w.store.operationLogs(purge.operationId);
    assert.ok(logs.some((l) => l.level === "warn" && /queue broken.*purging anyway/.test(l.message)));
  });

  test("Podman not answering keeps the last known state, with the reason", async () => {
    const w = setup();
    w.install("alpha");
    await w.settle();
    w.runtime.observe = async () => {
      throw new Error("connect ENOENT podman.sock");
    };
    w.advance(60_000);
    await w.reconciler.syncAll().catch(() => {});
    await w.reconciler.reconcileApp("alpha");
    const app = w.app("alpha");
    assert.equal(app?.phase, "running");
    assert.match(app?.reason ?? "", /Podman is not answering \(connect ENOENT podman.sock\)/);
    assert.deepEqual(
      w.store.listContainers("alpha").map((c) => c.state),
      ["running"],
    );
  });
});

/** A guard that refuses every host path once told to (what a link swapped in since looks like). */
class SwitchableGuard extends HostPathGuard {
  refusal: string | undefined;
  constructor() {
    super({ protectedDirs: () => [] });
  }
  override async check(): Promise<void> {
    if (this.refusal) throw new HostPathError("refused", this.refusal);
  }
}

describe("reconciler: host paths", () => {
  test("no app keeps reading what its host path reaches once it is refused: its containers stop, it fails saying why", async () => {
    const guard = new SwitchableGuard();
    const w = setup({ hostPaths: guard });
    w.install("alpha");
    await w.settle();
    runningOnce(w.runtime, "alpha");
    guard.refusal =
      "host path /srv/media (permission media) is refused: through a symbolic link, it resolves to /home/archipelago";
    await w.reconciler.syncAll();
    await w.settle();
    assert.deepEqual(
      w.runtime.of("alpha").map((c) => c.state),
      ["exited"],
    );
    const app = w.app("alpha");
    assert.equal(app?.phase, "failed");
    assert.match(app?.reason ?? "", /host path \/srv\/media \(permission media\) is refused/);
    // Retrying does not start it while the path is refused: the start is checked too.
    w.lifecycle.retry("alpha");
    await w.settle();
    assert.equal(w.app("alpha")?.phase, "failed");
    assert.deepEqual(
      w.runtime.of("alpha").map((c) => c.state),
      ["exited"],
    );
  });

  test("no app keeps running from a stored manifest that today's rules refuse: its containers stop", async () => {
    const w = setup();
    w.install("alpha");
    await w.settle();
    runningOnce(w.runtime, "alpha");
    // What an upgrade of the platform finds: a stored manifest that the install accepted.
    const next = sourced("alpha", { version: "2.0.0" });
    const text = `${next.text.trimEnd()}
permissions:
  home: { kind: host-path, path: /home, reason: reads the daemon's token }
`;
    w.lifecycle.update({ ...next, text }, {});
    await w.settle();
    const app = w.app("alpha");
    assert.equal(app?.phase, "failed");
    assert.match(app?.reason ?? "", /no longer valid: .*host path \/home can never be granted/);
    assert.deepEqual(
      w.runtime.of("alpha").map((c) => c.state),
      ["exited"],
    );
  });
});

describe("reconciler: no two apps share a name", () => {
  /** `sx-v` (container db, volume db-data, secret db-pass) and `sx-v-db` (volume data, secret pass). */
  const clashing = (id: "sx-v" | "sx-v-db"): SourcedManifest => {
    const [key, volume, secret] = id === "sx-v" ? ["db", "db-data", "db-pass"] : ["web", "data", "pass"];
    const text = [
      "manifest: 1",
      `id: ${id}`,
      "version: 1.0.0",
      `name: ${id}`,
      "description: A test app",
      "containers:",
      `  ${key}:`,
      "    image: docker.io/library/nginx:1.27",
      "    volumes:",
      `      - { name: ${volume}, path: /data }`,
      "    environment:",
      `      PASS: { secret: ${secret} }`,
      "secrets:",
      `  ${secret}: { type: hex, length: 32 }`,
      "",
    ].join("\n");
    const parsed = parseManifest(text, `${id}.yml`);
    assert.ok(parsed.ok, JSON.stringify(parsed.ok ? [] : parsed.issues));
    return { text, manifest: parsed.manifest, source: "test" };
  };
  /**
   * Installs an app as a release before naming scheme 2 left it: its intent recorded, its row at
   * scheme 1 (what the store's migration gives such rows), then the reconciler woken.
   */
  const installedBefore = (w: ReturnType<typeof setup>, ...apps: SourcedManifest[]) => {
    for (const app of apps) recordBefore(w, app);
    for (const app of apps) w.reconciler.enqueue(app.manifest.id);
  };
  const recordBefore = (w: ReturnType<typeof setup>, app: SourcedManifest) => {
    const { id, version } = app.manifest;
    w.store.recordIntent(
      {
        appId: id,
        operation: { id: `op-install-${id}`, kind: "install" },
        desired: "running",
        phase: "installing",
        manifest: { text: app.text, hash: manifestHash(app.text), version, source: app.source },
        pendingHook: "post_install",
      },
      w.clock(),
    );
    const db = new DatabaseSync(w.store.path);
    db.prepare("UPDATE apps SET naming = 1 WHERE id = ?").run(id);
    db.close();
  };

  test("invariant: installed under scheme 1 with clashing names, neither app runs on the other's volume or secrets", async () => {
    const w = setup();
    installedBefore(w, clashing("sx-v"), clashing("sx-v-db"));
    await w.settle();
    for (const id of ["sx-v", "sx-v-db"]) {
      const app = w.app(id);
      assert.equal(app?.phase, "failed", `${id}: ${app?.reason}`);
      assert.match(
        app?.reason ?? "",
        /Podman secret archy-sx-v-db-pass, systemd unit archy-sx-v-db-data-volume\.service, Podman volume archy-sx-v-db-data are also app sx-v(-db)?.s/,
      );
      assert.match(app?.reason ?? "", /uninstall sx-v(-db)? and sx-v(-db)? and install each again/);
    }
    assert.deepEqual([...w.runtime.volumes], [], "nothing was made for either");
    assert.deepEqual([...w.runtime.secrets.keys()], []);
    assert.deepEqual(w.runtime.containers, []);

    // The way out the reason gives: installed again, an app gets the current names, which never clash.
    w.lifecycle.uninstall("sx-v-db");
    await w.settle();
    assert.equal(w.app("sx-v-db"), undefined);
    w.lifecycle.install(clashing("sx-v-db"));
    await w.settle();
    assert.equal(w.app("sx-v-db")?.naming, 2);
    assert.equal(w.app("sx-v-db")?.phase, "running");
    w.lifecycle.retry("sx-v");
    await w.settle();
    assert.equal(w.app("sx-v")?.phase, "running", w.app("sx-v")?.reason);
    assert.deepEqual([...w.runtime.volumes].sort(), ["archy-sx-v-db-data", "archy-sx-v-db_data"]);
    assert.deepEqual([...w.runtime.secrets.keys()].sort(), ["archy-sx-v-db-pass", "archy-sx-v-db_pass"]);
    assert.equal(
      w.runtime.secrets.get("archy-sx-v-db-pass"),
      await w.secrets.read("sx-v", "db-pass"),
      "each Podman secret holds its own app's value",
    );
    assert.equal(w.runtime.secrets.get("archy-sx-v-db_pass"), await w.secrets.read("sx-v-db", "pass"));
  });

  test("uninstalling one of two apps that share a volume keeps the volume the other uses", async () => {
    const w = setup();
    installedBefore(w, clashing("sx-v"));
    await w.settle();
    assert.equal(w.app("sx-v")?.phase, "running");
    assert.ok(w.runtime.volumes.has("archy-sx-v-db-data"));
    // Another app that predates naming scheme 2 and has that volume's name too (as on an upgraded node).
    installedBefore(w, clashing("sx-v-db"));
    await w.settle();
    assert.equal(w.app("sx-v-db")?.phase, "failed");
    w.lifecycle.uninstall("sx-v-db", { purge: true });
    await w.settle();
    assert.equal(w.app("sx-v-db"), undefined, "removed");
    assert.ok(w.runtime.volumes.has("archy-sx-v-db-data"), "the volume of sx-v is kept");
    assert.ok(w.runtime.secrets.has("archy-sx-v-db-pass"), "the Podman secret of sx-v is kept");
    assert.ok(w.logs.some((l) => l.includes("kept the Podman volume archy-sx-v-db-data")));
  });

  test("a legacy container two apps installed before both list is adopted by neither, nor removed by either", async () => {
    const w = setup();
    w.runtime.containers.push({
      id: "legacy-1",
      name: "old-web",
      appId: undefined,
      key: undefined,
      specHash: undefined,
      image: "docker.io/library/nginx:1.26",
      state: "running",
      exitCode: 0,
      createdAt: 1,
      startedAt: 2,
      finishedAt: undefined,
      backend: "podman",
      unit: undefined,
      labels: {},
    });
    installedBefore(w, sourced("alpha", { adopt: "old-web" }), sourced("beta", { adopt: "old-web" }));
    await w.settle();
    for (const id of ["alpha", "beta"]) {
      assert.equal(w.app(id)?.phase, "failed");
      assert.match(w.app(id)?.reason ?? "", /container name old-web is also app (alpha|beta)'s/);
    }
    w.lifecycle.uninstall("beta");
    await w.settle();
    assert.equal(w.app("beta"), undefined);
    assert.deepEqual(
      w.runtime.containers.map((c) => [c.id, c.state]),
      [["legacy-1", "running"]],
      "the legacy container is nobody's to remove",
    );
  });

  test("an install that would take another app's container name is refused, and changes nothing", async () => {
    const w = setup();
    w.install("two");
    await w.settle();
    const taker = sourced("one");
    (taker.manifest.containers.web as { container_name?: string }).container_name = "two";
    assert.throws(
      () => w.lifecycle.install(taker),
      (error: LifecycleError) => {
        assert.equal(error.code, "name-taken");
        assert.match(
          error.message,
          /one cannot be installed: container name two, systemd unit two.service are also app two's/,
        );
        assert.deepEqual(error.data.clashes, [
          {
            app: "two",
            resources: [
              { kind: "container", name: "two" },
              { kind: "unit", name: "two.service" },
            ],
          },
        ]);
        return true;
      },
    );
    assert.equal(w.app("one"), undefined);
  });
});

describe("reconciler: a stop is sacred", () => {
  test("a stop is never undone by passes, a daemon restart or a reboot", async () => {
    const w = setup();
    w.install("alpha");
    w.install("beta");
    await w.settle();
    const stop = w.lifecycle.stop("alpha");
    await w.settle();
    assert.equal(w.op(stop.operationId)?.state, "succeeded");
    assert.equal(w.runtime.of("alpha")[0]?.state, "exited");
    assert.equal(w.app("alpha")?.phase, "stopped");
    const starts = w.runtime.count("start");
    for (let pass = 0; pass < 3; pass++) {
      w.advance(30_000);
      await w.reconciler.syncAll();
      await w.settle();
    }
    w.restart();
    w.advance(30_000);
    await w.reconciler.syncAll();
    await w.settle();
    assert.equal(w.runtime.count("start"), starts, "nothing started by passes or a daemon restart");
    // A reboot: everything stops; what was desired running comes back, the stopped app does not.
    w.runtime.reboot();
    w.restart();
    w.advance(30_000);
    await w.reconciler.syncAll();
    await w.settle();
    assert.equal(w.runtime.of("alpha")[0]?.state, "exited");
    runningOnce(w.runtime, "beta");
    assert.equal(w.app("alpha")?.phase, "stopped");
    assert.equal(w.app("beta")?.phase, "running");
  });

  test("after a reboot, apps come back in dependency order", async () => {
    const w = setup();
    // The dependant sorts first, so the order is the reconciler's doing, not the alphabet's.
    w.install("zeta");
    await w.settle();
    w.install("alpha", { dependencies: [{ id: "zeta" }] });
    await w.settle();
    runningOnce(w.runtime, "alpha");
    w.runtime.reboot();
    w.runtime.starts = [];
    w.restart();
    w.advance(30_000);
    await w.reconciler.syncAll();
    await w.settle();
    assert.deepEqual(w.runtime.starts, ["zeta", "alpha"]);
    runningOnce(w.runtime, "alpha");
    runningOnce(w.runtime, "zeta");
  });
});

describe("reconciler: crash resume", () => {
  /** The mutations of an install of a one-container app with a volume and a secret. */
  const INSTALL_STEPS = ["secret", "network", "volumes", "create", "start"];

  for (let step = 1; step <= INSTALL_STEPS.length; step++) {
    for (const afterEffect of [false, true]) {
      test(`install, daemon killed ${afterEffect ? "after" : "before"} ${INSTALL_STEPS[step - 1]}: resumes and converges`, async () => {
        const w = setup();
        w.runtime.crashAt = { n: step, afterEffect };
        const op = w.install("alpha", { data: true, secret: true });
        await w.runtime.crashed;
        // The in-between state is persisted for the next daemon to resume from.
        assert.notEqual(w.app("alpha")?.phase, "running");
        assert.ok(["pending", "running"].includes(w.op(op.operationId)?.state ?? ""));
        const secret = await w.secrets.read("alpha", "token");
        w.runtime.crashAt = undefined;
        w.restart();
        await w.reconciler.syncAll();
        await w.settle();
        runningOnce(w.runtime, "alpha");
        assert.equal(w.app("alpha")?.phase, "running");
        assert.equal(w.op(op.operationId)?.state, "succeeded");
        assert.equal(w.runtime.count("create"), step === 4 && !afterEffect ? 2 : 1, "no duplicate create");
        // A secret generated before the crash is the one in use after it.
        const now = await w.secrets.read("alpha", "token");
        if (secret !== undefined) assert.equal(now, secret);
        assert.equal(w.runtime.secrets.get("archy-alpha_token"), now);
      });
    }
  }

  const UNINSTALL_STEPS = ["stop", "remove", "resources"];
  for (const purge of [false, true]) {
    const steps = purge ? [...UNINSTALL_STEPS, "secret"] : UNINSTALL_STEPS;
    for (let step = 1; step <= steps.length; step++) {
      test(`${purge ? "purge" : "uninstall"}, daemon killed after ${steps[step - 1]}: resumes and converges, data ${purge ? "deleted" : "kept"}`, async () => {
        const w = setup();
        w.install("alpha", { data: true, secret: true });
        await w.settle();
        const secret = await w.secrets.read("alpha", "token");
        const dataDir = join(appDataDir(w.dataRoot, "alpha"), "volumes", "data");
        assert.ok(existsSync(dataDir));
        w.runtime.crashAt = { n: w.runtime.mutations + step, afterEffect: true };
        const op = w.lifecycle.uninstall("alpha", { purge });
        await w.runtime.crashed;
        assert.equal(w.app("alpha")?.phase, "removing");
        w.runtime.crashAt = undefined;
        w.restart();
        await w.reconciler.syncAll();
        await w.settle();
        assert.equal(w.app("alpha"), undefined, "forgotten");
        assert.deepEqual(w.runtime.of("alpha"), []);
        assert.equal(w.op(op.operationId)?.state, "succeeded");
        assert.equal(w.runtime.networks.size, 0);
        assert.equal(existsSync(dataDir), !purge);
        assert.equal(await w.secrets.read("alpha", "token"), purge ? undefined : secret);
        assert.equal(w.runtime.secrets.has("archy-alpha_token"), !purge);
      });
    }
  }

  test("an in-between phase stored before a crash resumes to the goal (stopping → stopped)", async () => {
    const w = setup();
    w.install("alpha");
    await w.settle();
    w.runtime.crashAt = { n: w.runtime.mutations + 1, afterEffect: false };
    const stop = w.lifecycle.stop("alpha");
    await w.runtime.crashed;
    assert.equal(w.app("alpha")?.phase, "stopping");
    assert.equal(w.runtime.of("alpha")[0]?.state, "running");
    w.runtime.crashAt = undefined;
    w.restart();
    await w.reconciler.syncAll();
    await w.settle();
    assert.equal(w.runtime.of("alpha")[0]?.state, "exited");
    assert.equal(w.app("alpha")?.phase, "stopped");
    assert.equal(w.op(stop.operationId)?.state, "succeeded");
  });
});

describe("reconciler: an account per consumer", () => {
  const provider = `manifest: 1
id: pg
version: 1.0.0
name: pg
description: A database
containers:
  db:
    image: docker.io/library/postgres:16
consumers:
  secrets:
    password: { length: 24 }
  provision:
    - exec: { container: db, command: [sh, -c, 'create "$ARCHY_CONSUMER_NAME"'] }
  deprovision:
    - exec: { container: db, command: [sh, -c, 'drop "$ARCHY_CONSUMER_NAME"'] }
`;
  const consumer = `manifest: 1
id: wiki
version: 1.0.0
name: wiki
description: A wiki
dependencies:
  - { id: pg }
containers:
  web:
    image: docker.io/library/nginx:1.27
    environment:
      DB_PASSWORD: "\${consumer:pg/password}"
`;
  const installText = (w: ReturnType<typeof setup>, text: string) => {
    const parsed = parseManifest(text, "m.yml");
    assert.ok(parsed.ok, JSON.stringify(parsed.ok ? [] : parsed.issues));
    return w.lifecycle.install({ text, manifest: parsed.manifest, source: "test" });
  };

  test("provision runs in the provider before the consumer's container is created, its values in the exec's environment only; deprovision at the purge of what an uninstall kept", async () => {
    const w = setup();
    const execs: Array<{ command: string[]; env: Readonly<Record<string, string>> }> = [];
    w.runtime.execResult = (command, env) => {
      execs.push({ command, env });
      return { exitCode: 0, stdout: "", stderr: "" };
    };
    installText(w, provider);
    await w.settle();
    const mark = w.runtime.calls.length;
    const op = installText(w, consumer);
    await w.settle();
    assert.equal(w.op(op.operationId)?.state, "succeeded", w.op(op.operationId)?.error);
    const calls = w.runtime.calls.slice(mark);
    assert.ok(
      calls.indexOf("exec") >= 0 && calls.indexOf("exec") < calls.indexOf("create"),
      calls.join(", "),
    );
    const password = readFileSync(join(w.secrets.dirOf("wiki"), "consumer.pg.password"), "utf8");
    assert.equal(password.length, 24);
    assert.deepEqual(execs, [
      {
        command: ["sh", "-c", 'create "$ARCHY_CONSUMER_NAME"'],
        env: { ARCHY_CONSUMER_APP: "wiki", ARCHY_CONSUMER_NAME: "wiki", ARCHY_CONSUMER_PASSWORD: password },
      },
    ]);
    // (Masking what a step prints is the orchestrator's store's: test/realworld/consumers.test.ts.)
    // A plain uninstall keeps the account; the purge removes it, and the values with the app's secrets.
    w.lifecycle.uninstall("wiki");
    await w.settle();
    assert.equal(execs.length, 1, "no deprovision at a plain uninstall");
    installText(w, consumer);
    await w.settle();
    assert.equal(execs.length, 2, "provision again at the reinstall");
    assert.equal(execs[1]?.env.ARCHY_CONSUMER_PASSWORD, password, "with the same password");
    // Uninstalled again, then what it kept purged: no container of its own is left, and the
    // provider's deprovision still runs, in the provider's.
    w.lifecycle.uninstall("wiki");
    await w.settle();
    assert.equal(w.app("wiki"), undefined);
    const parsed = parseManifest(consumer, "m.yml");
    assert.ok(parsed.ok);
    w.lifecycle.purgeKept({ text: consumer, manifest: parsed.manifest, source: "test" });
    await w.settle();
    assert.equal(execs.length, 3, "deprovision once, at the purge");
    assert.deepEqual(execs[2]?.command, ["sh", "-c", 'drop "$ARCHY_CONSUMER_NAME"']);
    assert.equal(execs[2]?.env.ARCHY_CONSUMER_NAME, "wiki");
    assert.equal(existsSync(w.secrets.dirOf("wiki")), false);
  });

  test("a daemon killed after the provisioning, before the consumer's container is created: the next one provisions again, with the same values, and the install succeeds", async () => {
    const MUTATIONS = new Set(["network", "volumes", "secret", "create", "start"]);
    const ok = { exitCode: 0, stdout: "", stderr: "" };
    // Where the consumer's create falls among its install's mutations, learnt from a run without a crash.
    const scratch = setup();
    scratch.runtime.execResult = () => ok;
    installText(scratch, provider);
    await scratch.settle();
    const mark = scratch.runtime.calls.length;
    installText(scratch, consumer);
    await scratch.settle();
    const untilCreate =
      scratch.runtime.calls
        .slice(mark)
        .filter((c) => MUTATIONS.has(c))
        .indexOf("create") + 1;
    assert.ok(untilCreate > 0);

    const w = setup();
    const envs: Array<Readonly<Record<string, string>>> = [];
    w.runtime.execResult = (_command, env) => {
      envs.push(env);
      return ok;
    };
    installText(w, provider);
    await w.settle();
    w.runtime.crashAt = { n: w.runtime.mutations + untilCreate, afterEffect: false };
    const op = installText(w, consumer);
    await w.runtime.crashed;
    assert.equal(envs.length, 1, "provisioned before the crash");
    assert.deepEqual(w.runtime.of("wiki"), []);
    w.runtime.crashAt = undefined;
    w.restart();
    await w.reconciler.syncAll();
    await w.settle();
    assert.equal(w.op(op.operationId)?.state, "succeeded", w.op(op.operationId)?.error);
    runningOnce(w.runtime, "wiki");
    assert.equal(envs.length, 2, "provisioned again by the next daemon");
    assert.equal(envs[1]?.ARCHY_CONSUMER_PASSWORD, envs[0]?.ARCHY_CONSUMER_PASSWORD);
  });

  test("a failing provision fails the consumer's install before any of its containers exists", async () => {
    const w = setup();
    w.runtime.execResult = () => ({ exitCode: 3, stdout: "", stderr: "role exists with another owner" });
    installText(w, provider);
    await w.settle();
    const op = installText(w, consumer);
    await w.settle();
    assert.equal(w.op(op.operationId)?.state, "failed");
    assert.match(
      w.op(op.operationId)?.error ?? "",
      /^pg, for wiki: consumers\.provision step 1: `sh -c create "\$ARCHY_CONSUMER_NAME"` exited with 3; its last lines: role exists with another owner/,
    );
    assert.deepEqual(w.runtime.of("wiki"), []);
  });
});

describe("reconciler: dependencies", () => {
  test("a dependant waits (phase waiting, the reason names the dependency) and starts once it runs", async () => {
    const w = setup();
    w.install("base");
    await w.settle();
    w.lifecycle.stop("base");
    await w.settle();
    const op = w.install("top", { dependencies: [{ id: "base" }] });
    await w.settle();
    assert.equal(w.app("top")?.phase, "waiting");
    assert.match(w.app("top")?.reason ?? "", /dependency base to be running \(it is stopped\)/);
    assert.deepEqual(w.runtime.of("top"), []);
    assert.equal(w.op(op.operationId)?.state, "running");
    w.lifecycle.start("base");
    await w.settle();
    runningOnce(w.runtime, "base");
    runningOnce(w.runtime, "top");
    assert.equal(w.app("top")?.phase, "running");
    assert.equal(w.op(op.operationId)?.state, "succeeded");
  });

  test("a dependency declared healthy is waited for until it is healthy", async () => {
    const w = setup();
    w.health.set("base/web", "starting");
    w.install("base");
    await w.settle();
    const op = w.install("top", { dependencies: [{ id: "base", state: "healthy" }] });
    await w.settle();
    assert.deepEqual(w.runtime.of("top"), [], "not started while its dependency is not healthy");
    assert.equal(w.app("top")?.phase, "waiting");
    assert.match(w.app("top")?.reason ?? "", /dependency base to be healthy/);
    w.health.set("base/web", "healthy");
    w.reconciler.enqueue("base");
    await w.settle();
    runningOnce(w.runtime, "top");
    assert.equal(w.op(op.operationId)?.state, "succeeded");
  });

  test("a dependency that is only required installed does not hold the dependant", async () => {
    const w = setup();
    w.install("base");
    await w.settle();
    w.lifecycle.stop("base");
    await w.settle();
    w.install("top", { dependencies: [{ id: "base", state: "installed" }] });
    await w.settle();
    runningOnce(w.runtime, "top");
  });
});

// ---- update with rollback

/** Every file and directory under `dir` with its mode and content hash (for "exactly as before"). */
function dataTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    const st = lstatSync(path);
    const content = st.isFile() ? createHash("sha256").update(readFileSync(path)).digest("hex") : "";
    out.push(
      `${relative(dir, path) || "."} ${st.isDirectory() ? "dir" : "file"} ${(st.mode & 0o7777).toString(8)} ${content}`,
    );
    if (st.isDirectory()) for (const name of readdirSync(path).sort()) walk(join(path, name));
  };
  walk(dir);
  return out;
}

/** The methods of real snapshots, as a plain object a test may override some of. */
function wrap(real: DataSnapshots): Snapshots {
  return {
    dataBytes: (appId) => real.dataBytes(appId),
    freeBytes: (appId) => real.freeBytes(appId),
    take: (appId, version, at, note) => real.take(appId, version, at, note),
    restore: (appId, path, note) => real.restore(appId, path, note),
    prune: (appId, keep, note) => real.prune(appId, keep, note),
  };
}

const V2_IMAGE = "docker.io/library/nginx:2";
const isV2 = (c: ObservedContainer) => c.image === V2_IMAGE;

describe("reconciler: update with rollback", () => {
  /** alpha 1.0.0 with data and a health check, running, with a database file in its volume. */
  async function installed(w: ReturnType<typeof setup>) {
    w.install("alpha", { data: true, health: true });
    await w.settle();
    runningOnce(w.runtime, "alpha");
    const dataDir = appDataDir(w.dataRoot, "alpha");
    writeFileSync(join(dataDir, "volumes", "data", "db.sqlite"), "rows of 1.0.0\n");
    mkdirSync(join(dataDir, "volumes", "data", "sub"));
    writeFileSync(join(dataDir, "volumes", "data", "sub", "config"), "setting = 1\n", { mode: 0o600 });
    return { dataDir, before: dataTree(dataDir), v1: w.runtime.of("alpha")[0] as ObservedContainer };
  }

  const v2 = (extra: AppOptions = {}) =>
    sourced("alpha", { version: "2.0.0", data: true, health: true, image: V2_IMAGE, ...extra });
  const snapshotsOf = (w: ReturnType<typeof setup>) => {
    const dir = join(w.dataRoot, "snapshots", "alpha");
    return existsSync(dir) ? readdirSync(dir) : [];
  };
  const logOf = (w: ReturnType<typeof setup>, operationId: string) =>
    w.store.operationLogs(operationId).map((l) => l.message);

  test("a healthy update keeps the data and a snapshot; a second one keeps only the last snapshot", async () => {
    const w = setup();
    const { dataDir, before } = await installed(w);
    const op = w.lifecycle.update(sourced("alpha", { version: "1.1.0", data: true, health: true }));
    await w.settle();
    assert.equal(w.op(op.operationId)?.state, "succeeded", w.app("alpha")?.reason);
    assert.deepEqual([w.app("alpha")?.version, w.app("alpha")?.phase], ["1.1.0", "running"]);
    runningOnce(w.runtime, "alpha");
    assert.deepEqual(dataTree(dataDir), before, "the data is kept");
    assert.equal(w.store.getUpdate("alpha"), undefined, "the update is over");
    const [snapshot] = snapshotsOf(w);
    assert.match(snapshot ?? "", /^1\.0\.0-\d{8}T\d{6}\.\d{3}Z$/);
    assert.deepEqual(dataTree(join(w.dataRoot, "snapshots", "alpha", snapshot as string)), before);
    const log = logOf(w, op.operationId);
    for (const expected of [
      /^updating alpha from 1\.0\.0 to 1\.1\.0$/,
      /^the images of 1\.1\.0 are on this node/,
      /^room for the snapshot: the data takes .+ free on /,
      /^stopping alpha /,
      /^snapshot of .+ taken at .+ \((reflink copy|plain copy: .+)\)$/,
      /^starting 1\.1\.0: it must run and be healthy within 25\.5 s .+ or it is rolled back to 1\.0\.0$/,
      /^creating alpha\/web/,
      /^update from 1\.0\.0 to 1\.1\.0 succeeded; the snapshot of 1\.0\.0 is kept at /,
    ])
      assert.ok(
        log.some((l) => expected.test(l)),
        `${expected} in the log:\n${log.join("\n")}`,
      );
    // The stop for the snapshot came before the copy, the copy before the new container.
    const at = (pattern: RegExp) => log.findIndex((l) => pattern.test(l));
    assert.ok(at(/^stopping alpha/) < at(/^snapshot of/) && at(/^snapshot of/) < at(/^creating/));

    const second = w.lifecycle.update(sourced("alpha", { version: "1.2.0", data: true, health: true }));
    await w.settle();
    assert.equal(w.op(second.operationId)?.state, "succeeded");
    assert.deepEqual(
      snapshotsOf(w).map((n) => n.split("-")[0]),
      ["1.1.0"],
      "only the last snapshot is kept",
    );
    assert.ok(logOf(w, second.operationId).some((l) => l.startsWith("deleted the older snapshot")));
  });

  test("a new version that never gets healthy is rolled back at the end of its window: old version, data exactly as before", async () => {
    const w = setup();
    const { dataDir, before, v1 } = await installed(w);
    w.setHealth((_app, _key, c) => (isV2(c) ? "unhealthy" : undefined));
    const op = w.lifecycle.update(v2());
    await w.settle();
    // In its window: the new version runs, unhealthy; the operator sees why and until when.
    assert.equal(w.app("alpha")?.phase, "updating");
    assert.match(
      w.app("alpha")?.reason ?? "",
      /^updating to 2\.0\.0: web is unhealthy \(probe: connection refused\) \(rolled back to 1\.0\.0 unless healthy within 26 s\)$/,
    );
    assert.equal(w.op(op.operationId)?.state, "running");
    assert.ok(isV2(w.runtime.of("alpha")[0] as ObservedContainer));
    // The new version writes to the data after the snapshot.
    writeFileSync(join(dataDir, "volumes", "data", "db.sqlite"), "migrated to 2.0.0\n");
    writeFileSync(join(dataDir, "volumes", "data", "written-by-2.0.0"), "new\n");
    w.advance(10_000);
    await w.reconciler.reconcileApp("alpha");
    assert.equal(w.app("alpha")?.phase, "updating", "not before the deadline");
    w.advance(16_000);
    await w.reconciler.reconcileApp("alpha");
    await w.settle();
    const expected =
      "update to 2.0.0 failed (2.0.0 did not become healthy within its update window of 25.5 s: web is unhealthy (probe: connection refused)): rolled back to 1.0.0";
    assert.deepEqual([w.op(op.operationId)?.state, w.op(op.operationId)?.error], ["failed", expected]);
    assert.deepEqual([w.app("alpha")?.version, w.app("alpha")?.phase], ["1.0.0", "running"]);
    runningOnce(w.runtime, "alpha");
    const now = w.runtime.of("alpha")[0] as ObservedContainer;
    assert.equal(now.specHash, v1.specHash, "the old version's container again");
    assert.notEqual(now.id, v1.id, "recreated");
    assert.deepEqual(dataTree(dataDir), before, "the data is exactly as before the update");
    assert.equal(existsSync(join(dataDir, "volumes", "data", "written-by-2.0.0")), false);
    assert.equal(w.store.getUpdate("alpha"), undefined);
    assert.equal(w.app("alpha")?.pendingHook, undefined, "no post_update for the old version");
    assert.equal(w.app("alpha")?.previousManifestText, v2().text, "the failed manifest is the previous one");
    assert.equal(snapshotsOf(w).length, 1, "the snapshot is kept");
    const log = logOf(w, op.operationId);
    const steps = [
      /^snapshot of .+ taken at /,
      /^starting 2\.0\.0: /,
      /^update to 2\.0\.0 failed: 2\.0\.0 did not become healthy .+; rolling back to 1\.0\.0$/,
      /^stopping alpha /,
      /^removing container alpha \(rollback\)$/,
      /^copied snapshot .+ for the restore/,
      /^moved the current data aside to /,
      /^restored .+ from snapshot /,
      /^deleted the set-aside data /,
      /^the manifest of 1\.0\.0 is in force again; recreating 1\.0\.0$/,
      /^creating alpha\/web/,
      /^starting alpha$/,
      /^update to 2\.0\.0 failed \(.+\): rolled back to 1\.0\.0$/,
    ];
    let from = 0;
    for (const step of steps) {
      const index = log.findIndex((l, i) => i >= from && step.test(l));
      assert.ok(index >= 0, `${step} after line ${from} of:\n${log.join("\n")}`);
      from = index + 1;
    }
    assert.ok(
      w.events.some((e) => e.type === "app" && e.phase === "rolling-back"),
      "the operator saw the rollback",
    );
  });

  test("an image that is not on the node and cannot be pulled: refused before anything is touched", async () => {
    const w = setup();
    const { dataDir, before, v1 } = await installed(w);
    w.runtime.missingImages.add(V2_IMAGE);
    const stops = w.runtime.count("stop");
    const op = w.lifecycle.update(v2());
    await w.settle();
    assert.deepEqual(
      [w.op(op.operationId)?.state, w.op(op.operationId)?.error],
      [
        "failed",
        `update to 2.0.0 refused: image ${V2_IMAGE} could not be pulled: initializing source docker://${V2_IMAGE}: reading manifest in ${V2_IMAGE}: manifest unknown: manifest unknown; the registry docker.io has no such image or digest: check the manifest's image reference; 1.0.0 left as it was`,
      ],
    );
    assert.equal(w.runtime.calls.filter((c) => c === "image-pull").length, 1, "one pull, not retried");
    assert.equal(w.runtime.count("stop"), stops, "the old version was never stopped");
    assert.deepEqual(
      w.runtime.of("alpha").map((c) => [c.id, c.state]),
      [[v1.id, "running"]],
      "the same container, running",
    );
    assert.equal(w.runtime.of("alpha")[0]?.startedAt, v1.startedAt, "not even restarted");
    assert.deepEqual([w.app("alpha")?.version, w.app("alpha")?.phase], ["1.0.0", "running"]);
    assert.deepEqual(snapshotsOf(w), [], "no snapshot");
    assert.deepEqual(dataTree(dataDir), before);
    assert.equal(w.store.getUpdate("alpha"), undefined);
  });

  test("an image gone after the pre-flight (and not pullable) is rolled back at once", async () => {
    const w = setup();
    const { dataDir, before, v1 } = await installed(w);
    w.runtime.afterMutation = (method) => {
      if (method === "stop") w.runtime.missingImages.add(V2_IMAGE);
    };
    const op = w.lifecycle.update(v2());
    await w.settle();
    w.runtime.afterMutation = undefined;
    assert.equal(w.op(op.operationId)?.state, "failed");
    assert.equal(
      w.op(op.operationId)?.error,
      `update to 2.0.0 failed (image ${V2_IMAGE} could not be pulled: initializing source docker://${V2_IMAGE}: reading manifest in ${V2_IMAGE}: manifest unknown: manifest unknown; the registry docker.io has no such image or digest: check the manifest's image reference): rolled back to 1.0.0`,
    );
    runningOnce(w.runtime, "alpha");
    assert.equal(w.runtime.of("alpha")[0]?.specHash, v1.specHash);
    assert.deepEqual(dataTree(dataDir), before);
  });

  test("not enough room for the snapshot: refused with sizes, the old version left running", async () => {
    const w = setup({
      snapshots: (dataRoot) => {
        const real = new DataSnapshots({ dataRoot, userNamespace: false });
        return { ...wrap(real), freeBytes: async () => ({ bytes: 1_000_000, where: "/full/disk" }) };
      },
    });
    const { v1 } = await installed(w);
    const stops = w.runtime.count("stop");
    const op = w.lifecycle.update(v2());
    await w.settle();
    assert.equal(w.op(op.operationId)?.state, "failed");
    assert.match(
      w.op(op.operationId)?.error ?? "",
      /^update to 2\.0\.0 refused: not enough free space for a snapshot of the data: it takes .+, 64 MiB needed with the margin, 977 KiB free on \/full\/disk; free some space and update again; 1\.0\.0 left as it was$/,
    );
    assert.equal(w.runtime.count("stop"), stops);
    assert.equal(w.runtime.of("alpha")[0]?.id, v1.id);
    assert.equal(w.runtime.of("alpha")[0]?.state, "running");
    assert.equal(w.app("alpha")?.version, "1.0.0");
  });

  test("a failing post_update hook rolls back, with the hook's output in the reason", async () => {
    const w = setup();
    const { dataDir, before } = await installed(w);
    w.runtime.execResult = (command) =>
      command.join(" ").includes("migrate")
        ? { exitCode: 3, stdout: "", stderr: "migration 7 failed: column exists" }
        : { exitCode: 0, stdout: "", stderr: "" };
    const op = w.lifecycle.update(v2({ postUpdate: "migrate --to 2" }));
    await w.settle();
    assert.equal(w.op(op.operationId)?.state, "failed");
    assert.match(
      w.op(op.operationId)?.error ?? "",
      /^update to 2\.0\.0 failed \(post_update step 1: .*migrate --to 2` exited with 3; its last lines: migration 7 failed: column exists\): rolled back to 1\.0\.0$/,
    );
    assert.deepEqual([w.app("alpha")?.version, w.app("alpha")?.phase], ["1.0.0", "running"]);
    assert.deepEqual(dataTree(dataDir), before);
  });

  test("a crash-looping new version is rolled back at its deadline, without waiting out the backoff", async () => {
    const w = setup();
    const { dataDir, before } = await installed(w);
    w.runtime.crashingImages.add(V2_IMAGE);
    const op = w.lifecycle.update(v2());
    await w.settle();
    assert.equal(w.app("alpha")?.phase, "retrying");
    w.advance(26_000); // past the deadline, before the third attempt's delay
    await w.reconciler.reconcileApp("alpha");
    await w.settle();
    assert.equal(w.op(op.operationId)?.state, "failed");
    assert.match(w.op(op.operationId)?.error ?? "", /web is not running\): rolled back to 1\.0\.0$/);
    runningOnce(w.runtime, "alpha");
    assert.deepEqual(dataTree(dataDir), before);
  });

  test("a stop during the update window supersedes it: the update is undone, the app stopped on 1.0.0", async () => {
    const w = setup();
    const { dataDir, before } = await installed(w);
    w.setHealth((_app, _key, c) => (isV2(c) ? "starting" : undefined));
    const op = w.lifecycle.update(v2());
    await w.settle();
    writeFileSync(join(dataDir, "volumes", "data", "written-by-2.0.0"), "new\n");
    const stop = w.lifecycle.stop("alpha");
    await w.settle();
    assert.match(w.op(op.operationId)?.error ?? "", /^superseded by stop/);
    assert.equal(w.op(stop.operationId)?.state, "succeeded");
    assert.deepEqual([w.app("alpha")?.version, w.app("alpha")?.phase], ["1.0.0", "stopped"]);
    assert.deepEqual(dataTree(dataDir), before);
    assert.ok(logOf(w, stop.operationId).some((l) => /rolling back to 1\.0\.0/.test(l)));
    w.lifecycle.start("alpha");
    await w.settle();
    assert.equal(w.runtime.of("alpha")[0]?.image, "docker.io/library/nginx:1.27");
  });

  test("a rollback that cannot restore the data ends failed (rollback failed too); retry resumes it", async () => {
    let broken = true;
    const w = setup({
      snapshots: (dataRoot) => {
        const real = new DataSnapshots({ dataRoot, userNamespace: false });
        return {
          ...wrap(real),
          restore: (appId: string, path: string, note: Note) =>
            broken
              ? Promise.reject(new Error("cp: No space left on device"))
              : real.restore(appId, path, note),
        };
      },
    });
    const { dataDir, before } = await installed(w);
    w.setHealth((_app, _key, c) => (isV2(c) ? "unhealthy" : undefined));
    const op = w.lifecycle.update(v2());
    await w.settle();
    writeFileSync(join(dataDir, "volumes", "data", "written-by-2.0.0"), "new\n");
    w.advance(26_000);
    await w.reconciler.reconcileApp("alpha");
    for (let attempt = 0; attempt < 4 && w.app("alpha")?.phase !== "failed"; attempt++) {
      assert.equal(w.app("alpha")?.phase, "retrying", w.app("alpha")?.reason);
      w.advance(600_000);
      await w.reconciler.reconcileApp("alpha");
    }
    assert.equal(w.app("alpha")?.phase, "failed");
    const error =
      "update to 2.0.0 failed (2.0.0 did not become healthy within its update window of 25.5 s: web is unhealthy (probe: connection refused)); going back to 1.0.0 failed too: cp: No space left on device (retry to resume)";
    assert.deepEqual([w.op(op.operationId)?.state, w.op(op.operationId)?.error], ["failed", error]);
    assert.equal(w.app("alpha")?.reason, error);
    assert.deepEqual(w.runtime.of("alpha"), [], "the new version is not left running");
    assert.throws(
      () => w.lifecycle.update(sourced("alpha", { version: "3.0.0", data: true })),
      /going back from the update to 2\.0\.0 has not finished \(rolling-back\); retry alpha to finish it/,
    );
    broken = false;
    const retry = w.lifecycle.retry("alpha");
    await w.settle();
    assert.equal(w.op(retry.operationId)?.state, "succeeded");
    assert.deepEqual([w.app("alpha")?.version, w.app("alpha")?.phase], ["1.0.0", "running"]);
    assert.deepEqual(dataTree(dataDir), before);
    assert.equal(w.store.getUpdate("alpha"), undefined);
  });

  test("purge deletes the app's snapshots with its data", async () => {
    const w = setup();
    await installed(w);
    w.lifecycle.update(sourced("alpha", { version: "1.1.0", data: true, health: true }));
    await w.settle();
    assert.equal(snapshotsOf(w).length, 1);
    w.lifecycle.uninstall("alpha", { purge: true });
    await w.settle();
    assert.equal(existsSync(join(w.dataRoot, "snapshots", "alpha")), false);
    assert.equal(existsSync(appDataDir(w.dataRoot, "alpha")), false);
  });

  describe("daemon killed during an update", () => {
    // The mutations of an update to a healthy version: stop (for the snapshot), remove (outdated),
    // network and volumes (prepare), create, start.
    const STEPS = ["stop", "remove", "network", "volumes", "create", "start"];
    for (let step = 1; step <= STEPS.length; step++)
      for (const afterEffect of [false, true])
        test(`killed ${afterEffect ? "after" : "before"} ${STEPS[step - 1]}: resumes, the new version runs healthy, data kept`, async () => {
          const w = setup();
          const { dataDir, before } = await installed(w);
          w.runtime.crashAt = { n: w.runtime.mutations + step, afterEffect };
          const op = w.lifecycle.update(v2());
          await w.runtime.crashed;
          assert.ok(w.store.getUpdate("alpha"), "the update is recorded for the next daemon");
          w.runtime.crashAt = undefined;
          w.restart();
          await w.reconciler.syncAll();
          await w.settle();
          assert.equal(w.op(op.operationId)?.state, "succeeded", w.app("alpha")?.reason);
          runningOnce(w.runtime, "alpha");
          assert.ok(isV2(w.runtime.of("alpha")[0] as ObservedContainer));
          assert.deepEqual(dataTree(dataDir), before);
          assert.equal(snapshotsOf(w).length, 1, "one snapshot, even when it was taken twice");
          assert.equal(w.store.getUpdate("alpha"), undefined);
        });

    // The mutations of a rollback: stop and remove the new container, then prepare, create, start.
    const ROLLBACK = ["stop", "remove", "network", "volumes", "create", "start"];
    for (let step = 1; step <= ROLLBACK.length; step++)
      test(`killed after the rollback's ${ROLLBACK[step - 1]}: resumes, 1.0.0 runs, data exactly as before`, async () => {
        const w = setup();
        const { dataDir, before, v1 } = await installed(w);
        w.setHealth((_app, _key, c) => (isV2(c) ? "unhealthy" : undefined));
        const op = w.lifecycle.update(v2());
        await w.settle();
        writeFileSync(join(dataDir, "volumes", "data", "written-by-2.0.0"), "new\n");
        w.advance(26_000);
        w.runtime.crashAt = { n: w.runtime.mutations + step, afterEffect: true };
        void w.reconciler.reconcileApp("alpha");
        await w.runtime.crashed;
        w.runtime.crashAt = undefined;
        w.restart();
        await w.reconciler.syncAll();
        await w.settle();
        assert.equal(w.op(op.operationId)?.state, "failed");
        assert.match(w.op(op.operationId)?.error ?? "", /: rolled back to 1\.0\.0$/);
        runningOnce(w.runtime, "alpha");
        assert.equal(w.runtime.of("alpha")[0]?.specHash, v1.specHash);
        assert.deepEqual(dataTree(dataDir), before);
        assert.equal(w.store.getUpdate("alpha"), undefined);
      });

    test("restarted long after the deadline: a healthy new version gets a grace to show it, and is kept", async () => {
      const w = setup();
      await installed(w);
      w.runtime.crashAt = { n: w.runtime.mutations + 6, afterEffect: true }; // after the new start
      const op = w.lifecycle.update(v2());
      await w.runtime.crashed;
      w.runtime.crashAt = undefined;
      w.advance(3_600_000);
      w.restart();
      await w.reconciler.syncAll();
      await w.settle();
      assert.equal(w.op(op.operationId)?.state, "succeeded");
      assert.equal(w.app("alpha")?.version, "2.0.0");
    });

    test("restarted long after the deadline: an unhealthy new version is rolled back once the grace is over", async () => {
      const w = setup();
      await installed(w);
      w.setHealth((_app, _key, c) => (isV2(c) ? "starting" : undefined));
      w.runtime.crashAt = { n: w.runtime.mutations + 6, afterEffect: true };
      const op = w.lifecycle.update(v2());
      await w.runtime.crashed;
      w.runtime.crashAt = undefined;
      w.advance(3_600_000);
      w.restart();
      await w.reconciler.syncAll();
      await w.settle();
      assert.equal(w.app("alpha")?.phase, "updating", "the grace, not an instant rollback");
      assert.equal(w.op(op.operationId)?.state, "running");
      w.advance(25_500);
      await w.reconciler.reconcileApp("alpha");
      await w.settle();
      assert.equal(w.op(op.operationId)?.state, "failed");
      assert.equal(w.app("alpha")?.version, "1.0.0");
    });
  });
});

describe("reconciler: no container runs with a permission the operator has not approved", () => {
  const RADIO = { device: "/dev/ttyUSB0" };
  const running = (w: ReturnType<typeof setup>) =>
    w.runtime
      .of("alpha")
      .filter((c) => c.state === "running")
      .map((c) => c.key);

  test("a revoke stops the app, which stays stopped across resyncs until the operator approves again", async () => {
    const w = setup();
    w.install("alpha", RADIO);
    await w.settle();
    assert.deepEqual(running(w), ["web"]);
    const revoke = w.lifecycle.revoke("alpha", "radio");
    await w.settle();
    assert.deepEqual(running(w), [], "stopped");
    const app = w.app("alpha");
    assert.deepEqual([app?.desired, app?.phase], ["running", "stopped"]);
    assert.match(app?.reason ?? "", /waiting for the operator to approve radio \(device \/dev\/ttyUSB0\)/);
    assert.equal(w.op(revoke.operationId)?.state, "succeeded", "the revoke reached its goal");
    const starts = w.runtime.count("start");
    for (let pass = 0; pass < 3; pass++) {
      w.advance(30_000);
      await w.reconciler.syncAll();
      await w.settle();
    }
    assert.equal(w.runtime.count("start"), starts, "no resync starts it");
    assert.deepEqual(running(w), []);
    const approve = w.lifecycle.approve("alpha", [{ name: "radio", content: "device /dev/ttyUSB0" }]);
    await w.settle();
    assert.deepEqual(running(w), ["web"]);
    assert.equal(w.op(approve.operationId)?.state, "succeeded");
    assert.equal(w.app("alpha")?.phase, "running");
  });

  test("an intent recorded around the lifecycle's check is held: nothing is created, the request fails with why", async () => {
    const w = setup();
    const app = sourced("alpha", RADIO);
    // What a path around package.install would leave: the intent, no approval.
    w.store.recordIntent(
      {
        appId: "alpha",
        operation: { id: "op-sneaky", kind: "install" },
        desired: "running",
        phase: "installing",
        manifest: { text: app.text, hash: manifestHash(app.text), version: "1.0.0", source: "test" },
      },
      w.clock(),
    );
    w.reconciler.enqueue("alpha");
    await w.settle();
    assert.equal(w.runtime.count("create"), 0, "no container was created");
    assert.equal(w.runtime.count("start"), 0);
    assert.equal(w.app("alpha")?.phase, "stopped");
    assert.equal(w.op("op-sneaky")?.state, "failed");
    assert.match(w.op("op-sneaky")?.error ?? "", /waiting for the operator to approve radio/);
  });

  test("an update whose new version asks for more is refused by the reconciler if it got past the lifecycle", async () => {
    const w = setup();
    w.install("alpha");
    await w.settle();
    const next = sourced("alpha", { ...RADIO, version: "2.0.0" });
    w.store.recordIntent(
      {
        appId: "alpha",
        operation: { id: "op-update", kind: "update" },
        desired: "running",
        phase: "starting",
        update: true,
        manifest: { text: next.text, hash: manifestHash(next.text), version: "2.0.0", source: "test" },
      },
      w.clock(),
    );
    w.reconciler.enqueue("alpha");
    await w.settle();
    assert.equal(w.app("alpha")?.version, "1.0.0", "the previous version is back");
    assert.deepEqual(running(w), ["web"]);
    assert.equal(w.op("op-update")?.state, "failed");
    assert.match(w.op("op-update")?.error ?? "", /asks for permissions the operator has not approved: radio/);
  });

  test("the executor refuses to create, start or restart with an unapproved permission, whatever planned it", async () => {
    const w = setup();
    const { manifest } = sourced("alpha", RADIO);
    const executor = new Executor({
      runtime: w.runtime,
      secrets: w.secrets,
      dataRoot: w.dataRoot,
      approvals: () => [{ name: "radio", content: "device /dev/ttyUSB1" }],
      hostPaths: new HostPathGuard({ protectedDirs: () => [] }),
      sharedNames: () => new Set(),
    });
    const ctx = { dataRoot: w.dataRoot, dependencies: {} };
    const container = { id: "c1", name: "alpha", backend: "podman" as const, unit: undefined };
    for (const action of [
      { kind: "create" as const, key: "web", backend: "podman" as const },
      { kind: "start" as const, key: "web", container },
      { kind: "restart" as const, key: "web", container, timeoutSeconds: 10 },
    ])
      await assert.rejects(
        executor.run(manifest, action, ctx, () => {}),
        NotApprovedError,
      );
    assert.equal(w.runtime.count(), 0, "nothing reached Podman");
  });
});
