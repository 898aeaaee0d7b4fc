/** The handlers of the signed catalog sources' methods (docs/catalog.md); schemas in contract.ts. */
import { isAbsolute, resolve } from "node:path";
import { catalogSource, updatesOffered } from "../catalog/merge.ts";
import { type Catalogs, SourceChangeRefused } from "../catalog/node/catalogs.ts";
import type { ApiHandlers } from "./context.ts";
import type { HandlerResult } from "./contract.ts";
import { RPC_CODES, RpcError } from "./rpc/errors.ts";

function statusViews(catalogs: Catalogs, statuses = catalogs.statuses()): HandlerResult<"catalog.sources"> {
  return statuses.map((status) => {
    const { files: _, ...transferred } = status.transferred;
    return { ...status, removable: catalogs.added(status.name), transferred };
  });
}

/** A refused add or remove as the API words it: the field to change, and nothing changed. */
async function sourceChange<T>(change: () => Promise<T>): Promise<T> {
  try {
    return await change();
  } catch (error) {
    if (!(error instanceof SourceChangeRefused)) throw error;
    throw new RpcError(RPC_CODES.invalidParams, error.message, {
      issues: [{ field: error.field, problem: error.message }],
    });
  }
}

/** A source's URL as the node will read it: http(s) as given, a directory canonicalised. */
function sourceUrl(url: string): string {
  if (/^https?:\/\/[^/]/.test(url)) return url;
  if (isAbsolute(url)) return resolve(url);
  throw new RpcError(
    RPC_CODES.invalidParams,
    `url: ${url} is neither an http(s) URL nor an absolute directory: give where the catalog is published`,
    { issues: [{ field: "url", problem: "not an http(s) URL or an absolute directory" }] },
  );
}

export const CATALOG_HANDLERS: ApiHandlers<
  "catalog.sources" | "catalog.sources.add" | "catalog.sources.remove" | "catalog.refresh" | "catalog.list"
> = {
  "catalog.sources": (_params, ctx) => statusViews(ctx.catalogs),
  "catalog.sources.add": async ({ name, url, root }, ctx) => {
    await sourceChange(() => ctx.catalogs.add(name, sourceUrl(url), root));
    return statusViews(ctx.catalogs);
  },
  "catalog.sources.remove": async ({ name }, ctx) => {
    const dependents = ctx.orchestrator.store
      .listApps()
      .filter((app) => app.source === catalogSource(name))
      .map((app) => app.id);
    if (dependents.length > 0)
      throw new RpcError(
        RPC_CODES.hasDependents,
        `catalog ${name} is where ${dependents.join(", ")} come${dependents.length === 1 ? "s" : ""} from: it is kept; uninstall ${dependents.length === 1 ? "it" : "them"} first to remove the source`,
        { dependents },
      );
    await sourceChange(() => ctx.catalogs.remove(name));
    return statusViews(ctx.catalogs);
  },
  "catalog.refresh": async ({ name }, ctx) => {
    if (name !== undefined && !ctx.catalogs.statuses().some((s) => s.name === name))
      throw new RpcError(
        RPC_CODES.notFound,
        `no catalog source ${name}: see catalog.sources (archy sources ls)`,
      );
    return statusViews(ctx.catalogs, await ctx.catalogs.refresh(name));
  },
  "catalog.list": async (_params, ctx) => {
    const offered = (await ctx.sources()).apps;
    return {
      apps: offered
        .filter((app) => app.source.startsWith("catalog:"))
        .map((app) => ({
          id: app.id,
          version: app.manifest.version,
          name: app.manifest.name,
          source: app.source,
          localOverride: app.localOverride ?? null,
        })),
      updates: updatesOffered(offered, ctx.orchestrator.store.listApps()),
      conflicts: ctx.catalogs.conflicts(),
      rejected: ctx.catalogs.rejected(),
    };
  },
};
