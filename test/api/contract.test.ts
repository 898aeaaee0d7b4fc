/**
 * The API contract, method by method and for the JSON-RPC protocol itself: every method answers a
 * valid call with a result that fits its documented JSON Schema; refuses bad params (wrong type,
 * unknown key, missing field) with -32602 naming the field, changing nothing; refuses callers without
 * a session; and lifecycle refusals carry their stable codes and details. The daemon runs in-process
 * with a Podman socket that never answers, so the real store and lifecycle do the work and no
 * container is touched.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Ajv2020 from "ajv/dist/2020.js";
import { EXAMPLES, paramsJsonSchema, resultJsonSchema } from "../../src/api/docs.ts";
import { METHOD_TABLE, METHODS } from "../../src/api/methods.ts";
import { depthBounded, MAX_JSON_DEPTH, nestsDeeperThan } from "../../src/api/rpc/body.ts";
import { MAX_BATCH } from "../../src/api/rpc/dispatch.ts";
import { RPC_CODES } from "../../src/api/rpc/errors.ts";
import { exec } from "../../src/system/exec.ts";
import { lab } from "../catalog/support.ts";
import {
  type Caller,
  fails,
  manualClock,
  ok,
  post,
  rpc,
  type Session,
  settle,
  setup,
  startDaemon,
  storeSnapshot,
  TEST_APPS,
  type TestDaemon,
} from "./support.ts";

const ajv = new Ajv2020.default({ strict: false, allErrors: true });
const validators = new Map(METHODS.map((m) => [m.name, ajv.compile(resultJsonSchema(m.result))]));

/** Checks a result against the method's documented (JSON Schema) result. */
function assertFitsSchema(method: string, result: unknown): void {
  const validate = validators.get(method);
  assert.ok(validate, `a result schema for ${method}`);
  assert.ok(
    validate(result),
    `${method}: the result does not fit its schema: ${JSON.stringify(validate.errors)}\n${JSON.stringify(result)}`,
  );
}

type Env = { d: TestDaemon; session: Session; browser: Caller; cli: Caller };

/** The operator's approval of everything the test apps ask for. */
const APPROVALS: Record<string, Array<{ name: string; content: string }>> = {
  "api-delta": [
    { name: "admin", content: "capability SYS_ADMIN" },
    { name: "radio", content: "device /dev/ttyUSB0" },
  ],
};

async function install(env: Env, id: string): Promise<string> {
  const approve = APPROVALS[id] ?? [];
  const result = (await ok(env.d.port, "package.install", { id, approve }, env.browser)) as {
    operationId: string;
  };
  return result.operationId;
}

/** Installs an app and lets it "converge": no operation left in flight. */
async function installed(env: Env, id: string): Promise<void> {
  await install(env, id);
  settle(env.d, id);
}

/** One observed container for an app, as the reconciler would have stored it. */
function observe(env: Env, appId: string): void {
  env.d.orchestrator.store.saveObservation(appId, [
    {
      appId,
      key: "web",
      name: appId,
      containerId: `${appId}-0123456789ab`,
      state: "running",
      health: "healthy",
      exitCode: 0,
      restarts: 0,
      startedAt: Date.now() - 5_000,
      backend: "podman",
      specHash: "sha256:test",
      observedAt: Date.now() - 1_000,
    },
  ]);
}

type ValidCase = {
  /** Prepares the state the call needs; returns its params. */
  prepare: (env: Env) => Promise<unknown> | unknown;
  /** What the result must say beyond fitting the schema. */
  check: (result: unknown, env: Env) => Promise<void> | void;
  /** auth.setup runs on a daemon with no password yet. */
  fresh?: boolean;
};

/** A catalog with one app, published to a directory: the params that add it as "community". */
async function publishedCatalog(): Promise<{ name: string; url: string; root: string }> {
  const catalog = await lab();
  await catalog.release(catalog.app("cat-one", "1.0.0"));
  return {
    name: "community",
    url: catalog.out,
    root: readFileSync(join(catalog.out, "metadata", "1.root.json"), "utf8"),
  };
}

const ids = (list: unknown) => (list as Array<{ id: string }>).map((a) => a.id);

