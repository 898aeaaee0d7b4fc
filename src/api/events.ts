/**
 * The messages of the live event stream (`GET /ws/v1`), as schemas: `docs/api.md` documents them
 * from here, clients (src/client/) infer their types from them, and the tests check every message a
 * client receives against them. The reconciler's events are sent as they are; the API adds the
 * events of an operation it records (so a client sees the new phase and the pending operation at
 * once, even before Podman answers).
 *
 * Every event carries `seq`, its place in the daemon's stream (`stream` in `hello` names that
 * stream: it changes when the daemon restarts). A client that reconnects with the last `stream` and
 * `seq` it saw gets what it missed (`resumed: true`), or is told to read the state again.
 *
 * Browser-safe: imports only zod and the orchestrator's pure vocabulary.
 */
import { z } from "zod";
import { OPERATION_KINDS, OPERATION_STATES, PHASES } from "../orchestrator/model.ts";
import { AppView } from "./views.ts";

/** What the orchestrator and the API publish; the stream adds `seq` (EVENT_SCHEMAS). */
const EVENT_BODIES = {
  app: z
    .object({
      type: z.literal("app"),
      appId: z.string(),
      phase: z.enum(PHASES),
      reason: z.string().optional().meta({ description: "Why: what it waits for, the last error." }),
    })
    .meta({ description: "An app's phase (or its reason) changed." }),
  "app-removed": z.object({ type: z.literal("app-removed"), appId: z.string() }).meta({
    description:
      "An uninstalled app is gone from the store: its last event (there is no phase after `removing`; package.get answers not-found).",
  }),
  "app-view": z.object({ type: z.literal("app-view"), appId: z.string(), app: AppView }).meta({
    description:
      "An installed app's view changed (or it is new), anything package.list shows but when it was observed: the whole view, as package.get shows it. Sent within a second of the change, and before the `operation` event that ends an operation that made it (a client waiting for that end has what the app became).",
  }),
  "apps-observed": z
    .object({
      type: z.literal("apps-observed"),
      observedAgeMs: z
        .record(z.string(), z.number().nullable())
        .meta({ description: "App id -> the age of its observation now (ms)." }),
    })
    .meta({ description: "Apps observed again with nothing else changed (a reconciler pass)." }),
  operation: z
    .object({
      type: z.literal("operation"),
      operationId: z.string(),
      appId: z.string(),
      kind: z
        .enum(OPERATION_KINDS)
        .optional()
        .meta({ description: "Sent with `pending` (the operation was recorded)." }),
      state: z.enum(OPERATION_STATES),
      error: z.string().optional(),
    })
    .meta({ description: "An operation was recorded, started, or finished." }),
  log: z
    .object({
      type: z.literal("log"),
      appId: z.string(),
      line: z.object({
        operationId: z.string(),
        seq: z.number().meta({ description: "The line's place in its operation's log (operation.get)." }),
        at: z.number(),
        level: z.enum(["info", "warn", "error"]),
        message: z.string(),
      }),
    })
    .meta({ description: "A line of an operation's log (install progress, image pulls, hooks)." }),
  pull: z
    .object({
      type: z.literal("pull"),
      appId: z.string(),
      operationId: z.string(),
      image: z.string().meta({ description: "The image as the manifest names it." }),
      layer: z.string().meta({ description: "The blob: the first 12 hex digits of its digest." }),
      status: z.enum(["waiting", "downloading", "present", "done"]),
      current: z.number().optional().meta({ description: "Bytes of the blob received so far." }),
      total: z.number().optional().meta({ description: "The blob's size in bytes." }),
      bytesPerSecond: z.number().optional().meta({
        description:
          "The blob's download rate so far (its bytes since its first report over the time since).",
      }),
      secondsLeft: z
        .number()
        .optional()
        .meta({ description: "Seconds until the blob is downloaded at that rate." }),
    })
    .meta({
      description:
        "Progress of one layer of an image an install or update pulls (every update Podman reports; the operation log has a line per quarter).",
    }),
  "backup-progress": z
    .object({
      type: z.literal("backup-progress"),
      operationId: z.string(),
      appId: z.string(),
      percent: z.number(),
      filesDone: z.number(),
      totalFiles: z.number(),
      bytesDone: z.number(),
      totalBytes: z.number(),
      secondsRemaining: z.number().optional().meta({ description: "restic's estimate of the time left." }),
    })
    .meta({ description: "How far a backup has got (about once a second): files, bytes, time left." }),
} as const;

