/**
 * Lifecycle operations on a real store (SQLite in a temporary directory) with a spy in place of
 * the reconciler: intent first, idempotent repeats, refused conflicts, clear errors that change
 * nothing.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { parseManifest } from "../manifest/parse.ts";
import type { Manifest } from "../manifest/schema.ts";
import { type Approval, approvalOfAll } from "./approvals.ts";
import { Lifecycle, LifecycleError, type LifecycleErrorCode, type SourcedManifest } from "./lifecycle.ts";
import { ManifestCache } from "./manifest-cache.ts";
import type { OperationKind } from "./model.ts";
import { Store } from "./store.ts";

// Memory-backed when the host has it: these tests are about the rules, not about fsync (the store's
// own tests run on disk).
const root = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "archy-lifecycle-test-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** Every test app reads a host directory (`library`, a permission), unless `library: null`. */
function manifestText(
  id: string,
  options: {
    version?: string;
    dependencies?: string[];
    note?: string;
    library?: string | null;
    extraPermission?: string;
  } = {},
) {
  const deps = options.dependencies ?? [];
  const library = options.library === undefined ? "/srv/library" : options.library;
  const permissions = [
    ...(library ? [`  library: { kind: host-path, path: ${library}, reason: Reads the library }`] : []),
    ...(options.extraPermission ? [`  ${options.extraPermission}`] : []),
  ];
  return [
    "manifest: 1",
    `id: ${id}`,
    `version: ${options.version ?? "1.0.0"}`,
    `name: ${id}`,
    `description: ${options.note ?? "A test app"}`,
    "containers:",
    "  web:",
    "    image: docker.io/library/nginx:1.27",
    ...(library ? [`    volumes: [{ host_path: ${library}, permission: library, path: /library }]`] : []),
    ...(deps.length > 0 ? ["dependencies:", ...deps.map((d) => `  - id: ${d}`)] : []),
    ...(permissions.length > 0 ? ["permissions:", ...permissions] : []),
    "",
  ].join("\n");
}

function sourced(
  id: string,
  options: Parameters<typeof manifestText>[1] = {},
  from: { source?: string; publisher?: string } = {},
): SourcedManifest {
  const text = manifestText(id, options);
  const parsed = parseManifest(text, `${id}.yml`);
  assert.ok(parsed.ok, JSON.stringify(parsed.ok ? [] : parsed.issues));
  return {
    text,
    manifest: parsed.manifest,
    source: from.source ?? "test",
    ...(from.publisher ? { publisher: from.publisher } : {}),
  };
}

/** The operator's approval of everything a manifest requests, as shown to them. */
const approveAll = (app: SourcedManifest): Approval[] => approvalOfAll(app.manifest);

function install(lifecycle: Lifecycle, app: SourcedManifest) {
  return lifecycle.install(app, { approve: approveAll(app) });
}

type Wake = { appId: string; recorded: Array<{ id: string; state: string }>; desired: string | undefined };

function setup() {
  const store = new Store(join(root, `case-${++n}`, "store.db"));
  let now = 1_000_000;
  const wakes: Wake[] = [];
  const lifecycle = new Lifecycle({
    store,
    manifests: new ManifestCache(),
    clock: () => now,
    // The spy looks at the store when it is woken: the intent must already be there.
    wake: (appId) =>
      wakes.push({
        appId,
        recorded: store.activeOperations(appId).map((o) => ({ id: o.id, state: o.state })),
        desired: store.getApp(appId)?.desired,
      }),
  });
  const finish = (operationId: string) => store.setOperationState(operationId, "succeeded", now);
  /** Installs `id` and lets its install finish. */
  const installed = (id: string, options: Parameters<typeof manifestText>[1] = {}) => {
    const accepted = install(lifecycle, sourced(id, options));
    finish(accepted.operationId);
    return accepted;
  };
  const tick = (ms = 1_000) => {
    now += ms;
  };
  return { store, lifecycle, wakes, finish, installed, tick, now: () => now };
}

