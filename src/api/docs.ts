/**
 * `docs/api.md`, generated from the API's own definitions: the methods (summary, access, params and
 * result schemas), the error codes, the event stream's messages and the metrics. Examples are kept
 * here beside the generator; the tests check each one against its method's schemas, so the document
 * cannot drift from what the daemon accepts and answers.
 */
import { z } from "zod";
import { fieldRows } from "../manifest/reference.ts";
import { SESSION_TTL_MS } from "./auth.ts";
import { DEVICE_COOKIE, DEVICE_TTL_MS } from "./device-cookie.ts";
import { EVENTS_KEPT } from "./event-log.ts";
import { EVENT_SCHEMAS } from "./events.ts";
import { LOGIN_LIMITS } from "./login-limits.ts";
import { METHODS } from "./methods.ts";
import { GAUGES, Metrics } from "./metrics.ts";
import { MIN_PASSWORD_LENGTH } from "./password-rule.ts";
import { PASSWORD_WORK } from "./password-work.ts";
import { MAX_JSON_DEPTH } from "./rpc/body.ts";
import { MAX_BATCH } from "./rpc/dispatch.ts";
import { RPC_CODE_MEANINGS, RPC_CODES } from "./rpc/errors.ts";
import { MAX_BODY_BYTES, SESSION_COOKIE } from "./server.ts";

type CodeName = keyof typeof RPC_CODES;

export type MethodExample = {
  params: Record<string, unknown>;
  result: unknown;
  /** Errors specific to the method (the common ones are listed once for all). */
  errors: CodeName[];
};

const T0 = 1_767_225_600_000;
const OPERATION = "op-5f0c8d2e-4b7a-4c39-9e51-2d6f1a0b7c44";

const MEDIA_PERMISSION = {
  name: "media",
  kind: "host-path",
  content: "host-path /srv/media",
  description: "read the host directory /srv/media and everything in it",
  reason: "Shows your photo collection",
};

const APP = {
  id: "my-app",
  name: "My App",
  version: "1.2.0",
  description: "A web app with one container.",
  category: "utilities",
  icon: "/icons/v1/my-app?source=local%3A%2Fsrv%2Fapps%2Fmy-app",
  source: "local:/srv/apps/my-app",
  publisher: null,
  desired: "running",
  phase: "running",
  reason: null,
  observedAt: T0,
  observedAgeMs: 1_250,
  containers: [
    {
      key: "web",
      name: "my-app",
      containerId: "3f4e5d6c7b8a",
      state: "running",
      health: "healthy",
      exitCode: 0,
      startedAt: T0 - 60_000,
      restarts: 0,
      backend: "podman",
      observedAt: T0,
      job: false,
    },
  ],
  interfaces: [{ name: "ui", url: "https://my-app.node.lan:7780/" }],
  localOverride: false,
  permissions: [{ ...MEDIA_PERMISSION, approved: true, approvedAt: T0 - 86_400_000, approvedBy: "operator" }],
  warnings: [],
  flags: [],
  memoryLimits: [{ container: "web", bytes: 268_435_456, enforced: true, why: null }],
  alerts: [
    {
      kind: "backup-overdue",
      target: "usb",
      appId: "my-app",
      since: T0 - 86_400_000,
      message:
        "backup to usb overdue: the last one succeeded 2026-12-05T03:00:12Z; daily 03:00 expected one by 2026-12-06T03:00:00Z",
    },
  ],
};

const NPUB = "npub1w0dnkywc2sucpcayd4s4g2r5s634v6unu56kl3rwwm92k8rjrz4qsh20dj";
const PUBKEY = "73db3b11d85439c0e3a46d615428748a3566b93e6356fc8dce76caab1c7218aa";

const PEER_TOKEN = "archy-peer-3q2Zf0uKkP1mB7xYw4nTgH8sVd6LcR9eJa5oQiUb2Ex";
const PEERS = {
  peers: [{ url: "https://192.168.1.20:8484/", addedAt: 1767225600000 }],
  grants: [{ name: "garage-node", grantedAt: 1767225600000 }],
};
const RELAY = {
  url: "wss://relay.example.org/",
  state: "ok",
  lastAttemptAt: T0,
  lastSuccessAt: T0,
  learnt: 312,
  received: { messages: 1_204, bytes: 801_344 },
  refused: { "bad signature": { count: 2, example: "event 36a105a3470d…: bad id or signature" } },
  error: null,
};

const MARKET_SETTINGS = { identity: NPUB, threshold: 50, provider: null };

const CATALOG_SOURCE = {
  name: "official",
  url: "https://catalog.example.org/",
  removable: false,
  state: "ok",
  lastAttemptAt: T0,
  lastSuccessAt: T0,
  apps: 42,
  error: null,
  failedRoles: [],
  transferred: { requests: 2, bytes: 611 },
};

const accepted = (kind: string, extra: Record<string, unknown> = {}) => ({
  operationId: OPERATION,
  appId: "my-app",
  kind,
  existing: false,
  ...extra,
});

const LIFECYCLE_ERRORS: CodeName[] = ["notFound", "operationInProgress", "beingRemoved"];
/** Start, restart, retry, reinstall: an app whose approval was revoked is refused until approved again. */
const RUNNING_ERRORS: CodeName[] = [...LIFECYCLE_ERRORS, "approvalRequired"];

