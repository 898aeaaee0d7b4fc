/**
 * HTTP to the libpod REST API over a unix socket. Every call has a time limit (streams excepted,
 * which only bound the wait for headers); failures become `PodmanError`s of a known kind; every call
 * is reported to an observer for metrics and call counting.
 */
import type { Readable } from "node:stream";
import { Pool, errors as undiciErrors } from "undici";
import { kindOfStatus, PodmanError } from "./errors.ts";

/** The API version in request paths: the oldest libpod API the platform supports (Podman 4.0). */
export const API_VERSION = "v4.0.0";
export const DEFAULT_TIMEOUT_MS = 30_000;

export type CallObserver = (call: {
  operation: string;
  durationMs: number;
  outcome: "ok" | PodmanError["kind"];
}) => void;

export type Query = Record<string, string | number | boolean | undefined>;

export type RequestOptions = {
  method: "GET" | "POST" | "DELETE" | "PUT";
  path: string;
  query?: Query;
  /** A JSON-serialisable body, or raw bytes (sent as application/octet-stream). */
  body?: unknown;
  timeoutMs?: number;
  /** Statuses that are not errors; 2xx by default. 304 (already started/stopped) is often one. */
  accept?: number[];
  /** The name of the operation in errors and metrics, e.g. "container.stop". */
  operation: string;
  /** Return the body as raw bytes (framed exec output) instead of parsed JSON or text. */
  binary?: boolean;
  /**
   * A call of Podman's Docker-compatible API (same socket, same service), for what its libpod
   * twin does not give: byte progress of image pulls (images.ts).
   */
  compat?: boolean;
  /** Request headers (registry credentials: never logged, never in errors). */
  headers?: Record<string, string>;
};

export type Response<T> = { status: number; body: T };

export class LibpodTransport {
  readonly socketPath: string;
  readonly defaultTimeoutMs: number;
  /** A pool, not one connection: long-lived streams (events, followed logs) must not block calls. */
  #client: Pool;
  #observers: CallObserver[] = [];

  constructor(socketPath: string, options: { timeoutMs?: number } = {}) {
    this.socketPath = socketPath;
    this.defaultTimeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#client = new Pool("http://podman", { socketPath, connections: 32, pipelining: 1 });
  }

  observe(observer: CallObserver): () => void {
    this.#observers.push(observer);
    return () => {
      this.#observers = this.#observers.filter((o) => o !== observer);
    };
  }

  async close(): Promise<void> {
    await this.#client.close().catch(() => this.#client.destroy());
  }

  /** A call whose whole response (headers and body) must arrive within the time limit. */
  async request<T = unknown>(options: RequestOptions): Promise<Response<T>> {
    const started = performance.now();
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const response = await untilAborted(
        this.#client.request({
          method: options.method,
          path: buildPath(options.path, options.query),
          ...encodeBody(options.body),
          signal,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        }),
        signal,
      );
      const bytes = Buffer.from(await response.body.arrayBuffer());
      const ok = response.statusCode >= 200 && response.statusCode < 300;
      const body =
        options.binary && ok ? bytes : parseBody(bytes.toString("utf8"), response.headers["content-type"]);
      checkStatus(response.statusCode, body, options);
      this.#report(options.operation, started, "ok");
      return { status: response.statusCode, body: body as T };
    } catch (error) {
      const typed = toPodmanError(error, options.operation, timeoutMs);
      this.#report(options.operation, started, typed.kind);
      throw typed;
    }
  }

  /**
   * A streaming call (logs, events, pull): only the wait for response headers is bounded, and not
   * even that with `timeoutMs: 0` (for streams whose headers Podman holds back, see `logs`).
   */
  async stream(options: RequestOptions & { signal?: AbortSignal }): Promise<Readable> {
    const started = performance.now();
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    const headers = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : new AbortController().signal;
    const controller = new AbortController();
    const abort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", abort, { once: true });
    const onHeadersTimeout = () => controller.abort(headers.reason);
    headers.addEventListener("abort", onHeadersTimeout, { once: true });
    try {
      const response = await untilAborted(
        this.#client.request({
          method: options.method,
          path: buildPath(options.path, options.query, options.compat),
          ...withHeaders(encodeBody(options.body), options.headers),
          signal: controller.signal,
          headersTimeout: timeoutMs,
          bodyTimeout: 0,
        }),
        controller.signal,
      );
      headers.removeEventListener("abort", onHeadersTimeout);
      if (
        !(options.accept ?? []).includes(response.statusCode) &&
        (response.statusCode < 200 || response.statusCode >= 300)
      ) {
        const text = await response.body.text();
        checkStatus(response.statusCode, parseBody(text, response.headers["content-type"]), options);
      }
      this.#report(options.operation, started, "ok");
      return response.body;
    } catch (error) {
      headers.removeEventListener("abort", onHeadersTimeout);
      if (options.signal?.aborted) throw options.signal.reason ?? error;
      const typed = toPodmanError(error, options.operation, timeoutMs);
      this.#report(options.operation, started, typed.kind);
      throw typed;
    }
  }

  #report(operation: string, started: number, outcome: "ok" | PodmanError["kind"]): void {
    const durationMs = performance.now() - started;
    for (const observer of this.#observers) observer({ operation, durationMs, outcome });
  }
}

