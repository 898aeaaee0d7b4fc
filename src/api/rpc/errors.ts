/**
 * JSON-RPC errors with stable codes. The standard range (-32700…-32600) is JSON-RPC's own; the
 * platform's codes are in -32000…-32099 and never change meaning, so clients can rely on them.
 */
import { MAX_JSON_DEPTH } from "./body.ts";

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
  /**
   * Too many failed logins, or too many password checks at once (`data.busy`): wait the number of
   * seconds in `data.retryAfterSeconds`.
   */
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
  /** Podman does not answer (yet): the call needs it; try again shortly. */
  podmanUnavailable: -32017,
  /** The app would take a name another installed app has (`data.clashes`). */
  nameTaken: -32018,
  /** The manifest requests permissions the operator has not approved (`data.permissions`). */
  approvalRequired: -32019,
  /** An update from another source or signer, without `switchSource` (`data.installed`, `data.offered`). */
  sourceChange: -32020,
  /** A marketplace app whose publisher's trust is below the operator's threshold (`data.trust`): confirm the risk. */
  trustConfirmationRequired: -32030,
  /** A marketplace release that does not verify (signature, author, bundle hashes, manifest). */
  verificationFailed: -32031,
  /** The app id is installed from another source (`data.installed`): the offered app is another app. */
  otherSource: -32032,
  /** A backup target's repository cannot be opened: missing, unreachable, or not this key's. */
  backupTargetUnusable: -32040,
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

/** What each code means and what to do about it, for `docs/api.md` (every code must have one). */
export const RPC_CODE_MEANINGS: Record<keyof typeof RPC_CODES, string> = {
  parseError: "The body is not valid JSON.",
  invalidRequest: `Not a JSON-RPC 2.0 request: \`jsonrpc\` is not \`"2.0"\`, \`method\` is not a string, \`id\` is not a string, number or null; or an empty or too large batch, a batch without a session or the CLI token, a password method in a batch, a body over 1 MiB or nested deeper than ${MAX_JSON_DEPTH} levels.`,
  methodNotFound: "No method of that name.",
  invalidParams:
    "The params do not match the method's schema (`data.issues`: `[{field, problem}]`, one per problem; an unknown key is named as the field). Nothing was changed.",
  internalError: "The daemon failed; the message says how, the daemon's log has the details.",
  unauthenticated:
    "No valid session (or CLI token): log in with `auth.login`. Also the answer to a wrong password.",
  csrfRejected:
    "A state-changing call without the session's CSRF token in `X-CSRF-Token`, or from another origin (`Origin` does not match `Host`). Nothing was changed.",
  rateLimited:
    "Too many failed logins: wait `data.retryAfterSeconds` seconds; every attempt before is refused. Or, with `data.busy: true`, too many password checks at once: try again in `data.retryAfterSeconds` (1) seconds.",
  setupState: "`auth.setup` when the operator password is already set, or `auth.login` before it is.",
  notFound:
    "What the call names is unknown: an app (not installed, or not in any source), an operation, a container, or a backup target, peer, grant, relay, catalog source or registry login; the message says which and where to list them.",
  operationInProgress:
    "Another operation of the app is in flight (`data.operation`: `{id, kind}`): wait for it, then try again.",
  dependencyMissing:
    "Required dependencies are not installed (`data.missing`: their ids): install them first.",
  hasDependents: "Other apps depend on this one (`data.dependents`: their ids): uninstall them first.",
  notNewer:
    "The source's version is not newer than the installed one (`data.installed`, `data.offered`); `force` reapplies or downgrades.",
  beingRemoved: "The app is being uninstalled; install it again once that has finished.",
  invalidManifest: "The app's manifest is invalid (`data.issues`: file, line and the fix).",
  podmanUnavailable: "Podman does not answer yet (the daemon is connecting): try again in a moment.",
  nameTaken:
    "The app would take a name another installed app (or the platform) has: an explicit `container_name` or a legacy name to adopt (`data.clashes`: `[{app, resources: [{kind, name}]}]`, `app` null for the platform's own). Nothing was changed: give the container another name, or remove the other app first.",
  approvalRequired:
    "The app's manifest requests permissions the operator has not approved (`data.permissions`: each with `name`, `kind`, `content`, `description`, `reason`): show them to the operator and send their approval (`approve: [{name, content}]` with install or update, or `package.approve`). Nothing was changed.",
  sourceChange:
    "The update would switch the app to another source or signer (`data.installed`, `data.offered`: `{source, publisher}`; `data.change` in words): with the operator's consent, send `switchSource: true`. Nothing was changed.",
  trustConfirmationRequired:
    "The marketplace app's publisher is below the operator's trust threshold (`data.trust`: `{score, level, reasons}`, `data.publisher`); the message names the risk. With the operator's explicit confirmation, send `confirmRisk: true`. Nothing was changed.",
  verificationFailed:
    "The marketplace release does not verify: a bad signature or author, a bundle whose length, SHA-256 or BLAKE3 is not the signed one on every mirror, a bundle over the byte cap, or a manifest that is invalid or not the signed id and version. The message says which. Nothing was installed or changed.",
  otherSource:
    "An app with this id is installed from another source (`data.installed`: its source): the one offered is another app (another publisher). It never replaces or updates the installed one; uninstall that first to install this one. Nothing was changed.",
  backupTargetUnusable:
    "A backup target's repository cannot be opened: its directory is missing (a disk not mounted), its server is unreachable, or the key the node holds is not the repository's (the message says which). Nothing was changed and the app keeps running.",
};