/** One example per method (a test checks that every method has one and that it fits the schemas). */
export const EXAMPLES: Record<string, MethodExample> = {
  "auth.setup": {
    params: { password: "correct horse battery staple" },
    result: { csrfToken: "kq3V0m9yqkJ8Xc2lHq1p6dZr0wT4uN5b", expiresAt: T0 + SESSION_TTL_MS },
    errors: ["setupState"],
  },
  "auth.login": {
    params: { password: "correct horse battery staple" },
    result: { csrfToken: "kq3V0m9yqkJ8Xc2lHq1p6dZr0wT4uN5b", expiresAt: T0 + SESSION_TTL_MS },
    errors: ["setupState", "rateLimited"],
  },
  "auth.session": {
    params: {},
    result: { csrfToken: "kq3V0m9yqkJ8Xc2lHq1p6dZr0wT4uN5b", expiresAt: T0 + SESSION_TTL_MS },
    errors: ["notFound"],
  },
  "auth.logout": { params: {}, result: { ok: true }, errors: [] },
  "auth.changePassword": {
    params: { oldPassword: "correct horse battery staple", newPassword: "another long passphrase" },
    result: { csrfToken: "Jd8s1Qm4ZbT0xVw7yPq2kLr5nHc9uFa3", expiresAt: T0 + SESSION_TTL_MS },
    errors: ["invalidParams", "rateLimited"],
  },
  "auth.logoutAll": { params: {}, result: { revoked: 3 }, errors: [] },
  "auth.rotateCliToken": { params: {}, result: { ok: true }, errors: [] },
  "package.list": { params: {}, result: [APP], errors: [] },
  "package.changes": {
    params: { since: "k2Vd8Qx1aZ0p.41" },
    result: {
      revision: "k2Vd8Qx1aZ0p.43",
      full: false,
      apps: [APP],
      removed: ["old-app"],
      observedAgeMs: { "my-app": 4_200 },
    },
    errors: [],
  },
  "package.get": { params: { id: "my-app" }, result: APP, errors: ["notFound"] },
  "package.available": {
    params: {},
    result: [
      {
        id: "my-app",
        name: "My App",
        version: "1.3.0",
        description: "A web app with one container.",
        category: "utilities",
        icon: "/icons/v1/my-app?source=catalog%3Aofficial",
        source: "catalog:official",
        publisher: "targets",
        installed: true,
        installedVersion: "1.2.0",
        updateAvailable: true,
        sourceChange: "switch its source from local:/srv/apps/my-app to catalog:official (signed by targets)",
        localOverride: "local:/srv/apps/my-app",
        permissions: [MEDIA_PERMISSION],
        warnings: [
          "containers.web.ports[1].bind: port 9090 serves an interface and is published on 0.0.0.0:19090: anyone who reaches that address gets the app without the node's login or TLS",
        ],
        trust: null,
        nip05: null,
      },
      {
        id: "alice.notes",
        name: "Notes",
        version: "2.0.1",
        description: "Notes in your browser.",
        category: "productivity",
        icon: null,
        source: `nostr:${NPUB}`,
        publisher: NPUB,
        installed: false,
        installedVersion: null,
        updateAvailable: false,
        sourceChange: null,
        localOverride: null,
        permissions: [],
        warnings: [],
        trust: { score: 60, level: "trusted", reasons: ["followed by 3 people you follow"] },
        nip05: { handle: "alice@example.org", verified: true, reason: "example.org names this key alice" },
      },
    ],
    errors: [],
  },
  "backup.targets.list": {
    params: {},
    result: {
      targets: [
        {
          name: "usb",
          kind: "local",
          location: "/mnt/usb/archy",
          createdAt: T0,
          schedule: "daily 03:00",
          check: "weekly sun 04:00",
          keep: { daily: 7, weekly: 4, monthly: 12 },
        },
      ],
    },
    errors: [],
  },
  "backup.targets.add": {
    params: { name: "usb", location: "/mnt/usb/archy" },
    result: {
      target: {
        name: "usb",
        kind: "local",
        location: "/mnt/usb/archy",
        createdAt: T0,
        schedule: null,
        check: null,
        keep: {},
      },
      key: "q3Zx0VbPz2m7kq1pJ9cTt0dQe6yHcW4s8nLrXaUoF2g",
      keyFile: "/home/archipelago/.local/share/archipelago/backup/targets/usb/key",
    },
    errors: ["invalidParams", "backupTargetUnusable"],
  },
  "backup.targets.remove": { params: { name: "usb" }, result: { removed: "usb" }, errors: ["notFound"] },
  "backup.targets.check": {
    params: { name: "usb" },
    result: { name: "usb", snapshots: 12 },
    errors: ["notFound", "backupTargetUnusable"],
  },
  "backup.targets.schedule": {
    params: {
      name: "usb",
      schedule: "daily 03:00",
      check: "weekly sun 04:00",
      keep: { daily: 7, weekly: 4, monthly: 12 },
    },
    result: {
      name: "usb",
      kind: "local",
      location: "/mnt/usb/archy",
      createdAt: T0,
      schedule: "daily 03:00",
      check: "weekly sun 04:00",
      keep: { daily: 7, weekly: 4, monthly: 12 },
    },
    errors: ["notFound", "invalidParams"],
  },
  "backup.run": {
    params: { id: "my-app", target: "usb" },
    result: { operationId: OPERATION, appId: "my-app", kind: "backup", existing: false },
    errors: ["notFound", "operationInProgress", "backupTargetUnusable"],
  },
  "backup.snapshots": {
    params: { id: "my-app" },
    result: {
      target: "usb",
      snapshots: [
        {
          id: "642b06fe35d54e8b10ffa7cf22d483164f0cdf82678922f0b8fc225687652d4c",
          shortId: "642b06fe",
          time: "2026-12-07T13:50:36.194854696Z",
          appId: "my-app",
          version: "1.3.0",
          preRestore: false,
        },
      ],
    },
    errors: ["notFound", "backupTargetUnusable"],
  },
  "backup.restore": {
    params: { id: "my-app", snapshot: "642b06fe" },
    result: { operationId: OPERATION, appId: "my-app", kind: "restore", existing: false },
    errors: ["notFound", "operationInProgress", "backupTargetUnusable"],
  },
  "catalog.sources": { params: {}, result: [CATALOG_SOURCE], errors: [] },
  "catalog.refresh": {
    params: { name: "official" },
    result: [
      {
        ...CATALOG_SOURCE,
        state: "failing",
        lastAttemptAt: T0 + 3_600_000,
        transferred: { requests: 2, bytes: 611 },
        error: {
          kind: "freeze",
          message:
            "the catalog's metadata has expired (freeze attack: old files replayed, or the publisher stopped re-signing): Final timestamp.json is expired",
          fix: "the publisher must sign and publish the catalog again (archy catalog sign, archy catalog publish): a fresh timestamp at least (archy catalog sign --role timestamp)",
        },
      },
    ],
    errors: ["notFound"],
  },
  "catalog.sources.add": {
    params: {
      name: "community",
      url: "https://community.example.org/catalog/",
      root: '{"signed":{"_type":"root","spec_version":"1.0.31","version":1,…},"signatures":[…]}',
    },
    result: [
      CATALOG_SOURCE,
      {
        ...CATALOG_SOURCE,
        name: "community",
        url: "https://community.example.org/catalog/",
        removable: true,
        apps: 7,
      },
    ],
    errors: ["invalidParams"],
  },
  "catalog.sources.remove": {
    params: { name: "community" },
    result: [CATALOG_SOURCE],
    errors: ["invalidParams", "hasDependents"],
  },
  "catalog.list": {
    params: {},
    result: {
      apps: [
        { id: "my-app", version: "1.3.0", name: "My App", source: "catalog:official", localOverride: null },
        {
          id: "community.relay",
          version: "0.4.0",
          name: "Relay",
          source: "catalog:official",
          localOverride: "local:/srv/apps/relay",
        },
      ],
      updates: [
        {
          id: "my-app",
          installed: "1.2.0",
          offered: "1.3.0",
          source: "catalog:official",
          sourceChange: null,
        },
      ],
      conflicts: [{ id: "my-app", source: "catalog:mirror", offeredBy: "catalog:official" }],
      rejected: [],
    },
    errors: [],
  },
  "package.kept": {
    params: {},
    result: [
      {
        id: "photos",
        kept: ["/var/lib/archy/apps/photos", "/var/lib/archy/state/secrets/photos"],
        name: "Photos",
        source: "catalog:official",
      },
    ],
    errors: [],
  },
  "package.describe": {
    params: { id: "my-app" },
    result: {
      id: "my-app",
      name: "My App",
      version: "1.2.0",
      description: "An example app",
      category: "utilities",
      source: "catalog:main",
      license: "MIT",
      links: { homepage: "https://example.org/my-app" },
      needs: [
        { kind: "dependency", text: "Needs the app my-db ^2.0.0, running" },
        { kind: "port", text: "Opens port 8080/tcp to this node only" },
        { kind: "storage", text: 'Keeps its data in the volume "data", kept when it is uninstalled' },
      ],
      dependencies: [{ id: "my-db", version: "^2.0.0", installed: false, offered: true }],
      interfaces: ["ui"],
      credentials: ["Admin login"],
    },
    errors: ["notFound"],
  },
  "package.install": {
    params: { id: "my-app", approve: [{ name: "media", content: "host-path /srv/media" }] },
    result: accepted("install"),
    errors: [
      "notFound",
      "invalidManifest",
      "dependencyMissing",
      "nameTaken",
      "approvalRequired",
      "operationInProgress",
      "beingRemoved",
      "trustConfirmationRequired",
      "verificationFailed",
      "otherSource",
    ],
  },
  "peers.list": { params: {}, result: PEERS, errors: [] },
  "peers.add": {
    params: { url: "https://192.168.1.20:8484/", token: PEER_TOKEN },
    result: {
      added: true,
      peers: PEERS,
      check: { answered: true, accepted: true, message: "it answered and takes the token" },
    },
    errors: ["invalidParams"],
  },
  "peers.remove": {
    params: { url: "https://192.168.1.20:8484/" },
    result: { ...PEERS, peers: [] },
    errors: ["notFound"],
  },
  "peers.grant": {
    params: { name: "garage-node" },
    result: { name: "garage-node", token: PEER_TOKEN },
    errors: ["invalidParams"],
  },
  "peers.revoke": { params: { name: "garage-node" }, result: { ...PEERS, grants: [] }, errors: ["notFound"] },
  "market.relays": { params: {}, result: [RELAY], errors: [] },
  "market.relays.add": {
    params: { url: "wss://relay.example.org" },
    result: {
      added: true,
      relays: [
        {
          ...RELAY,
          state: "never-refreshed",
          lastAttemptAt: null,
          lastSuccessAt: null,
          learnt: 0,
          received: { messages: 0, bytes: 0 },
          refused: {},
        },
      ],
    },
    errors: [],
  },
  "registry.list": { params: {}, result: [{ host: "registry.example.org", username: "ops" }], errors: [] },
  "registry.login": {
    params: { host: "registry.example.org", username: "ops", password: "the registry's password" },
    result: [{ host: "registry.example.org", username: "ops" }],
    errors: ["invalidParams"],
  },
  "registry.logout": { params: { host: "registry.example.org" }, result: [], errors: ["notFound"] },
  "market.relays.remove": {
    params: { url: "wss://relay.example.org/" },
    result: { removed: true, relays: [] },
    errors: ["notFound"],
  },
  "market.settings": { params: {}, result: MARKET_SETTINGS, errors: [] },
  "market.settings.set": {
    params: { identity: NPUB, threshold: 60 },
    result: { ...MARKET_SETTINGS, threshold: 60 },
    errors: [],
  },
  "market.refresh": { params: {}, result: [RELAY], errors: [] },
  "market.list": {
    params: {},
    result: {
      apps: [
        {
          id: "alice.notes",
          address: `32267:${PUBKEY}:alice.notes`,
          name: "Notes",
          description: "Notes in your browser.",
          category: "productivity",
          version: "2.0.1",
          source: `nostr:${NPUB}`,
          publisher: NPUB,
          nip05: { handle: "alice@example.org", verified: true, reason: "example.org names this key alice" },
          trust: { score: 60, level: "trusted", reasons: ["followed by 3 people you follow"] },
          flags: [],
          installedVersion: "2.0.0",
          updateAvailable: true,
          otherSource: null,
          bundle: {
            size: 3584,
            sha256: "5d1c0f0e9c3b6a2f4e8d7c6b5a4938271605f4e3d2c1b0a99887766554433221",
            blake3: "9a0e1d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100",
            urls: [
              "https://mirror.example.org/bundles/5d1c0f0e9c3b6a2f4e8d7c6b5a4938271605f4e3d2c1b0a99887766554433221.tar",
            ],
          },
        },
      ],
      installed: [{ id: "alice.notes", version: "2.0.0", source: `nostr:${NPUB}`, flags: [] }],
    },
    errors: [],
  },
  "package.approve": {
    params: { id: "my-app", approve: [{ name: "media", content: "host-path /srv/media" }] },
    result: accepted("approve"),
    errors: ["notFound", "approvalRequired", "operationInProgress", "beingRemoved"],
  },
  "package.revoke": {
    params: { id: "my-app", permission: "media" },
    result: accepted("revoke"),
    errors: ["notFound", "beingRemoved"],
  },
  "package.start": { params: { id: "my-app" }, result: accepted("start"), errors: RUNNING_ERRORS },
  "package.stop": {
    params: { id: "my-app" },
    result: accepted("stop", {
      superseded: ["op-0b1c2d3e-0000-4000-8000-000000000001"],
      runningDependents: ["my-dashboard"],
    }),
    errors: ["notFound", "beingRemoved"],
  },
  "package.restart": { params: { id: "my-app" }, result: accepted("restart"), errors: RUNNING_ERRORS },
  "package.reinstall": { params: { id: "my-app" }, result: accepted("reinstall"), errors: RUNNING_ERRORS },
  "package.uninstall": {
    params: { id: "my-app", purge: false },
    result: accepted("uninstall"),
    errors: ["notFound", "hasDependents", "beingRemoved"],
  },
  "package.update": {
    params: { id: "my-app", switchSource: true },
    result: accepted("update"),
    errors: [
      "notFound",
      "notNewer",
      "sourceChange",
      "approvalRequired",
      "invalidManifest",
      "nameTaken",
      "operationInProgress",
      "beingRemoved",
      "trustConfirmationRequired",
      "verificationFailed",
      "otherSource",
    ],
  },
  "package.retry": { params: { id: "my-app" }, result: accepted("retry"), errors: RUNNING_ERRORS },
  "package.logs": {
    params: { id: "my-app", tail: 2 },
    result: [
      { container: "web", stream: "stdout", line: "listening on :8080" },
      { container: "web", stream: "stderr", line: "GET / 200" },
    ],
    errors: ["notFound", "podmanUnavailable"],
  },
  "package.credentials": {
    params: { id: "my-app" },
    result: [{ label: "Admin login", username: "admin", password: "V9f2Kp0qLx7RzT1m" }],
    errors: ["notFound"],
  },
  "container-list": {
    params: {},
    result: APP.containers.map((c) => ({ ...c, appId: "my-app", observedAgeMs: 1_250 })),
    errors: [],
  },
  "operation.get": {
    params: { id: OPERATION, afterSeq: 0 },
    result: {
      id: OPERATION,
      appId: "my-app",
      kind: "install",
      state: "succeeded",
      createdAt: T0,
      finishedAt: T0 + 4_200,
      error: null,
      logs: [
        { seq: 1, at: T0 + 100, level: "info", message: "pulling localhost/my-app:1.2.0" },
        { seq: 2, at: T0 + 3_900, level: "info", message: "container web started" },
      ],
    },
    errors: ["notFound"],
  },
  "operation.list": {
    params: { appId: "my-app", limit: 10 },
    result: [
      {
        id: OPERATION,
        appId: "my-app",
        kind: "install",
        state: "succeeded",
        createdAt: T0,
        finishedAt: T0 + 4_200,
        error: null,
      },
    ],
    errors: [],
  },
  "system.node": {
    params: {},
    result: {
      version: "0.1.0",
      uptimeMs: 3_600_000,
      podmanVersion: "5.4.2",
      backend: "quadlet",
      backendReason: "Quadlet, chosen by auto: Podman 5.4.2, archipelago's systemd running with linger",
      dataDir: "/home/archipelago/.local/share/archipelago",
      disk: { freeBytes: 52_000_000_000, totalBytes: 250_000_000_000 },
      apps: 3,
      alerts: [
        {
          kind: "check-failed",
          target: "usb",
          appId: null,
          since: T0,
          message:
            "the last check of usb failed (2026-12-07T04:00:00Z): restic check failed: pack 5c1f… is damaged",
        },
      ],
    },
    errors: [],
  },
  "system.info": {
    params: {},
    result: {
      version: "0.1.0",
      uptimeMs: 3_600_000,
      setUp: true,
      backend: "quadlet",
      backendReason:
        "Quadlet, chosen by auto: Podman 5.4.2, archipelago's systemd running with linger, generator /usr/lib/systemd/user-generators/podman-user-generator",
      apps: 1,
    },
    errors: [],
  },
};

