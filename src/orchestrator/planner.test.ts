/**
 * The planner: exhaustive examples (desired state × observed situation → exact actions, order and
 * phase) and properties over a simulated world (a pure model of Podman containers): from any state
 * the plan converges, never purges data unless asked, only removes what must go, and a stop never
 * starts anything.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { DependsCondition } from "../manifest/schema.ts";
import type { DesiredState } from "./model.ts";
import {
  type Action,
  type Health,
  type Plan,
  type PlanInput,
  plan,
  type SeenContainer,
  type WantedContainer,
} from "./planner.ts";

// ---- vocabulary

const hashOf = (key: string) => `hash-${key}-v2`;

function want(
  key: string,
  stopTimeoutSeconds: number,
  dependsOn: Record<string, DependsCondition> = {},
  job = false,
): WantedContainer {
  return {
    key,
    name: `app-${key}`,
    specHash: hashOf(key),
    stopTimeoutSeconds,
    dependsOn: Object.entries(dependsOn).map(([k, condition]) => ({ key: k, condition })),
    job,
  };
}

/** A three-container stack in start order: web needs db healthy and cache started. */
const STACK: WantedContainer[] = [
  want("cache", 5),
  want("db", 7),
  want("web", 3, { db: "healthy", cache: "started" }),
];
const SINGLE: WantedContainer[] = [want("web", 3)];

/** A container of `key` as Podman would show it: the platform's name and labels, the right hash. */
function seen(key: string | undefined, state: string, extra: Partial<SeenContainer> = {}): SeenContainer {
  return {
    id: `${key ?? "nokey"}-${state}`,
    name: `app-${key}`,
    key,
    specHash: key ? hashOf(key) : undefined,
    state,
    createdAt: 1_000,
    startedAt: state === "running" || state === "stopping" ? 2_000 : undefined,
    backend: "podman",
    unit: undefined,
    ...extra,
  };
}

const ALL_HEALTHY: Record<string, Health> = { cache: "healthy", db: "healthy", web: "healthy" };

function input(partial: Partial<PlanInput>): PlanInput {
  return {
    desired: "running",
    purge: false,
    wanted: STACK,
    seen: [],
    health: {},
    restartRequestedAt: undefined,
    healthRestarts: [],
    crashHeld: {},
    recreateRequestedAt: undefined,
    blockedBy: [],
    createWith: "podman",
    ...partial,
  };
}

/** An action in one line: `stop web@web-running t=3`, `remove db@x (duplicate) t=7`, `create web`. */
function line(action: Action): string {
  switch (action.kind) {
    case "create":
      return `create ${action.key}`;
    case "start":
      return `start ${action.key}@${action.container.id}`;
    case "stop":
    case "restart":
      return `${action.kind} ${action.key}@${action.container.id} t=${action.timeoutSeconds}`;
    case "remove":
      return `remove ${action.key ?? "-"}@${action.container.id} (${action.why}) t=${action.timeoutSeconds}`;
    default:
      return action.kind;
  }
}

function expectPlan(result: Plan, actions: string[], phase: Plan["phase"], waiting: string[] = []): void {
  assert.deepEqual(result.actions.map(line), actions);
  assert.equal(result.phase, phase);
  assert.deepEqual(result.waiting, waiting);
}

const running = (key: string, extra: Partial<SeenContainer> = {}) => seen(key, "running", extra);
const allRunning = () => [running("cache"), running("db"), running("web")];

// ---- desired running

