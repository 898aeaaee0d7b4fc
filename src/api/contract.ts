/**
 * The API's one declaration: every JSON-RPC method's name, who may call it, whether it changes
 * state, its params and its result, as zod schemas. The daemon binds its handlers to this table
 * (methods.ts: a method without a handler, or a handler of the wrong shape, does not compile),
 * `docs/api.md` is generated from it, and clients (src/client/) infer method names, params and
 * results from it — no client declares a response shape of its own.
 *
 * To add a method: its entry here and its handler in methods.ts (or a module beside it), nothing else.
 *
 * Browser-safe: imports only zod and schema modules (a browser bundle may import it).
 */
import { z } from "zod";
import { parseSchedule } from "../backup/schedule.ts";
import { OfferViewSchema, PeersView, RelayView } from "./market-views.ts";
import { Approvals, PermissionName } from "./permission-views.ts";
import {
  Accepted,
  AlertView,
  AppDescription,
  AppId,
  AppView,
  AvailableApp,
  ContainerView,
  IdParams,
  KeptAppView,
  OperationLogLine,
  OperationSummary,
  Password,
  SessionResult,
  SourceStatusView,
} from "./views.ts";

/** A registry the node has credentials for: never its password. */
const RegistryView = z.object({
  host: z
    .string()
    .meta({ description: "As image references name it: `registry.example.org`, `127.0.0.1:5000`." }),
  username: z.string(),
});

export type MethodAccess = "public" | "session";

export type MethodSpec<
  P extends z.ZodType = z.ZodType,
  R extends z.ZodType = z.ZodType,
  A extends MethodAccess = MethodAccess,
> = {
  summary: string;
  params: P;
  result: R;
  access: A;
  /** Changes state: needs the CSRF token with a session, and is refused from another origin. */
  mutates: boolean;
  /**
   * Only ever sent alone, never in a batch: it checks the operator password (argon2, rate-limited),
   * and a batch would let one request carry many guesses.
   */
  alone?: true;
};

/** Keeps each entry's schema types (the table's value types are what clients infer from). */
const method = <P extends z.ZodType, R extends z.ZodType, A extends MethodAccess>(
  spec: MethodSpec<P, R, A>,
): MethodSpec<P, R, A> => spec;

const None = z.strictObject({});

const BackupTargetName = z.string().min(1).max(32).meta({ description: "A target's name (a-z, 0-9, '-')." });
/** A schedule in the operator's words; its form is checked here, the node's minimum interval by the daemon. */
const ScheduleText = z
  .string()
  .min(1)
  .max(100)
  .superRefine((text, ctx) => {
    try {
      parseSchedule(text, "schedule", 0);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message.replace(/^schedule: /, "") });
    }
  })
  .meta({
    description: "`every 6h` (s, m, h, d), `daily 03:00` or `weekly sun 04:00` (the node's local time).",
  });
const KeepView = z
  .object({
    last: z.number().int().min(0).max(10_000).optional(),
    daily: z.number().int().min(0).max(10_000).optional(),
    weekly: z.number().int().min(0).max(10_000).optional(),
    monthly: z.number().int().min(0).max(10_000).optional(),
  })
  .meta({
    description:
      "How many snapshots of each app retention keeps after a scheduled backup (restic forget --keep-last/-daily/-weekly/-monthly, then prune); none set: every snapshot is kept.",
  });
const BackupTargetView = z.object({
  name: z.string(),
  kind: z.string().meta({ description: "`local`, `sftp`, `rest`, `s3` or `b2`." }),
  location: z.string().meta({ description: "Where the repository is; a login inside a URL is masked." }),
  createdAt: z.number(),
  schedule: ScheduleText.nullable().meta({
    description: "When every installed app is backed up there; null: only on request.",
  }),
  check: ScheduleText.nullable().meta({
    description: "When the repository is verified (`restic check`); null: only on request.",
  }),
  keep: KeepView,
});

