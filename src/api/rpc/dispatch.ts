/**
 * JSON-RPC 2.0 dispatch: requests (single or batch) are checked, their params parsed with the
 * method's schema (bad params are an `invalidParams` error naming the field, and change nothing),
 * the handler runs, and its result is checked against the result schema before it leaves (unless
 * the caller turns that off: result-checks.ts says when).
 */
import type { z } from "zod";
import type { MethodSpec } from "../contract.ts";
import { RPC_CODES, RpcError } from "./errors.ts";

export type RpcId = string | number | null;
export type RpcResponse =
  | { jsonrpc: "2.0"; id: RpcId; result: unknown }
  | { jsonrpc: "2.0"; id: RpcId; error: { code: number; message: string; data?: unknown } };

/**
 * A result already written as JSON: a large read whose views are kept as bytes between calls
 * (`package.list`), sent as it is instead of being serialised again at every call. `T` is what the
 * bytes hold, for the handler's type.
 */
export class SerializedResult<T = unknown> {
  declare readonly holds?: T;
  readonly json: Buffer;
  constructor(json: Buffer) {
    this.json = json;
  }
}

/** A method of the contract with the handler that answers it. */
export type MethodDefinition<Ctx> = MethodSpec & {
  name: string;
  handler: (params: unknown, ctx: Ctx) => Promise<unknown> | unknown;
  /**
   * The version of the answer the handler would give now (a read that is costly to send): a call
   * alone whose If-None-Match names it is answered 304 Not Modified, without a body; otherwise the
   * answer carries it as its ETag. Computed after the checks, in the same turn as the handler.
   */
  version?: (params: unknown, ctx: Ctx) => string;
};

type AnyContract = Record<string, MethodSpec>;

/** One handler per method of a contract, typed by its schemas: what it gets, what it may answer. */
export type Handlers<C extends AnyContract, Ctx> = {
  [M in keyof C]: (
    params: z.output<C[M]["params"]>,
    ctx: Ctx,
  ) =>
    | Promise<z.input<C[M]["result"]> | SerializedResult<z.input<C[M]["result"]>>>
    | z.input<C[M]["result"]>
    | SerializedResult<z.input<C[M]["result"]>>;
};

/**
 * Binds handlers to the contract's methods, in the contract's order. The contract stays the only
 * declaration of names and schemas: a handler for a method it lacks, or a method without a
 * handler, is a compile error.
 */
export function bindMethods<C extends AnyContract, Ctx>(
  contract: C,
  handlers: Handlers<C, Ctx>,
  versions: { [M in keyof C]?: (params: z.output<C[M]["params"]>, ctx: Ctx) => string } = {},
): MethodDefinition<Ctx>[] {
  return Object.entries(contract).map(([name, spec]) => ({
    ...spec,
    name,
    handler: handlers[name as keyof C] as MethodDefinition<Ctx>["handler"],
    version: versions[name as keyof C] as MethodDefinition<Ctx>["version"],
  }));
}

/**
 * What the transport knows about the caller; checked before the handler runs. `originOk` is false
 * for a browser request from another origin: no state-changing call is accepted from one, login
 * included.
 */
export type CallAuth = { authenticated: boolean; csrfValid: boolean; originOk: boolean };

/**
 * HTTP's conditional request, for a call sent alone: the If-None-Match the caller sent; dispatch
 * fills in the answer's ETag, and `notModified` when the caller's copy is current (no body then).
 */
export type Conditional = { ifNoneMatch: string | undefined; etag?: string; notModified?: boolean };

export type DispatchOptions<Ctx> = {
  methods: ReadonlyMap<string, MethodDefinition<Ctx>>;
  conditional?: Conditional;
  auth: CallAuth;
  ctx: Ctx;
  /** Whether each result is checked against its schema before it leaves (default: checked). */
  checkResults?: boolean;
  onError?: (method: string, error: unknown) => void;
  /** Told of every request answered (notifications included): for logs and metrics. */
  onCall?: (call: CallReport) => void;
};