const VALID: Record<string, ValidCase> = {
  "auth.setup": {
    fresh: true,
    prepare: () => ({ password: "a long enough password" }),
    check: (result) => assert.equal(typeof (result as { csrfToken: string }).csrfToken, "string"),
  },
  "auth.login": {
    prepare: (env) => ({ password: readFileSync(join(env.d.dir, "password"), "utf8") }),
    check: (result, env) =>
      assert.notEqual((result as { csrfToken: string }).csrfToken, env.session.csrf, "a new session"),
  },
  "auth.session": {
    prepare: () => ({}),
    check: async (result, env) => {
      // A reloaded page gets its session's CSRF token back, and with it may change things.
      assert.equal((result as { csrfToken: string }).csrfToken, env.session.csrf);
      assert.ok((result as { expiresAt: number }).expiresAt > Date.now());
      // The CLI token has no session: nothing to give.
      const token = readFileSync(env.d.tokenFile, "utf8").trim();
      await fails(env.d.port, "auth.session", {}, { bearer: token }, RPC_CODES.notFound);
    },
  },
  "auth.logout": {
    prepare: () => ({}),
    check: async (result, env) => {
      assert.deepEqual(result, { ok: true });
      await fails(env.d.port, "package.list", {}, env.browser, RPC_CODES.unauthenticated);
    },
  },
  "auth.changePassword": {
    prepare: (env) => ({
      oldPassword: readFileSync(join(env.d.dir, "password"), "utf8"),
      newPassword: "the operator's new password",
    }),
    check: async (result, env) => {
      assert.notEqual((result as { csrfToken: string }).csrfToken, env.session.csrf, "a new session");
      await fails(env.d.port, "package.list", {}, env.browser, RPC_CODES.unauthenticated);
      await ok(env.d.port, "auth.login", { password: "the operator's new password" }, {});
    },
  },
  "auth.logoutAll": {
    prepare: () => ({}),
    check: async (result, env) => {
      assert.deepEqual(result, { revoked: 1 });
      await fails(env.d.port, "package.list", {}, env.browser, RPC_CODES.unauthenticated);
    },
  },
  "auth.rotateCliToken": {
    prepare: () => ({}),
    check: async (result, env) => {
      assert.deepEqual(result, { ok: true });
      await fails(env.d.port, "package.list", {}, env.cli, RPC_CODES.unauthenticated);
      await ok(env.d.port, "package.list", {}, { bearer: readFileSync(env.d.tokenFile, "utf8").trim() });
    },
  },
  "package.list": {
    prepare: async (env) => {
      await install(env, "api-alpha");
      await install(env, "api-gamma");
      observe(env, "api-alpha");
      return {};
    },
    check: (result) => {
      assert.deepEqual(ids(result), ["api-alpha", "api-gamma"]);
      const [alpha] = result as Array<{ phase: string; containers: unknown[]; observedAgeMs: number }>;
      assert.equal(alpha?.phase, "installing");
      assert.equal(alpha?.containers.length, 1);
      assert.ok((alpha?.observedAgeMs ?? 0) >= 1_000, "the age of the last observation");
    },
  },
  "package.changes": {
    prepare: async (env) => {
      await install(env, "api-alpha");
      const first = (await ok(env.d.port, "package.changes", {}, env.browser)) as { revision: string };
      await install(env, "api-gamma");
      return { since: first.revision };
    },
    check: (result) => {
      const changes = result as { full: boolean; apps: unknown; removed: string[] };
      assert.equal(changes.full, false);
      assert.deepEqual(ids(changes.apps), ["api-gamma"], "only the app installed since");
      assert.deepEqual(changes.removed, []);
    },
  },
  "package.get": {
    prepare: async (env) => {
      await install(env, "api-alpha");
      return { id: "api-alpha" };
    },
    check: (result) => {
      const app = result as { id: string; desired: string; observedAt: unknown };
      assert.equal(app.id, "api-alpha");
      assert.equal(app.desired, "running");
      assert.equal(app.observedAt, null, "never observed yet");
    },
  },
  "package.describe": {
    prepare: () => ({ id: "api-beta" }),
    check: async (result, env) => {
      const described = result as {
        needs: Array<{ kind: string; text: string }>;
        dependencies: Array<{ id: string; installed: boolean; offered: boolean }>;
      };
      assert.deepEqual(described.dependencies, [
        { id: "api-alpha", version: "*", installed: false, offered: true },
      ]);
      assert.deepEqual(described.needs[0], { kind: "dependency", text: "Needs the app api-alpha, running" });
      await fails(env.d.port, "package.describe", { id: "api-broken" }, env.browser, RPC_CODES.notFound);
    },
  },
  "package.kept": {
    prepare: (env) => {
      mkdirSync(join(env.d.dataDir, "apps", "api-gamma", "volumes"), { recursive: true });
      return {};
    },
    check: (result, env) => {
      assert.deepEqual(result, [
        {
          id: "api-gamma",
          kept: [join(env.d.dataDir, "apps", "api-gamma")],
          name: "api-gamma",
          source: `local:${join(env.d.appsDir, "api-gamma")}`,
        },
      ]);
    },
  },
  "package.available": {
    prepare: async (env) => {
      await install(env, "api-alpha");
      return {};
    },
    check: (result) => {
      assert.deepEqual(
        ids(result),
        ["api-alpha", "api-beta", "api-delta", "api-gamma"],
        "the invalid manifest is left out",
      );
      const apps = result as Array<{
        installed: boolean;
        installedVersion: string | null;
        source: string;
        sourceChange: string | null;
        permissions: Array<{ name: string; content: string }>;
      }>;
      const alpha = apps[0];
      assert.equal(alpha?.installed, true);
      assert.equal(alpha?.installedVersion, "1.0.0");
      assert.match(alpha?.source ?? "", /^local:\/.*\/api-alpha$/);
      assert.equal(alpha?.sourceChange, null);
      assert.deepEqual(
        apps[2]?.permissions.map((p) => [p.name, p.content]),
        [
          ["admin", "capability SYS_ADMIN"],
          ["radio", "device /dev/ttyUSB0"],
        ],
        "what each app asks for, before install",
      );
    },
  },
  // Backups with real restic and Podman: test/backup/backup-restore.test.ts. Here: the refusals a
  // node without targets gives, and a target on a directory of the test's own.
  "backup.targets.list": {
    prepare: () => ({}),
    check: (result) => assert.deepEqual(result, { targets: [] }),
  },
  "backup.targets.add": {
    prepare: async (env) => {
      // Invariant: a target on a disk that is not mounted never becomes a repository on the node's
      // own disk: a directory that is not there is refused, not made, and nothing is added.
      const unmounted = join(env.d.dataDir, "media", "usb");
      const refused = await fails(
        env.d.port,
        "backup.targets.add",
        { name: "usb", location: join(unmounted, "archy") },
        env.cli,
        RPC_CODES.backupTargetUnusable,
      );
      assert.match(
        refused.message,
        /^target usb: \S+\/media\/usb is not a directory on this node: mount the disk/,
      );
      assert.equal(existsSync(unmounted), false, "the missing directory was made");
      assert.deepEqual(await ok(env.d.port, "backup.targets.list", {}, env.cli), { targets: [] });
      return { name: "here", location: join(env.d.dataDir, "backup-target") };
    },
    check: (result) => {
      const added = result as { target: { kind: string }; key: string | null };
      assert.equal(added.target.kind, "local");
      assert.equal(added.key?.length, 43, "the new key, shown once");
    },
  },
  "backup.targets.remove": {
    prepare: async (env) => {
      await ok(
        env.d.port,
        "backup.targets.add",
        { name: "gone", location: join(env.d.dataDir, "gone") },
        env.cli,
      );
      return { name: "gone" };
    },
    check: (result) => assert.deepEqual(result, { removed: "gone" }),
  },
  "backup.targets.check": {
    prepare: async (env) => {
      await ok(
        env.d.port,
        "backup.targets.add",
        { name: "sound", location: join(env.d.dataDir, "sound") },
        env.cli,
      );
      return { name: "sound" };
    },
    check: (result) => assert.deepEqual(result, { name: "sound", snapshots: 0 }),
  },
  "backup.targets.schedule": {
    prepare: async (env) => {
      await ok(
        env.d.port,
        "backup.targets.add",
        { name: "nightly", location: join(env.d.dataDir, "nightly") },
        env.cli,
      );
      // A schedule that does not parse is refused naming its field, and nothing is set.
      const refused = await fails(
        env.d.port,
        "backup.targets.schedule",
        { name: "nightly", schedule: "daily 25:00" },
        env.cli,
        RPC_CODES.invalidParams,
      );
      assert.match(refused.message, /^invalid params: schedule: "25:00" is not a time of day; use HH:MM/);
      const tooOften = await fails(
        env.d.port,
        "backup.targets.schedule",
        { name: "nightly", schedule: "every 5s" },
        env.cli,
        RPC_CODES.invalidParams,
      );
      assert.match(
        tooOften.message,
        /^schedule: every 5s is more often than this node allows \(at least 60 s/,
      );
      const untouched = (await ok(env.d.port, "backup.targets.list", {}, env.cli)) as {
        targets: Array<{ schedule: string | null }>;
      };
      assert.equal(untouched.targets[0]?.schedule, null, "nothing was set");
      return { name: "nightly", schedule: "Daily 3:00", keep: { daily: 7, weekly: 4 } };
    },
    check: async (result, env) => {
      assert.deepEqual(
        { ...(result as object), createdAt: 0 },
        {
          name: "nightly",
          kind: "local",
          location: join(env.d.dataDir, "nightly"),
          createdAt: 0,
          schedule: "daily 03:00",
          check: null,
          keep: { daily: 7, weekly: 4 },
        },
      );
      const listed = (await ok(env.d.port, "backup.targets.list", {}, env.cli)) as {
        targets: Array<{ schedule: string | null }>;
      };
      assert.equal(listed.targets[0]?.schedule, "daily 03:00", "kept");
    },
  },
  "backup.snapshots": {
    prepare: async (env) => {
      await ok(
        env.d.port,
        "backup.targets.add",
        { name: "empty", location: join(env.d.dataDir, "empty") },
        env.cli,
      );
      return { id: "api-alpha" };
    },
    check: (result) => assert.deepEqual(result, { target: "empty", snapshots: [] }),
  },
  "backup.run": {
    prepare: async (env) => {
      await installed(env, "api-alpha");
      await ok(
        env.d.port,
        "backup.targets.add",
        { name: "run", location: join(env.d.dataDir, "run") },
        env.cli,
      );
      return { id: "api-alpha" };
    },
    check: (result) => assert.equal((result as { kind: string }).kind, "backup"),
  },
  "backup.restore": {
    prepare: async (env) => {
      const location = join(env.d.dataDir, "restore");
      await ok(env.d.port, "backup.targets.add", { name: "restore", location }, env.cli);
      // A snapshot of the app on the target, made by restic itself with the node's key.
      const made = await exec("restic", ["backup", "--json", "--tag", "app:api-alpha", "--", env.d.dataDir], {
        env: {
          RESTIC_REPOSITORY: location,
          RESTIC_PASSWORD_FILE: join(env.d.dataDir, "backup", "targets", "restore", "key"),
          RESTIC_CACHE_DIR: join(env.d.dataDir, "backup", "cache"),
        },
      });
      assert.equal(made.code, 0, made.stderr);
      return { id: "api-alpha" };
    },
    check: (result) => assert.equal((result as { kind: string }).kind, "restore"),
  },
  // With catalog sources configured, these are exercised end to end in test/catalog/end-to-end.test.ts.
  "catalog.sources": {
    prepare: () => ({}),
    check: (result) => assert.deepEqual(result, [], "no catalog source is configured"),
  },
  "catalog.refresh": {
    prepare: () => ({}),
    check: (result) => assert.deepEqual(result, []),
  },
  // A real catalog published to a directory (test/catalog/support.ts), its root pinned as given.
  "catalog.sources.add": {
    prepare: async () => publishedCatalog(),
    check: (result) => {
      const added = (result as Array<{ name: string; removable: boolean; apps: number; state: string }>)[0];
      assert.deepEqual(
        { name: added?.name, removable: added?.removable, apps: added?.apps, state: added?.state },
        { name: "community", removable: true, apps: 1, state: "ok" },
      );
    },
  },
  "catalog.sources.remove": {
    prepare: async (env) => {
      await ok(env.d.port, "catalog.sources.add", await publishedCatalog(), env.cli);
      return { name: "community" };
    },
    check: (result) => assert.deepEqual(result, [], "the source is gone"),
  },
  "catalog.list": {
    prepare: async (env) => {
      await install(env, "api-alpha");
      return {};
    },
    check: (result) =>
      assert.deepEqual(
        result,
        { apps: [], updates: [], conflicts: [], rejected: [] },
        "local apps are not catalog apps",
      ),
  },
  // With a relay configured, these are exercised end to end in test/marketplace/.
  "market.relays": {
    prepare: () => ({}),
    check: (result) => assert.deepEqual(result, [], "no relay is configured by default"),
  },
  "market.relays.add": {
    prepare: () => ({ url: "ws://127.0.0.1:9/" }),
    check: (result) => assert.equal((result as { added: boolean }).added, true),
  },
  "market.relays.remove": {
    prepare: async (env) => {
      await ok(env.d.port, "market.relays.add", { url: "ws://127.0.0.1:9/" }, env.cli);
      return { url: "ws://127.0.0.1:9/" };
    },
    check: (result) => assert.deepEqual(result, { removed: true, relays: [] }),
  },
  // Between two nodes, these are exercised end to end in test/marketplace/peers.test.ts.
  "peers.list": {
    prepare: () => ({}),
    check: (result) => assert.deepEqual(result, { peers: [], grants: [] }, "no peer by default"),
  },
  "peers.add": {
    prepare: () => ({ url: "https://127.0.0.1:9", token: `archy-peer-${"A".repeat(43)}` }),
    check: (result) =>
      assert.deepEqual(
        (result as { peers: { peers: Array<{ url: string }> } }).peers.peers.map((p) => p.url),
        ["https://127.0.0.1:9/"],
        "canonical, and never the token",
      ),
  },
  "peers.remove": {
    prepare: async (env) => {
      await ok(
        env.d.port,
        "peers.add",
        { url: "https://127.0.0.1:10/", token: `archy-peer-${"B".repeat(43)}` },
        env.cli,
      );
      return { url: "https://127.0.0.1:10/" };
    },
    check: (result) =>
      assert.ok(
        !(result as { peers: Array<{ url: string }> }).peers.some((p) => p.url === "https://127.0.0.1:10/"),
      ),
  },
  "peers.grant": {
    prepare: () => ({ name: "contract-node" }),
    check: (result) => assert.match((result as { token: string }).token, /^archy-peer-[A-Za-z0-9_-]{43}$/),
  },
  "peers.revoke": {
    prepare: async (env) => {
      await ok(env.d.port, "peers.grant", { name: "revoked-node" }, env.cli);
      return { name: "revoked-node" };
    },
    check: (result) =>
      assert.ok(
        !(result as { grants: Array<{ name: string }> }).grants.some((g) => g.name === "revoked-node"),
      ),
  },
  "registry.list": {
    prepare: () => ({}),
    check: (result) => assert.deepEqual(result, [], "no registry credentials by default"),
  },
  "registry.login": {
    prepare: () => ({ host: "127.0.0.1:5000", username: "ops", password: "a-registry-password-0123456789" }),
    check: (result) =>
      assert.deepEqual(result, [{ host: "127.0.0.1:5000", username: "ops" }], "never the password"),
  },
  "registry.logout": {
    prepare: async (env) => {
      await ok(
        env.d.port,
        "registry.login",
        { host: "127.0.0.1:5001", username: "ops", password: "a-registry-password-0123456789" },
        env.cli,
      );
      return { host: "127.0.0.1:5001" };
    },
    check: (result) =>
      assert.ok(!(result as Array<{ host: string }>).some((r) => r.host === "127.0.0.1:5001")),
  },
  "market.settings": {
    prepare: () => ({}),
    check: (result) => assert.deepEqual(result, { identity: null, threshold: 50, provider: null }),
  },
  "market.settings.set": {
    prepare: () => ({ threshold: 70 }),
    check: (result) => assert.equal((result as { threshold: number }).threshold, 70),
  },
  "market.refresh": {
    prepare: () => ({}),
    check: (result) => assert.deepEqual(result, []),
  },
  "market.list": {
    prepare: () => ({}),
    check: (result) => assert.deepEqual(result, { apps: [], installed: [] }),
  },
  "package.install": {
    prepare: () => ({ id: "api-alpha" }),
    check: (result, env) => {
      const accepted = result as { operationId: string; kind: string; existing: boolean };
      assert.equal(accepted.kind, "install");
      assert.equal(accepted.existing, false);
      const app = env.d.orchestrator.store.getApp("api-alpha");
      assert.equal(app?.desired, "running", "the intent is in the store");
      assert.equal(env.d.orchestrator.store.getOperation(accepted.operationId)?.state, "pending");
    },
  },
  "package.approve": {
    prepare: async (env) => {
      await installed(env, "api-delta");
      await ok(env.d.port, "package.revoke", { id: "api-delta", permission: "admin" }, env.browser);
      settle(env.d, "api-delta");
      return { id: "api-delta", approve: [{ name: "admin", content: "capability SYS_ADMIN" }] };
    },
    check: (result, env) => {
      assert.equal((result as { kind: string }).kind, "approve");
      assert.deepEqual(
        env.d.orchestrator.store.approvals("api-delta").map((a) => a.name),
        ["admin", "radio"],
      );
    },
  },
  "package.revoke": {
    prepare: async (env) => {
      await installed(env, "api-delta");
      return { id: "api-delta", permission: "radio" };
    },
    check: (result, env) => {
      assert.equal((result as { kind: string }).kind, "revoke");
      assert.deepEqual(
        env.d.orchestrator.store.approvals("api-delta").map((a) => a.name),
        ["admin"],
        "the approval is withdrawn with the intent",
      );
      assert.equal(env.d.orchestrator.store.getApp("api-delta")?.phase, "stopping");
    },
  },
  "package.start": {
    prepare: async (env) => {
      await installed(env, "api-alpha");
      return { id: "api-alpha" };
    },
    check: (result) => assert.equal((result as { kind: string }).kind, "start"),
  },
  "package.stop": {
    prepare: async (env) => {
      // An install still in flight: stop supersedes it.
      await install(env, "api-alpha");
      return { id: "api-alpha" };
    },
    check: (result, env) => {
      const accepted = result as { kind: string; operationId: string; superseded?: string[] };
      assert.equal(accepted.kind, "stop");
      assert.equal(accepted.superseded?.length, 1);
      const superseded = env.d.orchestrator.store.getOperation(accepted.superseded?.[0] ?? "");
      assert.equal(superseded?.state, "failed");
      assert.equal(env.d.orchestrator.store.getApp("api-alpha")?.desired, "stopped");
    },
  },
  "package.restart": {
    prepare: async (env) => {
      await installed(env, "api-alpha");
      return { id: "api-alpha" };
    },
    check: (result) => assert.equal((result as { kind: string }).kind, "restart"),
  },
  "package.reinstall": {
    prepare: async (env) => {
      await installed(env, "api-alpha");
      return { id: "api-alpha" };
    },
    check: (result, env) => {
      const accepted = result as { kind: string; operationId: string };
      assert.equal(accepted.kind, "reinstall");
      const app = env.d.orchestrator.store.getApp("api-alpha");
      assert.equal(app?.desired, "running", "the app stays wanted running");
      assert.equal(env.d.orchestrator.store.getOperation(accepted.operationId)?.state, "pending");
    },
  },
  "package.uninstall": {
    prepare: async (env) => {
      await installed(env, "api-alpha");
      return { id: "api-alpha", purge: true };
    },
    check: (result, env) => {
      assert.equal((result as { kind: string }).kind, "purge");
      const app = env.d.orchestrator.store.getApp("api-alpha");
      assert.equal(app?.desired, "absent");
      assert.equal(app?.purge, true);
    },
  },
  "package.update": {
    prepare: async (env) => {
      await installed(env, "api-alpha");
      return { id: "api-alpha", force: true };
    },
    check: (result) => assert.equal((result as { kind: string }).kind, "update"),
  },
  "package.retry": {
    prepare: async (env) => {
      await installed(env, "api-alpha");
      return { id: "api-alpha" };
    },
    check: (result) => assert.equal((result as { kind: string }).kind, "retry"),
  },
  "package.logs": {
    prepare: async (env) => {
      await install(env, "api-alpha");
      return { id: "api-alpha", tail: 10 };
    },
    check: (result) => assert.deepEqual(result, [], "no container yet: no logs, without asking Podman"),
  },
  "package.credentials": {
    prepare: async (env) => {
      await install(env, "api-gamma");
      return { id: "api-gamma" };
    },
    check: (result) =>
      assert.deepEqual(
        result,
        [{ label: "Admin login", username: "admin", password: null }],
        "not generated yet",
      ),
  },
  "container-list": {
    prepare: async (env) => {
      await install(env, "api-alpha");
      observe(env, "api-alpha");
      return {};
    },
    check: (result) => {
      const [container] = result as Array<{ appId: string; key: string; observedAgeMs: number }>;
      assert.equal(container?.appId, "api-alpha");
      assert.equal(container?.key, "web");
      assert.ok((container?.observedAgeMs ?? 0) >= 1_000);
    },
  },
  "operation.get": {
    prepare: async (env) => ({ id: await install(env, "api-alpha") }),
    check: (result) => {
      const operation = result as { kind: string; state: string; logs: unknown[] };
      assert.equal(operation.kind, "install");
      assert.equal(operation.state, "pending");
      assert.deepEqual(operation.logs, []);
    },
  },
  "operation.list": {
    prepare: async (env) => {
      await install(env, "api-alpha");
      return { appId: "api-alpha" };
    },
    check: (result) => {
      const [latest] = result as Array<{ appId: string; kind: string; state: string }>;
      assert.equal(latest?.appId, "api-alpha");
      assert.equal(latest?.kind, "install");
    },
  },
  "system.node": {
    prepare: () => ({}),
    check: (result, env) => {
      const node = result as { dataDir: string; podmanVersion: string | null; disk: { freeBytes: number } };
      assert.equal(node.dataDir, env.d.dataDir);
      assert.equal(node.podmanVersion, null, "the fake Podman never answered info: not connected");
      assert.ok(node.disk.freeBytes > 0);
    },
  },
  "system.info": {
    prepare: () => ({}),
    check: (result) => {
      const info = result as { setUp: boolean; backend: string; apps: number };
      assert.equal(info.setUp, true);
      assert.equal(info.backend, "connecting to Podman", "Podman never answered");
    },
  },
};

async function environment(fresh: boolean, checkResults?: boolean): Promise<Env> {
  const d = await startDaemon({ checkResults });
  const password = "the operator's password";
  writeFileSync(join(d.dir, "password"), password);
  const session = fresh ? { cookie: "", csrf: "", token: "", device: "" } : await setup(d.port, password);
  const cli = { bearer: readFileSync(d.tokenFile, "utf8").trim() };
  return { d, session, browser: { cookie: session.cookie, csrf: session.csrf }, cli };
}

test("every method has a contract case and a documented example", () => {
  assert.deepEqual(Object.keys(VALID).sort(), [...METHOD_TABLE.keys()].sort());
  assert.deepEqual(Object.keys(EXAMPLES).sort(), [...METHOD_TABLE.keys()].sort());
});

// The daemon runs without its own result check here, as from the build (rpc/result-checks.ts): what
// the handler returns must already be exactly what the schema lets out (no field it would strip, no
// default it would fill in), else skipping the check would change the answer.
describe("every method answers a valid call with a result that fits its schema exactly, unchecked", () => {
  for (const method of METHODS) {
    test(method.name, async () => {
      const valid = VALID[method.name];
      assert.ok(valid, `a valid case for ${method.name}`);
      const env = await environment(valid.fresh ?? false, false);
      try {
        const params = await valid.prepare(env);
        const result = await ok(env.d.port, method.name, params, env.browser);
        assertFitsSchema(method.name, result);
        assert.deepEqual(
          method.result.parse(result),
          result,
          `${method.name}: the handler's result is not exactly its schema's output`,
        );
        await valid.check(result, env);
      } finally {
        await env.d.close();
      }
    });
  }
});

/** Bad params derived from the method's params schema: each with the field the error must name. */
function invalidParams(
  method: (typeof METHODS)[number],
): Array<{ what: string; params: unknown; field: string }> {
  const example = EXAMPLES[method.name]?.params ?? {};
  const cases: Array<{ what: string; params: unknown; field: string }> = [
    { what: "an unknown key", params: { ...example, unexpectedKey: true }, field: "unexpectedKey" },
    { what: "params that are not an object", params: 42, field: "(params)" },
  ];
  const jsonSchema = paramsJsonSchema(method.params) as {
    properties?: Record<string, { type?: string }>;
    required?: string[];
  };
  for (const [field, property] of Object.entries(jsonSchema?.properties ?? {})) {
    const wrong = property.type === "string" ? 42 : property.type === "boolean" ? "yes" : "12";
    cases.push({ what: `${field} of the wrong type`, params: { ...example, [field]: wrong }, field });
    if (jsonSchema?.required?.includes(field)) {
      const { [field]: _missing, ...rest } = example;
      cases.push({ what: `${field} missing`, params: rest, field });
    }
  }
  return cases;
}

describe("invalid params are refused with -32602 naming the field, and change nothing", () => {
  let env: Env;
  before(async () => {
    env = await environment(false);
    await installed(env, "api-alpha");
    await install(env, "api-gamma");
  });
  after(() => env.d.close());

  for (const method of METHODS) {
    test(method.name, async () => {
      const cases = invalidParams(method);
      assert.ok(cases.length >= 2);
      for (const { what, params, field } of cases) {
        const before = storeSnapshot(env.d.storePath);
        const error = await fails(env.d.port, method.name, params, env.cli, RPC_CODES.invalidParams);
        const issues = (error.data as { issues: Array<{ field: string; problem: string }> }).issues;
        assert.ok(
          issues.some((issue) => issue.field === field),
          `${method.name} with ${what}: the issues name ${field}: ${JSON.stringify(issues)}`,
        );
        assert.match(error.message, /^invalid params: /);
        assert.deepEqual(
          storeSnapshot(env.d.storePath),
          before,
          `${method.name} with ${what} changed the store`,
        );
      }
    });
  }

  test("a params field that is too long or out of range is named too", async () => {
    const long = await fails(
      env.d.port,
      "package.get",
      { id: "x".repeat(101) },
      env.cli,
      RPC_CODES.invalidParams,
    );
    assert.equal((long.data as { issues: Array<{ field: string }> }).issues[0]?.field, "id");
    const tail = await fails(
      env.d.port,
      "package.logs",
      { id: "api-alpha", tail: 0 },
      env.cli,
      RPC_CODES.invalidParams,
    );
    assert.equal((tail.data as { issues: Array<{ field: string }> }).issues[0]?.field, "tail");
  });

  test("a restore's snapshot that is not an id is refused saying what one looks like, not by its length", async () => {
    for (const snapshot of ["zz", "not-a-snapshot-id"]) {
      const error = await fails(
        env.d.port,
        "backup.restore",
        { id: "api-alpha", snapshot },
        env.cli,
        RPC_CODES.invalidParams,
      );
      assert.equal(
        error.message,
        "invalid params: snapshot: not a snapshot id (8 to 64 hex digits, as archy backups shows them)",
      );
    }
  });

  test("auth.setup refuses a short password as a params error naming it, and keeps no password", async () => {
    const fresh = await environment(true);
    try {
      const error = await fails(
        fresh.d.port,
        "auth.setup",
        { password: "short" },
        {},
        RPC_CODES.invalidParams,
      );
      assert.equal((error.data as { issues: Array<{ field: string }> }).issues[0]?.field, "password");
      const info = (await ok(fresh.d.port, "system.info", {}, {})) as { setUp: boolean };
      assert.equal(info.setUp, false);
    } finally {
      await fresh.d.close();
    }
  });
});

describe("session methods refuse callers without a session with -32001, changing nothing", () => {
  let env: Env;
  before(async () => {
    env = await environment(false);
    await installed(env, "api-alpha");
  });
  after(() => env.d.close());

  const anonymous: Array<[string, Caller]> = [
    ["no credentials", {}],
    ["an unknown session cookie", { cookie: "archy_session=forged-session-token", csrf: "forged" }],
    ["a wrong CLI token", { bearer: "not-the-token-not-the-token-not-the-token" }],
    ["an empty session cookie", { cookie: "archy_session=" }],
    ["a malformed session cookie", { cookie: "archy_session=%zz" }],
  ];
  for (const method of METHODS.filter((m) => m.access === "session")) {
    test(method.name, async () => {
      for (const [what, caller] of anonymous) {
        const before = storeSnapshot(env.d.storePath);
        const error = await fails(
          env.d.port,
          method.name,
          EXAMPLES[method.name]?.params,
          caller,
          RPC_CODES.unauthenticated,
        );
        assert.match(error.message, /log/, `${what}: the message says to log in`);
        assert.deepEqual(storeSnapshot(env.d.storePath), before, `${method.name} with ${what}`);
      }
    });
  }

  test("public methods answer without a session", async () => {
    const publicMethods = METHODS.filter((m) => m.access === "public").map((m) => m.name);
    assert.deepEqual(publicMethods.sort(), ["auth.login", "auth.setup", "system.info"]);
    assertFitsSchema("system.info", await ok(env.d.port, "system.info", undefined, {}));
  });
});

describe("lifecycle refusals carry stable codes and their details, and change nothing", () => {
  let env: Env;
  const clock = manualClock();
  before(async () => {
    const d = await startDaemon({ clock: clock.now });
    const session = await setup(d.port);
    env = { d, session, browser: session, cli: { bearer: readFileSync(d.tokenFile, "utf8").trim() } };
  });
  after(() => env.d.close());

  /** Calls a method that must fail with `code`, and checks that the store did not change. */
  async function refused(method: string, params: unknown, code: number) {
    const before = storeSnapshot(env.d.storePath);
    const error = await fails(env.d.port, method, params, env.browser, code);
    assert.deepEqual(storeSnapshot(env.d.storePath), before, `${method} ${JSON.stringify(params)}`);
    return error;
  }

  test("unknown apps and operations: -32010", async () => {
    await refused("package.install", { id: "no-such-app" }, RPC_CODES.notFound);
    for (const method of [
      "package.get",
      "package.start",
      "package.stop",
      "package.uninstall",
      "package.logs",
    ])
      await refused(method, { id: "no-such-app" }, RPC_CODES.notFound);
    await refused("package.update", { id: "no-such-app" }, RPC_CODES.notFound);
    await refused("operation.get", { id: "op-unknown" }, RPC_CODES.notFound);
  });

  test("unknown targets, peers, grants, relays, sources and registry logins: refused, the message naming the command that lists them", async () => {
    const cases: Array<[string, object, number, RegExp]> = [
      [
        "backup.targets.remove",
        { name: "no-such-target" },
        RPC_CODES.notFound,
        /\(archy backup targets lists them\)/,
      ],
      ["peers.remove", { url: "http://127.0.0.1:9/" }, RPC_CODES.notFound, /\(archy peers ls\)/],
      ["peers.revoke", { name: "no-such-node" }, RPC_CODES.notFound, /\(archy peers ls\)/],
      ["market.relays.remove", { url: "ws://127.0.0.1:9" }, RPC_CODES.notFound, /\(archy market relays ls\)/],
      // A source's name is checked as a parameter (the same check refuses a source of the config file).
      ["catalog.sources.remove", { name: "no-such-source" }, RPC_CODES.invalidParams, /\(archy sources ls\)/],
      ["registry.logout", { host: "registry.invalid" }, RPC_CODES.notFound, /\(archy registry ls\)/],
    ];
    for (const [method, params, code, lists] of cases) {
      const error = await refused(method, params, code);
      assert.match(error.message, lists, `${method}: ${error.message}`);
    }
  });

  test("an invalid manifest: -32016 with its issues", async () => {
    const error = await refused("package.install", { id: "api-broken" }, RPC_CODES.invalidManifest);
    const issues = (error.data as { issues: Array<{ message: string }> }).issues;
    assert.match(issues[0]?.message ?? "", /semantic version/);
  });

  test("a missing dependency: -32012 with data.missing", async () => {
    const error = await refused("package.install", { id: "api-beta" }, RPC_CODES.dependencyMissing);
    assert.deepEqual(error.data, { missing: ["api-alpha"] });
    assert.match(error.message, /install it first/);
  });

  test("an operation in flight: -32011 with data.operation; an identical request returns it", async () => {
    const first = (await ok(env.d.port, "package.install", { id: "api-alpha" }, env.browser)) as {
      operationId: string;
    };
    const again = (await ok(env.d.port, "package.install", { id: "api-alpha" }, env.browser)) as {
      operationId: string;
      existing: boolean;
    };
    assert.equal(again.operationId, first.operationId);
    assert.equal(again.existing, true);
    for (const method of ["package.start", "package.restart", "package.reinstall", "package.retry"]) {
      const error = await refused(method, { id: "api-alpha" }, RPC_CODES.operationInProgress);
      assert.deepEqual(error.data, { operation: { id: first.operationId, kind: "install" } });
    }
    const update = await refused(
      "package.update",
      { id: "api-alpha", force: true },
      RPC_CODES.operationInProgress,
    );
    assert.deepEqual(update.data, { operation: { id: first.operationId, kind: "install" } });
    settle(env.d, "api-alpha");
  });

  test("dependents: -32013 with data.dependents", async () => {
    await ok(env.d.port, "package.install", { id: "api-beta" }, env.browser);
    settle(env.d, "api-beta");
    const error = await refused("package.uninstall", { id: "api-alpha" }, RPC_CODES.hasDependents);
    assert.deepEqual(error.data, { dependents: ["api-beta"] });
  });

  test("an update that is not newer: -32014; a newer version in the source is accepted", async () => {
    const error = await refused("package.update", { id: "api-alpha" }, RPC_CODES.notNewer);
    assert.deepEqual(error.data, { installed: "1.0.0", offered: "1.0.0" });
    writeFileSync(
      join(env.d.appsDir, "api-alpha", "manifest.yml"),
      (TEST_APPS["api-alpha"] as string).replace("version: 1.0.0", "version: 1.1.0"),
    );
    clock.advance(10_000); // past the sources cache
    const available = (await ok(env.d.port, "package.available", {}, env.browser)) as Array<{
      id: string;
      updateAvailable: boolean;
    }>;
    assert.equal(available.find((a) => a.id === "api-alpha")?.updateAvailable, true);
    const accepted = (await ok(env.d.port, "package.update", { id: "api-alpha" }, env.browser)) as {
      kind: string;
    };
    assert.equal(accepted.kind, "update");
    assert.equal(env.d.orchestrator.store.getApp("api-alpha")?.version, "1.1.0");
    settle(env.d, "api-alpha");
  });

  test("permissions the operator has not approved: -32019 listing each in plain words; nothing runs", async () => {
    const error = await refused("package.install", { id: "api-delta" }, RPC_CODES.approvalRequired);
    assert.match(error.message, /api-delta asks for 2 permissions the operator has not approved/);
    assert.deepEqual(error.data, {
      permissions: [
        {
          name: "admin",
          kind: "capability",
          content: "capability SYS_ADMIN",
          description: "hold the elevated Linux capability SYS_ADMIN",
          reason: "Mounts its own file systems",
        },
        {
          name: "radio",
          kind: "device",
          content: "device /dev/ttyUSB0",
          description: "use the host device /dev/ttyUSB0",
          reason: "Talks to the radio",
        },
      ],
    });
    // Approving only some, or other content, is refused the same way.
    await refused(
      "package.install",
      { id: "api-delta", approve: [{ name: "radio", content: "device /dev/ttyUSB0" }] },
      RPC_CODES.approvalRequired,
    );
    await refused(
      "package.install",
      {
        id: "api-delta",
        approve: [
          { name: "radio", content: "device /dev/ttyUSB0" },
          { name: "admin", content: "capability NET_ADMIN" },
        ],
      },
      RPC_CODES.approvalRequired,
    );
    await ok(
      env.d.port,
      "package.install",
      {
        id: "api-delta",
        approve: [
          { name: "radio", content: "device /dev/ttyUSB0" },
          { name: "admin", content: "capability SYS_ADMIN" },
        ],
      },
      env.browser,
    );
    settle(env.d, "api-delta");
    const app = (await ok(env.d.port, "package.get", { id: "api-delta" }, env.browser)) as {
      permissions: Array<{ name: string; approved: boolean; approvedBy: string }>;
    };
    assert.deepEqual(
      app.permissions.map((p) => [p.name, p.approved, p.approvedBy]),
      [
        ["admin", true, "operator"],
        ["radio", true, "operator"],
      ],
    );
    // Revoked: starting it again is refused until it is approved again.
    await ok(env.d.port, "package.revoke", { id: "api-delta", permission: "radio" }, env.browser);
    settle(env.d, "api-delta");
    await refused("package.start", { id: "api-delta" }, RPC_CODES.approvalRequired);
    await refused("package.revoke", { id: "api-delta", permission: "radio" }, RPC_CODES.notFound);
  });

  test("an update from another source needs switchSource: -32020 naming the change", async () => {
    // No catalog is configured here: the app is recorded as installed from one, and the node's own
    // apps directory now offers a newer version (local directories are all the operator's origin).
    const row = env.d.orchestrator.store.getApp("api-alpha");
    assert.ok(row);
    env.d.orchestrator.store.deleteUpdate("api-alpha"); // the earlier update is over
    env.d.orchestrator.store.transaction(() => {
      env.d.orchestrator.store.recordIntent(
        {
          appId: "api-alpha",
          operation: { id: "op-moved", kind: "reinstall" },
          phase: "running",
          manifest: {
            text: row.manifestText,
            hash: row.manifestHash,
            version: row.version,
            source: "catalog:official",
          },
        },
        clock.now(),
      );
      env.d.orchestrator.store.setOperationState("op-moved", "succeeded", clock.now());
    });
    writeFileSync(
      join(env.d.appsDir, "api-alpha", "manifest.yml"),
      (TEST_APPS["api-alpha"] as string).replace("version: 1.0.0", "version: 1.2.0"),
    );
    clock.advance(10_000); // past the sources cache
    const available = (await ok(env.d.port, "package.available", {}, env.browser)) as Array<{
      id: string;
      sourceChange: string | null;
    }>;
    assert.match(
      available.find((a) => a.id === "api-alpha")?.sourceChange ?? "",
      /^switch its source from catalog:official to local:\//,
    );
    const error = await refused("package.update", { id: "api-alpha" }, RPC_CODES.sourceChange);
    assert.match(error.message, /updating api-alpha to 1\.2\.0 would switch its source/);
    assert.deepEqual((error.data as { installed: unknown }).installed, {
      source: "catalog:official",
      publisher: null,
    });
    await ok(env.d.port, "package.update", { id: "api-alpha", switchSource: true }, env.browser);
    assert.match(env.d.orchestrator.store.getApp("api-alpha")?.source ?? "", /^local:\/.*\/apps\/api-alpha$/);
    settle(env.d, "api-alpha");
  });

  test("an app being removed: -32015", async () => {
    await ok(env.d.port, "package.uninstall", { id: "api-beta" }, env.browser);
    settle(env.d, "api-beta");
    const error = await refused("package.start", { id: "api-beta" }, RPC_CODES.beingRemoved);
    assert.match(error.message, /being uninstalled/);
    await refused("package.install", { id: "api-beta" }, RPC_CODES.beingRemoved);
  });

  test("logs of observed containers while Podman does not answer: -32017", async () => {
    env.d.orchestrator.store.saveObservation("api-alpha", [
      {
        appId: "api-alpha",
        key: "web",
        name: "api-alpha",
        containerId: "abc",
        state: "running",
        health: "unknown",
        exitCode: 0,
        restarts: 0,
        startedAt: undefined,
        backend: "podman",
        specHash: undefined,
        observedAt: clock.now(),
      },
    ]);
    await refused("package.logs", { id: "api-alpha" }, RPC_CODES.podmanUnavailable);
    await refused("package.logs", { id: "api-alpha", container: "db" }, RPC_CODES.notFound);
  });
});

describe("the JSON-RPC 2.0 protocol", () => {
  let env: Env;
  before(async () => {
    env = await environment(false);
  });
  after(() => env.d.close());

  const errorOf = (body: unknown) => (body as { error: { code: number; message: string } }).error;

  test("malformed JSON is a parse error (-32700) with a null id", async () => {
    for (const text of ['{"jsonrpc": "2.0", "method": ', "{not json}", '[{"jsonrpc":"2.0"},']) {
      const response = await post(env.d.port, text, env.cli);
      assert.equal(response.status, 200, text);
      assert.equal((response.body as { id: unknown }).id, null);
      assert.equal(errorOf(response.body).code, RPC_CODES.parseError, text);
    }
  });

  test("requests of the wrong shape are invalid requests (-32600)", async () => {
    const shapes: Array<[unknown, unknown]> = [
      [1, null],
      ['"a string"', null], // sent verbatim: a JSON string
      [null, null],
      [{}, null],
      [{ jsonrpc: "1.0", method: "system.info", id: 1 }, 1],
      [{ method: "system.info", id: 2 }, 2],
      [{ jsonrpc: "2.0", method: 5, id: 3 }, 3],
      [{ jsonrpc: "2.0", method: "system.info", id: { nested: true } }, null],
      [{ jsonrpc: "2.0", method: "system.info", id: [1] }, null],
    ];
    for (const [body, id] of shapes) {
      const response = await post(env.d.port, body, env.cli);
      assert.equal(response.status, 200, JSON.stringify(body));
      assert.equal((response.body as { id: unknown }).id, id, JSON.stringify(body));
      assert.equal(errorOf(response.body).code, RPC_CODES.invalidRequest, JSON.stringify(body));
    }
  });

  test("an unknown method is -32601, for callers with and without a session", async () => {
    for (const caller of [env.cli, {}]) {
      const error = await fails(env.d.port, "package.frobnicate", {}, caller, RPC_CODES.methodNotFound);
      assert.match(error.message, /package\.frobnicate/);
    }
    await fails(env.d.port, "__proto__", {}, env.cli, RPC_CODES.methodNotFound);
    await fails(env.d.port, "constructor", {}, env.cli, RPC_CODES.methodNotFound);
  });

  test("string ids and a null id are echoed", async () => {
    const response = await post(env.d.port, { jsonrpc: "2.0", id: "abc", method: "system.info" }, env.cli);
    assert.equal((response.body as { id: unknown }).id, "abc");
    const nullId = await post(env.d.port, { jsonrpc: "2.0", id: null, method: "system.info" }, env.cli);
    assert.equal((nullId.body as { id: unknown }).id, null);
    assert.ok((nullId.body as { result: unknown }).result);
  });

  test("a batch is answered in order, notifications left out, each request on its own", async () => {
    const before = storeSnapshot(env.d.storePath);
    const response = await post(
      env.d.port,
      [
        { jsonrpc: "2.0", id: 1, method: "system.info" },
        { jsonrpc: "2.0", id: 2, method: "package.get", params: { id: 42 } },
        { jsonrpc: "2.0", method: "system.info" },
        { jsonrpc: "2.0", id: 3, method: "no.such.method" },
        7,
        { jsonrpc: "2.0", id: 4, method: "package.list", params: {} },
        { jsonrpc: "2.0", method: "package.get", params: { id: 42 } },
      ],
      env.cli,
    );
    assert.equal(response.status, 200);
    const replies = response.body as Array<{ id: unknown; result?: unknown; error?: { code: number } }>;
    assert.deepEqual(
      replies.map((r) => [r.id, r.error?.code ?? "ok"]),
      [
        [1, "ok"],
        [2, RPC_CODES.invalidParams],
        [3, RPC_CODES.methodNotFound],
        [null, RPC_CODES.invalidRequest],
        [4, "ok"],
      ],
    );
    assertFitsSchema("system.info", replies[0]?.result);
    assertFitsSchema("package.list", replies[4]?.result);
    assert.deepEqual(storeSnapshot(env.d.storePath), before);
  });

  test("a batch checks each request's authentication on its own", async () => {
    const response = await post(
      env.d.port,
      [
        { jsonrpc: "2.0", id: 1, method: "package.list" },
        { jsonrpc: "2.0", id: 2, method: "package.stop", params: { id: "api-alpha" } },
      ],
      { cookie: env.session.cookie }, // a session, without the CSRF token
    );
    const replies = response.body as Array<{ id: unknown; error?: { code: number } }>;
    assert.deepEqual(
      replies.map((r) => r.error?.code ?? "ok"),
      ["ok", RPC_CODES.csrfRejected],
    );
  });

  test("a caller without a session or the CLI token sends no batch: refused as a whole, nothing in it runs", async () => {
    const before = storeSnapshot(env.d.storePath);
    const logged = env.d.logs.length;
    for (const body of [
      [
        { jsonrpc: "2.0", id: 1, method: "system.info" },
        { jsonrpc: "2.0", id: 2, method: "package.list" },
      ],
      Array.from({ length: MAX_BATCH }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "package.list" })),
      [{ jsonrpc: "2.0", id: 1, method: "auth.login", params: { password: "a guess at it" } }],
      [],
    ]) {
      const response = await post(env.d.port, body, { cookie: "archy_session=forged" });
      assert.ok(!Array.isArray(response.body), "one error, not an answer per request");
      assert.equal(errorOf(response.body).code, RPC_CODES.invalidRequest);
      assert.match(errorOf(response.body).message, /batches need a session or the CLI token/);
      assert.equal(response.headers["set-cookie"], undefined);
    }
    assert.deepEqual(storeSnapshot(env.d.storePath), before);
    assert.deepEqual(
      env.d.logs.slice(logged).filter((line) => line.includes('"rpc"')),
      [],
      "no request in them was dispatched (a refused package.list or login is logged)",
    );
  });

  test("notifications get no response: HTTP 204 with an empty body", async () => {
    const single = await post(env.d.port, { jsonrpc: "2.0", method: "system.info" }, env.cli);
    assert.equal(single.status, 204);
    assert.equal(single.text, "");
    const batch = await post(
      env.d.port,
      [
        { jsonrpc: "2.0", method: "system.info" },
        { jsonrpc: "2.0", method: "no.such.method" },
      ],
      env.cli,
    );
    assert.equal(batch.status, 204);
    assert.equal(batch.text, "");
  });

  test("an empty batch and a batch over the limit are one invalid request", async () => {
    const empty = await post(env.d.port, [], env.cli);
    assert.equal(errorOf(empty.body).code, RPC_CODES.invalidRequest);
    assert.ok(!Array.isArray(empty.body), "a single response, not an array");
    const request = { jsonrpc: "2.0", id: 1, method: "system.info" };
    const atLimit = await post(
      env.d.port,
      Array.from({ length: MAX_BATCH }, () => request),
      env.cli,
    );
    assert.equal((atLimit.body as unknown[]).length, MAX_BATCH);
    const over = await post(
      env.d.port,
      Array.from({ length: MAX_BATCH + 1 }, () => request),
      env.cli,
    );
    assert.equal(errorOf(over.body).code, RPC_CODES.invalidRequest);
    assert.match(errorOf(over.body).message, new RegExp(`at most ${MAX_BATCH}`));
  });

  test("a body over 1 MiB is refused with HTTP 413 and an invalid request error, changing nothing", async () => {
    const before = storeSnapshot(env.d.storePath);
    const body = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "package.install",
      params: { id: "api-alpha", padding: "x".repeat(1024 * 1024) },
    });
    const response = await post(env.d.port, body, env.cli);
    assert.equal(response.status, 413);
    assert.equal(errorOf(response.body).code, RPC_CODES.invalidRequest);
    assert.deepEqual(storeSnapshot(env.d.storePath), before);
  });

  test("a body that is not JSON is refused as a request, never run", async () => {
    const response = await post(env.d.port, '{"jsonrpc":"2.0","id":1,"method":"system.info"}', {
      ...env.cli,
      headers: { "content-type": "text/plain" },
    });
    assert.equal(errorOf(response.body).code, RPC_CODES.invalidRequest);
    const form = await post(env.d.port, "a=1", {
      ...env.cli,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    assert.equal(form.status, 415);
    assert.equal(errorOf(form.body).code, RPC_CODES.invalidRequest);
  });

  test("a body nested deeper than 16 levels is refused as an invalid request, and never parsed", async () => {
    const before = storeSnapshot(env.d.storePath);
    const deep = `${"[".repeat(450_000)}${"]".repeat(450_000)}`;
    const objects = `{"jsonrpc":"2.0","id":1,"method":"package.install","params":{"id":"api-alpha","x":${'{"a":'.repeat(20)}1${"}".repeat(20)}}}`;
    for (const body of [deep, objects, `${"[".repeat(MAX_JSON_DEPTH + 1)}`]) {
      const response = await post(env.d.port, body, env.cli);
      assert.equal(response.status, 200);
      assert.equal(errorOf(response.body).code, RPC_CODES.invalidRequest, body.slice(0, 80));
      assert.match(errorOf(response.body).message, /nested too deeply: at most 16 levels/);
    }
    assert.deepEqual(storeSnapshot(env.d.storePath), before);
    // Brackets inside strings are text, not nesting: such a body is parsed and answered.
    const text = "[{".repeat(100);
    const answered = await post(
      env.d.port,
      { jsonrpc: "2.0", id: 7, method: "package.get", params: { id: text } },
      env.cli,
    );
    assert.equal(errorOf(answered.body).code, RPC_CODES.invalidParams);
  });

  test("the depth bound is checked on the raw text: the JSON parser is never called for a body too deep", () => {
    const parsed: string[] = [];
    const parser = depthBounded((_request, body, done) => {
      parsed.push(body);
      done(null, JSON.parse(body));
    });
    const answers: Array<{ error: Error | null; body?: unknown }> = [];
    const done = (error: Error | null, body?: unknown) => answers.push({ error, body });
    const atLimit = `${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}`;
    parser(undefined, atLimit, done);
    assert.deepEqual(parsed, [atLimit], "16 levels are parsed");
    parser(undefined, `[${atLimit}]`, done);
    parser(undefined, `${'{"a":'.repeat(MAX_JSON_DEPTH + 1)}1${"}".repeat(MAX_JSON_DEPTH + 1)}`, done);
    parser(undefined, "[".repeat(450_000), done);
    assert.deepEqual(parsed, [atLimit], "nothing deeper reached the parser");
    assert.deepEqual(
      answers.map((a) => a.error?.message ?? "parsed"),
      [
        "parsed",
        ...Array(3).fill(`request nested too deeply: at most ${MAX_JSON_DEPTH} levels of arrays and objects`),
      ],
    );
    // Strings do not count, escaped quotes and backslashes included.
    const inStrings = String.raw`["\\", "[[[[[[[[[[[[[[[[[[[[\"[[[[", {"k": "{{{{{{{{{{{{{{{{{{{{"}]`;
    assert.deepEqual(JSON.parse(inStrings)[0], "\\", "a string of one backslash");
    assert.equal(nestsDeeperThan(inStrings, 2), false);
    assert.equal(nestsDeeperThan(String.raw`[[["\\"]]]`, 2), true);
  });

  test("bodies that try to pollute prototypes are refused before any method runs", async () => {
    const before = storeSnapshot(env.d.storePath);
    for (const params of [
      '{"__proto__":{"id":"api-alpha"}}',
      '{"constructor":{"prototype":{"id":"api-alpha"}}}',
    ]) {
      const response = await post(
        env.d.port,
        `{"jsonrpc":"2.0","id":1,"method":"package.install","params":${params}}`,
        env.cli,
      );
      assert.equal(errorOf(response.body).code, RPC_CODES.parseError, params);
    }
    assert.deepEqual(storeSnapshot(env.d.storePath), before);
  });

  test("responses are never cached", async () => {
    const reply = await rpc(env.d.port, "system.info", {}, env.cli);
    assert.equal(reply.http.headers["cache-control"], "no-store");
  });
});
