/**
 * `archy install|start|stop|restart|reinstall|uninstall|update|retry APP`: asks the daemon for the operation,
 * then shows its progress live (the operation's log lines and the app's phase changes, pushed over
 * /ws/v1, or polled with operation.get when the WebSocket is not available) until it has finished,
 * and ends with the outcome and the app's address.
 */
import type { Params } from "../../api/contract.ts";
import type { EventStream } from "../../client/events.ts";
import { FollowTimeout, followOperation, type OperationLine } from "../../client/operations.ts";
import { type ApproveChoice, approvalsFor, parseApprove } from "../approvals.ts";
import { UsageError } from "../args.ts";
import {
  type Accepted,
  type AppView,
  CliError,
  CODES,
  type DaemonClient,
  DaemonUnreachable,
  EXIT,
  type OperationView,
  type PermissionView,
  RpcFailure,
} from "../client.ts";
import {
  CONNECTION_USAGE,
  clientFor,
  duration,
  EXIT_CODES_USAGE,
  oneApp,
  operator,
  parseOperator,
} from "../operator.ts";

export const LIFECYCLE_KINDS = [
  "install",
  "start",
  "stop",
  "restart",
  "reinstall",
  "uninstall",
  "update",
  "retry",
] as const;
export type LifecycleKind = (typeof LIFECYCLE_KINDS)[number];

const SUMMARY: Record<LifecycleKind, string> = {
  install:
    "Installs APP from the daemon's sources (`archy available` lists them) and starts it. The\npermissions it asks for (a host directory, a device, a low port, a capability) are listed\nand need your approval: asked on a terminal, or given with --approve.",
  start: "Starts APP; it stays running across daemon restarts and reboots.",
  stop: "Stops APP; it stays stopped across daemon restarts and reboots until started.",
  restart: "Restarts APP's containers.",
  reinstall:
    "Recreates APP's containers from its installed manifest (new containers, same version); its data,\nsecrets and credentials are kept. For containers that were changed or damaged by hand.",
  uninstall:
    "Removes APP's containers. Its data and generated secrets are kept (installing it again finds\nthem) unless --purge is given.",
  update:
    "Moves APP to the version its source offers now; --force reapplies it or downgrades. New\npermissions need approval as for install; a version from another source or signer needs\n--switch-source (`archy available` says so).",
  retry: "Tries APP again from the first attempt after it failed.",
};

const APPROVE_OPTION =
  "  --approve all|NAME,NAME  approve the permissions it asks for without a question (all, or\n                      exactly those named); without it, archy asks on a terminal\n";

const EXTRA_OPTIONS: Record<LifecycleKind, string> = {
  install: `  --source SOURCE     where from, as \`archy available\` names it (nostr:npub1… for a marketplace app)
  --confirm-risk      install a marketplace app whose publisher is below your trust threshold
${APPROVE_OPTION}`,
  start: "",
  stop: "",
  restart: "",
  reinstall: "",
  uninstall:
    "  --purge             also delete its data and secrets (cannot be undone)\n  --force             with --purge: skip the app's pre_purge hook (its failure stops a purge)\n",
  update: `  --force             apply even when the offered version is not newer
  --switch-source     consent to a version from another source or signer
  --confirm-risk      update a marketplace app whose publisher is now reported or muted
${APPROVE_OPTION}`,
  retry: "",
};

function usage(kind: LifecycleKind): string {
  const extra =
    kind === "uninstall"
      ? " [--purge [--force]]"
      : kind === "update"
        ? " [--force] [--switch-source] [--confirm-risk] [--approve all|NAME,…]"
        : kind === "install"
          ? " [--source SOURCE] [--confirm-risk] [--approve all|NAME,…]"
          : "";
  return `Usage: archy ${kind} APP${extra} [--no-wait] [--timeout SECONDS] [--url URL] [--token-file FILE]

${SUMMARY[kind]}
Shows the operation's progress as it happens and waits until it has finished.

${EXTRA_OPTIONS[kind]}${FOLLOW_USAGE}
${CONNECTION_USAGE}

${EXIT_CODES_USAGE}`;
}

