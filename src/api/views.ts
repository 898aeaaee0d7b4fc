/**
 * The shapes the API speaks in, as zod schemas: an app as the operator sees it, a container, an app
 * a source offers, an accepted operation, a catalog source's status, a session. The contract
 * (contract.ts) builds every method's params and result from these; the daemon checks what it sends
 * against them and clients (the CLI, the web UI) infer their types from them.
 *
 * Browser-safe: this module imports only zod and the orchestrator's pure vocabulary (model.ts).
 */
import { z } from "zod";
import { NEED_KINDS } from "../manifest/needs.ts";
import { DESIRED_STATES, OPERATION_KINDS, OPERATION_STATES, PHASES } from "../orchestrator/model.ts";
import { Nip05View, TrustView } from "./market-views.ts";
import { MIN_PASSWORD_LENGTH } from "./password-rule.ts";
import { PermissionStatuses, RequestedPermissions } from "./permission-views.ts";

export const Password = z
  .string()
  .min(1)
  .max(1024)
  .meta({
    description: `The operator password (a new one needs at least ${MIN_PASSWORD_LENGTH} characters).`,
  });

export const SessionResult = z.object({
  csrfToken: z.string().meta({ description: "Send it in the X-CSRF-Token header of state-changing calls." }),
  expiresAt: z.number().meta({ description: "When the session ends (unix ms)." }),
});

export const AppId = z
  .string()
  .min(1)
  .max(100)
  .meta({ description: "An app id (a DNS label, namespaced for third-party apps: `alice.my-app`)." });

export const IdParams = z.strictObject({ id: AppId });

export const PhaseSchema = z.enum(PHASES).meta({
  description: "What the app is doing: installing, running, stopped, waiting, retrying, failed, …",
});
export const OperationKindSchema = z.enum(OPERATION_KINDS);
export const OperationStateSchema = z.enum(OPERATION_STATES);

export const Accepted = z.object({
  operationId: z.string().meta({ description: "Follow it with operation.get or the WebSocket." }),
  appId: z.string(),
  kind: OperationKindSchema,
  existing: z.boolean().meta({ description: "True when an identical operation was already in flight." }),
  superseded: z.array(z.string()).optional().meta({
    description: "Operations this one replaced (marked failed): only stop, uninstall and purge do.",
  }),
  runningDependents: z.array(z.string()).optional().meta({
    description:
      "For a stop: apps that depend on this one and keep running (they are not stopped with it, and lose it until it starts again).",
  }),
  warnings: z.array(z.string()).optional().meta({
    description:
      "For an install: what the operator should know about the app being installed (package.available's `warnings`), so that a client need not list the apps to show them.",
  }),
});

export const ContainerView = z.object({
  key: z.string(),
  name: z.string(),
  containerId: z.string(),
  state: z.string(),
  health: z.string(),
  exitCode: z.number(),
  startedAt: z.number().nullable(),
  restarts: z.number().meta({
    description:
      "How many times it started again since it was created (after an exit, for health, or asked), as the daemon observed it; a new container starts from 0.",
  }),
  backend: z.string(),
  observedAt: z.number(),
  job: z.boolean().meta({
    description:
      "A one-shot job (manifest `job: true`): it runs to completion, `exited` with code 0 once done.",
  }),
});

const AccessWarnings = z.array(z.string()).meta({
  description:
    "What the operator should know before running it: an interface its manifest publishes beyond the node, reached there without the node's login (docs/app-access.md).",
});

/** Something the operator must see and act on (docs/backups.md#alerts), until it clears itself. */
export const AlertView = z.object({
  kind: z.enum(["backup-failed", "backup-overdue", "check-failed"]).meta({
    description:
      "`backup-failed`: the app's last backup to the target failed (cleared by a success); `backup-overdue`: its schedule expected a backup more than one period ago; `check-failed`: the target's last `restic check` failed.",
  }),
  target: z.string().meta({ description: "The backup target it is about." }),
  appId: z.string().nullable().meta({ description: "The app it is about; null for a target's own alert." }),
  since: z.number().meta({ description: "Since when (unix ms): the failure, or the slot that was missed." }),
  message: z.string().meta({ description: "What happened, in words (credentials masked)." }),
});