/** Everything in the store, to check that a refused request changed nothing. */
function snapshot(store: Store) {
  const apps = store.listApps();
  const ids = new Set([...apps.map((a) => a.id), "alpha", "beta", "gamma", "ghost"]);
  return {
    apps,
    operations: [...ids].map((id) => store.listOperations(id, 1000)),
    approvals: [...ids].map((id) => store.approvals(id)),
    containers: store.listContainers(),
  };
}

function expectRefused(
  ctx: ReturnType<typeof setup>,
  request: () => unknown,
  code: LifecycleErrorCode,
  check: (error: LifecycleError) => void = () => {},
): void {
  const before = snapshot(ctx.store);
  const wakes = ctx.wakes.length;
  assert.throws(request, (error: unknown) => {
    assert.ok(error instanceof LifecycleError, String(error));
    assert.equal(error.code, code, error.message);
    check(error);
    return true;
  });
  assert.deepEqual(snapshot(ctx.store), before, "a refused request changes nothing");
  assert.equal(ctx.wakes.length, wakes, "a refused request wakes nobody");
}

/** Operator requests: every kind but the backup service's own (backup, restore). */
type RequestKind = Exclude<OperationKind, "backup" | "restore">;

/** Requests by kind, against an installed `alpha` (update offers a newer version). */
const REQUEST: Record<RequestKind, (l: Lifecycle) => unknown> = {
  install: (l) => install(l, sourced("alpha")),
  start: (l) => l.start("alpha"),
  stop: (l) => l.stop("alpha"),
  restart: (l) => l.restart("alpha"),
  uninstall: (l) => l.uninstall("alpha"),
  purge: (l) => l.purge("alpha"),
  reinstall: (l) => l.reinstall("alpha"),
  retry: (l) => l.retry("alpha"),
  update: (l) => l.update(sourced("alpha", { version: "2.0.0" })),
  approve: (l) => l.approve("alpha", approveAll(sourced("alpha"))),
  revoke: (l) => l.revoke("alpha", "library"),
};
const KINDS = Object.keys(REQUEST) as RequestKind[];