/** How long a follower waits for a daemon that went away (restarting) before it gives up. */
const UNREACHABLE_GRACE_MS = 60_000;
/** Reads of the operation: a safety net beside the live events, and the whole mechanism without them. */
const POLL_WITH_EVENTS_MS = 2_000;
const POLL_WITHOUT_EVENTS_MS = 500;

const out = (line: string) => process.stdout.write(`${line}\n`);

/** An operation's log line as the follower shows it: indented, its level said unless it is info. */
const printLine = (line: OperationLine) =>
  out(
    `  ${line.level === "info" ? "" : `${line.level === "warn" ? "warning" : line.level}: `}${line.message}`,
  );

/**
 * Shows one operation of one app as it goes: its log lines once each, in order, and the app's phase
 * changes; the following itself is the client's (src/client/operations.ts). Listens to the live
 * events from before the request is sent (the first phase is not missed); without them, it polls
 * and reads the app's phase with each look at the operation. A daemon that goes away (restarting)
 * is waited for, up to a grace period.
 */
export class Follower {
  readonly #client: DaemonClient;
  readonly #appId: string;
  #stream: EventStream | undefined;
  #following = false;
  #lastStatus: string | undefined;
  #lastPhase: string | undefined;
  /** The app's view as the stream last told it (undefined: not told, or the stream had a gap since). */
  #lastView: AppView | undefined;
  /** The app's phase as said before the request was answered (shown once the operation is). */
  #pendingPhase: { phase: string; reason: string | null | undefined } | undefined;
  #unreachableSince: number | undefined;

  constructor(client: DaemonClient, appId: string) {
    this.#client = client;
    this.#appId = appId;
  }

  get live(): boolean {
    return this.#stream !== undefined;
  }

  /** Opens the live events before the request is sent, so that none is missed. */
  async connect(): Promise<void> {
    this.#stream = await this.#client.events().catch(() => undefined);
    this.#stream?.onEvent((event) => {
      if (event.type === "app-view" && event.appId === this.#appId) this.#lastView = event.app;
      if (event.type !== "app" || event.appId !== this.#appId) return;
      if (this.#following) this.#phase(event.phase, event.reason);
      else this.#pendingPhase = { phase: event.phase, reason: event.reason };
    });
    this.#stream?.onResync(() => {
      this.#lastView = undefined;
    });
  }

  close(): void {
    this.#stream?.close();
    this.#stream = undefined;
  }

  /**
   * The app as it is now, when the stream told it (the daemon sends an app's new view before the end
   * of the operation that made it): no need to read it again.
   */
  get lastView(): AppView | undefined {
    return this.#lastView;
  }

  /** The app's phase as the last event or look said (undefined before any). */
  get lastPhase(): string | undefined {
    return this.#lastPhase;
  }

  #phase(phase: string, reason: string | null | undefined): void {
    this.#lastPhase = phase;
    const status = reason ? `${phase} (${reason})` : phase;
    if (status === this.#lastStatus) return;
    this.#lastStatus = status;
    out(`  phase: ${status}`);
  }

  /** A read of the operation failed: whether to try again (the daemon away, within the grace period). */
  #unreachable(error: unknown): boolean {
    if (!(error instanceof DaemonUnreachable)) return false;
    const now = Date.now();
    if (this.#unreachableSince === undefined) {
      this.#unreachableSince = now;
      console.error(
        `archy: lost the daemon at ${this.#client.url}; waiting up to ${UNREACHABLE_GRACE_MS / 1000} s for it to come back`,
      );
      return true;
    }
    return now - this.#unreachableSince <= UNREACHABLE_GRACE_MS;
  }

  /** A read of the operation answered: the daemon is (back) there; without events, its phase is read too. */
  async #looked(): Promise<void> {
    if (!this.live) {
      const app = await this.#client.call("package.get", { id: this.#appId }).catch((error) => {
        if (error instanceof RpcFailure && error.code === CODES.notFound) return undefined;
        throw error;
      });
      if (app) this.#phase(app.phase, app.reason);
    }
    if (this.#unreachableSince !== undefined) {
      this.#unreachableSince = undefined;
      console.error("archy: the daemon is back");
      // Its stream may be waiting out a long backoff: connect now.
      if (this.#stream && this.#stream.status !== "open") this.#stream.reconnect();
    }
  }

  /** Waits until the operation has finished (each of its lines shown once); returns it. */
  async follow(operationId: string, timeoutMs: number | undefined): Promise<OperationView> {
    this.#following = true;
    if (this.#pendingPhase) this.#phase(this.#pendingPhase.phase, this.#pendingPhase.reason);
    try {
      return await followOperation(this.#client, this.#stream, operationId, {
        pollMs: this.live ? POLL_WITH_EVENTS_MS : POLL_WITHOUT_EVENTS_MS,
        // The stream was greeted before the request was sent (connect): its end is the end.
        endFromStream: this.live,
        timeoutMs,
        onLine: printLine,
        onRead: () => this.#looked(),
        retryRead: (error) => this.#unreachable(error),
      });
    } catch (error) {
      if (!(error instanceof FollowTimeout)) throw error;
      throw new CliError(`still ${error.state ?? "waiting"} after the --timeout; it goes on in the daemon`, {
        hint: `\`archy status ${this.#appId}\` shows how it is doing`,
      });
    }
  }
}

