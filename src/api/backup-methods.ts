/** The handlers of the backup methods (docs/backups.md); schemas in contract.ts. */
import { BackupError } from "../backup/service.ts";
import { displayLocation, NO_PLAN, TargetError, type TargetRecord } from "../backup/targets.ts";
import type { ApiHandlers } from "./context.ts";
import { RPC_CODES, RpcError } from "./rpc/errors.ts";

/** A refusal of the backup service or its targets, as a JSON-RPC error. */
async function answer<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof TargetError || error instanceof BackupError) {
      const code =
        error.code === "not-found"
          ? RPC_CODES.notFound
          : error.code === "busy"
            ? RPC_CODES.operationInProgress
            : error.code === "unusable"
              ? RPC_CODES.backupTargetUnusable
              : RPC_CODES.invalidParams;
      throw new RpcError(code, error.message);
    }
    throw error;
  }
}

/** A target as the API shows it: a login in its URL masked, its plan as the operator wrote it. */
function targetView(record: TargetRecord) {
  const plan = record.plan ?? NO_PLAN;
  return {
    name: record.name,
    kind: record.kind,
    location: displayLocation(record.location),
    createdAt: record.createdAt,
    schedule: plan.backup?.spec ?? null,
    check: plan.check?.spec ?? null,
    keep: plan.keep,
  };
}

export const BACKUP_HANDLERS: ApiHandlers<
  | "backup.targets.list"
  | "backup.targets.add"
  | "backup.targets.remove"
  | "backup.targets.check"
  | "backup.targets.schedule"
  | "backup.run"
  | "backup.snapshots"
  | "backup.restore"
> = {
  "backup.targets.list": async (_params, ctx) => ({
    targets: (await ctx.backups.targets.list()).map(targetView),
  }),
  "backup.targets.add": async (params, ctx) =>
    answer(async () => {
      const added = await ctx.backups.addTarget(params);
      return {
        target: targetView(added.record),
        key: added.generated ? added.key : null,
        keyFile: `${ctx.backups.dirs.targets}/${added.record.name}/key`,
      };
    }),
  "backup.targets.remove": async ({ name }, ctx) =>
    answer(async () => ({ removed: (await ctx.backups.removeTarget(name)).name })),
  "backup.targets.check": async ({ name }, ctx) => answer(() => ctx.backups.checkTarget(name)),
  "backup.targets.schedule": async ({ name, schedule, check, keep }, ctx) =>
    answer(async () =>
      targetView(
        await ctx.backups.setPlan(name, {
          ...(schedule !== undefined ? { backup: schedule } : {}),
          ...(check !== undefined ? { check } : {}),
          ...(keep !== undefined ? { keep } : {}),
        }),
      ),
    ),
  "backup.run": async ({ id, target }, ctx) => answer(() => ctx.backups.backup(id, target)),
  "backup.snapshots": async ({ id, target }, ctx) => answer(() => ctx.backups.snapshots(id, target)),
  "backup.restore": async ({ id, snapshot, target }, ctx) =>
    answer(() =>
      ctx.backups.restore(id, {
        ...(snapshot !== undefined ? { snapshot } : {}),
        ...(target !== undefined ? { target } : {}),
      }),
    ),
};