describe("lifecycle: intent first", () => {
  test("install records the app and a pending operation, then wakes the reconciler", () => {
    const ctx = setup();
    const accepted = install(ctx.lifecycle, sourced("alpha"));
    assert.match(accepted.operationId, /^op-[0-9a-f-]{36}$/);
    assert.deepEqual(
      { ...accepted, operationId: "" },
      { operationId: "", appId: "alpha", kind: "install", existing: false },
    );
    const app = ctx.store.getApp("alpha");
    assert.deepEqual(
      [app?.desired, app?.phase, app?.generation, app?.version, app?.source, app?.purge],
      ["running", "installing", 1, "1.0.0", "test", false],
    );
    assert.equal(app?.manifestText, manifestText("alpha"));
    assert.deepEqual(ctx.wakes, [
      { appId: "alpha", recorded: [{ id: accepted.operationId, state: "pending" }], desired: "running" },
    ]);
  });

  const EXPECT: Record<
    Exclude<RequestKind, "install">,
    { desired: string; phase: string; purge?: boolean; check?: (ctx: ReturnType<typeof setup>) => void }
  > = {
    start: { desired: "running", phase: "starting" },
    stop: { desired: "stopped", phase: "stopping" },
    restart: {
      desired: "running",
      phase: "restarting",
      check: (ctx) => assert.equal(ctx.store.getApp("alpha")?.restartRequestedAt, ctx.now()),
    },
    reinstall: {
      desired: "running",
      phase: "installing",
      check: (ctx) => assert.equal(ctx.store.getApp("alpha")?.recreateRequestedAt, ctx.now()),
    },
    retry: { desired: "running", phase: "starting" },
    update: {
      desired: "running",
      phase: "starting",
      check: (ctx) => {
        const app = ctx.store.getApp("alpha");
        assert.equal(app?.version, "2.0.0");
        assert.equal(app?.previousManifestText, manifestText("alpha"), "the previous manifest is kept");
      },
    },
    uninstall: { desired: "absent", phase: "removing", purge: false },
    purge: { desired: "absent", phase: "removing", purge: true },
    // Nothing was held: the app keeps its phase (the failed one this case starts from).
    approve: { desired: "running", phase: "failed" },
    revoke: {
      desired: "running",
      phase: "stopping",
      check: (ctx) => assert.deepEqual(ctx.store.approvals("alpha"), [], "the approval is gone"),
    },
  };

  for (const [kind, expected] of Object.entries(EXPECT)) {
    test(`${kind} records its intent and operation before waking, and returns the operation id`, () => {
      const ctx = setup();
      ctx.installed("alpha");
      ctx.store.updateStatus(
        "alpha",
        { phase: "failed", reason: "earlier", attempts: 5, nextAttemptAt: 9 },
        1,
      );
      ctx.tick();
      const accepted = REQUEST[kind as RequestKind](ctx.lifecycle) as { operationId: string; kind: string };
      assert.equal(accepted.kind, kind);
      const operation = ctx.store.getOperation(accepted.operationId);
      assert.deepEqual(
        [operation?.appId, operation?.kind, operation?.state, operation?.generation, operation?.createdAt],
        ["alpha", kind, "pending", 2, ctx.now()],
      );
      const app = ctx.store.getApp("alpha");
      assert.deepEqual(
        [app?.desired, app?.phase, app?.generation, app?.attempts, app?.nextAttemptAt, app?.reason],
        [expected.desired, expected.phase, 2, 0, undefined, undefined],
      );
      if (expected.purge !== undefined) assert.equal(app?.purge, expected.purge);
      expected.check?.(ctx);
      assert.deepEqual(ctx.wakes.at(-1), {
        appId: "alpha",
        recorded: [{ id: accepted.operationId, state: "pending" }],
        desired: expected.desired,
      });
    });
  }

  test("retry keeps the desired state: a failed stop is retried as a stop", () => {
    const ctx = setup();
    ctx.installed("alpha");
    ctx.finish(ctx.lifecycle.stop("alpha").operationId);
    ctx.lifecycle.retry("alpha");
    assert.deepEqual(
      [ctx.store.getApp("alpha")?.desired, ctx.store.getApp("alpha")?.phase],
      ["stopped", "stopping"],
    );
  });
});

describe("lifecycle: idempotent repeats", () => {
  for (const kind of KINDS.filter((k) => k !== "approve" && k !== "revoke")) {
    test(`a repeated ${kind} while the first is in flight returns the same operation and changes nothing`, () => {
      const ctx = setup();
      if (kind !== "install") ctx.installed("alpha");
      const first = REQUEST[kind](ctx.lifecycle) as { operationId: string };
      const before = snapshot(ctx.store);
      const wakes = ctx.wakes.length;
      ctx.tick();
      const again = REQUEST[kind](ctx.lifecycle) as { operationId: string; existing: boolean };
      assert.equal(again.operationId, first.operationId);
      assert.equal(again.existing, true);
      assert.deepEqual(snapshot(ctx.store), before);
      assert.equal(ctx.wakes.length, wakes);
    });
  }

  test("once the operation has finished, the same request is a new operation", () => {
    const ctx = setup();
    ctx.installed("alpha");
    const first = ctx.lifecycle.restart("alpha");
    ctx.finish(first.operationId);
    const second = ctx.lifecycle.restart("alpha");
    assert.notEqual(second.operationId, first.operationId);
    assert.equal(ctx.store.getApp("alpha")?.generation, 3);
  });

  test("an update to another version while an update is in flight is a conflict, not a repeat", () => {
    const ctx = setup();
    ctx.installed("alpha");
    const first = ctx.lifecycle.update(sourced("alpha", { version: "2.0.0" }));
    expectRefused(
      ctx,
      () => ctx.lifecycle.update(sourced("alpha", { version: "3.0.0" })),
      "operation-in-progress",
      (e) => assert.deepEqual(e.data.operation, { id: first.operationId, kind: "update" }),
    );
    assert.equal(ctx.lifecycle.update(sourced("alpha", { version: "2.0.0" })).operationId, first.operationId);
  });
});