export const AppView = z.object({
  id: z.string(),
  name: z.string(),
  version: z.string(),
  description: z.string(),
  category: z.string(),
  icon: z.string().nullable().meta({
    description:
      "Where the daemon serves the app's icon (a same-origin path: a PNG, JPEG, WebP or SVG file of its verified package, 256 KiB at most); null: it has none, or names an https URL, which the daemon never fetches.",
  }),
  source: z.string(),
  publisher: z.string().nullable().meta({
    description: "Who signed it in its catalog (its namespace role and keys); null for a local manifest.",
  }),
  desired: z.enum(DESIRED_STATES),
  phase: PhaseSchema,
  reason: z.string().nullable().meta({ description: "Why: what it waits for, the last error." }),
  observedAt: z
    .number()
    .nullable()
    .meta({ description: "When its containers were last observed (unix ms)." }),
  observedAgeMs: z.number().nullable().meta({ description: "How old that observation is, in ms." }),
  containers: z.array(ContainerView),
  interfaces: z.array(z.object({ name: z.string(), url: z.string().nullable() })),
  memoryLimits: z
    .array(
      z.object({
        container: z.string(),
        bytes: z.number(),
        enforced: z.boolean().nullable().meta({
          description: "Whether Podman enforces it on this node (null until Podman is connected).",
        }),
        why: z
          .string()
          .nullable()
          .meta({ description: "When not enforced: why, and what would make it so." }),
      }),
    )
    .meta({ description: "The memory limits its manifest sets, and whether this node enforces them." }),
  localOverride: z.boolean().meta({
    description:
      "Installed from a local manifest although a catalog offers this app (the catalog's is offered).",
  }),
  permissions: PermissionStatuses,
  warnings: AccessWarnings,
  flags: z.array(z.string()).meta({
    description:
      "For a marketplace app: its installed release was deleted by its publisher (NIP-09) or reported by the operator's network.",
  }),
  alerts: z.array(AlertView).meta({
    description: "Its failed or overdue backups, per target, until a backup there succeeds.",
  }),
});

export const AvailableApp = z.object({
  id: z.string(),
  name: z.string(),
  version: z.string(),
  description: z.string(),
  category: z.string(),
  icon: z.string().nullable().meta({
    description:
      "Where the daemon serves the app's icon (a same-origin path: a PNG, JPEG, WebP or SVG file of its verified package, 256 KiB at most); null: it has none, or names an https URL, which the daemon never fetches.",
  }),
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
  warnings: AccessWarnings,
  trust: TrustView.nullable().meta({ description: "A marketplace app's trust, computed on this node." }),
  nip05: Nip05View.meta({
    description:
      "A marketplace app's publisher's NIP-05 handle, if they claim one (null for the sources' apps).",
  }),
});

export const KeptAppView = z.object({
  id: z.string(),
  kept: z.array(z.string()).meta({
    description:
      "What it left on this node: its data directory (what its containers stored) and its generated secrets' directory, those that exist.",
  }),
  name: z.string().nullable().meta({ description: "Its name, as the source that offers it says it." }),
  source: z.string().nullable().meta({
    description:
      "The source that offers it (a catalog or the apps directory, else the one marketplace publisher of that id): its manifest says what the purge deletes. Null: none does, or several publishers do (which one it was cannot be told), and `package.uninstall` refuses to purge it (delete the directories by hand, or add a source that offers it).",
  }),
});

export const OperationSummary = z.object({
  id: z.string(),
  appId: z.string(),
  kind: OperationKindSchema,
  state: OperationStateSchema,
  createdAt: z.number(),
  finishedAt: z.number().nullable(),
  error: z.string().nullable(),
});

export const OperationLogLine = z.object({
  seq: z.number(),
  at: z.number(),
  level: z.enum(["info", "warn", "error"]),
  message: z.string(),
});

export const SourceStatusView = z.object({
  name: z.string(),
  url: z.string(),
  removable: z.boolean().meta({
    description:
      "Added through the API (`catalog.sources.add`), so `catalog.sources.remove` removes it; the configuration file's sources are removed there.",
  }),
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

export const AppDescription = z.object({
  id: z.string(),
  name: z.string(),
  version: z.string(),
  description: z.string(),
  category: z.string(),
  source: z.string(),
  license: z.string().nullable(),
  links: z.record(z.string(), z.string()).meta({ description: "homepage, source, docs, support." }),
  needs: z.array(z.object({ kind: z.enum(NEED_KINDS), text: z.string() })).meta({
    description: "What it asks of the node, one plain sentence each.",
  }),
  dependencies: z.array(
    z.object({
      id: z.string(),
      version: z.string().meta({ description: "The semver range it accepts (`*`: any)." }),
      installed: z.boolean(),
      offered: z
        .boolean()
        .meta({ description: "Whether a source offers it (so it can be installed first)." }),
    }),
  ),
  interfaces: z.array(z.string()).meta({ description: "Its web interfaces, by name." }),
  credentials: z.array(z.string()).meta({ description: "The logins it shows once installed, by label." }),
});