describe("plan: desired running", () => {
  test("nothing observed: prepare, then create what has no unmet dependency, in start order", () => {
    expectPlan(plan(input({})), ["prepare", "create cache", "create db"], "installing", [
      "web waits for db to be healthy",
      "web waits for cache to be running",
    ]);
    expectPlan(plan(input({ wanted: SINGLE })), ["prepare", "create web"], "installing");
  });

  test("all running, healthy and up to date: nothing to do", () => {
    expectPlan(plan(input({ seen: allRunning(), health: ALL_HEALTHY })), [], "running");
    // Health only matters to dependants: an unhealthy leaf is not restarted by the planner.
    expectPlan(
      plan(input({ seen: allRunning(), health: { ...ALL_HEALTHY, web: "unhealthy" } })),
      [],
      "running",
    );
  });

  test("exited, created and unknown containers are started (no recreation), in start order", () => {
    expectPlan(
      plan(
        input({
          seen: [seen("cache", "exited"), seen("db", "created"), running("web")],
          health: ALL_HEALTHY,
        }),
      ),
      ["start cache@cache-exited", "start db@db-created"],
      "starting",
    );
    expectPlan(
      plan(input({ wanted: SINGLE, seen: [seen("web", "unknown")] })),
      ["start web@web-unknown"],
      "starting",
    );
  });

  test("a stack comes up wave by wave: dependencies first, the dependant once they are met", () => {
    const exited = [seen("cache", "exited"), seen("db", "exited"), seen("web", "exited")];
    expectPlan(
      plan(input({ seen: exited })),
      ["start cache@cache-exited", "start db@db-exited"],
      "starting",
      ["web waits for db to be healthy", "web waits for cache to be running"],
    );
    const upNotHealthy = [running("cache"), running("db"), seen("web", "exited")];
    expectPlan(
      plan(input({ seen: upNotHealthy, health: { cache: "starting", db: "starting" } })),
      [],
      "waiting",
      ["web waits for db to be healthy"],
    );
    expectPlan(
      plan(input({ seen: upNotHealthy, health: { cache: "starting", db: "unhealthy" } })),
      [],
      "waiting",
      ["web waits for db to be healthy"],
    );
    // `started` needs the cache running, not healthy; `healthy` needs the db healthy.
    expectPlan(
      plan(input({ seen: upNotHealthy, health: { cache: "unhealthy", db: "healthy" } })),
      ["start web@web-exited"],
      "starting",
    );
    expectPlan(
      plan(input({ seen: [running("cache"), running("db")], health: { db: "healthy" } })),
      ["prepare", "create web"],
      "starting",
    );
    expectPlan(
      plan(
        input({
          seen: [seen("cache", "exited"), running("db"), seen("web", "exited")],
          health: { db: "healthy" },
        }),
      ),
      ["start cache@cache-exited"],
      "starting",
      ["web waits for cache to be running"],
    );
  });

  test("transient states are waited for, never acted upon", () => {
    expectPlan(
      plan(input({ seen: [running("cache"), seen("db", "stopping"), running("web")], health: ALL_HEALTHY })),
      [],
      "waiting",
      ["db is still stopping"],
    );
    expectPlan(
      plan(
        input({
          seen: [running("cache"), seen("db", "removing"), seen("web", "exited")],
          health: ALL_HEALTHY,
        }),
      ),
      [],
      "waiting",
      ["db is still removing", "web waits for db to be healthy"],
    );
  });

  test("duplicates of a key: the best one is kept (right hash > right name > running > newest), the others removed", () => {
    // Same hash: the one with the manifest's name wins.
    expectPlan(
      plan(
        input({
          wanted: SINGLE,
          seen: [
            running("web", { id: "b", name: "web-copy", startedAt: 9_000 }),
            running("web", { id: "a" }),
          ],
        }),
      ),
      ["remove web@b (duplicate) t=3"],
      "starting",
    );
    // The right hash beats the right name and running.
    expectPlan(
      plan(
        input({
          wanted: SINGLE,
          seen: [
            running("web", { id: "old", specHash: "hash-web-v1" }),
            seen("web", "exited", { id: "new", name: "web-2" }),
          ],
        }),
      ),
      ["remove web@old (duplicate) t=3", "start web@new"],
      "starting",
    );
    // All else equal: the most recently started, then the lowest id.
    expectPlan(
      plan(
        input({
          wanted: SINGLE,
          seen: [
            running("web", { id: "x", name: "n1", startedAt: 5_000 }),
            running("web", { id: "y", name: "n2", startedAt: 6_000 }),
            running("web", { id: "z", name: "n3", startedAt: 6_000 }),
          ],
        }),
      ),
      ["remove web@x (duplicate) t=3", "remove web@z (duplicate) t=3"],
      "starting",
    );
  });

  test("a container whose spec hash differs is recreated: stop, remove, create (data stays in volumes)", () => {
    expectPlan(
      plan(input({ wanted: SINGLE, seen: [running("web", { specHash: "hash-web-v1" })] })),
      ["prepare", "stop web@web-running t=3", "remove web@web-running (outdated) t=3", "create web"],
      "starting",
    );
    expectPlan(
      plan(input({ wanted: SINGLE, seen: [seen("web", "exited", { specHash: "hash-web-v1" })] })),
      ["prepare", "remove web@web-exited (outdated) t=3", "create web"],
      "starting",
    );
    // Only the changed container of a stack is recreated; the others are left running.
    expectPlan(
      plan(
        input({
          seen: [running("cache"), running("db", { specHash: "hash-db-v1" }), running("web")],
          health: ALL_HEALTHY,
        }),
      ),
      ["prepare", "stop db@db-running t=7", "remove db@db-running (outdated) t=7", "create db"],
      "starting",
    );
    // An outdated container that is still stopping is waited for, not removed under Podman's feet.
    expectPlan(
      plan(input({ wanted: SINGLE, seen: [seen("web", "stopping", { specHash: "hash-web-v1" })] })),
      [],
      "waiting",
      ["web is still stopping"],
    );
  });

  test("an adopted legacy container (no spec hash) is left alone, whatever its name", () => {
    const legacy = running("web", { id: "legacy", name: "my-old-web", specHash: undefined });
    expectPlan(plan(input({ wanted: SINGLE, seen: [legacy] })), [], "running");
    expectPlan(
      plan(input({ wanted: SINGLE, seen: [{ ...legacy, state: "exited" }] })),
      ["start web@legacy"],
      "starting",
    );
  });

  test("strays (keys the manifest no longer has, or no key) are removed; the rest is untouched", () => {
    expectPlan(
      plan(
        input({
          wanted: SINGLE,
          seen: [running("web"), running("gone", { id: "gone" }), seen(undefined, "exited", { id: "anon" })],
        }),
      ),
      ["remove gone@gone (outdated) t=10", "remove -@anon (outdated) t=10"],
      "starting",
    );
  });

  test("restart requested: containers started before it are restarted in start order, later ones are not", () => {
    const at = 5_000;
    expectPlan(
      plan(input({ seen: allRunning(), health: ALL_HEALTHY, restartRequestedAt: at })),
      ["restart cache@cache-running t=5", "restart db@db-running t=7", "restart web@web-running t=3"],
      "restarting",
    );
    expectPlan(
      plan(
        input({
          seen: [running("cache", { startedAt: 6_000 }), running("db", { startedAt: at }), running("web")],
          health: ALL_HEALTHY,
          restartRequestedAt: at,
        }),
      ),
      ["restart web@web-running t=3"],
      "restarting",
    );
    const after = allRunning().map((c) => ({ ...c, startedAt: 6_000 }));
    expectPlan(plan(input({ seen: after, health: ALL_HEALTHY, restartRequestedAt: at })), [], "running");
    // A stopped container is simply started (its start is newer than the request).
    expectPlan(
      plan(input({ wanted: SINGLE, seen: [seen("web", "exited")], restartRequestedAt: at })),
      ["start web@web-exited"],
      "starting",
    );
  });

  test("health restarts: exactly the containers named are restarted, running ones only", () => {
    const health: Record<string, Health> = { ...ALL_HEALTHY, web: "unhealthy" };
    expectPlan(
      plan(input({ seen: allRunning(), health, healthRestarts: ["web"] })),
      ["restart web@web-running t=3"],
      "restarting",
    );
    // Unhealthy but not (yet) due for a restart: nothing to do.
    expectPlan(plan(input({ seen: allRunning(), health, healthRestarts: [] })), [], "running");
    // A container that is not running is started, not restarted; a stopped app is never restarted.
    expectPlan(
      plan(input({ wanted: SINGLE, seen: [seen("web", "exited")], healthRestarts: ["web"] })),
      ["start web@web-exited"],
      "starting",
    );
    expectPlan(
      plan(input({ desired: "stopped", seen: allRunning(), health, healthRestarts: ["web"] })),
      ["stop web@web-running t=3", "stop db@db-running t=7", "stop cache@cache-running t=5"],
      "stopping",
    );
  });

  test("reinstall requested: containers created before it are recreated (stops in reverse order), later ones are kept", () => {
    const at = 5_000;
    expectPlan(
      plan(input({ seen: allRunning(), health: ALL_HEALTHY, recreateRequestedAt: at })),
      [
        "prepare",
        "stop web@web-running t=3",
        "remove web@web-running (outdated) t=3",
        "stop db@db-running t=7",
        "remove db@db-running (outdated) t=7",
        "stop cache@cache-running t=5",
        "remove cache@cache-running (outdated) t=5",
        "create cache",
        "create db",
      ],
      "starting",
      ["web waits for db to be healthy", "web waits for cache to be running"],
    );
    const recreated = allRunning().map((c) => ({ ...c, createdAt: 6_000 }));
    expectPlan(plan(input({ seen: recreated, health: ALL_HEALTHY, recreateRequestedAt: at })), [], "running");
    // A legacy container is recreated too when the operator asks for a reinstall.
    expectPlan(
      plan(
        input({
          wanted: SINGLE,
          seen: [running("web", { specHash: undefined, name: "legacy" })],
          recreateRequestedAt: at,
        }),
      ),
      ["prepare", "stop web@web-running t=3", "remove web@web-running (outdated) t=3", "create web"],
      "starting",
    );
  });

  test("blocked by dependencies: nothing is created or started while nothing runs", () => {
    const blockedBy = ["dependency base is not installed"];
    expectPlan(plan(input({ blockedBy })), [], "waiting", blockedBy);
    expectPlan(
      plan(input({ wanted: SINGLE, seen: [seen("web", "exited")], blockedBy })),
      [],
      "waiting",
      blockedBy,
    );
    // Cleanup still happens (it never starts anything).
    expectPlan(
      plan(input({ wanted: SINGLE, seen: [seen("gone", "exited")], blockedBy })),
      ["remove gone@gone-exited (outdated) t=10"],
      "waiting",
      blockedBy,
    );
    // An app that already runs is not torn down because a dependency went away: it is completed.
    expectPlan(
      plan(
        input({
          seen: [running("cache"), running("db"), seen("web", "exited")],
          health: ALL_HEALTHY,
          blockedBy,
        }),
      ),
      ["start web@web-exited"],
      "starting",
    );
  });
});