export const CONTRACT = {
  "auth.setup": method({
    summary: "Sets the operator password on first run and logs in (sets the session cookie).",
    access: "public",
    mutates: true,
    alone: true,
    params: z.strictObject({ password: Password }),
    result: SessionResult,
  }),
  "auth.login": method({
    summary:
      "Logs in with the operator password: sets an HttpOnly session cookie and returns the CSRF token.",
    access: "public",
    mutates: true,
    alone: true,
    params: z.strictObject({ password: Password }),
    result: SessionResult,
  }),
  "auth.session": method({
    summary:
      "The caller's session: its CSRF token and when it ends (a page reloaded in the browser gets its token back; the cookie alone cannot change anything).",
    access: "session",
    mutates: false,
    params: None,
    result: SessionResult,
  }),
  "auth.logout": method({
    summary: "Ends the session: the cookie stops working at once.",
    access: "session",
    mutates: true,
    params: None,
    result: z.object({ ok: z.literal(true) }),
  }),
  "auth.changePassword": method({
    summary:
      "Replaces the operator password (the current one is required): every session is revoked, the caller's too, and the caller gets a new one (new cookie and CSRF token).",
    access: "session",
    mutates: true,
    alone: true,
    params: z.strictObject({ oldPassword: Password, newPassword: Password }),
    result: SessionResult,
  }),
  "auth.logoutAll": method({
    summary: "Revokes every session, the caller's too (its cookie is cleared); the CLI token keeps working.",
    access: "session",
    mutates: true,
    params: None,
    result: z.object({ revoked: z.number().meta({ description: "How many sessions ended." }) }),
  }),
  "auth.rotateCliToken": method({
    summary:
      "Writes a new CLI token into the daemon's token file; the previous token stops working at once (the daemon also does this at every start).",
    access: "session",
    mutates: true,
    params: None,
    result: z.object({ ok: z.literal(true) }),
  }),
  "package.list": method({
    summary:
      "Installed apps with their desired state, phase and last observed containers (answered from the store, never waiting for Podman; a view kept between calls until the store changes). Sent alone, the answer has an ETag: see Protocol, conditional reads. To keep a copy current: package.changes, or the `app-view` events.",
    access: "session",
    mutates: false,
    params: None,
    result: z.array(AppView),
  }),
  "package.changes": method({
    summary:
      "The installed apps that changed since a revision the caller holds (from its last answer), and the ids removed since: what keeps a copy of package.list current without reading it whole. Without `since`, or with one too old or from before the daemon restarted, every app, marked `full`. An observation's time alone is not a change (every reconciler pass moves it): `observedAgeMs` gives every app's age now.",
    access: "session",
    mutates: false,
    params: z.strictObject({
      since: z.string().max(100).optional().meta({ description: "The `revision` of the last answer." }),
    }),
    result: z.object({
      revision: z.string().meta({ description: "Send it as `since` next time." }),
      full: z.boolean().meta({
        description:
          "True: `apps` is every installed app (replace what you hold); false: only those changed since.",
      }),
      apps: z
        .array(AppView)
        .meta({ description: "Each app changed (or new) since, as package.get shows it." }),
      removed: z.array(z.string()).meta({ description: "The ids of apps uninstalled since." }),
      observedAgeMs: z.record(z.string(), z.number().nullable()).meta({
        description: "Every installed app's observation age now (null: not observed yet).",
      }),
    }),
  }),
  "package.get": method({
    summary: "One installed app, as in package.list.",
    access: "session",
    mutates: false,
    params: IdParams,
    result: AppView,
  }),
  "package.available": method({
    summary: "Apps that can be installed from the configured sources, with update availability.",
    access: "session",
    mutates: false,
    params: None,
    result: z.array(AvailableApp),
  }),
  "package.kept": method({
    summary:
      "The apps that are not installed but whose data an uninstall kept on this node, with what is kept and the source that offers each. `package.uninstall` with `purge: true` deletes it for good (its data, update snapshots and secrets); installing the app again uses it.",
    access: "session",
    mutates: false,
    params: None,
    result: z.array(KeptAppView),
  }),
  "package.describe": method({
    summary:
      "What an app the sources offer is and asks of the node, in plain words, for the operator to read before installing it: the apps it needs (installed or not, offered or not), the ports it opens, where it keeps data, the host folders and devices it reaches.",
    access: "session",
    mutates: false,
    params: IdParams,
    result: AppDescription,
  }),
  "backup.targets.list": method({
    summary: "The backup targets of this node (restic repositories).",
    access: "session",
    mutates: false,
    params: None,
    result: z.object({ targets: z.array(BackupTargetView) }),
  }),
  "backup.targets.add": method({
    summary:
      "Adds a target and makes its repository, encrypted with a key the node generates and returns here, once: the operator must save it (without it the backups cannot be read). With `key`, opens an existing repository instead (a fresh node restoring another's backups).",
    access: "session",
    mutates: true,
    params: z.strictObject({
      name: BackupTargetName,
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
      target: BackupTargetView,
      key: z.string().nullable().meta({
        description: "The new repository key, shown this once (null when the operator gave the key).",
      }),
      keyFile: z.string().meta({ description: "Where the node keeps the key (mode 0600)." }),
    }),
  }),
  "backup.targets.remove": method({
    summary: "Forgets a target; its repository and snapshots stay where they are.",
    access: "session",
    mutates: true,
    params: z.strictObject({ name: BackupTargetName }),
    result: z.object({ removed: z.string() }),
  }),
  "backup.targets.schedule": method({
    summary:
      "Sets when a target backs up every installed app and checks its repository, and the retention applied after each scheduled backup. A field left out is kept; null removes a schedule. A changed schedule counts from now; after downtime one run catches up, not one per missed slot.",
    access: "session",
    mutates: true,
    params: z.strictObject({
      name: BackupTargetName,
      schedule: ScheduleText.nullable().optional(),
      check: ScheduleText.nullable().optional(),
      keep: KeepView.optional().meta({ description: "Replaces the retention as a whole." }),
    }),
    result: BackupTargetView,
  }),
  "backup.targets.check": method({
    summary: "Opens a target's repository with the node's key and verifies its structure (`restic check`).",
    access: "session",
    mutates: false,
    params: z.strictObject({ name: BackupTargetName }),
    result: z.object({ name: z.string(), snapshots: z.number() }),
  }),
  "backup.run": method({
    summary:
      "Backs up an app (its volumes, installed manifest and generated secrets) to a target: an operation, with `backup-progress` events. While it runs, every other request for the app is refused.",
    access: "session",
    mutates: true,
    params: z.strictObject({
      id: AppId,
      target: BackupTargetName.optional().meta({ description: "Default: the node's only target." }),
    }),
    result: Accepted,
  }),
  "backup.snapshots": method({
    summary: "The snapshots on a target, of one app or of all.",
    access: "session",
    mutates: false,
    params: z.strictObject({ id: AppId.optional(), target: BackupTargetName.optional() }),
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
  }),
  "backup.restore": method({
    summary:
      "Restores an app from a snapshot (default: its newest): over the installed app, after backing up its current data (tagged pre-restore, to undo the restore), or installing it from the snapshot's manifest with the same secrets.",
    access: "session",
    mutates: true,
    params: z.strictObject({
      id: AppId,
      snapshot: z
        .string()
        .regex(/^[0-9a-f]{8,64}$/, "not a snapshot id (8 to 64 hex digits, as archy backups shows them)")
        .optional(),
      target: BackupTargetName.optional(),
    }),
    result: Accepted,
  }),
  "catalog.sources": method({
    summary:
      "The signed catalog sources: whether their last refresh worked, and if not why (the last good catalog is served).",
    access: "session",
    mutates: false,
    params: None,
    result: z.array(SourceStatusView),
  }),
  "catalog.refresh": method({
    summary: "Refreshes the catalog sources now (or the one named); answers when done, with their status.",
    access: "session",
    mutates: true,
    params: z.strictObject({ name: z.string().min(1).max(40).optional() }),
    result: z.array(SourceStatusView),
  }),
  "catalog.sources.add": method({
    summary:
      "Adds a signed catalog source with the root the operator pins for it (its root.json, obtained from the publisher out of band), once a first refresh has verified the catalog under that root; kept across restarts. A source that does not verify is refused and nothing of it kept. Answers with every source's status.",
    access: "session",
    mutates: true,
    params: z.strictObject({
      name: z
        .string()
        .regex(/^[a-z][a-z0-9-]{0,39}$/, "must be a short lowercase name such as community")
        .meta({ description: "Its apps' source is `catalog:<name>`." }),
      url: z.string().min(1).max(2048).meta({
        description: "The published catalog: an http(s) URL, or an absolute directory on the node.",
      }),
      root: z
        .string()
        .min(2)
        .max(512 * 1024)
        .meta({ description: "The text of the root.json to trust first." }),
    }),
    result: z.array(SourceStatusView),
  }),
  "catalog.sources.remove": method({
    summary:
      "Removes a catalog source added through the API: its apps are no longer offered. Refused while installed apps come from it (`data.dependents`). Answers with every source's status.",
    access: "session",
    mutates: true,
    params: z.strictObject({ name: z.string().min(1).max(40) }),
    result: z.array(SourceStatusView),
  }),
  "catalog.list": method({
    summary:
      "The apps the catalogs offer (merged: first source wins; a catalog app wins over a local manifest), the updates they offer for installed apps, and what was set aside.",
    access: "session",
    mutates: false,
    params: None,
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
      conflicts: z
        .array(z.object({ id: z.string(), source: z.string(), offeredBy: z.string() }))
        .meta({ description: "Apps a later source offers too; the first source's is offered." }),
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
        .meta({ description: "Signed apps this node cannot use (an invalid manifest, for instance)." }),
    }),
  }),
  "registry.list": method({
    summary: "The registries the node has credentials for (hosts and user names; never passwords).",
    access: "session",
    mutates: false,
    params: z.strictObject({}),
    result: z.array(RegistryView),
  }),
  "registry.login": method({
    summary:
      "Stores the credentials the node pulls images from a registry with (replacing earlier ones); the password is kept like an app secret and masked in every log.",
    access: "session",
    mutates: true,
    params: z.strictObject({
      host: z.string().min(1).max(255),
      username: z.string().min(1).max(255),
      password: z.string().min(1).max(4096),
    }),
    result: z.array(RegistryView),
  }),
  "registry.logout": method({
    summary: "Forgets the credentials for a registry.",
    access: "session",
    mutates: true,
    params: z.strictObject({ host: z.string().min(1).max(255) }),
    result: z.array(RegistryView),
  }),
  "peers.list": method({
    summary:
      "The peers this node fetches marketplace bundles and pinned images from (their tokens never shown), and the grants of who may fetch from this node.",
    access: "session",
    mutates: false,
    params: z.strictObject({}),
    result: PeersView,
  }),
  "peers.add": method({
    summary:
      "Adds a peer to fetch bundles and pinned images from first (or gives a known one a new token): its URL and the token its operator granted this node.",
    access: "session",
    mutates: true,
    params: z.strictObject({
      url: z.string().min(1).max(512).meta({
        description:
          "The other node's address and daemon port, http://host:port/ (https:// when its certificate is one this node trusts).",
      }),
      token: z
        .string()
        .min(1)
        .max(200)
        .meta({ description: "What `archy peers grant NAME` printed on the other node." }),
    }),
    result: z.object({
      added: z.boolean(),
      peers: PeersView,
      check: z.object({ answered: z.boolean(), accepted: z.boolean(), message: z.string() }).meta({
        description:
          "What the peer said when asked with the token (GET /v2/ on it). A peer that answers and refuses is not added (invalid params, naming why); one that does not answer is added, and `message` says so.",
      }),
    }),
  }),
  "peers.remove": method({
    summary: "Removes a peer: bundles and images are no longer fetched from it.",
    access: "session",
    mutates: true,
    params: z.strictObject({ url: z.string().min(1).max(512) }),
    result: PeersView,
  }),
  "peers.grant": method({
    summary:
      "Lets another node fetch the bundles and images this node has: a new token for it, shown this once (only its SHA-256 is kept). While it grants any, the node keeps the images it pulls for its peers.",
    access: "session",
    mutates: true,
    params: z.strictObject({
      name: z
        .string()
        .min(1)
        .max(63)
        .meta({ description: "Who the grant is for (a-z, 0-9, '.', '_', '-')." }),
    }),
    result: z.object({
      name: z.string(),
      token: z
        .string()
        .meta({ description: "Give it to the other node's operator: archy peers add URL --token TOKEN." }),
    }),
  }),
  "peers.revoke": method({
    summary: "Withdraws a grant: its token no longer fetches anything from this node.",
    access: "session",
    mutates: true,
    params: z.strictObject({ name: z.string().min(1).max(63) }),
    result: PeersView,
  }),
  "market.relays": method({
    summary: "The Nostr relays the marketplace learns from, and how their last refresh went.",
    access: "session",
    mutates: false,
    params: z.strictObject({}),
    result: z.array(RelayView),
  }),
  "market.relays.add": method({
    summary: "Adds a relay (ws:// or wss://); none is configured by default.",
    access: "session",
    mutates: true,
    params: z.strictObject({ url: z.string().min(1).max(512) }),
    result: z.object({ added: z.boolean(), relays: z.array(RelayView) }),
  }),
  "market.relays.remove": method({
    summary: "Removes a relay (what was learnt from it stays until forgotten).",
    access: "session",
    mutates: true,
    params: z.strictObject({ url: z.string().min(1).max(512) }),
    result: z.object({ removed: z.boolean(), relays: z.array(RelayView) }),
  }),
  "market.settings": method({
    summary:
      "The operator's own Nostr identity (trust is computed from it), the trust threshold and the NIP-85 provider.",
    access: "session",
    mutates: false,
    params: z.strictObject({}),
    result: z.object({
      identity: z
        .string()
        .nullable()
        .meta({ description: "The operator's npub; null: not set (every publisher is unknown)." }),
      threshold: z
        .number()
        .meta({ description: "Installs below this trust score need confirmRisk (default 50)." }),
      provider: z
        .string()
        .nullable()
        .meta({ description: "The NIP-85 provider whose ranks count (npub), if chosen." }),
    }),
  }),
  "market.settings.set": method({
    summary: "Sets the operator's npub, the trust threshold or the NIP-85 provider (null clears one).",
    access: "session",
    mutates: true,
    params: z.strictObject({
      identity: z.string().max(200).nullable().optional(),
      threshold: z.number().int().min(0).max(100).optional(),
      provider: z.string().max(200).nullable().optional(),
    }),
    result: z.object({
      identity: z.string().nullable(),
      threshold: z.number(),
      provider: z.string().nullable(),
    }),
  }),
  "market.refresh": method({
    summary: "Learns from the relays now; answers when done, with their status.",
    access: "session",
    mutates: true,
    params: z.strictObject({}),
    result: z.array(RelayView),
  }),
  "market.list": method({
    summary:
      "The marketplace's apps, the most trusted first: each is its publisher's key plus its id (the same id by another key is another app), with trust and its reasons, flags, and the flags of installed marketplace apps (deleted or reported releases).",
    access: "session",
    mutates: false,
    params: z.strictObject({}),
    result: z.object({
      apps: z.array(OfferViewSchema),
      installed: z.array(
        z.object({ id: z.string(), version: z.string(), source: z.string(), flags: z.array(z.string()) }),
      ),
    }),
  }),
  "package.install": method({
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
  }),
  "package.approve": method({
    summary:
      "Approves the permissions an installed app's manifest requests and are not approved (after a revoke): the app goes back to its desired state.",
    access: "session",
    mutates: true,
    params: z.strictObject({
      id: AppId,
      approve: Approvals.min(1).meta({ description: "Each permission approved, as `package.get` shows it." }),
    }),
    result: Accepted,
  }),
  "package.revoke": method({
    summary:
      "Withdraws the approval of one of an app's permissions: the app stops, and starts again only once it is approved again.",
    access: "session",
    mutates: true,
    params: z.strictObject({
      id: AppId,
      permission: PermissionName,
    }),
    result: Accepted,
  }),
  "package.start": method({
    summary: "Starts an installed app (its desired state becomes running).",
    access: "session",
    mutates: true,
    params: IdParams,
    result: Accepted,
  }),
  "package.stop": method({
    summary: "Stops an app; it stays stopped across resyncs, daemon restarts and reboots until started.",
    access: "session",
    mutates: true,
    params: IdParams,
    result: Accepted,
  }),
  "package.restart": method({
    summary: "Restarts an app's containers.",
    access: "session",
    mutates: true,
    params: IdParams,
    result: Accepted,
  }),
  "package.reinstall": method({
    summary:
      "Recreates an app's containers from its installed manifest (new containers); its data, secrets and credentials are kept.",
    access: "session",
    mutates: true,
    params: IdParams,
    result: Accepted,
  }),
  "package.uninstall": method({
    summary: "Removes an app's containers. Data and secrets are kept unless `purge` is true.",
    access: "session",
    mutates: true,
    params: z.strictObject({
      id: AppId,
      purge: z.boolean().default(false),
      force: z.boolean().default(false).meta({
        description:
          "With `purge`: purge without running the app's `pre_purge` hook (whose failure otherwise stops the purge).",
      }),
    }),
    result: Accepted,
  }),
  "package.update": method({
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
  }),
  "package.retry": method({
    summary: "Retries an app in the failed phase from the first attempt.",
    access: "session",
    mutates: true,
    params: IdParams,
    result: Accepted,
  }),
  "package.logs": method({
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
  }),
  "package.credentials": method({
    summary:
      "The logins an app's manifest marks for display, with their generated passwords (explicit request only).",
    access: "session",
    mutates: false,
    params: IdParams,
    result: z.array(
      z.object({ label: z.string(), username: z.string().nullable(), password: z.string().nullable() }),
    ),
  }),
  "container-list": method({
    summary: "Every managed container with its last observed state and the time of that observation.",
    access: "session",
    mutates: false,
    params: None,
    result: z.array(ContainerView.extend({ appId: z.string(), observedAgeMs: z.number() })),
  }),
  "operation.list": method({
    summary: "An app's most recent operations, newest first (their log lines: operation.get).",
    access: "session",
    mutates: false,
    params: z.strictObject({ appId: AppId, limit: z.number().int().min(1).max(50).default(10) }),
    result: z.array(OperationSummary),
  }),
  "operation.get": method({
    summary: "An operation's state and its log lines (optionally only those after `afterSeq`).",
    access: "session",
    mutates: false,
    params: z.strictObject({
      id: z.string().min(1).max(100),
      afterSeq: z.number().int().min(0).default(0),
    }),
    result: OperationSummary.extend({ logs: z.array(OperationLogLine) }),
  }),
  "system.info": method({
    summary:
      "The daemon's version, uptime, backend (how new containers are created, and why) and whether the operator password is set (public: the login page needs it).",
    access: "public",
    mutates: false,
    params: None,
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
  }),
  "system.node": method({
    summary:
      "The node as the operator's settings show it: the daemon's version, Podman's, the backend and why, the data directory and the free space where it is.",
    access: "session",
    mutates: false,
    params: None,
    result: z.object({
      version: z.string(),
      uptimeMs: z.number(),
      podmanVersion: z
        .string()
        .nullable()
        .meta({ description: "Podman's version; null until the daemon is connected to it." }),
      backend: z.string(),
      backendReason: z.string(),
      dataDir: z.string(),
      disk: z
        .object({ freeBytes: z.number(), totalBytes: z.number() })
        .nullable()
        .meta({ description: "The file system of the data directory (null when it cannot be read)." }),
      apps: z.number(),
      alerts: z.array(AlertView).meta({
        description:
          "Every alert of the node: the apps' failed or overdue backups and the targets' failed checks.",
      }),
    }),
  }),
} as const;

export type Contract = typeof CONTRACT;
export type MethodName = keyof Contract;
/** What a caller sends: fields with a default may be left out. */
export type Params<M extends MethodName> = z.input<Contract[M]["params"]>;
/** What the daemon answers (defaults applied, checked against the schema before it is sent). */
export type Result<M extends MethodName> = z.output<Contract[M]["result"]>;
/** What a handler receives (defaults applied) and what it may return (checked before it is sent). */
export type HandlerParams<M extends MethodName> = z.output<Contract[M]["params"]>;
export type HandlerResult<M extends MethodName> = z.input<Contract[M]["result"]>;
/** The methods a caller without a session may call. */
export type PublicMethodName = {
  [M in MethodName]: Contract[M]["access"] extends "public" ? M : never;
}[MethodName];
export const METHOD_NAMES = Object.keys(CONTRACT) as MethodName[];
