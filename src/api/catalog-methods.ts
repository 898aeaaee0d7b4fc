/** The handlers of the signed catalog sources' methods (docs/catalog.md); schemas in contract.ts. */
import { updatesOffered } from "../catalog/merge.ts";
import type { Catalogs } from "../catalog/node/catalogs.ts";
import type { ApiHandlers } from "./context.ts";
import type { HandlerResult } from "./contract.ts";
import { RPC_CODES, RpcError } from "./rpc/errors.ts";

function sourceStatusView(
  status: ReturnType<Catalogs["statuses"]>[number],
): HandlerResult<"catalog.sources">[number] {
  const { files: _, ...transferred } = status.transferred;
  return { ...status, transferred };
}

export const CATALOG_HANDLERS: ApiHandlers<"catalog.sources" | "catalog.refresh" | "catalog.list"> = {
  "catalog.sources": (_params, ctx) => ctx.catalogs.statuses().map(sourceStatusView),
  "catalog.refresh": async ({ name }, ctx) => {
    if (name !== undefined && !ctx.catalogs.statuses().some((s) => s.name === name))
      throw new RpcError(RPC_CODES.notFound, `no catalog source ${name}: see catalog.sources`);
    return (await ctx.catalogs.refresh(name)).map(sourceStatusView);
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