describe("lifecycle: a backup or restore in flight holds the app", () => {
  for (const holding of ["backup", "restore"] as const)
    for (const requested of KINDS)
      test(`${requested} while a ${holding} is in flight: refused, even a stop or purge (it would cut the ${holding} short)`, () => {
        const ctx = setup();
        ctx.installed("alpha");
        ctx.store.recordHoldingOperation({ id: `op-${holding}`, appId: "alpha", kind: holding }, 1);
        expectRefused(
          ctx,
          () => REQUEST[requested](ctx.lifecycle),
          "operation-in-progress",
          (error) => {
            assert.deepEqual(error.data.operation, { id: `op-${holding}`, kind: holding });
            assert.match(error.message, new RegExp(`has a ${holding} in progress .*it starts the app again`));
          },
        );
      });
});

describe("lifecycle: conflicts", () => {
  const SUPERSEDING = new Set<OperationKind>(["stop", "uninstall", "purge", "revoke"]);
  for (const inFlight of KINDS) {
    for (const requested of KINDS) {
      if (requested === inFlight) continue;
      const removing = inFlight === "uninstall" || inFlight === "purge";
      const supersedes = SUPERSEDING.has(requested) && (!removing || requested === "purge");
      test(`${requested} while ${inFlight} is in flight: ${supersedes ? "supersedes it" : "refused"}`, () => {
        const ctx = setup();
        ctx.installed("alpha");
        const first = REQUEST[inFlight](ctx.lifecycle) as { operationId: string };
        if (!supersedes) {
          // An install during a removal says so (being-removed); everything else is operation-in-progress.
          const code = requested === "install" && removing ? "being-removed" : "operation-in-progress";
          expectRefused(
            ctx,
            () => REQUEST[requested](ctx.lifecycle),
            code,
            (error) => {
              assert.deepEqual(error.data.operation, { id: first.operationId, kind: inFlight });
              if (code === "operation-in-progress")
                assert.match(
                  error.message,
                  new RegExp(`has a ${inFlight} in progress \\(operation ${first.operationId}\\)`),
                );
            },
          );
          return;
        }
        // Stop, uninstall and purge always get through: what was in flight is marked superseded.
        const accepted = REQUEST[requested](ctx.lifecycle) as { operationId: string; superseded?: string[] };
        assert.deepEqual(accepted.superseded, [first.operationId]);
        const old = ctx.store.getOperation(first.operationId);
        assert.equal(old?.state, "failed");
        assert.equal(old?.error, `superseded by ${requested} (operation ${accepted.operationId})`);
        assert.deepEqual(
          ctx.store.activeOperations("alpha").map((o) => o.id),
          [accepted.operationId],
        );
      });
    }
  }

  test("an app waiting forever for a dependency can still be stopped and uninstalled", () => {
    const ctx = setup();
    ctx.installed("alpha");
    const accepted = install(ctx.lifecycle, sourced("beta", { dependencies: ["alpha"] }));
    // The reconciler would keep beta's install running while alpha is down; the operator still decides.
    ctx.store.setOperationState(accepted.operationId, "running", ctx.now());
    const stop = ctx.lifecycle.stop("beta");
    assert.equal(ctx.store.getApp("beta")?.desired, "stopped");
    const uninstall = ctx.lifecycle.uninstall("beta");
    assert.deepEqual(uninstall.superseded, [stop.operationId]);
    assert.equal(ctx.store.getApp("beta")?.desired, "absent");
  });
});

