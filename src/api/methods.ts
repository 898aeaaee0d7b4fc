/**
 * The JSON-RPC methods of API v1, with the predecessor's names so its clients keep working. Every
 * method declares its params and result schema; `docs/api.md` is generated from these definitions.
 */
import { z } from "zod";
import type { Catalogs } from "../catalog/node/catalogs.ts";
import { requestedPermissions } from "../manifest/permissions.ts";
import type { Manifest } from "../manifest/schema.ts";
import type { Marketplace } from "../marketplace/market.ts";
import { permissionStatus } from "../orchestrator/approvals.ts";
import { HostPathError } from "../orchestrator/host-path-guard.ts";
import {
  type Accepted as LifecycleAccepted,
  LifecycleError,
  type LifecycleErrorCode,
} from "../orchestrator/lifecycle.ts";
import type { Orchestrator } from "../orchestrator/orchestrator.ts";
import type { AppRow } from "../orchestrator/store.ts";
import type { SourceListing } from "../sources/local.ts";
import { provenanceChange } from "../sources/provenance.ts";
import type { Auth, Session } from "./auth.ts";
import { AUTH_METHODS } from "./auth-methods.ts";
import { CATALOG_METHODS } from "./catalog-methods.ts";
import type { ApiEvent } from "./events.ts";
import { MARKET_METHODS, marketSourced, offerView, TrustView } from "./market-methods.ts";
import { Approvals, PermissionStatuses, RequestedPermissions } from "./permission-views.ts";
import { REGISTRY_METHODS } from "./registry-methods.ts";
import { defineMethod, type MethodDefinition } from "./rpc/dispatch.ts";
import { RPC_CODES, type RpcCode, RpcError } from "./rpc/errors.ts";

export type ApiContext = {
  orchestrator: Orchestrator;
  auth: Auth;
  sources: () => Promise<SourceListing>;
  /** The signed catalog sources (their apps are in `sources` too). */
  catalogs: Catalogs;
  /** The Nostr marketplace (its apps are offered beside the sources', never merged into them). */
  market: Marketplace;
  version: string;
  /** Why new containers are created with the backend they are (the daemon's choice at start). */
  backendReason: string;
  startedAt: number;
  clock: () => number;
  /** Pushes an event to the live event stream's subscribers. */
  publish: (event: ApiEvent) => void;
  /** The caller, as the transport saw it. */
  call: {
    client: string;
    sessionToken: string | undefined;
    /** The device cookie the request carried (auth's login budgets, device-cookie.ts). */
    deviceCookie: string | undefined;
    /** Authenticated with the CLI token. */
    cliToken: boolean;
    /** Host name the caller used to reach the daemon, for app links. */
    host: string;
    setSession: (session: Session | undefined) => void;
  };
};

const AppId = z
  .string()
  .min(1)
  .max(100)
  .meta({ description: "An app id (a DNS label, namespaced for third-party apps: `alice.my-app`)." });
const IdParams = z.strictObject({ id: AppId });
const Accepted = z.object({
  operationId: z.string().meta({ description: "Follow it with operation.get or the WebSocket." }),
  appId: z.string(),
  kind: z.string(),
  existing: z.boolean().meta({ description: "True when an identical operation was already in flight." }),
  superseded: z.array(z.string()).optional().meta({
    description: "Operations this one replaced (marked failed): only stop, uninstall and purge do.",
  }),
});

const ContainerView = z.object({
  key: z.string(),
  name: z.string(),
  containerId: z.string(),
  state: z.string(),
  health: z.string(),
  exitCode: z.number(),
  startedAt: z.number().nullable(),
  backend: z.string(),
  observedAt: z.number(),
});

const AppView = z.object({
  id: z.string(),
  name: z.string(),
  version: z.string(),
  description: z.string(),
  category: z.string(),
  source: z.string(),
  publisher: z.string().nullable().meta({
    description: "Who signed it in its catalog (its namespace role and keys); null for a local manifest.",
  }),
  desired: z.enum(["running", "stopped", "absent"]),
  phase: z.string().meta({
    description: "What the app is doing: installing, running, stopped, waiting, retrying, failed, …",
  }),
  reason: z.string().nullable().meta({ description: "Why: what it waits for, the last error." }),
  observedAt: z
    .number()
    .nullable()
    .meta({ description: "When its containers were last observed (unix ms)." }),
  observedAgeMs: z.number().nullable().meta({ description: "How old that observation is, in ms." }),
  containers: z.array(ContainerView),
  interfaces: z.array(z.object({ name: z.string(), url: z.string().nullable() })),
  localOverride: z.boolean().meta({
    description:
      "Installed from a local manifest although a catalog offers this app (the catalog's is offered).",
  }),
  permissions: PermissionStatuses,
  flags: z.array(z.string()).meta({
    description:
      "For a marketplace app: its installed release was deleted by its publisher (NIP-09) or reported by the operator's network.",
  }),
});

