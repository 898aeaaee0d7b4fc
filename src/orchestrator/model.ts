/**
 * The orchestrator's vocabulary. Desired state is what the operator asked for; phase is what the
 * operator sees, derived from desired state, observation and the work in flight (StartOS keeps the
 * two apart the same way); operations are the journal of what was asked.
 */
/** What the operator wants an app to be. `absent` with `purge` also deletes its data. */
export const DESIRED_STATES = ["running", "stopped", "absent"] as const;
export type DesiredState = (typeof DESIRED_STATES)[number];

/**
 * What the operator sees. In-between phases always resolve: to the goal, to `failed`, or by retry.
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
  "removed",
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
] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];
export const OPERATION_STATES = ["pending", "running", "succeeded", "failed"] as const;
export type OperationState = (typeof OPERATION_STATES)[number];

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
  backend: string;
  specHash: string | undefined;
  observedAt: number;
};