/** What a request was and how it ended; never its params (they may carry a password). */
export type CallReport = {
  /** The method named, when the request was well formed. */
  method: string | undefined;
  outcome: number | "ok";
  message: string | undefined;
  durationMs: number;
};

export const MAX_BATCH = 50;

function failure(id: RpcId, code: number, message: string, data?: unknown): RpcResponse {
  return { jsonrpc: "2.0", id, error: data === undefined ? { code, message } : { code, message, data } };
}

/** The field each issue is about; an unknown key is named itself (zod names the object that has it). */
function describeIssues(issues: z.core.$ZodIssue[]): { message: string; data: unknown } {
  const details = issues.flatMap((issue) =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({
          field: [...issue.path, key].join("."),
          problem: "unknown field: remove it (see the method's params in docs/api.md)",
        }))
      : [{ field: issue.path.join(".") || "(params)", problem: issue.message }],
  );
  const first = details[0];
  return {
    message: `invalid params: ${first ? `${first.field}: ${first.problem}` : "see data"}`,
    data: { issues: details },
  };
}

/** Answers one request (notifications too: the caller drops their response). */
async function answer<Ctx>(
  request: unknown,
  options: DispatchOptions<Ctx>,
  inBatch: boolean,
): Promise<{ response: RpcResponse; method?: string; notification: boolean }> {
  if (typeof request !== "object" || request === null || Array.isArray(request))
    return {
      response: failure(
        null,
        RPC_CODES.invalidRequest,
        "invalid request: expected a JSON-RPC 2.0 request object",
      ),
      notification: false,
    };
  const { jsonrpc, method, params, id } = request as Record<string, unknown>;
  const isNotification = !("id" in request);
  const replyId: RpcId = typeof id === "string" || typeof id === "number" || id === null ? id : null;
  if (jsonrpc !== "2.0" || typeof method !== "string" || (!isNotification && replyId !== id))
    return {
      response: failure(
        replyId,
        RPC_CODES.invalidRequest,
        'invalid request: needs "jsonrpc": "2.0", a string "method" and a string or number "id"',
      ),
      notification: false,
    };
  const respond = (response: RpcResponse) => ({ response, method, notification: isNotification });
  const definition = options.methods.get(method);
  if (!definition) return respond(failure(replyId, RPC_CODES.methodNotFound, `method not found: ${method}`));
  if (inBatch && definition.alone)
    return respond(
      failure(replyId, RPC_CODES.invalidRequest, `invalid request: send ${method} alone, not in a batch`),
    );
  if (definition.access === "session" && !options.auth.authenticated)
    return respond(
      failure(
        replyId,
        RPC_CODES.unauthenticated,
        "not logged in: call auth.login first (or use the CLI token)",
      ),
    );
  if (definition.mutates && definition.access === "session" && !options.auth.csrfValid)
    return respond(
      failure(
        replyId,
        RPC_CODES.csrfRejected,
        "missing or wrong CSRF token: send the token from auth.login in the X-CSRF-Token header",
      ),
    );
  if (definition.mutates && !options.auth.originOk)
    return respond(
      failure(
        replyId,
        RPC_CODES.csrfRejected,
        "cross-origin request refused: state-changing calls must come from the daemon's own origin",
      ),
    );
  const parsed = definition.params.safeParse(params ?? {});
  if (!parsed.success) {
    const { message, data } = describeIssues(parsed.error.issues);
    return respond(failure(replyId, RPC_CODES.invalidParams, message, data));
  }
  try {
    const conditional = inBatch || isNotification ? undefined : options.conditional;
    if (conditional && definition.version) {
      const etag = `W/"${definition.version(parsed.data, options.ctx)}"`;
      conditional.etag = etag;
      const tags = conditional.ifNoneMatch?.split(",").map((tag) => tag.trim()) ?? [];
      if (tags.includes(etag) || tags.includes("*")) {
        conditional.notModified = true;
        return respond({ jsonrpc: "2.0", id: replyId, result: null });
      }
    }
    const result = await definition.handler(parsed.data, options.ctx);
    if (options.checkResults === false) return respond({ jsonrpc: "2.0", id: replyId, result });
    const serialized = result instanceof SerializedResult;
    const checked = definition.result.safeParse(
      serialized ? JSON.parse(result.json.toString("utf8")) : result,
    );
    if (!checked.success) {
      options.onError?.(
        method,
        new Error(
          `result of ${method} does not match its schema: ${JSON.stringify(checked.error.issues).slice(0, 500)}`,
        ),
      );
      return respond(
        failure(replyId, RPC_CODES.internalError, "internal error: the result did not match its schema"),
      );
    }
    return respond({ jsonrpc: "2.0", id: replyId, result: serialized ? result : checked.data });
  } catch (error) {
    if (error instanceof RpcError) return respond(failure(replyId, error.code, error.message, error.data));
    options.onError?.(method, error);
    return respond(
      failure(replyId, RPC_CODES.internalError, `internal error: ${(error as Error)?.message ?? "unknown"}`),
    );
  }
}

