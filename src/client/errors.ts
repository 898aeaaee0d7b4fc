/**
 * What a call to the daemon can end with besides its result: the daemon's refusal, with its own
 * words (`message`), its stable code and the details it sent (`data`), or no answer at all.
 * Browser-safe.
 */
import { RPC_CODES } from "../api/rpc/errors.ts";

export type RpcCodeName = keyof typeof RPC_CODES;

const NAMES = new Map<number, RpcCodeName>(
  Object.entries(RPC_CODES).map(([name, code]) => [code, name as RpcCodeName]),
);

/** The daemon answered with a JSON-RPC error. `message` is the daemon's, as it worded it. */
export class RpcCallError extends Error {
  readonly method: string;
  readonly code: number;
  /** The code's stable name (docs/api.md#errors), when the code is one of the API's. */
  readonly codeName: RpcCodeName | undefined;
  readonly data: unknown;
  /** What to do about it, when the daemon said (`data.hint`, or a catalog error's `fix`). */
  readonly hint: string | undefined;
  constructor(method: string, error: { code: number; message: string; data?: unknown }) {
    super(error.message);
    this.name = "RpcCallError";
    this.method = method;
    this.code = error.code;
    this.codeName = NAMES.get(error.code);
    this.data = error.data;
    const data = (error.data ?? {}) as { hint?: unknown; fix?: unknown };
    this.hint =
      typeof data.hint === "string" ? data.hint : typeof data.fix === "string" ? data.fix : undefined;
  }

  /** Whether the daemon refused it for this reason. */
  is(name: RpcCodeName): boolean {
    return this.codeName === name;
  }
}

/** Nothing (or something that is not the daemon) answered: the network, a proxy, a daemon stopping. */
export class TransportError extends Error {
  readonly method: string;
  /** The HTTP status, when an answer came that was not the daemon's JSON-RPC. */
  readonly status: number | undefined;
  constructor(method: string, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "TransportError";
    this.method = method;
    this.status = options.status;
  }
}

export const isRpcError = (error: unknown, name?: RpcCodeName): error is RpcCallError =>
  error instanceof RpcCallError && (name === undefined || error.is(name));