// ---- desired stopped

describe("plan: one-shot jobs", () => {
  /** migrate is a job; web starts once it completed. */
  const JOBS: WantedContainer[] = [want("migrate", 4, {}, true), want("web", 3, { migrate: "completed" })];
  const exited = (key: string, exitCode: number, extra: Partial<SeenContainer> = {}) =>
    seen(key, "exited", { exitCode, ...extra });

  test("install: the job is created first, its dependant waits for it to complete", () => {
    expectPlan(plan(input({ wanted: JOBS })), ["prepare", "create migrate"], "installing", [
      "web waits for migrate to complete",
    ]);
  });

  test("a job created and not started yet is started", () => {
    expectPlan(
      plan(input({ wanted: JOBS, seen: [seen("migrate", "created")] })),
      ["prepare", "start migrate@migrate-created"],
      "starting",
      ["web waits for migrate to complete"],
    );
  });

  test("a job running to completion: nothing starts after it, it is not restarted, the app is starting", () => {
    expectPlan(
      plan(input({ wanted: JOBS, seen: [running("migrate")], restartRequestedAt: 5_000 })),
      ["prepare"],
      "starting",
      ["web waits for migrate to complete"],
    );
  });

  test("a job that exited 0 let its dependant start", () => {
    expectPlan(
      plan(input({ wanted: JOBS, seen: [exited("migrate", 0)] })),
      ["prepare", "create web"],
      "starting",
    );
  });

  test("a completed job is never started again: not for a restart, nor as a crash, nor by a start", () => {
    const result = plan(
      input({
        wanted: JOBS,
        seen: [exited("migrate", 0), running("web")],
        restartRequestedAt: 5_000,
        crashHeld: { migrate: 9_000 },
      }),
    );
    expectPlan(result, ["restart web@web-running t=3"], "restarting");
    expectPlan(plan(input({ wanted: JOBS, seen: [exited("migrate", 0), running("web")] })), [], "running");
    assert.equal(
      plan(input({ wanted: JOBS, seen: [exited("migrate", 0), running("web")] })).failedJobs,
      undefined,
    );
  });

  test("a job that exited non-zero is reported with its exit code, not started again, and nothing waits on it starts", () => {
    const result = plan(input({ wanted: JOBS, seen: [exited("migrate", 3)] }));
    expectPlan(result, ["prepare"], "starting", ["web waits for migrate to complete"]);
    assert.deepEqual(result.failedJobs, [
      {
        key: "migrate",
        container: { id: "migrate-exited", name: "app-migrate", backend: "podman", unit: undefined },
        exitCode: 3,
      },
    ]);
  });

  test("a job that never ran on a Quadlet node (its unit is down, seen as created) is started, not taken as completed", () => {
    expectPlan(
      plan(
        input({
          wanted: JOBS,
          seen: [
            seen("migrate", "created", { backend: "quadlet", unit: "app-migrate.service", exitCode: 0 }),
          ],
        }),
      ),
      ["prepare", "start migrate@migrate-created"],
      "starting",
      ["web waits for migrate to complete"],
    );
  });

  test("an update or a reinstall runs the job again: an outdated or older one is replaced first", () => {
    expectPlan(
      plan(
        input({
          wanted: JOBS,
          seen: [exited("migrate", 0, { specHash: "old" }), running("web", { specHash: "old" })],
        }),
      ),
      [
        "prepare",
        "stop web@web-running t=3",
        "remove web@web-running (outdated) t=3",
        "remove migrate@migrate-exited (outdated) t=4",
        "create migrate",
      ],
      "starting",
      ["web waits for migrate to complete"],
    );
    expectPlan(
      plan(input({ wanted: JOBS, seen: [exited("migrate", 0), running("web")], recreateRequestedAt: 1_500 })),
      [
        "prepare",
        "stop web@web-running t=3",
        "remove web@web-running (outdated) t=3",
        "remove migrate@migrate-exited (outdated) t=4",
        "create migrate",
      ],
      "starting",
      ["web waits for migrate to complete"],
    );
  });

  test("a stop interrupts a running job and removes it (it runs again at the next start); a completed one stays", () => {
    expectPlan(
      plan(input({ desired: "stopped", wanted: JOBS, seen: [running("migrate")] })),
      ["stop migrate@migrate-running t=4", "remove migrate@migrate-running (job-interrupted) t=4"],
      "stopping",
    );
    expectPlan(
      plan(input({ desired: "stopped", wanted: JOBS, seen: [exited("migrate", 0), running("web")] })),
      ["stop web@web-running t=3"],
      "stopping",
    );
    expectPlan(
      plan(input({ desired: "stopped", wanted: JOBS, seen: [exited("migrate", 0)] })),
      [],
      "stopped",
    );
  });
});

