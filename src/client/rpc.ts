/**
 * The typed client of the daemon's JSON-RPC API (`POST /rpc/v1`). Method names, params and results
 * are inferred from the contract's zod schemas (src/api/contract.ts), as tRPC does: a method or a
 * field that does not exist is a compile error, and no response shape is written twice.
 *
 * Transport-agnostic: it needs only a `fetch` (browsers', Node's). Two ways to authenticate:
 * - `token`: the CLI's bearer token (read from the daemon's 0600 file), sent with every call;
 * - `browser`: the session cookie, which the browser sends by itself, and the session's CSRF token,
 *   which this client keeps from the answers that carry one (auth.setup, auth.login,
 *   auth.changePassword, auth.session) and sends with every call: its user never sees it.
 *
 * Browser-safe: imports only types from the contract, and the error codes.
 */
import type { MethodName, Params, Result } from "../api/contract.ts";
import { RpcCallError, TransportError } from "./errors.ts";

export type ClientAuth =
  | {
      kind: "token";
      /** The CLI token (read again on each call: the daemon writes a new one at every start). */
      token: () => string | Promise<string>;
      /** Called once when the token is refused; answers whether a new one was read (then the call is sent again). */
      refresh?: () => boolean | Promise<boolean>;
    }
  | { kind: "browser" };

export type ClientOptions = {
  /** The daemon's base URL (`http://127.0.0.1:7780`); empty for the page's own origin. */
  baseUrl?: string;
  auth: ClientAuth;
  fetch?: typeof fetch;
  /** A call without an answer after this long fails with a TransportError (default 60 s). */
  timeoutMs?: number;
  /** Told of every refusal for want of a session (the browser's cue to show the login page). */
  onUnauthenticated?: (error: RpcCallError) => void;
};

/** The params argument: optional when the method takes none (or only fields with defaults). */
export type ParamsArg<M extends MethodName> =
  Record<never, never> extends Params<M> ? [params?: Params<M>] : [params: Params<M>];

/** Methods whose result is a new session: the client keeps its CSRF token. */
const SESSION_RESULTS: ReadonlySet<MethodName> = new Set([
  "auth.setup",
  "auth.login",
  "auth.changePassword",
  "auth.session",
]);
/** Methods after which the session is gone. */
const SESSION_ENDS: ReadonlySet<MethodName> = new Set(["auth.logout", "auth.logoutAll"]);

let nextId = 1;

export class ApiClient {
  readonly baseUrl: string;
  readonly #auth: ClientAuth;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #onUnauthenticated: ClientOptions["onUnauthenticated"];
  #csrfToken: string | undefined;

  constructor(options: ClientOptions) {
    this.baseUrl = (options.baseUrl ?? "").replace(/\/+$/, "");
    this.#auth = options.auth;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#onUnauthenticated = options.onUnauthenticated;
  }

  /** Whether this (browser) client holds a session's CSRF token. */
  get hasSession(): boolean {
    return this.#csrfToken !== undefined;
  }

  /** Forgets the session's CSRF token (the session ended). */
  forgetSession(): void {
    this.#csrfToken = undefined;
  }

  /** Calls `method`; resolves with its result, or rejects with an RpcCallError or a TransportError. */
  async call<M extends MethodName>(method: M, ...[params]: ParamsArg<M>): Promise<Result<M>> {
    try {
      return await this.#send(method, params);
    } catch (error) {
      if (!(error instanceof RpcCallError) || !error.is("unauthenticated")) throw error;
      if (this.#auth.kind === "token" && this.#auth.refresh && (await this.#auth.refresh()))
        return this.#send(method, params);
      if (method !== "auth.login" && method !== "auth.changePassword") {
        this.#csrfToken = undefined;
        this.#onUnauthenticated?.(error);
      }
      throw error;
    }
  }

  async #headers(): Promise<Record<string, string>> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.#auth.kind === "token") headers.authorization = `Bearer ${await this.#auth.token()}`;
    else if (this.#csrfToken) headers["x-csrf-token"] = this.#csrfToken;
    return headers;
  }

  async #send<M extends MethodName>(method: M, params: Params<M> | undefined): Promise<Result<M>> {
    const id = nextId++;
    let response: Response;
    try {
      response = await this.#fetch(`${this.baseUrl}/rpc/v1`, {
        method: "POST",
        headers: await this.#headers(),
        body: JSON.stringify({ jsonrpc: "2.0", id, method, params: params ?? {} }),
        credentials: "same-origin",
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const timedOut = (error as Error)?.name === "TimeoutError";
      throw new TransportError(
        method,
        timedOut
          ? `the daemon did not answer ${method} within ${Math.round(this.#timeoutMs / 1000)} s`
          : `cannot reach the daemon${this.baseUrl ? ` at ${this.baseUrl}` : ""}: ${(error as Error)?.message ?? error}`,
        { cause: error },
      );
    }
    let body: { result?: unknown; error?: { code: number; message: string; data?: unknown } };
    try {
      body = (await response.json()) as typeof body;
    } catch (error) {
      throw new TransportError(
        method,
        `the answer to ${method} is not the daemon's (HTTP ${response.status})`,
        {
          status: response.status,
          cause: error,
        },
      );
    }
    if (body?.error) throw new RpcCallError(method, body.error);
    if (!body || !("result" in body))
      throw new TransportError(method, `the answer to ${method} has no result (HTTP ${response.status})`, {
        status: response.status,
      });
    if (SESSION_RESULTS.has(method)) this.#csrfToken = (body.result as { csrfToken: string }).csrfToken;
    if (SESSION_ENDS.has(method)) this.#csrfToken = undefined;
    return body.result as Result<M>;
  }
}