const AvailableApp = z.object({
  id: z.string(),
  name: z.string(),
  version: z.string(),
  description: z.string(),
  category: z.string(),
  source: z.string(),
  publisher: z.string().nullable().meta({
    description: "Who signed it in its catalog (its namespace role and keys); null for a local manifest.",
  }),
  installed: z.boolean(),
  installedVersion: z.string().nullable(),
  updateAvailable: z.boolean(),
  sourceChange: z.string().nullable().meta({
    description:
      "Installed from another source or signer: what updating to this one would change (`package.update` needs `switchSource`).",
  }),
  localOverride: z.string().nullable().meta({
    description: "A catalog app that set aside a local manifest of the same id: where that manifest is.",
  }),
  permissions: RequestedPermissions.meta({
    description:
      "The permissions its manifest requests. For a marketplace app: empty until its bundle is verified, at install (an install that needs approval says which).",
  }),
  trust: TrustView.nullable().meta({ description: "A marketplace app's trust, computed on this node." }),
});

const LIFECYCLE_CODES: Record<LifecycleErrorCode, RpcCode> = {
  "not-installed": RPC_CODES.notFound,
  "operation-in-progress": RPC_CODES.operationInProgress,
  "dependency-missing": RPC_CODES.dependencyMissing,
  "has-dependents": RPC_CODES.hasDependents,
  "invalid-manifest": RPC_CODES.invalidManifest,
  "not-newer": RPC_CODES.notNewer,
  "being-removed": RPC_CODES.beingRemoved,
  "name-taken": RPC_CODES.nameTaken,
  "approval-required": RPC_CODES.approvalRequired,
  "source-change": RPC_CODES.sourceChange,
  "unknown-permission": RPC_CODES.notFound,
};

/**
 * Runs a lifecycle request. Refusals become JSON-RPC errors with stable codes and their details; an
 * accepted request is announced on the event stream at once (the app's new phase, the pending
 * operation, the operations it superseded), so clients see it even before the reconciler runs.
 */
function lifecycle(ctx: ApiContext, work: () => LifecycleAccepted): LifecycleAccepted {
  let accepted: LifecycleAccepted;
  try {
    accepted = work();
  } catch (error) {
    if (error instanceof LifecycleError)
      throw new RpcError(LIFECYCLE_CODES[error.code], error.message, error.data);
    throw error;
  }
  if (!accepted.existing) {
    const { appId, operationId, kind } = accepted;
    for (const superseded of accepted.superseded ?? [])
      ctx.publish({
        type: "operation",
        operationId: superseded,
        appId,
        state: "failed",
        error: ctx.orchestrator.store.getOperation(superseded)?.error ?? `superseded by ${kind}`,
      });
    const row = ctx.orchestrator.store.getApp(appId);
    if (row) ctx.publish({ type: "app", appId, phase: row.phase, reason: row.reason });
    ctx.publish({ type: "operation", operationId, appId, kind, state: "pending" });
  }
  return accepted;
}

function appView(ctx: ApiContext, row: AppRow): z.input<typeof AppView> {
  const { orchestrator } = ctx;
  const manifest = orchestrator.manifests.of(row).manifest;
  const containers = orchestrator.store.listContainers(row.id);
  const observedAt = containers.length > 0 ? Math.min(...containers.map((c) => c.observedAt)) : null;
  const interfaces = Object.entries(manifest?.interfaces ?? {}).map(([name, ui]) => {
    const port = manifest?.containers[ui.container]?.ports.find(
      (p) => p.container === ui.port && p.host !== undefined,
    );
    const host =
      port?.bind === "127.0.0.1" || port?.bind === "0.0.0.0" || port?.bind === "::"
        ? ctx.call.host
        : port?.bind;
    return { name, url: port ? `${ui.protocol}://${host}:${port.host}${ui.path}` : null };
  });
  return {
    id: row.id,
    name: manifest?.name ?? row.id,
    version: row.version,
    description: manifest?.description ?? "",
    category: manifest?.category ?? "other",
    source: row.source,
    publisher: row.publisher ?? null,
    desired: row.desired,
    phase: row.phase,
    reason: row.reason ?? null,
    observedAt,
    observedAgeMs: observedAt === null ? null : Math.max(0, ctx.clock() - observedAt),
    containers: containers.map((c) => ({ ...c, startedAt: c.startedAt ?? null })),
    interfaces,
    localOverride: row.source.startsWith("local:") && ctx.catalogs.offers(row.id),
    permissions: permissionStatus(
      manifest ? requestedPermissions(manifest) : [],
      orchestrator.store.approvals(row.id),
    ),
    flags: ctx.market.flagsOf(row),
  };
}