describe("plan: the backend of new containers", () => {
  const backendOf = (partial: Partial<PlanInput>) =>
    plan(input({ wanted: SINGLE.concat(want("worker", 3)), ...partial }))
      .actions.flatMap((a) => (a.kind === "create" ? [`${a.key}:${a.backend}`] : []))
      .join(" ");
  const quadlet = { backend: "quadlet" as const, unit: "x.service" };

  test("an app with no container takes the daemon's backend", () => {
    assert.equal(backendOf({ createWith: "quadlet" }), "web:quadlet worker:quadlet");
    assert.equal(backendOf({ createWith: "podman" }), "web:podman worker:podman");
  });

  test("an app keeps the backend of the containers it keeps: a plain one stays plain under a Quadlet daemon", () => {
    // A Quadlet unit requires its dependencies' units: a plain container has none.
    assert.equal(backendOf({ createWith: "quadlet", seen: [running("web")] }), "worker:podman");
    assert.equal(backendOf({ createWith: "podman", seen: [running("web", quadlet)] }), "worker:quadlet");
    assert.equal(
      backendOf({
        createWith: "quadlet",
        seen: [running("web", quadlet), running("worker-x", { key: undefined })],
      }),
      "worker:quadlet",
    );
  });

  test("a reinstall recreates the whole app: it moves to the daemon's backend", () => {
    const old = running("web", { createdAt: 1_000 });
    const result = plan(
      input({ wanted: SINGLE, createWith: "quadlet", seen: [old], recreateRequestedAt: 5_000 }),
    );
    expectPlan(
      result,
      ["prepare", "stop web@web-running t=3", "remove web@web-running (outdated) t=3", "create web"],
      "starting",
    );
    assert.deepEqual(
      result.actions.filter((a) => a.kind === "create").map((a) => a.kind === "create" && a.backend),
      ["quadlet"],
    );
  });
});