export const EVENT_EXAMPLES: Record<keyof typeof EVENT_SCHEMAS, unknown> = {
  hello: { type: "hello", stream: "q3Xw9bT1", seq: 41, resumed: false },
  error: { type: "error", message: "not logged in (or cross-origin): log in first" },
  app: { type: "app", appId: "my-app", phase: "installing", seq: 42 },
  "app-removed": { type: "app-removed", appId: "my-app", seq: 57 },
  "app-view": { type: "app-view", appId: "my-app", app: APP, seq: 58 },
  "apps-observed": { type: "apps-observed", observedAgeMs: { "my-app": 120, "other-app": 120 }, seq: 59 },
  operation: {
    type: "operation",
    operationId: OPERATION,
    appId: "my-app",
    kind: "install",
    state: "pending",
    seq: 43,
  },
  log: {
    type: "log",
    appId: "my-app",
    line: { operationId: OPERATION, seq: 1, at: T0 + 100, level: "info", message: "pulling image" },
    seq: 44,
  },
  pull: {
    type: "pull",
    appId: "my-app",
    operationId: OPERATION,
    image:
      "registry.example.org/my-app/web:1.2@sha256:9f2c1e0b7a6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b",
    layer: "e62f15541f10",
    status: "downloading",
    current: 5242880,
    total: 20971520,
    seq: 45,
  },
  "backup-progress": {
    type: "backup-progress",
    operationId: OPERATION,
    appId: "my-app",
    percent: 42.5,
    filesDone: 120,
    totalFiles: 300,
    bytesDone: 45_000_000,
    totalBytes: 105_000_000,
    secondsRemaining: 12,
    seq: 46,
  },
};