describe("lifecycle: refusals name the problem and change nothing", () => {
  test("install with a missing dependency: dependency-missing, naming it", () => {
    const ctx = setup();
    ctx.installed("alpha");
    expectRefused(
      ctx,
      () => ctx.lifecycle.install(sourced("gamma", { dependencies: ["alpha", "beta", "delta"] })),
      "dependency-missing",
      (error) => {
        assert.deepEqual(error.data.missing, ["beta", "delta"]);
        assert.match(error.message, /gamma needs beta, delta, which are not installed: install them first/);
      },
    );
    expectRefused(
      ctx,
      () => ctx.lifecycle.install(sourced("gamma", { dependencies: ["beta"] })),
      "dependency-missing",
      (e) => assert.match(e.message, /needs beta, which is not installed: install it first/),
    );
  });

  test("a dependency being uninstalled counts as missing", () => {
    const ctx = setup();
    ctx.installed("alpha");
    ctx.lifecycle.uninstall("alpha");
    expectRefused(
      ctx,
      () => ctx.lifecycle.install(sourced("beta", { dependencies: ["alpha"] })),
      "dependency-missing",
      (e) => assert.deepEqual(e.data.missing, ["alpha"]),
    );
  });

  test("uninstall or purge of an app others depend on: has-dependents, listing them", () => {
    const ctx = setup();
    ctx.installed("alpha");
    ctx.installed("beta", { dependencies: ["alpha"] });
    ctx.installed("gamma", { dependencies: ["alpha"] });
    for (const request of [() => ctx.lifecycle.uninstall("alpha"), () => ctx.lifecycle.purge("alpha")])
      expectRefused(ctx, request, "has-dependents", (error) => {
        assert.deepEqual(error.data.dependents, ["beta", "gamma"]);
        assert.match(error.message, /alpha is needed by beta, gamma: uninstall them first/);
      });
    // Once the dependents are on their way out, the dependency may go.
    ctx.finish(ctx.lifecycle.uninstall("beta").operationId);
    ctx.finish(ctx.lifecycle.uninstall("gamma").operationId);
    assert.equal(ctx.lifecycle.uninstall("alpha").kind, "uninstall");
  });

  test("a stop of an app that running apps depend on is accepted and names them; stopped dependents are not named", () => {
    const ctx = setup();
    ctx.installed("alpha");
    ctx.installed("beta", { dependencies: ["alpha"] });
    ctx.installed("gamma", { dependencies: ["alpha"] });
    ctx.installed("delta");
    ctx.finish(ctx.lifecycle.stop("gamma").operationId);
    const stop = ctx.lifecycle.stop("alpha");
    assert.equal(stop.kind, "stop");
    assert.deepEqual(stop.runningDependents, ["beta"]);
    assert.equal(
      ctx.store.getApp("beta")?.desired,
      "running",
      "a dependent is not stopped without being named",
    );
    assert.equal(ctx.lifecycle.stop("delta").runningDependents, undefined);
  });

  test("update to a version that is not newer: not-newer, unless forced", () => {
    const ctx = setup();
    ctx.installed("alpha", { version: "1.5.0" });
    for (const version of ["1.5.0", "1.4.9", "0.1.0"])
      expectRefused(
        ctx,
        () => ctx.lifecycle.update(sourced("alpha", { version })),
        "not-newer",
        (error) => {
          assert.deepEqual(error.data, { installed: "1.5.0", offered: version });
          assert.match(
            error.message,
            /is not newer than the installed 1\.5\.0; to downgrade or reapply, force it/,
          );
          // The message reaches the CLI as is: it names the CLI's flag, not only the API's parameter.
          assert.match(error.message, /`archy update alpha --force`/);
        },
      );
    const forced = ctx.lifecycle.update(sourced("alpha", { version: "1.4.9" }), { force: true });
    assert.equal(forced.kind, "update");
    assert.equal(ctx.store.getApp("alpha")?.version, "1.4.9");
  });

  test("a packaging revision is an update of the version it revises; a revision of an older version is not", () => {
    const ctx = setup();
    ctx.installed("alpha", { version: "1.5.0" });
    expectRefused(ctx, () => ctx.lifecycle.update(sourced("alpha", { version: "1.4.9-r3" })), "not-newer");
    assert.equal(ctx.lifecycle.update(sourced("alpha", { version: "1.5.0-r2" })).kind, "update");
    assert.equal(ctx.store.getApp("alpha")?.version, "1.5.0-r2");
  });

  test("any operation on an unknown app: not-installed", () => {
    const ctx = setup();
    ctx.installed("alpha");
    const requests: Array<() => unknown> = [
      () => ctx.lifecycle.start("ghost"),
      () => ctx.lifecycle.stop("ghost"),
      () => ctx.lifecycle.restart("ghost"),
      () => ctx.lifecycle.uninstall("ghost"),
      () => ctx.lifecycle.purge("ghost"),
      () => ctx.lifecycle.reinstall("ghost"),
      () => ctx.lifecycle.retry("ghost"),
      () => ctx.lifecycle.update(sourced("ghost", { version: "9.0.0" })),
    ];
    for (const request of requests)
      expectRefused(ctx, request, "not-installed", (e) => assert.match(e.message, /ghost is not installed/));
  });

  test("an app desired absent (its removal failed) refuses everything but purge: being-removed", () => {
    const ctx = setup();
    ctx.installed("alpha");
    const uninstall = ctx.lifecycle.uninstall("alpha");
    ctx.store.setOperationState(uninstall.operationId, "failed", ctx.now(), "boom");
    for (const request of [
      () => ctx.lifecycle.install(sourced("alpha")),
      () => ctx.lifecycle.start("alpha"),
      () => ctx.lifecycle.stop("alpha"),
      () => ctx.lifecycle.restart("alpha"),
      () => ctx.lifecycle.reinstall("alpha"),
    ])
      expectRefused(ctx, request, "being-removed");
    assert.equal(ctx.lifecycle.purge("alpha").kind, "purge");
  });

  test("a purge leaves pre_purge due; a forced one pre_uninstall, and supersedes the purge in flight", () => {
    const ctx = setup();
    ctx.installed("alpha");
    const purge = ctx.lifecycle.purge("alpha");
    assert.equal(ctx.store.getApp("alpha")?.pendingHook, "pre_purge");
    assert.equal(
      ctx.lifecycle.purge("alpha").operationId,
      purge.operationId,
      "the same purge again is that one",
    );
    const forced = ctx.lifecycle.uninstall("alpha", { purge: true, force: true });
    assert.notEqual(forced.operationId, purge.operationId);
    assert.deepEqual(forced.superseded, [purge.operationId]);
    assert.equal(ctx.store.getApp("alpha")?.pendingHook, "pre_uninstall");
    assert.equal(ctx.store.getApp("alpha")?.purge, true);
  });
});