describe("plan: desired stopped", () => {
  const stopped = (partial: Partial<PlanInput>) => plan(input({ desired: "stopped", ...partial }));

  test("nothing observed: stopped, nothing created", () => {
    expectPlan(stopped({}), [], "stopped");
  });

  test("running containers are stopped in reverse start order, each with its own timeout", () => {
    expectPlan(
      stopped({ seen: allRunning(), health: ALL_HEALTHY }),
      ["stop web@web-running t=3", "stop db@db-running t=7", "stop cache@cache-running t=5"],
      "stopping",
    );
    expectPlan(
      stopped({ seen: [seen("cache", "exited"), running("db"), seen("web", "created")] }),
      ["stop db@db-running t=7"],
      "stopping",
    );
    expectPlan(
      stopped({ seen: [seen("cache", "exited"), seen("db", "exited"), seen("web", "created")] }),
      [],
      "stopped",
    );
  });

  test("a Quadlet container already down but still started at boot is stopped (its unit taken out of the boot)", () => {
    const down = (key: string, startsAtBoot: boolean) =>
      seen(key, "exited", { id: `${key}.service`, backend: "quadlet", unit: `${key}.service`, startsAtBoot });
    expectPlan(
      stopped({ seen: [down("cache", true), down("db", false), running("web", { backend: "quadlet" })] }),
      ["stop web@web-running t=3", "stop cache@cache.service t=5"],
      "stopping",
    );
    expectPlan(stopped({ seen: [down("cache", false), down("db", false)] }), [], "stopped");
  });

  test("transient containers keep the phase at stopping until Podman is done", () => {
    expectPlan(stopped({ seen: [seen("cache", "exited"), seen("db", "stopping")] }), [], "stopping");
  });

  test("duplicates and strays are removed; an outdated or legacy container is only stopped, never recreated", () => {
    expectPlan(
      stopped({
        wanted: SINGLE,
        seen: [
          running("web", { id: "a" }),
          running("web", { id: "b", name: "copy" }),
          running("gone", { id: "g" }),
        ],
      }),
      ["remove web@b (duplicate) t=3", "remove gone@g (outdated) t=10", "stop web@a t=3"],
      "stopping",
    );
    expectPlan(
      stopped({ wanted: SINGLE, seen: [running("web", { specHash: "hash-web-v1" })] }),
      ["stop web@web-running t=3"],
      "stopping",
    );
    expectPlan(
      stopped({ wanted: SINGLE, seen: [running("web", { specHash: undefined, name: "legacy" })] }),
      ["stop web@web-running t=3"],
      "stopping",
    );
  });

  test("restart, reinstall and dependencies do not wake a stopped app", () => {
    const exited = [seen("cache", "exited"), seen("db", "exited"), seen("web", "exited")];
    expectPlan(
      stopped({
        seen: exited,
        restartRequestedAt: 9_000,
        recreateRequestedAt: 9_000,
        blockedBy: ["dependency base is not installed"],
      }),
      [],
      "stopped",
    );
  });
});

// ---- desired absent

describe("plan: desired absent", () => {
  const absent = (partial: Partial<PlanInput>) => plan(input({ desired: "absent", ...partial }));

  test("nothing left: remove the app's resources and forget it; data only with purge", () => {
    expectPlan(absent({}), ["remove-resources", "forget"], "removing");
    expectPlan(absent({ purge: true }), ["remove-resources", "purge-data", "forget"], "removing");
    assert.deepEqual(plan(input({ desired: "absent", purge: true })).actions[0], {
      kind: "remove-resources",
      purge: true,
    });
    assert.deepEqual(plan(input({ desired: "absent" })).actions[0], {
      kind: "remove-resources",
      purge: false,
    });
  });

  test("containers are stopped and removed in reverse start order; data is not purged in the same wave", () => {
    const expected = [
      "stop web@web-running t=3",
      "remove web@web-running (uninstall) t=3",
      "stop db@db-running t=7",
      "remove db@db-running (uninstall) t=7",
      "stop cache@cache-running t=5",
      "remove cache@cache-running (uninstall) t=5",
    ];
    expectPlan(absent({ seen: allRunning() }), expected, "removing");
    // A purge's removals say so (its log must not promise that the data stays).
    expectPlan(
      absent({ seen: allRunning(), purge: true }),
      expected.map((step) => step.replace("(uninstall)", "(purge)")),
      "removing",
    );
    expectPlan(
      absent({ seen: [seen("cache", "exited"), running("db"), seen("web", "created")] }),
      [
        "remove web@web-created (uninstall) t=3",
        "stop db@db-running t=7",
        "remove db@db-running (uninstall) t=7",
        "remove cache@cache-exited (uninstall) t=5",
      ],
      "removing",
    );
  });

  test("a container still stopping is waited for, and the app's resources stay until it is gone", () => {
    expectPlan(
      absent({ seen: [seen("cache", "exited"), seen("db", "stopping")], purge: true }),
      ["remove cache@cache-exited (purge) t=5"],
      "removing",
      ["a container is still stopping"],
    );
    expectPlan(absent({ seen: [seen("db", "stopping")], purge: true }), [], "removing", [
      "a container is still stopping",
    ]);
  });

  test("duplicates, strays and legacy containers all go", () => {
    expectPlan(
      absent({
        wanted: SINGLE,
        seen: [
          running("web", { id: "a", specHash: undefined, name: "legacy" }),
          seen("web", "exited", { id: "b", name: "copy" }),
          running("gone", { id: "g" }),
        ],
      }),
      [
        "remove web@b (duplicate) t=3",
        "remove gone@g (uninstall) t=10",
        "stop web@a t=3",
        "remove web@a (uninstall) t=3",
      ],
      "removing",
    );
  });
});

// ---- cross-cutting rules over every situation