/** Whether the catalogs or the local apps offer `id` (they come first: a marketplace app never takes over an id). */
async function offeredBySources(ctx: ApiContext, id: string): Promise<boolean> {
  const listing = await ctx.sources();
  return listing.apps.some((a) => a.id === id) || listing.rejected.some((r) => r.dir.endsWith(`/${id}`));
}

/** Refuses an app whose host paths this node cannot give it. */
async function checkHostPaths(ctx: ApiContext, app: { manifest: Manifest }): Promise<void> {
  try {
    await ctx.orchestrator.hostPaths.check(app.manifest);
  } catch (error) {
    if (error instanceof HostPathError)
      throw new RpcError(
        RPC_CODES.invalidManifest,
        `${app.manifest.id} cannot be installed here: ${error.message}`,
      );
    throw error;
  }
}

/** The app `id` as the catalogs or local apps offer it (from `source` only, when given). */
async function sourced(ctx: ApiContext, id: string, source?: string) {
  const listing = await ctx.sources();
  const app = listing.apps.find((a) => a.id === id && (source === undefined || a.source === source));
  if (app) return app;
  const rejected = listing.rejected.find((r) => r.dir.endsWith(`/${id}`));
  if (rejected)
    throw new RpcError(
      RPC_CODES.invalidManifest,
      `the manifest of ${id} is invalid: ${rejected.issues[0]?.message ?? ""}`,
      {
        issues: rejected.issues,
      },
    );
  throw new RpcError(
    RPC_CODES.notFound,
    source === undefined
      ? `no app ${id} in any source: see package.available`
      : `${source} offers no app ${id}: see package.available`,
  );
}

function installed(ctx: ApiContext, id: string): AppRow {
  const row = ctx.orchestrator.store.getApp(id);
  if (!row) throw new RpcError(RPC_CODES.notFound, `${id} is not installed`);
  return row;
}