/** The operator's confirmation of a marketplace app's risk, sent only when given. */
const confirmRisk = (values: Record<string, unknown>) =>
  values["confirm-risk"] === true ? { confirmRisk: true } : {};

/** Sends one lifecycle request, with the operator's approvals when there are some. */
function send(
  client: DaemonClient,
  kind: LifecycleKind,
  id: string,
  values: Record<string, unknown>,
  approve?: Params<"package.install">["approve"],
): Promise<Accepted> {
  const approval = approve ? { approve } : {};
  switch (kind) {
    case "uninstall":
      return client.call("package.uninstall", {
        id,
        purge: values.purge === true,
        force: values.force === true,
      });
    case "update":
      return client.call("package.update", {
        id,
        force: values.force === true,
        switchSource: values["switch-source"] === true,
        ...confirmRisk(values),
        ...approval,
      });
    case "install":
      return client.call("package.install", {
        id,
        ...(values.source ? { source: values.source as string } : {}),
        ...confirmRisk(values),
        ...approval,
      });
    default:
      return client.call(`package.${kind}`, { id });
  }
}

/**
 * Sends the request; when the daemon answers that permissions need the operator's approval (an
 * install, an update that asks for more), lists them, gets the approval (`--approve`, or a
 * question on a terminal) and sends it again with exactly what was shown.
 */
async function request(
  client: DaemonClient,
  kind: LifecycleKind,
  id: string,
  values: Record<string, unknown>,
  approve: ApproveChoice | undefined,
): Promise<Accepted> {
  try {
    return await send(client, kind, id, values);
  } catch (error) {
    const approving = kind === "install" || kind === "update";
    if (!(error instanceof RpcFailure) || error.code !== CODES.approvalRequired || !approving) throw error;
    const needed = (error.data as { permissions?: PermissionView[] } | undefined)?.permissions ?? [];
    const retry = `archy ${kind} ${id}${kind === "update" && values["switch-source"] ? " --switch-source" : ""}`;
    const approvals = await approvalsFor(id, needed, approve, retry);
    return send(client, kind, id, values, approvals);
  }
}