const SITUATIONS: Record<string, Partial<PlanInput>> = {
  nothing: {},
  "all running": { seen: allRunning(), health: ALL_HEALTHY },
  "some exited or created": { seen: [seen("cache", "exited"), seen("db", "created"), running("web")] },
  "transient stopping": { seen: [running("cache"), seen("db", "stopping"), seen("web", "removing")] },
  duplicates: { seen: [...allRunning(), running("web", { id: "dup", name: "dup" })] },
  "wrong hash": { seen: [running("cache"), running("db", { specHash: "old" }), running("web")] },
  legacy: { seen: [running("cache", { specHash: undefined, name: "legacy" })] },
  strays: { seen: [running("gone"), seen(undefined, "exited")] },
  "restart before": { seen: allRunning(), health: ALL_HEALTHY, restartRequestedAt: 9_000 },
  "restart after": { seen: allRunning(), health: ALL_HEALTHY, restartRequestedAt: 1 },
  "reinstall before": { seen: allRunning(), health: ALL_HEALTHY, recreateRequestedAt: 9_000 },
  "reinstall after": { seen: allRunning(), health: ALL_HEALTHY, recreateRequestedAt: 1 },
  "dependency unhealthy": { seen: [running("cache"), running("db")], health: { db: "unhealthy" } },
  blocked: { blockedBy: ["dependency base to be running (it is stopped)"] },
};

describe("plan: rules that hold in every situation", () => {
  for (const [name, situation] of Object.entries(SITUATIONS)) {
    for (const desired of ["running", "stopped", "absent"] as DesiredState[]) {
      for (const purge of desired === "absent" ? [false, true] : [false]) {
        test(`${desired}${purge ? "+purge" : ""} × ${name}`, () => {
          const given = input({ ...situation, desired, purge });
          const frozen = structuredClone(given);
          const result = plan(given);
          assert.deepEqual(given, frozen, "the planner does not mutate its input");
          assert.deepEqual(plan(frozen), result, "the planner is deterministic");
          const kinds = result.actions.map((a) => a.kind);
          if (!(desired === "absent" && purge))
            assert.ok(!kinds.includes("purge-data"), "no purge unless asked");
          if (desired !== "running")
            for (const kind of ["prepare", "create", "start", "restart"] as const)
              assert.ok(!kinds.includes(kind), `${desired} never does ${kind}`);
          if (desired !== "absent")
            for (const kind of ["remove-resources", "purge-data", "forget"] as const)
              assert.ok(!kinds.includes(kind), `${desired} never does ${kind}`);
          if (desired === "stopped") assert.ok(["stopping", "stopped"].includes(result.phase));
          if (desired === "absent") assert.equal(result.phase, "removing");
          // Every container is acted upon at most once per kind.
          const keys = result.actions.map((a) =>
            "container" in a ? `${a.kind}:${a.container.id}` : "key" in a ? `${a.kind}:${a.key}` : a.kind,
          );
          assert.equal(new Set(keys).size, keys.length, `no repeated action: ${keys.join(", ")}`);
        });
      }
    }
  }
});

// ---- properties over a simulated world

type SimContainer = SeenContainer & { healthyAfter: number; runningRounds: number };

const SHAPES: Record<string, WantedContainer[]> = {
  single: SINGLE,
  stack: STACK,
  chain: [want("a", 2), want("b", 4, { a: "started" }), want("c", 6, { b: "healthy" })],
};

const STATES = ["created", "running", "exited", "stopping", "removing", "unknown"] as const;

/** A pure model of Podman for one app: containers, its resources and its data. */
class World {
  containers: SimContainer[];
  now = 20_000;
  resources = true;
  data = true;
  forgotten = false;
  #ids = 0;
  #delays: number[];

  constructor(containers: SimContainer[], healthDelays: number[]) {
    this.containers = containers;
    this.#delays = healthDelays.length > 0 ? healthDelays : [0];
  }

  #nextDelay(): number {
    const delay = this.#delays[this.#ids % this.#delays.length] as number;
    return delay;
  }

  seen(): SeenContainer[] {
    return this.containers.map(({ healthyAfter: _h, runningRounds: _r, ...c }) => ({ ...c }));
  }

  /** Health as the reconciler reports it: of the first container seen with the key. */
  health(wanted: WantedContainer[]): Record<string, Health> {
    const health: Record<string, Health> = {};
    for (const w of wanted) {
      const c = this.containers.find((x) => x.key === w.key);
      health[w.key] =
        c?.state !== "running" ? "unknown" : c.runningRounds >= c.healthyAfter ? "healthy" : "starting";
    }
    return health;
  }

  #find(id: string): SimContainer {
    const c = this.containers.find((x) => x.id === id);
    if (!c) throw new Error(`no such container ${id}`);
    return c;
  }

  apply(action: Action, wanted: WantedContainer[]): void {
    switch (action.kind) {
      case "prepare":
        this.resources = true;
        return;
      case "create": {
        const w = wanted.find((x) => x.key === action.key) as WantedContainer;
        if (this.containers.some((c) => c.name === w.name)) throw new Error(`name ${w.name} is in use`);
        this.containers.push({
          id: `new-${++this.#ids}`,
          name: w.name,
          key: w.key,
          specHash: w.specHash,
          state: "created",
          createdAt: this.now,
          startedAt: undefined,
          backend: "podman",
          unit: undefined,
          healthyAfter: this.#nextDelay(),
          runningRounds: 0,
        });
        return;
      }
      case "start": {
        const c = this.#find(action.container.id);
        if (!["created", "exited", "unknown"].includes(c.state))
          throw new Error(`cannot start a ${c.state} container`);
        Object.assign(c, { state: "running", startedAt: this.now, runningRounds: 0 });
        return;
      }
      case "restart": {
        const c = this.#find(action.container.id);
        Object.assign(c, { state: "running", startedAt: this.now, runningRounds: 0 });
        return;
      }
      case "stop": {
        const c = this.#find(action.container.id);
        if (c.state === "running") c.state = "exited";
        return;
      }
      case "remove":
        this.containers = this.containers.filter((c) => c.id !== action.container.id);
        return;
      case "remove-resources":
        this.resources = false;
        return;
      case "purge-data":
        this.data = false;
        return;
      case "forget":
        this.forgotten = true;
        return;
    }
  }

  /** Time passes: Podman finishes transient work, running containers age towards healthy. */
  tick(): void {
    this.now += 1_000;
    this.containers = this.containers.filter((c) => c.state !== "removing");
    for (const c of this.containers) {
      if (c.state === "stopping") c.state = "exited";
      if (c.state === "running") c.runningRounds++;
    }
  }

  /** A container dies on its own (chaos). */
  kill(index: number): void {
    const live = this.containers.filter((c) => c.state === "running");
    const victim = live[index % Math.max(1, live.length)];
    if (victim) victim.state = "exited";
  }
}