type Json = Parameters<typeof fieldRows>[0];

export function paramsJsonSchema(schema: z.ZodType): Json {
  return z.toJSONSchema(schema, { io: "input" }) as Json;
}

export function resultJsonSchema(schema: z.ZodType): Json {
  return z.toJSONSchema(schema, { io: "output" }) as Json;
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

function fieldTable(schema: Json, empty: string): string[] {
  const rows = fieldRows(schema);
  if (rows.length === 0) return [empty];
  return [
    "| Field | Type | Required | Default | Description |",
    "| --- | --- | --- | --- | --- |",
    ...rows.map(
      (row) =>
        `| \`${row.path}\` | ${row.type} | ${row.required ? "yes" : ""} | ${
          row.default === undefined ? "" : `\`${JSON.stringify(row.default)}\``
        } | ${cell(row.description)} |`,
    ),
  ];
}

function jsonBlock(value: unknown, pretty = true): string[] {
  return ["```json", pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value), "```"];
}

function details(summary: string, value: unknown): string[] {
  return [`<details><summary>${summary}</summary>`, "", ...jsonBlock(value), "", "</details>"];
}

const anchor = (name: string) => name.toLowerCase().replace(/[^a-z0-9-]/g, "");

function codeOf(name: CodeName): string {
  return `${RPC_CODES[name]} (${name})`;
}

function methodSection(method: (typeof METHODS)[number]): string[] {
  const example = EXAMPLES[method.name];
  if (!example) throw new Error(`docs: no example for ${method.name} in src/api/docs.ts`);
  const csrf = method.mutates && method.access === "session";
  const access =
    method.access === "public"
      ? `public (no session)${method.mutates ? "; state-changing: refused from another origin" : ""}`
      : `session or CLI token${csrf ? `; state-changing: needs \`X-CSRF-Token\` with a session, refused from another origin` : "; read-only"}`;
  const headers = [
    "POST /rpc/v1 HTTP/1.1",
    "Content-Type: application/json",
    ...(method.access === "session" ? [`Cookie: ${SESSION_COOKIE}=…`] : []),
    ...(csrf ? ["X-CSRF-Token: …"] : []),
  ];
  const request = { jsonrpc: "2.0", id: 1, method: method.name, params: example.params };
  const errors = [
    ...(method.access === "session" ? (["unauthenticated"] as CodeName[]) : []),
    ...(method.mutates ? (["csrfRejected"] as CodeName[]) : []),
    "invalidParams" as CodeName,
    ...example.errors,
  ];
  return [
    `### \`${method.name}\``,
    "",
    method.summary,
    "",
    `- **Access:** ${access}.`,
    `- **Errors:** ${[...new Set(errors)].map((name) => `[${codeOf(name)}](#errors)`).join(", ")}.`,
    "",
    "**Params**",
    "",
    ...fieldTable(paramsJsonSchema(method.params), "None: send `{}` (or leave `params` out)."),
    "",
    "**Result**",
    "",
    ...fieldTable(resultJsonSchema(method.result), "See the JSON Schema below."),
    "",
    "**Example**",
    "",
    "```http",
    ...headers,
    "",
    JSON.stringify(request),
    "```",
    "",
    ...jsonBlock({ jsonrpc: "2.0", id: 1, result: example.result }),
    "",
    ...details("Params JSON Schema", paramsJsonSchema(method.params)),
    "",
    ...details("Result JSON Schema", resultJsonSchema(method.result)),
    "",
  ];
}

function metricsSection(): string[] {
  const metrics = new Metrics();
  const series = metrics.series.map((m) => ({
    name: m.name,
    type: "bounds" in m ? "histogram" : "counter",
    help: m.help,
  }));
  for (const gauge of Object.values(GAUGES)) series.push({ ...gauge, type: "gauge" });
  return [
    "## Metrics: `GET /metrics`",
    "",
    "Prometheus text format (version 0.0.4), without authentication (bind the daemon to a trusted",
    "interface, or filter `/metrics` in a reverse proxy). Labels: `kind` and `outcome` (`succeeded`,",
    "`failed`) on operations, `operation` and `outcome` on Podman calls, `method` (a known method name,",
    "`batch` or `unknown`) and `outcome` (`ok` or the error code) on RPC calls, `outcome` (`pass`,",
    "`fail`, `not-run`) on health probes, `phase` on apps. A probe `not-run` is one Podman could not",
    "run (not answering, the container not running, the process not started in time on a busy node):",
    "no verdict on the app, never a step towards a restart.",
    "",
    "| Series | Type | Meaning |",
    "| --- | --- | --- |",
    ...series.map((s) => `| \`${s.name}\` | ${s.type} | ${cell(s.help)} |`),
    "",
    '`GET /healthz` answers `{"ok":true}` while the daemon serves (also before Podman answers).',
    "",
  ];
}

function eventsSection(): string[] {
  const lines = [
    "## Live events: `GET /ws/v1`",
    "",
    "A WebSocket carrying JSON messages, one per frame, from the server only. It needs the session",
    `cookie (browsers) or the CLI token (\`Authorization: Bearer …\`), and a browser's \`Origin\` must`,
    "match the `Host` it connects to. A refused connection gets an `error` message and is closed with",
    "code 4401; so is an open one whose session ends (logout, expiry). An operation recorded through",
    "the API is announced at once (`app` with the new phase, `operation` with `pending`); the reconciler",
    "then sends the phases, the operation's `running`/`succeeded`/`failed` and its log lines.",
    "",
    "Every event carries `seq`, its place in the stream; `hello` names the stream (`stream`, new at",
    "every daemon start) and its last `seq`. A client that lost its connection reconnects with",
    "`GET /ws/v1?stream=<stream>&after=<last seq it saw>`: `hello` then says `resumed: true` and every",
    `event since follows, in order, before the live ones (the daemon keeps the last ${EVENTS_KEPT}), or`,
    "`resumed: false` when some are gone or the daemon restarted: read the state again (`package.list`,",
    "and `operation.get` with `afterSeq` for the log lines of an operation being followed).",
    "",
    "| Message | When |",
    "| --- | --- |",
    ...Object.entries(EVENT_SCHEMAS).map(
      ([type, schema]) => `| \`${type}\` | ${cell(schema.description ?? "")} |`,
    ),
    "",
  ];
  for (const [type, schema] of Object.entries(EVENT_SCHEMAS)) {
    lines.push(`### \`${type}\``, "", ...fieldTable(resultJsonSchema(schema), ""), "");
    lines.push(...jsonBlock(EVENT_EXAMPLES[type as keyof typeof EVENT_SCHEMAS], false), "");
  }
  return lines;
}

/** The whole of `docs/api.md`. */
export function apiDocsMarkdown(): string {
  const lines: string[] = [
    "<!-- Generated from src/api (methods, errors, events, metrics) by `npm run generate`; do not edit by hand. -->",
    "# Archipelago daemon API v1",
    "",
    "The daemon (`archy daemon`) serves, on its listen address (default `127.0.0.1:7780`):",
    "",
    "| Endpoint | What |",
    "| --- | --- |",
    "| `POST /rpc/v1` | [JSON-RPC 2.0](https://www.jsonrpc.org/specification) calls: the [methods](#methods) below |",
    "| `GET /ws/v1` | [Live events](#live-events-get-wsv1) over a WebSocket |",
    "| `GET /metrics` | [Prometheus metrics](#metrics-get-metrics) |",
    "| `GET /images/v1/export?app=ID`, `POST /images/v1/import` | An app's images and bundle as one OCI archive (`application/x-tar`, streamed), CLI token only: [images.md](images.md#air-gapped-install-archy-image-export--archy-image-import) |",
    "| `GET /icons/v1/ID?source=SOURCE` | An app's icon, as `package.list` and `package.available` name it in `icon` (a session or the CLI token): a PNG, JPEG, WebP or SVG file of its verified package, at most 256 KiB, with an ETag; a refusal is a text reason with 4xx. Why and how: [architecture.md](architecture.md) (App icons) |",
    '| `GET /healthz` | Liveness: `{"ok":true}` |',
    "",
    "Method names are the predecessor's (`auth.login`, `package.install`, `container-list`, …), so its",
    "clients keep working. Every call's params are validated before anything is done (a bad one changes",
    "nothing). Every handler's result is exactly its schema's output (the contract tests check it); the",
    "daemon checks each one again before it is sent when it runs from its TypeScript sources (tests,",
    "development) and not from the build (`bin/archy`), where that check cost a third of a `package.list`:",
    "`ARCHY_CHECK_RESULTS=1` (or `0`) in the daemon's environment decides instead.",
    "",
    "## Protocol",
    "",
    "- Send `Content-Type: application/json`; the body is one request or a batch (an array) of at most",
    `  ${MAX_BATCH} requests, at most ${MAX_BODY_BYTES / 1024 / 1024} MiB (larger: HTTP 413 with an \`invalidRequest\` error), with arrays`,
    `  and objects nested at most ${MAX_JSON_DEPTH} levels deep (checked on the raw text before it is parsed; deeper:`,
    "  an `invalidRequest` error).",
    '- A request is `{"jsonrpc": "2.0", "id": <string, number or null>, "method": <string>, "params": <object>}`;',
    "  `params` may be left out when a method takes none. A request without `id` is a notification: it",
    "  is performed and gets no response (a body of only notifications gets HTTP 204).",
    "- A batch is answered with an array in request order, notifications left out. An empty or too large",
    "  batch is one `invalidRequest` error, and so is a batch from a caller without a session or the CLI",
    "  token (the only methods it may call are `system.info` and the password methods). The password",
    `  methods (${METHODS.filter((m) => m.alone)
      .map((m) => `\`${m.name}\``)
      .join(", ")}) are never batched: in a batch each is an \`invalidRequest\` error.`,
    `- Conditional reads: a call sent alone to ${METHODS.filter((m) => m.version)
      .map((m) => `\`${m.name}\``)
      .join(", ")} is answered with a weak \`ETag\`; sent again with that tag in`,
    "  `If-None-Match`, it gets HTTP 304 without a body while its answer is unchanged (checks and",
    "  authentication first, as for any call). The tag covers everything but the observation ages",
    "  (`observedAgeMs`), which a client keeping its copy computes from `observedAt`. A batch carries no tag.",
    "- Keeping a copy of the app list current: `package.changes` with the `revision` of its last answer",
    "  as `since` answers only the apps changed since and the ids removed since (every app, marked",
    "  `full`, when the revision is too old or from before the daemon restarted: replace the copy then);",
    "  the event stream carries each changed app's whole view (`app-view`, within a second, and before",
    "  the end of an operation that changed it) and the apps only observed again (`apps-observed`, their",
    "  ages). An observation's time alone is never a change: every reconciler pass moves it.",
    "- Malformed JSON is a `parseError` (HTTP 200, `id` null). Errors are `{code, message, data?}` with",
    "  the [stable codes](#errors) below; `message` is for humans, `code` and `data` for programs.",
    "",
    "## Authentication",
    "",
    `1. **First run.** \`system.info\` (public) says whether \`setUp\` is done. \`auth.setup\` sets the operator`,
    `   password (at least ${MIN_PASSWORD_LENGTH} characters, stored as an argon2id hash) and logs in; once set it answers`,
    "   `setupState` (-32004).",
    "2. **Login.** `auth.login {password}` sets the session cookie and returns a `csrfToken`:",
    "",
    "   ```http",
    `   Set-Cookie: ${SESSION_COOKIE}=<token>; Max-Age=${SESSION_TTL_MS / 1000}; Path=/; HttpOnly; SameSite=Strict`,
    "   ```",
    "",
    "   (`; Secure` too when served over TLS). Every login issues a new session (a cookie the request",
    `   carried is revoked, never adopted), valid for ${SESSION_TTL_MS / 3_600_000} hours.`,
    "3. **Calls.** Send the cookie; state-changing calls also send the token in the `X-CSRF-Token` header.",
    "   A browser request whose `Origin` does not match `Host` is refused for every state-changing",
    "   call, `auth.login` and `auth.setup` included (`csrfRejected`, -32002).",
    "4. **Logout.** `auth.logout` revokes the session at once (the cookie is cleared too);",
    "   `auth.logoutAll` revokes every session (`archy auth logout-all` from the node's shell).",
    "   `auth.changePassword {oldPassword, newPassword}` needs the current password, revokes every",
    "   session, the caller's too, and logs the caller in again: the answer is a new session (new cookie,",
    "   new CSRF token).",
    `5. **Rate limiting.** Password checks (\`auth.login\`, and \`auth.changePassword\` with a session) count`,
    "   against budgets; each gives some failures for free, then makes every attempt wait, 1 s after the",
    "   last free failure and twice as long after every further one, up to a longest wait. While it waits,",
    "   every attempt, with the right password too, gets `rateLimited` (-32003) with `data.retryAfterSeconds`.",
    "",
    "   | Budget | Whose attempts | Free failures | Longest wait |",
    "   | --- | --- | --- | --- |",
    `   | per address | from one client address, without a device cookie | ${LOGIN_LIMITS.perAddress.freeAttempts} | ${LOGIN_LIMITS.perAddress.maxDelayMs / 60_000} min |`,
    `   | global | from every address together, without a device cookie | ${LOGIN_LIMITS.global.freeAttempts} | ${LOGIN_LIMITS.global.maxDelayMs / 1000} s |`,
    `   | per device | from a browser with a valid device cookie, instead of the two above | ${LOGIN_LIMITS.perDevice.freeAttempts} | ${LOGIN_LIMITS.perDevice.maxDelayMs / 60_000} min |`,
    "",
    `   An attacker spreading guesses over many addresses gets ${LOGIN_LIMITS.global.freeAttempts} of them, then at most one every`,
    `   ${LOGIN_LIMITS.global.maxDelayMs / 1000} s for the whole node. A successful login clears the budgets it counted against, its`,
    "   address's and the global one. Every successful login (and setup) also sets a **device cookie**",
    `   (\`${DEVICE_COOKIE}\`, HttpOnly, SameSite=Strict, ${DEVICE_TTL_MS / 86_400_000} days, signed with the password's hash; it is no session):`,
    "   that browser's later attempts count only against its own budget, which nobody else can spend, so",
    "   neither a local user failing from 127.0.0.1 nor a flood from many addresses can lock the",
    "   operator's browser out. A browser without one shares the address and global budgets; the CLI",
    "   token is never limited. Changing the password voids every device cookie. The budgets are kept in",
    "   memory: a daemon restart starts them afresh.",
    `   Password hashing (argon2id) runs off the event loop, at most ${PASSWORD_WORK.concurrency} at a time with ${PASSWORD_WORK.queue} more`,
    "   waiting; beyond that a password call is refused at once with `rateLimited`, `data.busy: true` and",
    "   `retryAfterSeconds: 1`. A refused call (`auth.setup` once set up, a limited login) computes nothing.",
    "6. **Local CLI.** The daemon writes a token to `<data-dir>/state/cli-token` (mode 0600; the CLI",
    "   refuses a file others can read). `Authorization: Bearer <token>` authenticates every call, without",
    "   CSRF token (it is not a cookie: a browser never sends it by itself). The daemon writes a **new**",
    "   token at every start, and on request (`auth.rotateCliToken`, `archy auth rotate-token`): the previous",
    "   one stops working at once. The CLI reads the file again when its token is refused.",
    "",
    "```sh",
    "# with curl, as the predecessor's gate scripts did",
    "curl -s -c jar -H 'Content-Type: application/json' http://127.0.0.1:7780/rpc/v1 \\",
    `  -d '{"jsonrpc":"2.0","id":1,"method":"auth.login","params":{"password":"…"}}'`,
    '# → {"jsonrpc":"2.0","id":1,"result":{"csrfToken":"<csrf>","expiresAt":…}}',
    "curl -s -b jar -H 'Content-Type: application/json' -H 'X-CSRF-Token: <csrf>' http://127.0.0.1:7780/rpc/v1 \\",
    `  -d '{"jsonrpc":"2.0","id":2,"method":"package.install","params":{"id":"my-app"}}'`,
    "# the CLI token instead of a session",
    'curl -s -H "Authorization: Bearer $(cat ~/.local/share/archipelago/state/cli-token)" \\',
    "  -H 'Content-Type: application/json' http://127.0.0.1:7780/rpc/v1 \\",
    `  -d '{"jsonrpc":"2.0","id":3,"method":"package.list"}'`,
    "```",
    "",
    "## Methods",
    "",
    "| Method | Access | CSRF | Summary |",
    "| --- | --- | --- | --- |",
    ...METHODS.map(
      (m) =>
        `| [\`${m.name}\`](#${anchor(m.name)}) | ${m.access} | ${m.mutates && m.access === "session" ? "yes" : ""} | ${cell(m.summary)} |`,
    ),
    "",
    "Lifecycle methods (`package.install`, `start`, `stop`, `restart`, `uninstall`, `update`, `retry`,",
    "`approve`, `revoke`) record the operator's intent and return at once with an operation id; the",
    "reconciler does the work. Follow it with `operation.get` or the event stream. An identical request",
    "while the same operation is in flight returns that operation (`existing: true`); a different one is",
    "refused with `operationInProgress`, except `stop`, `uninstall` and `revoke`, which supersede what is",
    "in flight.",
    "",
    "**Permissions are the operator's to approve.** A manifest's `permissions` (a host directory, a",
    "device, a low port, an elevated capability) are never granted by the manifest: `package.install`",
    "and `package.update` carry the operator's approval of each one the manifest requests, as",
    "`approve: [{name, content}]`, with the `content` the daemon showed (`package.available`, or the",
    "`approvalRequired` refusal's `data.permissions`). An approval is bound to that content: a manifest",
    "that later gives the name another meaning needs approval again. `package.get` shows each",
    "permission and whether it is approved; `package.revoke` withdraws one (the app stops and stays",
    "stopped), `package.approve` approves again. The daemon checks before any container is created or",
    "started, not only here.",
    "",
    "**A change of source is never silent.** `package.update` to a version from another source (a",
    "catalog's manifest for a local one) or another signer (another namespace, other keys) is refused",
    "with `sourceChange` unless it carries `switchSource: true`; `package.available` says what would",
    "change in `sourceChange`.",
    "",
  ];
  for (const method of METHODS) lines.push(...methodSection(method));
  lines.push(
    "## Errors",
    "",
    "| Code | Name | Meaning |",
    "| --- | --- | --- |",
    ...(Object.keys(RPC_CODES) as CodeName[]).map(
      (name) => `| ${RPC_CODES[name]} | \`${name}\` | ${cell(RPC_CODE_MEANINGS[name])} |`,
    ),
    "",
    "An example:",
    "",
    ...jsonBlock({
      jsonrpc: "2.0",
      id: 7,
      error: {
        code: RPC_CODES.operationInProgress,
        message: `my-app has a restart in progress (operation ${OPERATION}); wait for it to finish, then start again`,
        data: { operation: { id: OPERATION, kind: "restart" } },
      },
    }),
    "",
    ...eventsSection(),
    ...metricsSection(),
  );
  return `${lines.join("\n")}`;
}
