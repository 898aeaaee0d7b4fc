/**
 * The operator CLI's connection to the daemon: JSON-RPC 2.0 over `POST /rpc/v1` and live events over
 * `/ws/v1`, authenticated with the CLI token file the daemon writes (0600) in its data directory.
 *
 * Every failure is a `CliError` carrying one clear line, a hint and the exit code the CLI documents:
 * 1 the daemon refused or the operation failed, 2 bad usage, 3 the daemon cannot be reached.
 */
import { readFileSync, type Stats, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { MethodName, PublicMethodName, Result } from "../api/contract.ts";
import { RPC_CODES } from "../api/rpc/errors.ts";
import { EventStream, streamUrl } from "../client/events.ts";
import type { ParamsArg } from "../client/rpc.ts";
import { SERVICE_USER } from "../host/layout.ts";
import { UsageError } from "./args.ts";
import { NotHttp, postJson, RequestTimeout } from "./http1.ts";
import { openWebSocket } from "./websocket.ts";

export const DEFAULT_URL = "http://127.0.0.1:7780";
export const TOKEN_FILE_NAME = "cli-token";

/** The exit codes every operator command uses (docs/cli.md). */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

/** The daemon's JSON-RPC error codes: one table, the API's own (a copy here drifted silently). */
export const CODES = RPC_CODES;

/** A failure the CLI reports as one line plus a hint, with a documented exit code. */
export class CliError extends Error {
  readonly exitCode: number;
  readonly hint: string | undefined;
  constructor(message: string, options: { exitCode?: number; hint?: string } = {}) {
    super(message);
    this.name = "CliError";
    this.exitCode = options.exitCode ?? EXIT.failed;
    this.hint = options.hint;
  }
}

/** Nothing (or something that is not the daemon) answers at the URL. Exit code 3. */
export class DaemonUnreachable extends CliError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: EXIT.unreachable, hint });
    this.name = "DaemonUnreachable";
  }
}

/** The token file is missing, unreadable or readable by others (then it is never sent). */
export class TokenFileError extends CliError {
  readonly path: string;
  readonly reason: "missing" | "unreadable" | "loose" | "empty";
  constructor(path: string, reason: TokenFileError["reason"], message: string, hint: string) {
    super(message, { hint });
    this.name = "TokenFileError";
    this.path = path;
    this.reason = reason;
  }
}

/** The daemon answered with a JSON-RPC error. */
export class RpcFailure extends CliError {
  readonly method: string;
  readonly code: number;
  readonly data: unknown;
  constructor(method: string, code: number, message: string, data: unknown, hint?: string) {
    super(message, { hint });
    this.name = "RpcFailure";
    this.method = method;
    this.code = code;
    this.data = data;
  }
}

// ---- The API's shapes, as the CLI reads them: derived from the contract, never declared here ----

export type AppView = Result<"package.get">;
export type ContainerView = AppView["containers"][number];
export type PermissionStatus = AppView["permissions"][number];
export type AvailableApp = Result<"package.available">[number];
/** A permission a manifest requests (docs/manifest.md, "Permissions"). */
export type PermissionView = AvailableApp["permissions"][number];
export type Accepted = Result<"package.install">;
export type { OperationView } from "../client/operations.ts";
/** An operation as `operation.list` lists it (without its log). */
export type OperationSummary = Result<"operation.list">[number];
export type LogLine = Result<"package.logs">[number];
export type Credential = Result<"package.credentials">[number];
/** The methods that start an operation (their answer names it, to follow). */
export type OperationMethod = {
  [M in MethodName]: Result<M> extends Accepted ? M : never;
}[MethodName];

/** The params and options of a call: params may be left out when the method needs none. */
export type CallArgs<M extends MethodName> = [...ParamsArg<M>, options?: { timeoutMs?: number }];

// ---- Where the daemon is, and its token ----

