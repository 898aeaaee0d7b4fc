/**
 * The orchestrator's vocabulary. Desired state is what the operator asked for; phase is what the
 * operator sees, derived from desired state, observation and the work in flight (StartOS keeps the
 * two apart the same way); operations are the journal of what was asked.
 */
import type { PullProgress } from "../runtime/runtime.ts";

/** What the operator wants an app to be. `absent` with `purge` also deletes its data. */
export const DESIRED_STATES = ["running", "stopped", "absent"] as const;
export type DesiredState = (typeof DESIRED_STATES)[number];

/**
 * What the operator sees. In-between phases always resolve: to the goal, to `failed`, or by retry.
 * An uninstall ends with no phase at all: the app is gone (`package.get` answers not-found) and the
 * stream says `app-removed`.
 * The one list of phases: the API's schemas, the events and the web UI take it from here (this
 * module imports nothing, so a browser bundle may import it too).
 */
export const PHASES = [
  "installing",
  "starting",
  "updating",
  "rolling-back",
  "running",
  "restarting",
  "stopping",
  "stopped",
  "removing",
  "waiting",
  "retrying",
  "failed",
] as const;
export type Phase = (typeof PHASES)[number];

export const OPERATION_KINDS = [
  "install",
  "start",
  "stop",
  "restart",
  "uninstall",
  "purge",
  "reinstall",
  "retry",
  "update",
  /** The operator approves permissions the app's manifest requests. */
  "approve",
  /** The operator withdraws a permission's approval: the app stops until it is approved again. */
  "revoke",
  /** A backup of the app's data, manifest and secrets (src/backup/): it holds the app meanwhile. */
  "backup",
  /** A restore of the app from a backup: it holds the app meanwhile. */
  "restore",
] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];
export const OPERATION_STATES = ["pending", "running", "succeeded", "failed"] as const;
export type OperationState = (typeof OPERATION_STATES)[number];

/**
 * Operations the backup service runs, not the reconciler. While one is in flight it holds its app:
 * every other request is refused (a backup and an update or uninstall never run at once), and for a
 * `stop` backup or a restore the reconciler keeps the app stopped until the operation ends (then it
 * starts it again, as the app's desired state never changed).
 */
export const HOLDING_KINDS: ReadonlySet<OperationKind> = new Set(["backup", "restore"]);

/**
 * Whether a pass that brought an app to `generation` ends this operation: every operation recorded
 * up to that generation, except a backup's or a restore's, which the backup service ends.
 */
export function endsWithGeneration(
  operation: Pick<Operation, "generation" | "kind">,
  generation: number,
): boolean {
  return operation.generation <= generation && !HOLDING_KINDS.has(operation.kind);
}

export type Operation = {
  id: string;
  appId: string;
  kind: OperationKind;
  /** The app generation this operation asked for; it succeeds once that generation has converged. */
  generation: number;
  state: OperationState;
  createdAt: number;
  finishedAt: number | undefined;
  error: string | undefined;
};

/** Says something about the work on an app: to the daemon's log and the operation in progress. */
export type Note = (level: "info" | "warn" | "error", message: string) => void;

export type OperationLogLine = {
  operationId: string;
  seq: number;
  at: number;
  level: "info" | "warn" | "error";
  message: string;
};

/** The last observation of one container, as stored (so lists never wait for Podman). */
export type StoredContainer = {
  appId: string;
  key: string;
  name: string;
  containerId: string;
  state: string;
  health: "healthy" | "unhealthy" | "starting" | "unknown";
  exitCode: number;
  startedAt: number | undefined;
  /** How many times it started again since it was created (restart-count.ts). */
  restarts: number;
  backend: string;
  specHash: string | undefined;
  observedAt: number;
};

/** What the reconciler tells the rest of the daemon (the API's events). */
export type ReconcilerEvent =
  | { type: "app"; appId: string; phase: Phase; reason: string | undefined }
  | { type: "app-removed"; appId: string }
  | {
      type: "operation";
      operationId: string;
      appId: string;
      state: "running" | "succeeded" | "failed";
      error?: string;
    }
  | { type: "log"; appId: string; line: OperationLogLine }
  | ({ type: "pull"; appId: string; operationId: string } & LayerProgress);

/** How fast a blob downloads, once that is known: bytes a second, and seconds until it is done. */
export type LayerRate = { bytesPerSecond?: number; secondsLeft?: number };

/** One blob of an image's pull, for the operation's events. */
export type LayerProgress = PullProgress & LayerRate & { image: string };

export type Logger = {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
};
