import { statfs } from "node:fs/promises";
import { basename } from "node:path";
import { isNewerVersion } from "../manifest/app-version.ts";
import { envFilePaths, readEnvFiles } from "../manifest/env-files-read.ts";
import { describeNeeds } from "../manifest/needs.ts";
import { requestedPermissions } from "../manifest/permissions.ts";
import type { Manifest } from "../manifest/schema.ts";
import { HostPathError } from "../orchestrator/host-path-guard.ts";
import {
  type Accepted as LifecycleAccepted,
  LifecycleError,
  type LifecycleErrorCode,
  type SourcedManifest,
} from "../orchestrator/lifecycle.ts";
import type { Operation } from "../orchestrator/model.ts";
import type { AppRow } from "../orchestrator/store.ts";
import { outputLines } from "../runtime/output-lines.ts";
import type { SourceListing } from "../sources/local.ts";
import { provenanceChange } from "../sources/provenance.ts";
import { listChanges, listedApps, listVersion } from "./app-list.ts";
import { appView, containerView, warningsOf } from "./app-views.ts";
import { AUTH_HANDLERS } from "./auth-methods.ts";
import { BACKUP_HANDLERS } from "./backup-methods.ts";
import { CATALOG_HANDLERS } from "./catalog-methods.ts";
import type { ApiContext, ApiHandlers } from "./context.ts";
import { CONTRACT, type MethodName } from "./contract.ts";
import { iconUrl } from "./icons.ts";
import { MARKET_HANDLERS, marketSourced, noteOperation, offerView } from "./market-methods.ts";
import { PEER_HANDLERS } from "./peer-methods.ts";
import { REGISTRY_HANDLERS } from "./registry-methods.ts";
import { bindMethods, type MethodDefinition } from "./rpc/dispatch.ts";
import { RPC_CODES, type RpcCode, RpcError } from "./rpc/errors.ts";

export type { ApiContext } from "./context.ts";

/** The backend as system.info and system.node say it. */
const backendOf = (ctx: ApiContext) =>
  ctx.orchestrator.started ? ctx.orchestrator.runtime.createWith : "connecting to Podman";

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

/**
 * The app `id` an install or a purge acts on: as a `nostr:` source names it, else as the catalogs
 * or the local apps offer it (they come first: a marketplace app never takes over an id), else as
 * the marketplace does. The sources are read once, with `id` as its manifest is now.
 */