/** A refusal to install an unknown app names the apps there are. */
async function explainUnknown(client: DaemonClient, error: RpcFailure): Promise<RpcFailure> {
  const available = await client.call("package.available").catch(() => undefined);
  if (!available) return error;
  const ids = available.map((a) => a.id).sort();
  const hint =
    ids.length === 0
      ? "this daemon offers no apps: start it with --apps-dir DIR"
      : `available: ${ids.slice(0, 12).join(", ")}${ids.length > 12 ? ", …" : ""} (\`archy available\` lists them)`;
  return new RpcFailure(error.method, error.code, error.message, error.data, hint);
}

/** What the outcome line says of the app. */
type AppOutcome = Pick<AppView, "phase" | "desired"> & { version?: string };

export function outcome(kind: string, id: string, app: AppOutcome | undefined): string {
  const state = app ? (app.phase === app.desired ? app.phase : `${app.phase} (desired: ${app.desired})`) : "";
  switch (kind) {
    case "install":
      return `${id} ${app?.version ?? ""} is installed and ${state}`.replace("  ", " ");
    case "restart":
      return `${id} restarted and is ${state}`;
    case "reinstall":
      return `${id} is reinstalled (new containers, data kept) and ${state}`;
    case "update":
      return `${id} is updated to ${app?.version ?? "?"} and ${state}`;
    case "uninstall":
      return `${id} is uninstalled; its data and secrets are kept (\`archy install ${id}\` finds them again, \`archy uninstall ${id} --purge\` deletes them)`;
    case "purge":
      return `${id} is uninstalled and its data and secrets are deleted`;
    case "approve":
      return `${id}'s permissions are approved and it is ${state}`;
    case "revoke":
      return `${id} is ${state}; it runs again only once approved (\`archy approve ${id}\`)`;
    case "backup":
    case "restore": {
      // The app stopped for it is started again once the operation is done: not yet seen at its end.
      const done = `${id} is ${kind === "backup" ? "backed up" : "restored"}`;
      if (!app) return done;
      if (app.phase === app.desired) return `${done} and ${app.phase}`;
      return `${done}; it is ${app.phase} now, on its way to ${app.desired} (\`archy status ${id}\` shows it)`;
    }
    default:
      return `${id} is ${state}`;
  }
}

/** The options of every command that follows an operation. */
export const FOLLOW_OPTIONS = { "no-wait": { type: "boolean" }, timeout: { type: "string" } } as const;

export const FOLLOW_USAGE = `  --no-wait           return once the daemon has accepted the request
  --timeout SECONDS   stop waiting after this long (the operation goes on in the daemon)`;

export function parseTimeout(value: string | undefined, usage: string): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new UsageError(`--timeout: "${value}" is not a number of seconds\n\n${usage}`);
  return seconds * 1000;
}

