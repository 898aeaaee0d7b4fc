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

/**
 * Podman 4.3 answers some conflicts with 500 instead of 409: a container name in use (on create), a
 * secret name in use, an operation refused in the container's current state. Its messages (from
 * libpod's defined errors and containers/storage) tell them apart from internal failures.
 */
const CONFLICT_MESSAGES =
  /container state improper|name is already in use|secret name in use|already exists/i;

/** The error kind an HTTP status of the libpod API (and, for a 500, Podman's message) stands for. */
export function kindOfStatus(status: number, message = ""): PodmanErrorKind {
  if (status === 404) return "not-found";
  if (status === 409) return "conflict";
  if (status === 400 || status === 422) return "bad-request";
  if (status === 500 && CONFLICT_MESSAGES.test(message)) return "conflict";
  return "server";
}