/** Answers one request and reports it to `onCall`; a notification's response is dropped. */
async function dispatchOne<Ctx>(
  request: unknown,
  options: DispatchOptions<Ctx>,
  inBatch: boolean,
): Promise<RpcResponse | undefined> {
  const started = performance.now();
  const { response, method, notification } = await answer(request, options, inBatch);
  options.onCall?.({
    method,
    outcome: "error" in response ? response.error.code : "ok",
    message: "error" in response ? response.error.message : undefined,
    durationMs: performance.now() - started,
  });
  return notification ? undefined : response;
}

/**
 * Dispatches a parsed body: one request, or a batch (answered in order, notifications omitted). A
 * caller without a session or the CLI token sends no batch at all: the only methods it may call
 * are `system.info` and the password methods, which are never batched (`alone`), so a batch could
 * only multiply its refusals and their log lines.
 */
export async function dispatch<Ctx>(
  body: unknown,
  options: DispatchOptions<Ctx>,
): Promise<RpcResponse | RpcResponse[] | undefined> {
  if (Array.isArray(body)) {
    if (!options.auth.authenticated)
      return failure(
        null,
        RPC_CODES.invalidRequest,
        "invalid request: batches need a session or the CLI token: send each request alone, or log in first",
      );
    if (body.length === 0) return failure(null, RPC_CODES.invalidRequest, "invalid request: empty batch");
    if (body.length > MAX_BATCH)
      return failure(
        null,
        RPC_CODES.invalidRequest,
        `invalid request: a batch holds at most ${MAX_BATCH} requests`,
      );
    const responses: RpcResponse[] = [];
    for (const request of body) {
      const response = await dispatchOne(request, options, true);
      if (response) responses.push(response);
    }
    return responses.length > 0 ? responses : undefined;
  }
  return dispatchOne(body, options, false);
}

/**
 * The response's body: as it is (the transport serialises it) unless a result in it is already
 * JSON, when the whole body is written here as bytes around it.
 */
export function responseBody(response: RpcResponse | RpcResponse[]): RpcResponse | RpcResponse[] | Buffer {
  const responses = Array.isArray(response) ? response : [response];
  if (!responses.some((r) => "result" in r && r.result instanceof SerializedResult)) return response;
  const parts = responses.map((r) =>
    "result" in r && r.result instanceof SerializedResult
      ? Buffer.concat([
          Buffer.from(`{"jsonrpc":"2.0","id":${JSON.stringify(r.id)},"result":`),
          r.result.json,
          CLOSE,
        ])
      : Buffer.from(JSON.stringify(r)),
  );
  if (!Array.isArray(response)) return parts[0] as Buffer;
  return Buffer.concat([
    OPEN_LIST,
    ...parts.flatMap((part, i) => (i === 0 ? [part] : [COMMA, part])),
    CLOSE_LIST,
  ]);
}

const CLOSE = Buffer.from("}");
const COMMA = Buffer.from(",");
const OPEN_LIST = Buffer.from("[");
const CLOSE_LIST = Buffer.from("]");