export const METHODS: MethodDefinition<ApiContext>[] = [
  ...AUTH_METHODS,
  defineMethod({
    name: "package.list",
    summary:
      "Installed apps with their desired state, phase and last observed containers (answered from the store, never waiting for Podman).",
    access: "session",
    mutates: false,
    params: z.strictObject({}),
    result: z.array(AppView),
    handler: (_params, ctx) => ctx.orchestrator.store.listApps().map((row) => appView(ctx, row)),
  }),
  defineMethod({
    name: "package.get",
    summary: "One installed app, as in package.list.",
    access: "session",
    mutates: false,
    params: IdParams,
    result: AppView,
    handler: ({ id }, ctx) => appView(ctx, installed(ctx, id)),
  }),
  defineMethod({
    name: "package.available",
    summary: "Apps that can be installed from the configured sources, with update availability.",
    access: "session",
    mutates: false,
    params: z.strictObject({}),
    result: z.array(AvailableApp),
    handler: async (_params, ctx) => {
      const { apps } = await ctx.sources();
      const { default: semver } = await import("semver");
      const sourced = apps.map((app) => {
        const row = ctx.orchestrator.store.getApp(app.id);
        // The same id installed from the marketplace is another app: not this one installed.
        const mine = row !== undefined && !row.source.startsWith("nostr:") ? row : undefined;
        return {
          id: app.id,
          name: app.manifest.name,
          version: app.manifest.version,
          description: app.manifest.description,
          category: app.manifest.category,
          source: app.source,
          publisher: app.publisher ?? null,
          installed: mine !== undefined,
          installedVersion: mine?.version ?? null,
          updateAvailable: mine !== undefined && semver.gt(app.manifest.version, mine.version),
          sourceChange: (mine && provenanceChange(mine, app)) ?? null,
          localOverride: app.localOverride ?? null,
          permissions: requestedPermissions(app.manifest),
          trust: null,
        };
      });
      const offered = ctx.market.listing().map((offer) => {
        const view = offerView(offer);
        return {
          id: view.id,
          name: view.name,
          version: view.version,
          description: view.description,
          category: view.category,
          source: view.source,
          publisher: view.publisher,
          installed: view.installedVersion !== null,
          installedVersion: view.installedVersion,
          updateAvailable: view.updateAvailable,
          // Another key's release is never an update (market.list names the installed app's source).
          sourceChange: null,
          localOverride: null,
          // Known once the bundle is verified, at install: an install that needs approval says which.
          permissions: [],
          trust: view.trust,
        };
      });
      return [...sourced, ...offered];
    },
  }),
  ...CATALOG_METHODS,
  ...MARKET_METHODS,
  ...REGISTRY_METHODS,
  defineMethod({
    name: "package.install",
    summary:
      "Installs an app from the sources by id (no image is ever needed: the manifest says everything). The permissions its manifest requests need the operator's approval, in `approve`. A marketplace app is chosen by its source (`nostr:<npub>`) when it is not the only app of that id; its release and bundle are verified first.",
    access: "session",
    mutates: true,
    params: z.strictObject({
      id: AppId,
      source: z.string().min(1).max(600).optional().meta({
        description:
          "Where to install it from, as package.available names it: `nostr:<npub>` for a marketplace app. Without it: the catalogs' or local app of that id, else the one marketplace app of that id.",
      }),
      confirmRisk: z.boolean().default(false).meta({
        description:
          "The operator confirms installing a marketplace app whose publisher is below their trust threshold (the refusal names the risk).",
      }),
      approve: Approvals.default([]).meta({
        description:
          "The operator's approval of each permission the manifest requests (`package.available` lists them; a refusal's `data.permissions` too).",
      }),
    }),
    result: Accepted,
    handler: async ({ id, source, confirmRisk, approve }, ctx) => {
      const app =
        source?.startsWith("nostr:") || (source === undefined && !(await offeredBySources(ctx, id)))
          ? await marketSourced(ctx, id, { source, confirmRisk, update: false })
          : await sourced(ctx, id, source);
      await checkHostPaths(ctx, app);
      return lifecycle(ctx, () => ctx.orchestrator.lifecycle.install(app, { approve }));
    },
  }),
  defineMethod({
    name: "package.approve",
    summary:
      "Approves the permissions an installed app's manifest requests and are not approved (after a revoke): the app goes back to its desired state.",
    access: "session",
    mutates: true,
    params: z.strictObject({
      id: AppId,
      approve: Approvals.min(1).meta({ description: "Each permission approved, as `package.get` shows it." }),
    }),
    result: Accepted,
    handler: ({ id, approve }, ctx) => lifecycle(ctx, () => ctx.orchestrator.lifecycle.approve(id, approve)),
  }),
  defineMethod({
    name: "package.revoke",
    summary:
      "Withdraws the approval of one of an app's permissions: the app stops, and starts again only once it is approved again.",
    access: "session",
    mutates: true,
    params: z.strictObject({
      id: AppId,
      permission: z.string().min(1).max(63).meta({ description: "The permission's name." }),
    }),
    result: Accepted,
    handler: ({ id, permission }, ctx) =>
      lifecycle(ctx, () => ctx.orchestrator.lifecycle.revoke(id, permission)),
  }),
  defineMethod({
    name: "package.start",
    summary: "Starts an installed app (its desired state becomes running).",
    access: "session",
    mutates: true,
    params: IdParams,
    result: Accepted,
    handler: ({ id }, ctx) => lifecycle(ctx, () => ctx.orchestrator.lifecycle.start(id)),
  }),
  defineMethod({
    name: "package.stop",
    summary: "Stops an app; it stays stopped across resyncs, daemon restarts and reboots until started.",
    access: "session",
    mutates: true,
    params: IdParams,
    result: Accepted,
    handler: ({ id }, ctx) => lifecycle(ctx, () => ctx.orchestrator.lifecycle.stop(id)),
  }),
  defineMethod({
    name: "package.restart",
    summary: "Restarts an app's containers.",
    access: "session",
    mutates: true,
    params: IdParams,
    result: Accepted,
    handler: ({ id }, ctx) => lifecycle(ctx, () => ctx.orchestrator.lifecycle.restart(id)),
  }),
  defineMethod({
    name: "package.reinstall",
    summary:
      "Recreates an app's containers from its installed manifest (new containers); its data, secrets and credentials are kept.",
    access: "session",
    mutates: true,
    params: IdParams,
    result: Accepted,
    handler: ({ id }, ctx) => lifecycle(ctx, () => ctx.orchestrator.lifecycle.reinstall(id)),
  }),
  defineMethod({
    name: "package.uninstall",
    summary: "Removes an app's containers. Data and secrets are kept unless `purge` is true.",
    access: "session",
    mutates: true,
    params: z.strictObject({ id: AppId, purge: z.boolean().default(false) }),
    result: Accepted,
    handler: ({ id, purge }, ctx) =>
      lifecycle(ctx, () => ctx.orchestrator.lifecycle.uninstall(id, { purge })),
  }),
  defineMethod({
    name: "package.update",
    summary:
      "Moves an app to the version its sources offer now; a downgrade needs `force`, another source or signer `switchSource`, new permissions `approve`.",
    access: "session",
    mutates: true,
    params: z.strictObject({
      id: AppId,
      force: z.boolean().default(false),
      switchSource: z.boolean().default(false).meta({
        description:
          "Consent to an update from another source (a catalog's manifest for a local one) or another signer (`package.available` says so in `sourceChange`).",
      }),
      approve: Approvals.default([]).meta({
        description: "Approvals of the permissions the new version requests that are not approved yet.",
      }),
      confirmRisk: z.boolean().default(false).meta({
        description:
          "For a marketplace app whose publisher is now reported or muted: the operator confirms the risk.",
      }),
    }),
    result: Accepted,
    handler: async ({ id, force, switchSource, approve, confirmRisk }, ctx) => {
      const row = installed(ctx, id);
      // A marketplace app is updated only by its own publisher's releases, whatever else offers its id.
      const app = row.source.startsWith("nostr:")
        ? await marketSourced(ctx, id, { source: row.source, confirmRisk, update: true })
        : await sourced(ctx, id);
      await checkHostPaths(ctx, app);
      return lifecycle(ctx, () => ctx.orchestrator.lifecycle.update(app, { force, switchSource, approve }));
    },
  }),
  defineMethod({
    name: "package.retry",
    summary: "Retries an app in the failed phase from the first attempt.",
    access: "session",
    mutates: true,
    params: IdParams,
    result: Accepted,
    handler: ({ id }, ctx) => lifecycle(ctx, () => ctx.orchestrator.lifecycle.retry(id)),
  }),
  defineMethod({
    name: "package.logs",
    summary: "The last lines of an app's container logs (stdout and stderr), generated secrets masked.",
    access: "session",
    mutates: false,
    params: z.strictObject({
      id: AppId,
      container: z.string().optional(),
      tail: z.number().int().min(1).max(5000).default(200),
    }),
    result: z.array(
      z.object({ container: z.string(), stream: z.enum(["stdout", "stderr"]), line: z.string() }),
    ),
    handler: async ({ id, container, tail }, ctx) => {
      installed(ctx, id);
      const targets = ctx.orchestrator.store
        .listContainers(id)
        .filter((c) => container === undefined || c.key === container);
      if (container !== undefined && targets.length === 0)
        throw new RpcError(RPC_CODES.notFound, `${id} has no container ${container}`);
      // No container yet (or any more): no logs, whether Podman answers or not.
      if (targets.length === 0) return [];
      if (!ctx.orchestrator.started)
        throw new RpcError(RPC_CODES.podmanUnavailable, "Podman is not connected yet: try again in a moment");
      // The app's own output, yet masked like everything the daemon serves (docs/manifest.md,
      // "Secrets and credentials"): a secret is shown on explicit request only (package.credentials).
      const mask = ctx.orchestrator.secrets.mask;
      const lines: Array<{ container: string; stream: "stdout" | "stderr"; line: string }> = [];
      for (const target of targets) {
        // Through the runtime: a Quadlet container that is down has its output in the journal.
        const chunks = await ctx.orchestrator.runtime.logs(
          {
            id: target.containerId,
            name: target.name,
            backend: target.backend === "quadlet" ? "quadlet" : "podman",
            unit: undefined,
          },
          { tail },
        );
        for await (const chunk of chunks)
          for (const line of chunk.data.toString("utf8").split("\n"))
            if (line !== "")
              lines.push({ container: target.key, stream: chunk.stream, line: mask.apply(line) });
      }
      return lines;
    },
  }),
  defineMethod({
    name: "package.credentials",
    summary:
      "The logins an app's manifest marks for display, with their generated passwords (explicit request only).",
    access: "session",
    mutates: false,
    params: IdParams,
    result: z.array(
      z.object({ label: z.string(), username: z.string().nullable(), password: z.string().nullable() }),
    ),
    handler: async ({ id }, ctx) => {
      const row = installed(ctx, id);
      const manifest = ctx.orchestrator.manifests.of(row).manifest;
      const credentials = [];
      for (const credential of manifest?.credentials ?? [])
        credentials.push({
          label: credential.label,
          username: credential.username ?? null,
          password: (await ctx.orchestrator.secrets.read(id, credential.secret)) ?? null,
        });
      return credentials;
    },
  }),
  defineMethod({
    name: "container-list",
    summary: "Every managed container with its last observed state and the time of that observation.",
    access: "session",
    mutates: false,
    params: z.strictObject({}),
    result: z.array(ContainerView.extend({ appId: z.string(), observedAgeMs: z.number() })),
    handler: (_params, ctx) =>
      ctx.orchestrator.store.listContainers().map((c) => ({
        ...c,
        startedAt: c.startedAt ?? null,
        observedAgeMs: Math.max(0, ctx.clock() - c.observedAt),
      })),
  }),
  defineMethod({
    name: "operation.list",
    summary: "An app's most recent operations, newest first (their log lines: operation.get).",
    access: "session",
    mutates: false,
    params: z.strictObject({ appId: AppId, limit: z.number().int().min(1).max(50).default(10) }),
    result: z.array(
      z.object({
        id: z.string(),
        appId: z.string(),
        kind: z.string(),
        state: z.enum(["pending", "running", "succeeded", "failed"]),
        createdAt: z.number(),
        finishedAt: z.number().nullable(),
        error: z.string().nullable(),
      }),
    ),
    handler: ({ appId, limit }, ctx) =>
      ctx.orchestrator.store.listOperations(appId, limit).map((o) => ({
        id: o.id,
        appId: o.appId,
        kind: o.kind,
        state: o.state,
        createdAt: o.createdAt,
        finishedAt: o.finishedAt ?? null,
        error: o.error ?? null,
      })),
  }),
  defineMethod({
    name: "operation.get",
    summary: "An operation's state and its log lines (optionally only those after `afterSeq`).",
    access: "session",
    mutates: false,
    params: z.strictObject({ id: z.string().min(1).max(100), afterSeq: z.number().int().min(0).default(0) }),
    result: z.object({
      id: z.string(),
      appId: z.string(),
      kind: z.string(),
      state: z.enum(["pending", "running", "succeeded", "failed"]),
      createdAt: z.number(),
      finishedAt: z.number().nullable(),
      error: z.string().nullable(),
      logs: z.array(z.object({ seq: z.number(), at: z.number(), level: z.string(), message: z.string() })),
    }),
    handler: ({ id, afterSeq }, ctx) => {
      const operation = ctx.orchestrator.store.getOperation(id);
      if (!operation) throw new RpcError(RPC_CODES.notFound, `no operation ${id}`);
      return {
        ...operation,
        finishedAt: operation.finishedAt ?? null,
        error: operation.error ?? null,
        logs: ctx.orchestrator.store
          .operationLogs(id, afterSeq)
          .map(({ seq, at, level, message }) => ({ seq, at, level, message })),
      };
    },
  }),
  defineMethod({
    name: "system.info",
    summary:
      "The daemon's version, uptime, backend (how new containers are created, and why) and whether the operator password is set (public: the login page needs it).",
    access: "public",
    mutates: false,
    params: z.strictObject({}),
    result: z.object({
      version: z.string(),
      uptimeMs: z.number(),
      setUp: z.boolean(),
      backend: z.string().meta({
        description:
          "`podman` or `quadlet`: how new containers are created (`connecting to Podman` until then).",
      }),
      backendReason: z.string().meta({
        description:
          "Why: as configured, or what `auto` found (what Quadlet lacks, when it picked plain Podman).",
      }),
      apps: z.number(),
    }),
    handler: (_params, ctx) => ({
      version: ctx.version,
      uptimeMs: ctx.clock() - ctx.startedAt,
      setUp: ctx.auth.isSetUp,
      backend: ctx.orchestrator.started ? ctx.orchestrator.runtime.createWith : "connecting to Podman",
      backendReason: ctx.backendReason,
      apps: ctx.orchestrator.store.listApps().length,
    }),
  }),
];

export const METHOD_TABLE: ReadonlyMap<string, MethodDefinition<ApiContext>> = new Map(
  METHODS.map((m) => [m.name, m]),
);