const Seq = z.number().int().min(1).meta({
  description: "The event's place in the stream (1, 2, …): reconnect with `?stream=…&after=<seq>`.",
});

export const EVENT_SCHEMAS = {
  hello: z
    .object({
      type: z.literal("hello"),
      stream: z.string().meta({ description: "This daemon run's stream; a restart starts a new one." }),
      seq: z.number().int().min(0).meta({ description: "The last event sent on the stream so far." }),
      resumed: z.boolean().meta({
        description:
          "True when the events after the `after` the client asked for follow, every one of them; false when some are gone (or the stream is another one): read the state again (package.list, operation.get).",
      }),
    })
    .meta({
      description:
        "Sent once the connection is accepted; the missed events (when resumed) and live ones follow.",
    }),
  error: z.object({ type: z.literal("error"), message: z.string() }).meta({
    description:
      "Sent before the server closes a connection it refuses (close code 4401: not logged in, logged out, expired or cross-origin).",
  }),
  app: EVENT_BODIES.app.extend({ seq: Seq }).meta({ description: EVENT_BODIES.app.description }),
  "app-removed": EVENT_BODIES["app-removed"]
    .extend({ seq: Seq })
    .meta({ description: EVENT_BODIES["app-removed"].description }),
  "app-view": EVENT_BODIES["app-view"]
    .extend({ seq: Seq })
    .meta({ description: EVENT_BODIES["app-view"].description }),
  "apps-observed": EVENT_BODIES["apps-observed"]
    .extend({ seq: Seq })
    .meta({ description: EVENT_BODIES["apps-observed"].description }),
  operation: EVENT_BODIES.operation
    .extend({ seq: Seq })
    .meta({ description: EVENT_BODIES.operation.description }),
  log: EVENT_BODIES.log.extend({ seq: Seq }).meta({ description: EVENT_BODIES.log.description }),
  pull: EVENT_BODIES.pull.extend({ seq: Seq }).meta({ description: EVENT_BODIES.pull.description }),
  "backup-progress": EVENT_BODIES["backup-progress"]
    .extend({ seq: Seq })
    .meta({ description: EVENT_BODIES["backup-progress"].description }),
} as const;

export const ApiEventSchema = z.discriminatedUnion("type", [
  EVENT_BODIES.app,
  EVENT_BODIES["app-removed"],
  EVENT_BODIES["app-view"],
  EVENT_BODIES["apps-observed"],
  EVENT_BODIES.operation,
  EVENT_BODIES.log,
  EVENT_BODIES.pull,
  EVENT_BODIES["backup-progress"],
]);

/** An event pushed to subscribers: the reconciler's own, or one the API adds. */
export type ApiEvent = z.infer<typeof ApiEventSchema>;

export const StreamEventSchema = z.discriminatedUnion("type", [
  EVENT_SCHEMAS.app,
  EVENT_SCHEMAS["app-removed"],
  EVENT_SCHEMAS["app-view"],
  EVENT_SCHEMAS["apps-observed"],
  EVENT_SCHEMAS.operation,
  EVENT_SCHEMAS.log,
  EVENT_SCHEMAS.pull,
  EVENT_SCHEMAS["backup-progress"],
]);

/** An event as the stream sends it: with its place in the stream. */
export type StreamEvent = z.infer<typeof StreamEventSchema>;

/** Any message the server sends on /ws/v1. */
export const WsMessageSchema = z.discriminatedUnion("type", [
  EVENT_SCHEMAS.hello,
  EVENT_SCHEMAS.error,
  EVENT_SCHEMAS.app,
  EVENT_SCHEMAS["app-removed"],
  EVENT_SCHEMAS["app-view"],
  EVENT_SCHEMAS["apps-observed"],
  EVENT_SCHEMAS.operation,
  EVENT_SCHEMAS.log,
  EVENT_SCHEMAS.pull,
  EVENT_SCHEMAS["backup-progress"],
]);
export type WsMessage = z.infer<typeof WsMessageSchema>;
