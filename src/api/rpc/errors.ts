/**
 * JSON-RPC errors with stable codes. The standard range (-32700…-32600) is JSON-RPC's own; the
 * platform's codes are in -32000…-32099 and never change meaning, so clients can rely on them.
 */
export const RPC_CODES = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  /** No valid session (or CLI token). */
  unauthenticated: -32001,
  /** A state-changing call without the session's CSRF token, or from another origin. */
  csrfRejected: -32002,
  /** Too many failed logins: wait the number of seconds in `data.retryAfterSeconds`. */
  rateLimited: -32003,
  /** The operator password is already set (auth.setup) or not yet set (auth.login). */
  setupState: -32004,
  /** The app (or operation) is unknown: not installed, not in any source. */
  notFound: -32010,
  /** Another operation of the app is in flight (`data.operation`). */
  operationInProgress: -32011,
  /** Required dependencies are not installed (`data.missing`). */
  dependencyMissing: -32012,
  /** Other apps depend on this one (`data.dependents`). */
  hasDependents: -32013,
  /** The offered version is not newer than the installed one. */
  notNewer: -32014,
  /** The app is being uninstalled. */
  beingRemoved: -32015,
  /** The manifest found for the app is invalid (`data.issues`). */
  invalidManifest: -32016,
} as const;

export type RpcCode = (typeof RPC_CODES)[keyof typeof RPC_CODES];

export class RpcError extends Error {
  readonly code: RpcCode;
  readonly data: unknown;
  constructor(code: RpcCode, message: string, data?: unknown) {
    super(message);
    this.name = "RpcError";
    this.code = code;
    this.data = data;
  }
}