/**
 * Rejects with the signal's reason as soon as it aborts. Undici honours an abort only once a request
 * has a connection: one queued behind busy connections (every connection of the pool held by a
 * stream) would otherwise wait past its time limit. Once dispatched, it is aborted there too.
 */
function untilAborted<T>(call: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    call.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    call.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function buildPath(path: string, query: Query | undefined, compat = false): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {}))
    if (value !== undefined) params.set(key, String(value));
  const search = params.toString();
  return `/${API_VERSION}${compat ? "" : "/libpod"}${path}${search ? `?${search}` : ""}`;
}

function withHeaders(
  encoded: { body?: string | Uint8Array; headers?: Record<string, string> },
  headers: Record<string, string> | undefined,
): { body?: string | Uint8Array; headers?: Record<string, string> } {
  return headers ? { ...encoded, headers: { ...encoded.headers, ...headers } } : encoded;
}

function encodeBody(body: unknown): { body?: string | Uint8Array; headers?: Record<string, string> } {
  if (body === undefined) return {};
  if (body instanceof Uint8Array) return { body, headers: { "content-type": "application/octet-stream" } };
  return { body: JSON.stringify(body), headers: { "content-type": "application/json" } };
}

function parseBody(text: string, contentType: string | string[] | undefined): unknown {
  if (text === "") return undefined;
  const type = Array.isArray(contentType) ? contentType[0] : contentType;
  if (type?.includes("json")) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

function checkStatus(status: number, body: unknown, options: RequestOptions): void {
  if ((status >= 200 && status < 300) || (options.accept ?? []).includes(status)) return;
  const message =
    body && typeof body === "object" && "message" in body
      ? String((body as { message: unknown }).message)
      : String(body ?? `HTTP ${status}`);
  throw new PodmanError(kindOfStatus(status, message), options.operation, message, { status });
}

function toPodmanError(error: unknown, operation: string, timeoutMs: number): PodmanError {
  if (error instanceof PodmanError) return error;
  const name = (error as Error)?.name;
  const code = (error as NodeJS.ErrnoException)?.code;
  if (
    name === "TimeoutError" ||
    name === "AbortError" ||
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError
  )
    return new PodmanError("timeout", operation, `Podman did not answer within ${timeoutMs} ms`, {
      cause: error,
    });
  if (
    code === "ECONNREFUSED" ||
    code === "ENOENT" ||
    code === "ECONNRESET" ||
    code === "EPIPE" ||
    error instanceof undiciErrors.SocketError
  )
    return new PodmanError(
      "unavailable",
      operation,
      `the Podman service is not answering (${code ?? name})`,
      { cause: error },
    );
  return new PodmanError("server", operation, (error as Error)?.message ?? String(error), { cause: error });
}
