/** Typed failures of Podman calls, so that callers decide on kinds, never on message text. */

export type PodmanErrorKind =
  /** The container, image, network, volume or secret does not exist. */
  | "not-found"
  /** A name is taken, or the object is in a state that refuses the operation. */
  | "conflict"
  /** Podman did not answer within the call's time limit. */
  | "timeout"
  /** No Podman service answers on the socket (not started, restarting, crashed). */
  | "unavailable"
  /** Podman refused the request as invalid; its own message says why. */
  | "bad-request"
  /** Podman failed internally. */
  | "server";

export class PodmanError extends Error {
  readonly kind: PodmanErrorKind;
  readonly operation: string;
  readonly status: number | undefined;

  constructor(
    kind: PodmanErrorKind,
    operation: string,
    message: string,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(`${operation}: ${message}`, { cause: options.cause });
    this.name = "PodmanError";
    this.kind = kind;
    this.operation = operation;
    this.status = options.status;
  }
}

export function isPodmanError(error: unknown, kind?: PodmanErrorKind): error is PodmanError {
  return error instanceof PodmanError && (kind === undefined || error.kind === kind);
}

/** The error kind an HTTP status of the libpod API stands for. */
export function kindOfStatus(status: number): PodmanErrorKind {
  if (status === 404) return "not-found";
  if (status === 409) return "conflict";
  if (status === 400 || status === 422) return "bad-request";
  return "server";
}
