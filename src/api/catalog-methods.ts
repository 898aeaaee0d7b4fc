/** The API methods of the signed catalog sources (docs/catalog.md). */
import { z } from "zod";
import { updatesOffered } from "../catalog/merge.ts";
import type { Catalogs } from "../catalog/node/catalogs.ts";
import type { ApiContext } from "./context.ts";
import { defineMethod, type MethodDefinition } from "./rpc/dispatch.ts";
import { RPC_CODES, RpcError } from "./rpc/errors.ts";

const SourceStatusView = z.object({
  name: z.string(),
  url: z.string(),
  state: z.enum(["ok", "partial", "failing", "never-refreshed"]).meta({
    description:
      "`partial`: the last refresh completed, but the delegated namespaces in `failedRoles` failed and their apps are hidden; `failing`: the last refresh did not complete, and the last good catalog is still served.",
  }),
  lastAttemptAt: z.number().nullable(),
  lastSuccessAt: z.number().nullable(),
  apps: z.number().meta({ description: "Apps in the catalog served (the last good one)." }),
  error: z
    .object({
      kind: z.string().meta({
        description:
          "rollback, freeze, mix-and-match, below-threshold, endless-data, tampered, namespace, unreachable or invalid.",
      }),
      message: z.string(),
      fix: z.string(),
    })
    .nullable()
    .meta({ description: "Why the last refresh failed." }),
  failedRoles: z
    .array(
      z.object({
        role: z.string().meta({ description: "The delegated role: the namespace whose apps are hidden." }),
        kind: z.string(),
        message: z.string(),
        fix: z.string(),
      }),
    )
    .meta({
      description:
        "Delegated namespaces of the catalog served that failed to verify (or whose files did not match): their apps are hidden, every other app is served.",
    }),
  transferred: z.object({ requests: z.number(), bytes: z.number() }).meta({
    description: "What the last refresh downloaded.",
  }),
});

function sourceStatusView(
  status: ReturnType<Catalogs["statuses"]>[number],
): z.input<typeof SourceStatusView> {
  const { files: _, ...transferred } = status.transferred;
  return { ...status, transferred };
}

export const CATALOG_METHODS: MethodDefinition<ApiContext>[] = [
  defineMethod({
    name: "catalog.sources",
    summary:
      "The signed catalog sources: whether their last refresh worked, and if not why (the last good catalog is served).",
    access: "session",
    mutates: false,
    params: z.strictObject({}),
    result: z.array(SourceStatusView),
    handler: (_params, ctx) => ctx.catalogs.statuses().map(sourceStatusView),
  }),
  defineMethod({
    name: "catalog.refresh",
    summary: "Refreshes the catalog sources now (or the one named); answers when done, with their status.",
    access: "session",
    mutates: true,
    params: z.strictObject({ name: z.string().min(1).max(40).optional() }),
    result: z.array(SourceStatusView),
    handler: async ({ name }, ctx) => {
      if (name !== undefined && !ctx.catalogs.statuses().some((s) => s.name === name))
        throw new RpcError(RPC_CODES.notFound, `no catalog source ${name}: see catalog.sources`);
      return (await ctx.catalogs.refresh(name)).map(sourceStatusView);
    },
  }),
  defineMethod({
    name: "catalog.list",
    summary:
      "The apps the catalogs offer (merged: first source wins; a catalog app wins over a local manifest), the updates they offer for installed apps, and what was set aside.",
    access: "session",
    mutates: false,
    params: z.strictObject({}),
    result: z.object({
      apps: z.array(
        z.object({
          id: z.string(),
          version: z.string(),
          name: z.string(),
          source: z.string(),
          localOverride: z.string().nullable(),
        }),
      ),
      updates: z.array(
        z.object({
          id: z.string(),
          installed: z.string(),
          offered: z.string(),
          source: z.string(),
          sourceChange: z.string().nullable().meta({
            description:
              "What the update would change of the app's source or signer (it needs `switchSource`).",
          }),
        }),
      ),
      conflicts: z.array(z.object({ id: z.string(), source: z.string(), offeredBy: z.string() })).meta({
        description: "Apps a later source offers too; the first source's is offered.",
      }),
      rejected: z
        .array(
          z.object({
            source: z.string(),
            id: z.string(),
            version: z.string(),
            role: z.string(),
            reason: z.string(),
          }),
        )
        .meta({
          description: "Signed apps this node cannot use (an invalid manifest, for instance).",
        }),
    }),
    handler: async (_params, ctx) => {
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
  }),
];
