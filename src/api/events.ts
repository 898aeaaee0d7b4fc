/**
 * The messages of the live event stream (`GET /ws/v1`), as schemas: `docs/api.md` documents them
 * from here and the tests check every message a client receives against them. The reconciler's
 * events are sent as they are; the API adds the events of an operation it records (so a client
 * sees the new phase and the pending operation at once, even before Podman answers).
 */
import { z } from "zod";
import type { ReconcilerEvent } from "../orchestrator/reconciler.ts";

const PHASES = [
  "installing",
  "starting",
  "updating",
  "rolling-back",
  "running",
  "restarting",
  "stopping",
  "stopped",
  "removing",
  "removed",
  "waiting",
  "retrying",
  "failed",
] as const;

export const EVENT_SCHEMAS = {
  hello: z
    .object({ type: z.literal("hello") })
    .meta({ description: "Sent once the connection is accepted; events follow." }),
  error: z.object({ type: z.literal("error"), message: z.string() }).meta({
    description:
      "Sent before the server closes a connection it refuses (close code 4401: not logged in, logged out, expired or cross-origin).",
  }),
  app: z
    .object({
      type: z.literal("app"),
      appId: z.string(),
      phase: z.enum(PHASES),
      reason: z.string().optional().meta({ description: "Why: what it waits for, the last error." }),
    })
    .meta({ description: "An app's phase (or its reason) changed." }),
  "app-removed": z
    .object({ type: z.literal("app-removed"), appId: z.string() })
    .meta({ description: "An uninstalled app is gone from the store." }),
  operation: z
    .object({
      type: z.literal("operation"),
      operationId: z.string(),
      appId: z.string(),
      kind: z.string().optional().meta({ description: "Sent with `pending` (the operation was recorded)." }),
      state: z.enum(["pending", "running", "succeeded", "failed"]),
      error: z.string().optional(),
    })
    .meta({ description: "An operation was recorded, started, or finished." }),
  log: z
    .object({
      type: z.literal("log"),
      appId: z.string(),
      line: z.object({
        operationId: z.string(),
        seq: z.number(),
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
    })
    .meta({
      description:
        "Progress of one layer of an image an install or update pulls (every update Podman reports; the operation log has a line per quarter).",
    }),
} as const;

export const ApiEventSchema = z.discriminatedUnion("type", [
  EVENT_SCHEMAS.app,
  EVENT_SCHEMAS["app-removed"],
  EVENT_SCHEMAS.operation,
  EVENT_SCHEMAS.log,
  EVENT_SCHEMAS.pull,
]);

/** An event pushed to subscribers: the reconciler's own, or one the API adds. */
export type ApiEvent = z.infer<typeof ApiEventSchema>;

/** Any message the server sends on /ws/v1. */
export const WsMessageSchema = z.discriminatedUnion("type", [
  EVENT_SCHEMAS.hello,
  EVENT_SCHEMAS.error,
  EVENT_SCHEMAS.app,
  EVENT_SCHEMAS["app-removed"],
  EVENT_SCHEMAS.operation,
  EVENT_SCHEMAS.log,
  EVENT_SCHEMAS.pull,
]);

// The reconciler's events must stay within the documented shapes.
const _reconcilerEventsAreApiEvents = (event: ReconcilerEvent): ApiEvent => event;
void _reconcilerEventsAreApiEvents;