async function toActOn(
  ctx: ApiContext,
  id: string,
  options: { source?: string | undefined; confirmRisk: boolean; update: boolean },
) {
  if (options.source?.startsWith("nostr:")) return marketSourced(ctx, id, options);
  const listing = await ctx.sources({ currentFor: id });
  const offered =
    listing.apps.some((a) => a.id === id) || listing.rejected.some((r) => r.dir.endsWith(`/${id}`));
  return options.source !== undefined || offered
    ? sourcedIn(listing, id, options.source)
    : marketSourced(ctx, id, options);
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

/**
 * The app with its env_files read from its package directory, as the install stores them (a signed
 * app's files checked against what was signed); a problem refuses the request, naming the file and
 * line.
 */
async function withEnvFiles<T extends SourcedManifest>(ctx: ApiContext, app: T): Promise<T> {
  if (envFilePaths(app.manifest).length === 0) return app;
  const { id, version } = app.manifest;
  const pkg = ctx.orchestrator.packageOf({ id, source: app.source, version });
  if (!pkg)
    throw new RpcError(
      RPC_CODES.invalidManifest,
      `${id} ${version} names env_files, but ${app.source} keeps no directory of the app to read them from: refresh the source and try again`,
    );
  const { files, issues } = await readEnvFiles(app.manifest, pkg.dir, { verify: pkg.verifyCopy });
  const first = issues[0];
  if (first)
    throw new RpcError(
      RPC_CODES.invalidManifest,
      `${id}: env_file ${first.file}${first.line > 0 ? `:${first.line}` : ""}: ${first.message}; fix: ${first.fix}`,
      { issues },
    );
  return { ...app, envFiles: files };
}

/** The app `id` as the catalogs or local apps offer it (from `source` only, when given). */
async function sourced(ctx: ApiContext, id: string, source?: string) {
  return sourcedIn(await ctx.sources({ currentFor: id }), id, source);
}

/** The app `id` as `listing` offers it (from `source` only, when given), or why it does not. */
function sourcedIn(listing: SourceListing, id: string, source?: string) {
  const app = listing.apps.find((a) => a.id === id && (source === undefined || a.source === source));
  if (app) return app;
  const rejected = listing.rejected.find((r) => r.dir.endsWith(`/${id}`));
  const first = rejected?.issues[0];
  if (rejected)
    throw new RpcError(
      RPC_CODES.invalidManifest,
      `the manifest of ${id} is invalid: ${first && first.line > 0 ? `${basename(first.file)}:${first.line}: ` : ""}${first?.message ?? ""}`,
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

/** An operation as the API shows it, field by field (its generation stays inside). */
const operationSummary = (o: Operation) => ({
  id: o.id,
  appId: o.appId,
  kind: o.kind,
  state: o.state,
  createdAt: o.createdAt,
  finishedAt: o.finishedAt ?? null,
  error: o.error ?? null,
});

function installed(ctx: ApiContext, id: string): AppRow {
  const row = ctx.orchestrator.store.getApp(id);
  if (!row) throw new RpcError(RPC_CODES.notFound, `${id} is not installed`);
  return row;
}

const PACKAGE_HANDLERS: ApiHandlers<
  Exclude<
    MethodName,
    | keyof typeof AUTH_HANDLERS
    | keyof typeof BACKUP_HANDLERS
    | keyof typeof CATALOG_HANDLERS
    | keyof typeof MARKET_HANDLERS
    | keyof typeof PEER_HANDLERS
    | keyof typeof REGISTRY_HANDLERS
  >
> = {
  "package.list": (_params, ctx) => listedApps(ctx),
  "package.changes": ({ since }, ctx) => listChanges(ctx, since),
  "package.get": ({ id }, ctx) => appView(ctx, installed(ctx, id)),
  "package.available": async (_params, ctx) => {
    const { apps } = await ctx.sources();
    const sourcedApps = apps.map((app) => {
      const row = ctx.orchestrator.store.getApp(app.id);
      // The same id installed from the marketplace is another app: not this one installed.
      const mine = row !== undefined && !row.source.startsWith("nostr:") ? row : undefined;
      return {
        id: app.id,
        name: app.manifest.name,
        version: app.manifest.version,
        description: app.manifest.description,
        category: app.manifest.category,
        icon: iconUrl(app.id, app.source, app.manifest),
        source: app.source,
        publisher: app.publisher ?? null,
        installed: mine !== undefined,
        installedVersion: mine?.version ?? null,
        updateAvailable: mine !== undefined && isNewerVersion(app.manifest.version, mine.version),
        sourceChange: (mine && provenanceChange(mine, app)) ?? null,
        localOverride: app.localOverride ?? null,
        permissions: requestedPermissions(app.manifest),
        warnings: warningsOf(app.manifest),
        trust: null,
        nip05: null,
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
        // Its files are known once its bundle is verified, at install: its card shows its initials.
        icon: null,
        source: view.source,
        publisher: view.publisher,
        installed: view.installedVersion !== null,
        installedVersion: view.installedVersion,
        updateAvailable: view.updateAvailable,
        // Another key's release is never an update (market.list names the installed app's source).
        sourceChange: null,
        localOverride: null,
        // Known once the bundle is verified, at install: an install that needs approval or carries
        // a warning says which.
        permissions: [],
        warnings: [],
        trust: view.trust,
        nip05: view.nip05,
      };
    });
    return [...sourcedApps, ...offered];
  },
  "package.kept": async (_params, ctx) => {
    const kept = ctx.orchestrator.keptApps();
    if (kept.length === 0) return [];
    const { apps } = await ctx.sources();
    return kept.map(({ appId, dirs }) => {
      // The one package.uninstall would purge it with: the first source that offers it, else the
      // one publisher of the marketplace that does.
      const offered = apps.find((a) => a.id === appId);
      if (offered) return { id: appId, kept: dirs, name: offered.manifest.name, source: offered.source };
      const market = ctx.market.offersOf(appId);
      const only = market.length === 1 ? market[0] : undefined;
      return { id: appId, kept: dirs, name: only?.app.name ?? null, source: only?.source ?? null };
    });
  },
  "package.describe": async ({ id }, ctx) => {
    const { apps } = await ctx.sources();
    const app = apps.find((a) => a.id === id);
    if (!app) throw new RpcError(RPC_CODES.notFound, `no app ${id} in any source: see package.available`);
    const { manifest } = app;
    return {
      id,
      name: manifest.name,
      version: manifest.version,
      description: manifest.description,
      category: manifest.category,
      source: app.source,
      license: manifest.license ?? null,
      links: Object.fromEntries(
        Object.entries(manifest.links).filter(([, url]) => url !== undefined),
      ) as Record<string, string>,
      needs: describeNeeds(manifest),
      dependencies: manifest.dependencies.map((dependency) => ({
        id: dependency.id,
        version: dependency.version,
        installed: ctx.orchestrator.store.getApp(dependency.id) !== undefined,
        offered: apps.some((a) => a.id === dependency.id),
      })),
      interfaces: Object.keys(manifest.interfaces),
      credentials: manifest.credentials.map((credential) => credential.label),
    };
  },
  "package.install": async ({ id, source, confirmRisk, approve }, ctx) => {
    const app = await withEnvFiles(ctx, await toActOn(ctx, id, { source, confirmRisk, update: false }));
    await checkHostPaths(ctx, app);
    const accepted = lifecycle(ctx, () => ctx.orchestrator.lifecycle.install(app, { approve }));
    if ("fetchLog" in app) noteOperation(ctx, accepted, app.fetchLog);
    const warnings = warningsOf(app.manifest);
    return warnings.length > 0 ? { ...accepted, warnings } : accepted;
  },
  "package.approve": ({ id, approve }, ctx) =>
    lifecycle(ctx, () => ctx.orchestrator.lifecycle.approve(id, approve)),
  "package.revoke": ({ id, permission }, ctx) =>
    lifecycle(ctx, () => ctx.orchestrator.lifecycle.revoke(id, permission)),
  "package.start": ({ id }, ctx) => lifecycle(ctx, () => ctx.orchestrator.lifecycle.start(id)),
  "package.stop": ({ id }, ctx) => lifecycle(ctx, () => ctx.orchestrator.lifecycle.stop(id)),
  "package.restart": ({ id }, ctx) => lifecycle(ctx, () => ctx.orchestrator.lifecycle.restart(id)),
  "package.reinstall": ({ id }, ctx) => lifecycle(ctx, () => ctx.orchestrator.lifecycle.reinstall(id)),
  "package.uninstall": async ({ id, purge, force }, ctx) => {
    const kept = purge ? ctx.orchestrator.keptData(id) : [];
    if (kept.length === 0)
      return lifecycle(ctx, () => ctx.orchestrator.lifecycle.uninstall(id, { purge, force }));
    // Uninstalled earlier with its data kept: the manifest a source offers says what its purge deletes
    // (a marketplace app's, its publisher's: nothing of it runs without its containers, so no risk
    // is confirmed for it; a pre_purge hook needs `force` then, as for any app not installed).
    const app = await toActOn(ctx, id, { confirmRisk: true, update: false }).catch((error: unknown) => {
      const where = `its kept data is in ${kept.join(" and ")}`;
      const publishers = ctx.market.offersOf(id).length;
      throw new RpcError(
        RPC_CODES.notFound,
        publishers > 1
          ? `${id} is not installed and ${publishers} publishers offer an app ${id} (different apps), so which one it was cannot be told; ${where}: delete it by hand`
          : `${id} is not installed and ${error instanceof RpcError ? error.message : "no source offers it"}; ${where}: delete it by hand, or add the source that offers ${id} and purge again`,
      );
    });
    return lifecycle(ctx, () => ctx.orchestrator.lifecycle.purgeKept(app, { force }));
  },
  "package.update": async ({ id, force, switchSource, approve, confirmRisk }, ctx) => {
    const row = installed(ctx, id);
    // A marketplace app is updated only by its own publisher's releases, whatever else offers its id.
    const app = await withEnvFiles(
      ctx,
      row.source.startsWith("nostr:")
        ? await marketSourced(ctx, id, { source: row.source, confirmRisk, update: true })
        : await sourced(ctx, id),
    );
    await checkHostPaths(ctx, app);
    const accepted = lifecycle(ctx, () =>
      ctx.orchestrator.lifecycle.update(app, { force, switchSource, approve }),
    );
    if ("fetchLog" in app) noteOperation(ctx, accepted, app.fetchLog);
    return accepted;
  },
  "package.retry": ({ id }, ctx) => lifecycle(ctx, () => ctx.orchestrator.lifecycle.retry(id)),
  "package.logs": async ({ id, container, tail }, ctx) => {
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
      for await (const { stream, line } of outputLines(chunks))
        lines.push({ container: target.key, stream, line: mask.apply(line) });
    }
    return lines;
  },
  "package.credentials": async ({ id }, ctx) => {
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
  "container-list": (_params, ctx) => {
    const { store, manifests } = ctx.orchestrator;
    const manifestOf = new Map<string, Manifest | undefined>();
    return store.listContainers().map((c) => {
      if (!manifestOf.has(c.appId)) {
        const row = store.getApp(c.appId);
        manifestOf.set(c.appId, row ? manifests.of(row).manifest : undefined);
      }
      return {
        appId: c.appId,
        ...containerView(c, manifestOf.get(c.appId)),
        observedAgeMs: Math.max(0, ctx.clock() - c.observedAt),
      };
    });
  },
  "operation.list": ({ appId, limit }, ctx) =>
    ctx.orchestrator.store.listOperations(appId, limit).map(operationSummary),
  "operation.get": ({ id, afterSeq }, ctx) => {
    const operation = ctx.orchestrator.store.getOperation(id);
    if (!operation) throw new RpcError(RPC_CODES.notFound, `no operation ${id}`);
    return {
      ...operationSummary(operation),
      logs: ctx.orchestrator.store
        .operationLogs(id, afterSeq)
        .map(({ seq, at, level, message }) => ({ seq, at, level, message })),
    };
  },
  "system.node": async (_params, ctx) => {
    let disk: { freeBytes: number; totalBytes: number } | null = null;
    try {
      const stats = await statfs(ctx.dataDir);
      disk = { freeBytes: stats.bavail * stats.bsize, totalBytes: stats.blocks * stats.bsize };
    } catch {}
    return {
      version: ctx.version,
      uptimeMs: ctx.clock() - ctx.startedAt,
      podmanVersion: ctx.podmanVersion() ?? null,
      backend: backendOf(ctx),
      backendReason: ctx.backendReason,
      dataDir: ctx.dataDir,
      disk,
      apps: ctx.orchestrator.store.listApps().length,
      alerts: ctx.backups.alerts(ctx.orchestrator.store.listApps()),
    };
  },
  "system.info": (_params, ctx) => ({
    version: ctx.version,
    uptimeMs: ctx.clock() - ctx.startedAt,
    setUp: ctx.auth.isSetUp,
    backend: ctx.orchestrator.started ? ctx.orchestrator.runtime.createWith : "connecting to Podman",
    backendReason: ctx.backendReason,
    apps: ctx.orchestrator.store.listApps().length,
  }),
};

/** Every method of the contract with its handler, in the contract's order. */
export const METHODS: MethodDefinition<ApiContext>[] = bindMethods(
  CONTRACT,
  {
    ...AUTH_HANDLERS,
    ...BACKUP_HANDLERS,
    ...CATALOG_HANDLERS,
    ...MARKET_HANDLERS,
    ...PEER_HANDLERS,
    ...REGISTRY_HANDLERS,
    ...PACKAGE_HANDLERS,
  },
  { "package.list": (_params, ctx) => listVersion(ctx) },
);

export const METHOD_TABLE: ReadonlyMap<string, MethodDefinition<ApiContext>> = new Map(
  METHODS.map((m) => [m.name, m]),
);
