/**
 * An installed app as the API shows it (`package.get`, each entry of `package.list`, the `app-view`
 * event): derived from its store row, its observed containers, its approvals and its manifest.
 */
import { accessWarnings } from "../manifest/access.ts";
import { formatPath } from "../manifest/issues.ts";
import { requestedPermissions } from "../manifest/permissions.ts";
import type { Manifest } from "../manifest/schema.ts";
import { permissionStatus } from "../orchestrator/approvals.ts";
import type { StoredContainer } from "../orchestrator/model.ts";
import type { AppRow } from "../orchestrator/store.ts";
import type { ApiContext } from "./context.ts";
import type { HandlerResult } from "./contract.ts";
import { iconUrl } from "./icons.ts";

export type AppViewResult = HandlerResult<"package.get">;

/** The memory limits of an app's manifest, with whether the node's Podman enforces them. */
function memoryLimitsView(ctx: ApiContext, manifest: Manifest | undefined): AppViewResult["memoryLimits"] {
  const limits = ctx.orchestrator.started ? ctx.orchestrator.runtime.memoryLimits : undefined;
  return Object.entries(manifest?.containers ?? {}).flatMap(([container, spec]) =>
    spec.memory === undefined
      ? []
      : [
          {
            container,
            bytes: spec.memory,
            enforced: limits?.enforced ?? null,
            why: limits && !limits.enforced ? limits.why : null,
          },
        ],
  );
}

/** The warnings of a manifest, one line each, with where in the manifest. */
export const warningsOf = (manifest: Manifest) =>
  accessWarnings(manifest).map((w) => `${formatPath(w.path)}: ${w.message}`);

/**
 * A container as the API shows it, field by field (what the store keeps besides, its app and spec
 * hash, stays inside: results leave unchecked from the build, rpc/result-checks.ts); whether it is a
 * job comes from its app's manifest.
 */
export function containerView(container: StoredContainer, manifest: Manifest | undefined) {
  const { key, name, containerId, state, health, exitCode, restarts, backend, observedAt } = container;
  return {
    key,
    name,
    containerId,
    state,
    health,
    exitCode,
    startedAt: container.startedAt ?? null,
    restarts,
    backend,
    observedAt,
    job: manifest?.containers[key]?.job ?? false,
  };
}

export function appView(ctx: ApiContext, row: AppRow): AppViewResult {
  const { orchestrator } = ctx;
  const manifest = orchestrator.manifests.of(row).manifest;
  const containers = orchestrator.store.listContainers(row.id);
  const observedAt = containers.length > 0 ? Math.min(...containers.map((c) => c.observedAt)) : null;
  const interfaces = Object.keys(manifest?.interfaces ?? {}).map((name) => ({
    name,
    url: manifest ? ctx.interfaceUrl(row.id, manifest, name) : null,
  }));
  return {
    id: row.id,
    name: manifest?.name ?? row.id,
    version: row.version,
    description: manifest?.description ?? "",
    category: manifest?.category ?? "other",
    icon: iconUrl(row.id, row.source, manifest),
    source: row.source,
    publisher: row.publisher ?? null,
    desired: row.desired,
    phase: row.phase,
    reason: row.reason ?? null,
    observedAt,
    observedAgeMs: observedAt === null ? null : Math.max(0, ctx.clock() - observedAt),
    containers: containers.map((c) => containerView(c, manifest)),
    interfaces,
    memoryLimits: memoryLimitsView(ctx, manifest),
    localOverride: row.source.startsWith("local:") && ctx.catalogs.offers(row.id),
    permissions: permissionStatus(
      manifest ? requestedPermissions(manifest) : [],
      orchestrator.store.approvals(row.id),
    ),
    warnings: manifest ? warningsOf(manifest) : [],
    flags: ctx.market.flagsOf(row),
    alerts: ctx.backups.alerts([row]).filter((alert) => alert.appId === row.id),
  };
}