const arbContainer = (keys: string[]) =>
  fc.record({
    key: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...keys) },
      { weight: 1, arbitrary: fc.constantFrom("gone", undefined) },
    ),
    state: fc.constantFrom(...STATES),
    hash: fc.constantFrom("right", "right", "wrong", "legacy"),
    useWantedName: fc.boolean(),
    createdAt: fc.integer({ min: 0, max: 10_000 }),
    startedAt: fc.integer({ min: 0, max: 10_000 }),
    healthyAfter: fc.integer({ min: 0, max: 3 }),
    runningRounds: fc.integer({ min: 0, max: 3 }),
  });

const arbScenario = fc.constantFrom(...Object.keys(SHAPES)).chain((shape) => {
  const wanted = SHAPES[shape] as WantedContainer[];
  return fc.record({
    shape: fc.constant(shape),
    desired: fc.constantFrom<DesiredState>("running", "stopped", "absent"),
    purge: fc.boolean(),
    initial: fc.array(arbContainer(wanted.map((w) => w.key)), { maxLength: 7 }),
    restartRequestedAt: fc.option(fc.integer({ min: 0, max: 10_000 }), { nil: undefined }),
    recreateRequestedAt: fc.option(fc.integer({ min: 0, max: 10_000 }), { nil: undefined }),
    healthDelays: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 5 }),
    kills: fc.array(fc.record({ round: fc.integer({ min: 0, max: 3 }), index: fc.nat(5) }), { maxLength: 3 }),
  });
});

type ScenarioValue = {
  shape: string;
  desired: DesiredState;
  purge: boolean;
  initial: Array<{
    key: string | undefined;
    state: (typeof STATES)[number];
    hash: string;
    useWantedName: boolean;
    createdAt: number;
    startedAt: number;
    healthyAfter: number;
    runningRounds: number;
  }>;
  restartRequestedAt: number | undefined;
  recreateRequestedAt: number | undefined;
  healthDelays: number[];
  kills: Array<{ round: number; index: number }>;
};

function buildWorld(s: ScenarioValue): { world: World; wanted: WantedContainer[] } {
  const wanted = SHAPES[s.shape] as WantedContainer[];
  const names = new Set<string>();
  const containers = s.initial.map((c, i): SimContainer => {
    const w = wanted.find((x) => x.key === c.key);
    // Podman names are unique: at most one container holds the manifest's name.
    let name = `other-${i}`;
    if (c.useWantedName && w && !names.has(w.name)) name = w.name;
    names.add(name);
    return {
      id: `init-${i}`,
      name,
      key: c.key,
      specHash:
        c.hash === "legacy" ? undefined : c.hash === "wrong" ? "stale" : c.key ? hashOf(c.key) : undefined,
      state: c.state,
      createdAt: c.createdAt,
      startedAt: c.state === "running" || c.state === "stopping" ? c.startedAt : undefined,
      backend: "podman",
      unit: undefined,
      healthyAfter: c.healthyAfter,
      runningRounds: c.runningRounds,
    };
  });
  return { world: new World(containers, s.healthDelays), wanted };
}

function inputOf(s: ScenarioValue, world: World, wanted: WantedContainer[]): PlanInput {
  return {
    desired: s.desired,
    purge: s.purge,
    wanted,
    seen: world.seen(),
    health: world.health(wanted),
    restartRequestedAt: s.restartRequestedAt,
    healthRestarts: [],
    crashHeld: {},
    recreateRequestedAt: s.recreateRequestedAt,
    blockedBy: [],
    createWith: "podman",
  };
}