describe("lifecycle: what an uninstalled app left is purged only by an explicit purge", () => {
  test("a purge of kept data records a purge of the app with no containers, past pre_purge", () => {
    const ctx = setup();
    ctx.finish(ctx.lifecycle.uninstall(ctx.installed("alpha").appId).operationId);
    ctx.store.forgetApp("alpha", ctx.store.getApp("alpha")?.generation ?? 0, ctx.now());
    const accepted = ctx.lifecycle.purgeKept(sourced("alpha"));
    assert.equal(accepted.kind, "purge");
    const app = ctx.store.getApp("alpha");
    assert.equal(app?.desired, "absent");
    assert.equal(app?.purge, true);
    assert.equal(app?.pendingHook, "pre_purge", "its accounts in dependencies are removed first");
    ctx.store.forgetApp("alpha", app?.generation ?? 0, ctx.now());
    ctx.lifecycle.purgeKept(sourced("alpha"), { force: true });
    assert.equal(ctx.store.getApp("alpha")?.pendingHook, "pre_uninstall", "forced: past them");
    assert.deepEqual(ctx.wakes.at(-1)?.appId, "alpha");
  });

  test("an app with a pre_purge hook is purged after its uninstall only with force, which skips the hook", () => {
    const ctx = setup();
    const plain = sourced("alpha");
    const withHook: SourcedManifest = {
      ...plain,
      manifest: {
        ...plain.manifest,
        hooks: {
          ...plain.manifest.hooks,
          pre_purge: [{ exec: { container: "web", command: ["true"] } }] as Manifest["hooks"]["pre_purge"],
        },
      },
    };
    expectRefused(
      ctx,
      () => ctx.lifecycle.purgeKept(withHook),
      "not-installed",
      (error) => assert.match(error.message, /pre_purge hook cannot run.*--purge --force/),
    );
    assert.equal(ctx.lifecycle.purgeKept(withHook, { force: true }).kind, "purge");
  });

  test("an installed app's purge through it is the usual purge", () => {
    const ctx = setup();
    ctx.installed("alpha");
    ctx.lifecycle.purgeKept(sourced("alpha"));
    assert.equal(ctx.store.getApp("alpha")?.pendingHook, "pre_purge");
  });
});

