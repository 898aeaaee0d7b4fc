/** The API methods of backups (docs/backups.md): targets, backups, snapshots, restores. */
import { z } from "zod";
import { BackupError } from "../backup/service.ts";
import { displayLocation, TargetError } from "../backup/targets.ts";
import type { ApiContext } from "./methods.ts";
import { defineMethod, type MethodDefinition } from "./rpc/dispatch.ts";
import { RPC_CODES, RpcError } from "./rpc/errors.ts";

const TargetName = z.string().min(1).max(32).meta({ description: "A target's name (a-z, 0-9, '-')." });
const AppId = z.string().min(1).max(253).meta({ description: "The app's id." });

const TargetView = z.object({
  name: z.string(),
  kind: z.string().meta({ description: "`local`, `sftp`, `rest`, `s3` or `b2`." }),
  location: z.string().meta({ description: "Where the repository is; a login inside a URL is masked." }),
  createdAt: z.number(),
});

const Accepted = z.object({
  operationId: z.string(),
  appId: z.string(),
  kind: z.string(),
  existing: z.boolean(),
});

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

export const BACKUP_METHODS: MethodDefinition<ApiContext>[] = [
  defineMethod({
    name: "backup.targets.list",
    summary: "The backup targets of this node (restic repositories).",
    access: "session",
    mutates: false,
    params: z.strictObject({}),
    result: z.object({ targets: z.array(TargetView) }),
    handler: async (_params, ctx) => ({
      targets: (await ctx.backups.targets.list()).map((t) => ({
        ...t,
        location: displayLocation(t.location),
      })),
    }),
  }),
  defineMethod({
    name: "backup.targets.add",
    summary:
      "Adds a target and makes its repository, encrypted with a key the node generates and returns here, once: the operator must save it (without it the backups cannot be read). With `key`, opens an existing repository instead (a fresh node restoring another's backups).",
    access: "session",
    mutates: true,
    params: z.strictObject({
      name: TargetName,
      location: z
        .string()
        .min(1)
        .max(2000)
        .meta({ description: "An absolute directory, or a restic URL (sftp:, rest:, s3:, b2:)." }),
      key: z.string().min(8).max(1000).optional().meta({ description: "The key of an existing repository." }),
      credentials: z.record(z.string(), z.string()).optional().meta({
        description: "For s3 and b2: the access key variables restic reads (AWS_ACCESS_KEY_ID, …).",
      }),
    }),
    result: z.object({
      target: TargetView,
      key: z.string().nullable().meta({
        description: "The new repository key, shown this once (null when the operator gave the key).",
      }),
      keyFile: z.string().meta({ description: "Where the node keeps the key (mode 0600)." }),
    }),
    handler: async (params, ctx) =>
      answer(async () => {
        const added = await ctx.backups.addTarget(params);
        return {
          target: { ...added.record, location: displayLocation(added.record.location) },
          key: added.generated ? added.key : null,
          keyFile: `${ctx.backups.dirs.targets}/${added.record.name}/key`,
        };
      }),
  }),
  defineMethod({
    name: "backup.targets.remove",
    summary: "Forgets a target; its repository and snapshots stay where they are.",
    access: "session",
    mutates: true,
    params: z.strictObject({ name: TargetName }),
    result: z.object({ removed: z.string() }),
    handler: async ({ name }, ctx) =>
      answer(async () => ({ removed: (await ctx.backups.targets.remove(name)).name })),
  }),
  defineMethod({
    name: "backup.targets.check",
    summary: "Opens a target's repository with the node's key and verifies its structure (`restic check`).",
    access: "session",
    mutates: false,
    params: z.strictObject({ name: TargetName }),
    result: z.object({ name: z.string(), snapshots: z.number() }),
    handler: async ({ name }, ctx) => answer(() => ctx.backups.checkTarget(name)),
  }),
  defineMethod({
    name: "backup.run",
    summary:
      "Backs up an app (its volumes, installed manifest and generated secrets) to a target: an operation, with `backup-progress` events. While it runs, every other request for the app is refused.",
    access: "session",
    mutates: true,
    params: z.strictObject({
      id: AppId,
      target: TargetName.optional().meta({ description: "Default: the node's only target." }),
    }),
    result: Accepted,
    handler: async ({ id, target }, ctx) => answer(() => ctx.backups.backup(id, target)),
  }),
  defineMethod({
    name: "backup.snapshots",
    summary: "The snapshots on a target, of one app or of all.",
    access: "session",
    mutates: false,
    params: z.strictObject({ id: AppId.optional(), target: TargetName.optional() }),
    result: z.object({
      target: z.string(),
      snapshots: z.array(
        z.object({
          id: z.string(),
          shortId: z.string(),
          time: z.string(),
          appId: z.string(),
          version: z.string().optional(),
          preRestore: z
            .boolean()
            .meta({ description: "Taken by a restore of the data it replaced (its undo)." }),
        }),
      ),
    }),
    handler: async ({ id, target }, ctx) => answer(() => ctx.backups.snapshots(id, target)),
  }),
  defineMethod({
    name: "backup.restore",
    summary:
      "Restores an app from a snapshot (default: its newest): over the installed app, after backing up its current data (tagged pre-restore, to undo the restore), or installing it from the snapshot's manifest with the same secrets.",
    access: "session",
    mutates: true,
    params: z.strictObject({
      id: AppId,
      snapshot: z.string().min(8).max(64).optional(),
      target: TargetName.optional(),
    }),
    result: Accepted,
    handler: async ({ id, snapshot, target }, ctx) =>
      answer(() =>
        ctx.backups.restore(id, {
          ...(snapshot !== undefined ? { snapshot } : {}),
          ...(target !== undefined ? { target } : {}),
        }),
      ),
  }),
];