/** The daemon's base URL from `--url`, then ARCHY_URL, then the default; bad values are usage errors. */
export function resolveUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const origin = flag !== undefined ? "--url" : env.ARCHY_URL ? "ARCHY_URL" : undefined;
  const value = flag ?? (env.ARCHY_URL || DEFAULT_URL);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${origin}: "${value}" is not a URL; use e.g. ${DEFAULT_URL}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new UsageError(`${origin}: "${value}" must start with http:// or https://, e.g. ${DEFAULT_URL}`);
  if (url.search || url.hash || url.username || url.password)
    throw new UsageError(
      `${origin}: "${value}" must be only scheme, host, port (and a path prefix), e.g. ${DEFAULT_URL}`,
    );
  return url.toString().replace(/\/+$/, "");
}

function homeOf(user: string): string | undefined {
  try {
    const line = readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .find((l) => l.startsWith(`${user}:`));
    return line?.split(":")[5] || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where to look for the CLI token when no file is named, in order: the data directory of
 * ARCHY_DATA_DIR, this user's default data directory and, for root, those of the service user
 * (which the daemon runs as when root starts it) and of a node configured for /var/lib/archipelago.
 */
export function tokenFileCandidates(
  env: NodeJS.ProcessEnv = process.env,
  options: { isRoot?: boolean; home?: string; serviceHome?: string } = {},
): string[] {
  const isRoot = options.isRoot ?? process.getuid?.() === 0;
  const home = options.home ?? homedir();
  const inDataDir = (dir: string) => join(resolve(dir), "state", TOKEN_FILE_NAME);
  const candidates: string[] = [];
  if (env.ARCHY_DATA_DIR) candidates.push(inDataDir(env.ARCHY_DATA_DIR));
  candidates.push(inDataDir(join(home, ".local", "share", "archipelago")));
  if (isRoot) {
    const serviceHome = options.serviceHome ?? homeOf(SERVICE_USER) ?? `/home/${SERVICE_USER}`;
    candidates.push(inDataDir(join(serviceHome, ".local", "share", "archipelago")));
    candidates.push(inDataDir("/var/lib/archipelago"));
  }
  return [...new Set(candidates)];
}

/**
 * Reads a CLI token file. A file that others may read is refused (it grants full control of the
 * daemon) and never sent, with the `chmod` that fixes it, as the daemon's own `readCliToken` does.
 * Read synchronously: a line of text, and `node:fs/promises` would load ~10 of Node's modules
 * (readline, file watchers) at every command's start (docs/architecture.md, "Starting fast").
 */
export async function readTokenFile(path: string): Promise<string> {
  let info: Stats;
  try {
    info = statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EACCES")
      throw new TokenFileError(
        path,
        "unreadable",
        `cannot read the CLI token file ${path}: permission denied`,
        `it belongs to the daemon's user: run archy as that user or as root`,
      );
    throw new TokenFileError(
      path,
      "missing",
      `no CLI token file at ${path}`,
      "the daemon writes it into <data-dir>/state/ when it starts: is `archy daemon` running with that data directory?",
    );
  }
  if (!info.isFile())
    throw new TokenFileError(
      path,
      "unreadable",
      `the CLI token file ${path} is not a file`,
      "point --token-file at <data-dir>/state/cli-token",
    );
  const mode = info.mode & 0o777;
  if ((mode & 0o077) !== 0)
    throw new TokenFileError(
      path,
      "loose",
      `refusing the CLI token file ${path}: other users can read it (mode ${mode.toString(8).padStart(4, "0")})`,
      `run \`chmod 600 ${path}\` (the token grants full control of the daemon)`,
    );
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new TokenFileError(
      path,
      "unreadable",
      `cannot read the CLI token file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      "run archy as the daemon's user or as root",
    );
  }
  const token = text.trim();
  if (token === "")
    throw new TokenFileError(
      path,
      "empty",
      `the CLI token file ${path} is empty`,
      "remove it and restart the daemon: it writes a new one",
    );
  return token;
}

export type ClientOptions = {
  /** `--url`; ARCHY_URL and the default apply when it is absent. */
  url?: string;
  /** `--token-file`; ARCHY_TOKEN_FILE and the usual places apply when it is absent. */
  tokenFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Per-call timeout (default 30 s). */
  timeoutMs?: number;
};

/** Why a request failed, in a few words (`connect ECONNREFUSED 127.0.0.1:7780`). */
function networkCause(error: unknown): string {
  let cause = error as { cause?: unknown; code?: string; message?: string } | undefined;
  for (let depth = 0; depth < 4 && cause?.cause; depth++) cause = cause.cause as typeof cause;
  return cause?.message ?? String(cause);
}

export class DaemonClient {
  readonly url: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #tokenFile: string | undefined;
  readonly #timeoutMs: number;
  #token: Promise<{ token: string; path: string }> | undefined;
  #nextId = 1;

  constructor(options: ClientOptions = {}) {
    this.#env = options.env ?? process.env;
    this.url = resolveUrl(options.url, this.#env);
    this.#tokenFile = options.tokenFile ?? (this.#env.ARCHY_TOKEN_FILE || undefined);
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** The CLI token, for the daemon's streamed routes (image archives) beside its RPC. */
  async token(): Promise<string> {
    return (await this.#credentials()).token;
  }

  /** The token file in use (after the first authenticated call). */
  async tokenPath(): Promise<string> {
    return (await this.#credentials()).path;
  }

  #credentials(): Promise<{ token: string; path: string }> {
    this.#token ??= this.#findToken();
    return this.#token;
  }

  async #findToken(): Promise<{ token: string; path: string }> {
    if (this.#tokenFile) return { token: await readTokenFile(this.#tokenFile), path: this.#tokenFile };
    const candidates = tokenFileCandidates(this.#env);
    let firstProblem: TokenFileError | undefined;
    for (const path of candidates) {
      try {
        return { token: await readTokenFile(path), path };
      } catch (error) {
        if (!(error instanceof TokenFileError)) throw error;
        // A loose or empty file is a problem to report, not a reason to try the next place.
        if (error.reason === "loose" || error.reason === "empty") throw error;
        if (error.reason === "unreadable" && !firstProblem) firstProblem = error;
      }
    }
    if (firstProblem) throw firstProblem;
    const isRoot = process.getuid?.() === 0;
    throw new TokenFileError(
      candidates[0] as string,
      "missing",
      `no CLI token found (looked in ${candidates.join(", ")})`,
      `start the daemon (\`archy daemon\`), or name its token with --token-file or ARCHY_TOKEN_FILE (<data-dir>/state/${TOKEN_FILE_NAME})${
        isRoot
          ? ""
          : `; a daemon started by root keeps it in the '${SERVICE_USER}' user's data directory: run archy as root`
      }`,
    );
  }

  /** Calls a method; resolves with its result or throws a CliError. */
  async call<M extends MethodName>(method: M, ...args: CallArgs<M>): Promise<Result<M>> {
    const [params = {}, options = {}] = args as unknown as [object?, { timeoutMs?: number }?];
    let credentials: { token: string; path: string };
    try {
      credentials = await this.#credentials();
    } catch (error) {
      // No token here may simply mean no daemon: say that first, it is what the operator must fix.
      if (error instanceof TokenFileError && (error.reason === "missing" || error.reason === "unreadable"))
        await this.#request("system.info", {}, undefined, Math.min(5_000, this.#timeoutMs));
      throw error;
    }
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    try {
      return (await this.#request(method, params, credentials.token, timeoutMs)) as Result<M>;
    } catch (error) {
      if (!(error instanceof RpcFailure && error.code === CODES.unauthenticated)) throw error;
      // The daemon writes a new token at every start and on request: read the file again, and
      // try once more with a token that changed (a refused call did nothing).
      this.#token = undefined;
      const fresh = await this.#credentials().catch(() => undefined);
      if (fresh && fresh.token !== credentials.token)
        return (await this.#request(method, params, fresh.token, timeoutMs)) as Result<M>;
      throw new RpcFailure(
        method,
        error.code,
        `the daemon at ${this.url} does not accept the CLI token in ${credentials.path}`,
        error.data,
        error.hint,
      );
    }
  }

  /** A public call that needs no token (e.g. system.info). */
  callPublic<M extends PublicMethodName>(method: M, ...[params]: ParamsArg<M>): Promise<Result<M>> {
    return this.#request(method, params ?? {}, undefined, this.#timeoutMs) as Promise<Result<M>>;
  }

  /** Sends one call; its params and result are typed by `call` and `callPublic`, the only callers. */
  async #request(
    method: MethodName,
    params: object,
    token: string | undefined,
    timeoutMs: number,
  ): Promise<unknown> {
    const endpoint = `${this.url}/rpc/v1`;
    let status: number;
    let text: string;
    try {
      ({ status, text } = await postJson(
        new URL(endpoint),
        JSON.stringify({ jsonrpc: "2.0", id: this.#nextId++, method, params }),
        token ? { authorization: `Bearer ${token}` } : {},
        timeoutMs,
      ));
    } catch (error) {
      if (error instanceof NotHttp)
        throw new DaemonUnreachable(
          `${this.url} did not answer as an HTTP server`,
          "check --url or ARCHY_URL: it should name the daemon's --listen address",
        );
      if (error instanceof RequestTimeout)
        throw new DaemonUnreachable(
          `the daemon at ${this.url} did not answer ${method} within ${Math.round(timeoutMs / 1000)} s`,
          "it may be overloaded or stuck: see the daemon's log",
        );
      throw new DaemonUnreachable(
        `cannot reach the daemon at ${this.url}: is \`archy daemon\` running?`,
        `${networkCause(error)}; start it with \`archy daemon\`, or name another daemon with --url or ARCHY_URL`,
      );
    }
    let body: { result?: unknown; error?: { code: number; message: string; data?: unknown } };
    try {
      body = JSON.parse(text);
    } catch {
      throw new DaemonUnreachable(
        `${this.url} answered HTTP ${status}, but not as an Archipelago daemon`,
        "check --url or ARCHY_URL: it should name the daemon's --listen address",
      );
    }
    if (body?.error) {
      const { code, message, data } = body.error;
      throw new RpcFailure(method, code, message, data, this.#hint(method, code, message, params, data));
    }
    if (!body || !("result" in body))
      throw new DaemonUnreachable(
        `${this.url} answered ${method} without a JSON-RPC result`,
        "check --url or ARCHY_URL: it should name the daemon's --listen address",
      );
    return body.result;
  }

  #hint(
    method: MethodName,
    code: number,
    message: string,
    params: object,
    data: unknown,
  ): string | undefined {
    const id = "id" in params && typeof params.id === "string" ? params.id : "APP";
    const d = (data ?? {}) as Record<string, unknown>;
    const list = (value: unknown) => (Array.isArray(value) ? value.map(String) : []);
    switch (code) {
      case CODES.unauthenticated:
        return `that is another daemon's token: name this daemon's <data-dir>/state/${TOKEN_FILE_NAME} with --token-file or ARCHY_TOKEN_FILE`;
      case CODES.notFound:
        // Only the app methods look an app up; the others' refusals (a backup target, a peer, a
        // relay, a source) name what is missing and where to list it themselves.
        if (!method.startsWith("package.")) return undefined;
        return method === "package.install" || method === "package.update"
          ? "`archy available` lists the apps that can be installed"
          : "`archy ls` lists the installed apps";
      case CODES.operationInProgress: {
        const operation = d.operation as { id?: string; kind?: string } | undefined;
        return (
          `in progress: ${operation?.kind ?? "an operation"} ${operation?.id ?? ""}`.trimEnd() +
          `; wait for it (\`archy status ${id}\`) and try again — stop and uninstall always go through`
        );
      }
      case CODES.dependencyMissing: {
        const missing = list(d.missing);
        return `missing: ${missing.join(", ")}; install first: ${missing.map((m) => `archy install ${m}`).join(" && ")}`;
      }
      case CODES.hasDependents: {
        const dependents = list(d.dependents);
        return `needed by: ${dependents.join(", ")}; uninstall first: ${dependents.map((m) => `archy uninstall ${m}`).join(" && ")}`;
      }
      case CODES.notNewer:
        return `installed ${String(d.installed ?? "?")}, offered ${String(d.offered ?? "?")}: \`archy update ${id} --force\` reapplies or downgrades`;
      case CODES.beingRemoved:
        return `wait until \`archy ls\` no longer lists ${id}`;
      case CODES.approvalRequired: {
        const names = (Array.isArray(d.permissions) ? (d.permissions as PermissionView[]) : []).map(
          (p) => p.name,
        );
        return method === "package.install" || method === "package.update"
          ? `approve them: \`archy ${method.slice("package.".length)} ${id} --approve ${names.join(",") || "all"}\` (on a terminal, archy asks)`
          : `approve them: \`archy approve ${id} ${names.join(" ")}\`; \`archy status ${id}\` shows what each grants`;
      }
      case CODES.sourceChange:
        return `if that is what you want: \`archy update ${id} --switch-source\`; \`archy available\` shows where each app comes from`;
      case CODES.invalidManifest:
      case CODES.invalidParams: {
        const issues = Array.isArray(d.issues) ? (d.issues as Array<Record<string, unknown>>) : [];
        // The message states the first issue already: the hint adds only what it does not say.
        const more = issues
          .slice(0, 5)
          .map((issue) =>
            issue.field !== undefined
              ? `${String(issue.field)}: ${String(issue.problem)}`
              : `${[issue.file, issue.line, issue.column].filter((p) => p !== undefined).join(":")}: ${
                  issue.path ? `${String(issue.path)}: ` : ""
                }${String(issue.message)}${issue.fix ? ` (fix: ${String(issue.fix)})` : ""}`,
          )
          .filter((line) => !message.includes(line));
        return more.length > 0 ? more.join("; ") : undefined;
      }
      case CODES.methodNotFound:
        return "this daemon is older or newer than this CLI: use the CLI of the same version";
      case CODES.podmanUnavailable:
        return "Podman is (re)starting under the daemon: try again in a moment";
      case CODES.internalError:
        return "see the daemon's log";
      default:
        return undefined;
    }
  }

  /**
   * Opens the daemon's live event stream (src/client/events.ts: it connects again when the
   * connection is lost and asks for what it missed). A refusal of the token reads the token file
   * again and connects with a new one (the daemon writes one at every start). Resolves once the
   * daemon has greeted it, or with undefined when the first try fails or no greeting comes within
   * `timeoutMs` (the caller then polls instead).
   */
  async events(timeoutMs = 5_000): Promise<EventStream | undefined> {
    let token = (await this.#credentials()).token;
    const stream = new EventStream({
      url: streamUrl(this.url),
      connect: (url) => openWebSocket(url, { authorization: `Bearer ${token}` }),
    });
    const renewToken = async () => {
      this.#token = undefined;
      const fresh = await this.#credentials().catch(() => undefined);
      if (!fresh || fresh.token === token) return;
      token = fresh.token;
      stream.reconnect();
    };
    return new Promise((resolveStream) => {
      let settled = false;
      let greeted = false;
      const settle = (open: boolean) => {
        if (settled) return;
        settled = true;
        greeted = open;
        clearTimeout(timer);
        if (!open) {
          stopWatching();
          stream.close();
        }
        resolveStream(open ? stream : undefined);
      };
      const timer = setTimeout(() => settle(false), timeoutMs);
      const stopWatching = stream.onStatus(({ status, attempt }) => {
        if (greeted) {
          if (status === "unauthenticated") void renewToken();
        } else if (status === "open") settle(true);
        else if (status === "unauthenticated" || (status === "connecting" && attempt > 0)) settle(false);
      });
      stream.start();
    });
  }
}

/** Prints a failure the operator way: one line, then the hint; returns the exit code. */
export function reportError(
  error: CliError,
  write: (line: string) => void = (l) => console.error(l),
): number {
  write(`archy: ${error.message}`);
  if (error.hint) write(`  hint: ${error.hint}`);
  return error.exitCode;
}