describe("lifecycle: a permission runs only once the operator approved it, by name and content", () => {
  test("install without the approval is refused, listing what needs it in plain words, and changes nothing", () => {
    const ctx = setup();
    expectRefused(
      ctx,
      () => ctx.lifecycle.install(sourced("alpha")),
      "approval-required",
      (error) => {
        assert.match(error.message, /alpha asks for a permission the operator has not approved: library/);
        assert.deepEqual(error.data.permissions, [
          {
            name: "library",
            kind: "host-path",
            content: "host-path /srv/library",
            description: "read and write the host directory /srv/library and everything in it",
            reason: "Reads the library",
          },
        ]);
      },
    );
  });

  test("an approval of other content, or of a permission not asked for, is refused, not ignored", () => {
    const ctx = setup();
    const app = sourced("alpha");
    expectRefused(
      ctx,
      () => ctx.lifecycle.install(app, { approve: [{ name: "library", content: "host-path /srv" }] }),
      "approval-required",
      (e) =>
        assert.match(
          e.message,
          /approval of library is for "host-path \/srv", but alpha asks for "host-path \/srv\/library"/,
        ),
    );
    expectRefused(
      ctx,
      () =>
        ctx.lifecycle.install(app, {
          approve: [...approveAll(app), { name: "camera", content: "device /dev/video0" }],
        }),
      "approval-required",
      (e) => assert.match(e.message, /alpha asks for no permission named camera \(it asks for library\)/),
    );
  });

  test("the approval is recorded with the intent; a repeat of the install in flight needs none", () => {
    const ctx = setup();
    const first = install(ctx.lifecycle, sourced("alpha"));
    assert.deepEqual(
      ctx.store.approvals("alpha").map(({ name, content, approvedBy }) => [name, content, approvedBy]),
      [["library", "host-path /srv/library", "operator"]],
    );
    assert.equal(ctx.lifecycle.install(sourced("alpha")).operationId, first.operationId);
  });

  test("an update that asks for more, or gives a name another meaning, needs approval of exactly that", () => {
    const ctx = setup();
    ctx.installed("alpha");
    const more = sourced("alpha", {
      version: "2.0.0",
      extraPermission: "radio: { kind: device, path: /dev/ttyUSB0, reason: Talks to the radio }",
    });
    expectRefused(
      ctx,
      () => ctx.lifecycle.update(more),
      "approval-required",
      (e) =>
        assert.deepEqual(
          (e.data.permissions as Array<{ name: string }>).map((p) => p.name),
          ["radio"],
          "only what is new needs approval",
        ),
    );
    const moved = sourced("alpha", { version: "2.0.0", library: "/srv/elsewhere" });
    expectRefused(
      ctx,
      () => ctx.lifecycle.update(moved),
      "approval-required",
      (e) =>
        assert.deepEqual(
          (e.data.permissions as Array<{ content: string }>).map((p) => p.content),
          ["host-path /srv/elsewhere"],
          "the same name with another path is another permission",
        ),
    );
    ctx.lifecycle.update(more, { approve: [{ name: "radio", content: "device /dev/ttyUSB0" }] });
    assert.deepEqual(
      ctx.store.approvals("alpha").map((a) => a.name),
      ["library", "radio"],
    );
  });

  test("a reinstall from a changed manifest needs its approval too", () => {
    const ctx = setup();
    ctx.installed("alpha");
    const moved = sourced("alpha", { library: "/srv/elsewhere" });
    expectRefused(ctx, () => ctx.lifecycle.reinstall("alpha", moved), "approval-required");
    assert.equal(ctx.lifecycle.reinstall("alpha", moved, { approve: approveAll(moved) }).kind, "reinstall");
  });

  test("after a revoke, start, restart and retry are refused until the operator approves again", () => {
    const ctx = setup();
    ctx.installed("alpha");
    ctx.finish(ctx.lifecycle.revoke("alpha", "library").operationId);
    for (const request of [
      () => ctx.lifecycle.start("alpha"),
      () => ctx.lifecycle.restart("alpha"),
      () => ctx.lifecycle.retry("alpha"),
      () => ctx.lifecycle.reinstall("alpha"),
      () => ctx.lifecycle.install(sourced("alpha")),
    ])
      expectRefused(ctx, request, "approval-required");
    // Stopping and removing need no approval.
    ctx.finish(ctx.lifecycle.stop("alpha").operationId);
    const approved = ctx.lifecycle.approve("alpha", approveAll(sourced("alpha")));
    assert.equal(approved.kind, "approve");
    assert.equal(ctx.store.approvals("alpha").length, 1);
    ctx.finish(approved.operationId);
    assert.equal(ctx.lifecycle.start("alpha").kind, "start");
  });

  test("a revoke of a permission the app was not approved: unknown-permission, naming those it has", () => {
    const ctx = setup();
    ctx.installed("alpha");
    expectRefused(
      ctx,
      () => ctx.lifecycle.revoke("alpha", "camera"),
      "unknown-permission",
      (e) => {
        assert.match(e.message, /alpha has no approved permission named camera \(approved: library\)/);
        assert.deepEqual(e.data, { approved: ["library"] });
      },
    );
  });
});