export async function run(kind: LifecycleKind, argv: string[]): Promise<number> {
  const USAGE = usage(kind);
  const { values, positionals } = parseOperator(
    argv,
    {
      ...FOLLOW_OPTIONS,
      ...(kind === "uninstall" ? { purge: { type: "boolean" }, force: { type: "boolean" } } : {}),
      ...(kind === "update"
        ? {
            force: { type: "boolean" },
            "switch-source": { type: "boolean" },
            "confirm-risk": { type: "boolean" },
          }
        : {}),
      ...(kind === "install" ? { source: { type: "string" }, "confirm-risk": { type: "boolean" } } : {}),
      ...(kind === "install" || kind === "update" ? { approve: { type: "string" } } : {}),
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const id = oneApp(positionals, USAGE);
  if (kind === "uninstall" && values.force === true && values.purge !== true)
    throw new UsageError(
      `--force only skips a purge's pre_purge hook: use it with --purge (archy uninstall ${id} --purge --force)\n\n${USAGE}`,
    );
  const timeoutMs = parseTimeout(values.timeout as string | undefined, USAGE);
  const approve = parseApprove(values.approve as string | undefined, USAGE);
  return operator(async () => {
    const client = clientFor(values);
    const wait = values["no-wait"] !== true;
    const follower = new Follower(client, id);
    if (wait) await follower.connect();
    let accepted: Accepted;
    try {
      accepted = await request(client, kind, id, values, approve);
    } catch (error) {
      follower.close();
      if (error instanceof RpcFailure && error.code === CODES.notFound && kind === "install")
        throw await explainUnknown(client, error);
      if (error instanceof RpcFailure && error.code === CODES.trustConfirmationRequired)
        throw new RpcFailure(
          error.method,
          error.code,
          error.message,
          error.data,
          `if you accept that risk: archy ${kind} ${id}${values.source ? ` --source ${values.source}` : ""} --confirm-risk`,
        );
      throw error;
    }
    // What the operator should know about the app (an interface reachable without the login), on stderr.
    for (const warning of accepted.warnings ?? []) process.stderr.write(`warning: ${id}: ${warning}\n`);
    return followAccepted(client, follower, id, accepted, { wait, timeoutMs });
  });
}

/**
 * Follows an accepted operation until it has finished (unless `wait` is off): its log lines and
 * phases as they come, then the outcome and the app's address. Exit code 0 when it succeeded.
 */
export async function followAccepted(
  client: DaemonClient,
  follower: Follower,
  id: string,
  accepted: Accepted,
  { wait, timeoutMs }: { wait: boolean; timeoutMs: number | undefined },
): Promise<number> {
  const what = accepted.kind;
  if (accepted.existing)
    out(`${id}: the same ${what} is already in progress (operation ${accepted.operationId}); following it`);
  else
    out(
      `${id}: ${what} accepted (operation ${accepted.operationId})${
        accepted.superseded?.length ? `; it supersedes ${accepted.superseded.join(", ")}` : ""
      }`,
    );
  const dependents = accepted.runningDependents ?? [];
  if (dependents.length > 0)
    console.error(
      `archy: warning: ${dependents.join(", ")} depend${dependents.length === 1 ? "s" : ""} on ${id} and keep${dependents.length === 1 ? "s" : ""} running without it (requests to it fail until \`archy start ${id}\`); ` +
        `they are not stopped with it, since you named only ${id}: to stop them too, ${dependents.map((d) => `archy stop ${d}`).join(" && ")}`,
    );
  if (!wait) {
    out(`not waiting: \`archy status ${id}\` shows how it goes`);
    return EXIT.ok;
  }
  if (!follower.live) console.error("archy: live events unavailable; polling the operation instead");
  const started = Date.now();
  const interrupt = () => {
    follower.close();
    console.error(`\narchy: stopped following; the ${what} goes on in the daemon (\`archy status ${id}\`)`);
    process.exit(130);
  };
  process.once("SIGINT", interrupt);
  let operation: OperationView;
  try {
    operation = await follower.follow(accepted.operationId, timeoutMs);
  } finally {
    process.off("SIGINT", interrupt);
    follower.close();
  }
  const took = duration(Date.now() - started);
  if (operation.state === "failed")
    throw new CliError(`the ${what} of ${id} failed after ${took}: ${operation.error ?? "no reason given"}`, {
      hint: `\`archy status ${id}\` shows its state, \`archy logs ${id}\` its containers' output; ${what === "purge" ? `\`archy uninstall ${id} --purge\`` : `\`archy retry ${id}\``} tries again`,
    });
  // The outcome line needs the app's version and address, except after a stop, whose phase the
  // events have said, and once the app is gone; the stream has told them, else they are read.
  if (what === "stop" && follower.lastPhase === "stopped") {
    out(`done in ${took}: ${outcome(what, id, { phase: "stopped", desired: "stopped" })}`);
    return EXIT.ok;
  }
  const app =
    what === "uninstall" || what === "purge"
      ? undefined
      : (follower.lastView ?? (await client.call("package.get", { id }).catch(() => undefined)));
  out(`done in ${took}: ${outcome(what, id, app)}`);
  const url = app?.interfaces.find((i) => i.url)?.url;
  if (url && app?.phase === "running") out(`open ${url}`);
  return EXIT.ok;
}