/** The safety rules every single plan obeys. */
function checkPlan(given: PlanInput, result: Plan): void {
  const kinds = result.actions.map((a) => a.kind);
  const wantedByKey = new Map(given.wanted.map((w) => [w.key, w]));
  if (!(given.desired === "absent" && given.purge))
    assert.ok(!kinds.includes("purge-data"), "purge-data only for absent with purge");
  if (kinds.includes("purge-data"))
    assert.equal(given.seen.length, 0, "data is purged only once no container is left");
  if (given.desired === "stopped")
    for (const kind of ["prepare", "create", "start", "restart"])
      assert.ok(!kinds.includes(kind as Action["kind"]), `a stopped app never gets ${kind}`);
  const removed = new Set<string>();
  for (const action of result.actions) {
    if (action.kind !== "remove") continue;
    const c = given.seen.find((x) => x.id === action.container.id);
    assert.ok(c, "only observed containers are removed");
    removed.add(c.id);
    const w = c.key === undefined ? undefined : wantedByKey.get(c.key);
    const stray = w === undefined;
    const duplicate = given.seen.filter((x) => x.key === c.key).length > 1;
    const outdated =
      w !== undefined &&
      given.desired === "running" &&
      ((c.specHash !== undefined && c.specHash !== w.specHash) ||
        (given.recreateRequestedAt !== undefined && (c.createdAt ?? 0) < given.recreateRequestedAt));
    assert.ok(
      given.desired === "absent" || stray || duplicate || outdated,
      `container ${c.id} (${c.key}, ${c.state}, ${c.specHash}) removed without a reason`,
    );
  }
  for (const action of result.actions) {
    if (action.kind === "stop" && given.desired === "running")
      assert.ok(removed.has(action.container.id), "a running app only stops what it replaces");
    if (action.kind === "stop" || action.kind === "start" || action.kind === "restart") {
      const state = given.seen.find((x) => x.id === action.container.id)?.state;
      assert.ok(state !== "stopping" && state !== "removing", `${action.kind} of a ${state} container`);
    }
    if (action.kind === "create" || action.kind === "start") {
      // Dependencies first: every depends_on of what starts is running (and healthy when asked) now.
      for (const d of wantedByKey.get(action.key)?.dependsOn ?? []) {
        const up = given.seen.some((x) => x.key === d.key && x.state === "running" && !removed.has(x.id));
        assert.ok(
          up && (d.condition === "started" || given.health[d.key] === "healthy"),
          `${action.key} before ${d.key}`,
        );
      }
    }
  }
}

function converges(s: ScenarioValue): void {
  const { world, wanted } = buildWorld(s);
  const MAX_ROUNDS = 16;
  let done = false;
  for (let round = 0; round < MAX_ROUNDS && !done; round++) {
    for (const kill of s.kills) if (kill.round === round && s.desired !== "absent") world.kill(kill.index);
    const given = inputOf(s, world, wanted);
    const result = plan(given);
    checkPlan(given, result);
    const settled =
      result.actions.length === 0 &&
      ((s.desired === "running" && result.phase === "running") ||
        (s.desired === "stopped" && result.phase === "stopped"));
    if (settled && !s.kills.some((k) => k.round > round)) {
      done = true;
      break;
    }
    for (const action of result.actions) world.apply(action, wanted);
    if (world.forgotten) done = true;
    world.tick();
  }
  assert.ok(done, `did not converge in ${MAX_ROUNDS} rounds: ${JSON.stringify(world.containers)}`);

  if (s.desired === "running") {
    assert.equal(world.containers.length, wanted.length, "exactly one container per key");
    for (const w of wanted) {
      const mine = world.containers.filter((c) => c.key === w.key);
      assert.equal(mine.length, 1);
      const c = mine[0] as SimContainer;
      assert.equal(c.state, "running");
      assert.ok(
        c.specHash === w.specHash || c.specHash === undefined,
        "right hash (or an adopted legacy one)",
      );
      if (s.restartRequestedAt !== undefined) assert.ok((c.startedAt ?? 0) >= s.restartRequestedAt);
      if (s.recreateRequestedAt !== undefined) assert.ok((c.createdAt ?? 0) >= s.recreateRequestedAt);
    }
    assert.ok(world.data, "data kept");
  } else if (s.desired === "stopped") {
    assert.ok(
      world.containers.every((c) => c.state !== "running"),
      "nothing runs",
    );
    assert.ok(
      world.containers.every((c) => c.key !== undefined && wanted.some((w) => w.key === c.key)),
      "no stray is left",
    );
    assert.ok(world.data && world.resources, "no data or resource touched");
  } else {
    assert.equal(world.containers.length, 0, "nothing left");
    assert.ok(world.forgotten && !world.resources);
    assert.equal(world.data, !s.purge, "data deleted exactly when purge was asked");
  }
}

describe("plan: properties over a simulated world", () => {
  test("from any initial state, plan + apply converges within a bounded number of rounds, safely", () => {
    fc.assert(
      fc.property(arbScenario, (s) => converges(s as ScenarioValue)),
      { numRuns: 1500 },
    );
  });

  test("a stop is sacred: from any state a stopped app's plans only stop and clean up", () => {
    fc.assert(
      fc.property(arbScenario, (s) => {
        const scenario = { ...(s as ScenarioValue), desired: "stopped" as const };
        const { world, wanted } = buildWorld(scenario);
        for (let round = 0; round < 6; round++) {
          const result = plan(inputOf(scenario, world, wanted));
          for (const action of result.actions)
            assert.ok(["stop", "remove"].includes(action.kind), `a stop emitted ${action.kind}`);
          for (const action of result.actions) world.apply(action, wanted);
          world.tick();
        }
      }),
      { numRuns: 500 },
    );
  });

  test("blocked by a dependency, an app where nothing runs never creates or starts anything", () => {
    fc.assert(
      fc.property(arbScenario, (s) => {
        const scenario = { ...(s as ScenarioValue), desired: "running" as const };
        const { world, wanted } = buildWorld(scenario);
        const given = {
          ...inputOf(scenario, world, wanted),
          blockedBy: ["dependency base is not installed"],
        };
        const result = plan(given);
        checkPlan(given, result);
        if (!given.seen.some((c) => c.state === "running" && wanted.some((w) => w.key === c.key)))
          assert.ok(result.actions.every((a) => a.kind === "stop" || a.kind === "remove"));
      }),
      { numRuns: 500 },
    );
  });
});