describe("lifecycle: a change of source or signer is never silent", () => {
  test("an update from another source needs switchSource; the source is then recorded", () => {
    const ctx = setup();
    ctx.installed("alpha");
    const catalog = sourced(
      "alpha",
      { version: "2.0.0" },
      { source: "catalog:official", publisher: "targets" },
    );
    expectRefused(
      ctx,
      () => ctx.lifecycle.update(catalog),
      "source-change",
      (error) => {
        assert.match(
          error.message,
          /updating alpha to 2\.0\.0 would switch its source from test to catalog:official \(signed by targets\); pass switchSource/,
        );
        assert.deepEqual(error.data.installed, { source: "test", publisher: null });
        assert.deepEqual(error.data.offered, { source: "catalog:official", publisher: "targets" });
      },
    );
    ctx.lifecycle.update(catalog, { switchSource: true });
    const app = ctx.store.getApp("alpha");
    assert.deepEqual([app?.source, app?.publisher], ["catalog:official", "targets"]);
  });

  test("an update of the same source signed by other keys needs switchSource too", () => {
    const ctx = setup();
    const from = { source: "catalog:official", publisher: "acme (1 of keys aa11)" };
    ctx.finish(install(ctx.lifecycle, sourced("alpha", {}, from)).operationId);
    const rekeyed = sourced("alpha", { version: "2.0.0" }, { ...from, publisher: "acme (1 of keys bb22)" });
    expectRefused(
      ctx,
      () => ctx.lifecycle.update(rekeyed),
      "source-change",
      (e) =>
        assert.match(
          String(e.data.change),
          /change who signs it in catalog:official, from acme \(1 of keys aa11\) to acme \(1 of keys bb22\)/,
        ),
    );
    // The same signer: an ordinary update.
    assert.equal(ctx.lifecycle.update(sourced("alpha", { version: "2.0.0" }, from)).kind, "update");
  });
});
