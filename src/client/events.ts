/**
 * The daemon's live event stream (`GET /ws/v1`), typed from its schemas (src/api/events.ts), kept
 * open: a lost connection is opened again with a growing, jittered delay, and asks for what it
 * missed (the stream and the last `seq` seen); when the daemon cannot replay it all (it restarted,
 * or the gap is older than what it keeps), `onResync` listeners are told to read the state again.
 * A refusal for want of a session (close code 4401) stops it: the user must log in.
 *
 * Transport-agnostic: it needs a WebSocket constructor (browsers', or Node's, which takes headers
 * for the CLI token). Browser-safe.
 */
import type { StreamEvent, WsMessage } from "../api/events.ts";

export type { StreamEvent } from "../api/events.ts";

/** The part of the WebSocket API the stream uses (browsers' and Node's both have it). */
export type WebSocketLike = {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  close(code?: number, reason?: string): void;
};

export type StreamStatus =
  /** Not connected yet, or connecting again after a loss (`attempt` > 0). */
  | "connecting"
  | "open"
  /** The daemon refused the connection: not logged in, or the session ended. */
  | "unauthenticated"
  /** closed by its owner. */
  | "closed";

export type EventStreamOptions = {
  /** The stream's URL: `ws://host:port/ws/v1` (the query is added). */
  url: string;
  /** Opens a WebSocket (default: the global WebSocket). */
  connect?: (url: string) => WebSocketLike;
  /** Delay before the n-th attempt to connect again: base × 2ⁿ⁻¹, at most max, jittered (default 500 ms … 15 s). */
  backoff?: { baseMs: number; maxMs: number };
  random?: () => number;
};

type Listener<T> = (value: T) => void;

export class EventStream {
  readonly #url: string;
  readonly #connect: (url: string) => WebSocketLike;
  readonly #backoff: { baseMs: number; maxMs: number };
  readonly #random: () => number;
  readonly #events = new Set<Listener<StreamEvent>>();
  readonly #statuses = new Set<Listener<{ status: StreamStatus; attempt: number }>>();
  readonly #resyncs = new Set<Listener<void>>();
  #socket: WebSocketLike | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #status: StreamStatus = "connecting";
  #attempt = 0;
  #stream: string | undefined;
  #lastSeq = 0;
  #stopped = false;

  constructor(options: EventStreamOptions) {
    this.#url = options.url;
    this.#connect = options.connect ?? ((url) => new WebSocket(url) as unknown as WebSocketLike);
    this.#backoff = options.backoff ?? { baseMs: 500, maxMs: 15_000 };
    this.#random = options.random ?? Math.random;
  }

  get status(): StreamStatus {
    return this.#status;
  }

  /** How many connection attempts have failed in a row (0 while open). */
  get attempt(): number {
    return this.#attempt;
  }

  /** The last event's place in the stream. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Every event, in order, each once (replayed ones after a reconnect included). */
  onEvent(listener: Listener<StreamEvent>): () => void {
    this.#events.add(listener);
    return () => this.#events.delete(listener);
  }

  onStatus(listener: Listener<{ status: StreamStatus; attempt: number }>): () => void {
    this.#statuses.add(listener);
    return () => this.#statuses.delete(listener);
  }

  /**
   * Told when events may have been missed and cannot be replayed (at every connection the daemon
   * could not resume, the first one included): read the state again.
   */
  onResync(listener: Listener<void>): () => void {
    this.#resyncs.add(listener);
    return () => this.#resyncs.delete(listener);
  }

  start(): this {
    this.#stopped = false;
    if (!this.#socket && !this.#timer) this.#open();
    return this;
  }

  close(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) {
      socket.onclose = null;
      socket.close(1000, "closed by the client");
    }
    this.#setStatus("closed");
  }

  /** Connects again now (after a refusal, once the user has logged in again). */
  reconnect(): void {
    this.close();
    this.#attempt = 0;
    this.start();
  }

  #setStatus(status: StreamStatus): void {
    this.#status = status;
    for (const listener of this.#statuses) listener({ status, attempt: this.#attempt });
  }

  #open(): void {
    this.#timer = undefined;
    this.#setStatus("connecting");
    const query =
      this.#stream === undefined ? "" : `?stream=${encodeURIComponent(this.#stream)}&after=${this.#lastSeq}`;
    let socket: WebSocketLike;
    try {
      socket = this.#connect(`${this.#url}${query}`);
    } catch {
      this.#retry();
      return;
    }
    this.#socket = socket;
    socket.onmessage = (message) => this.#receive(message.data);
    socket.onerror = () => {};
    socket.onclose = (event) => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      if (event.code === 4401) {
        this.#setStatus("unauthenticated");
        return;
      }
      if (!this.#stopped) this.#retry();
    };
  }

  #retry(): void {
    this.#attempt++;
    const delay = Math.min(this.#backoff.maxMs, this.#backoff.baseMs * 2 ** (this.#attempt - 1));
    this.#setStatus("connecting");
    this.#timer = setTimeout(() => this.#open(), delay * (0.5 + this.#random() / 2));
  }

  #receive(data: unknown): void {
    let message: WsMessage;
    try {
      message = JSON.parse(String(data)) as WsMessage;
    } catch {
      return;
    }
    if (message.type === "error") return; // the close (4401) that follows says it all
    if (message.type === "hello") {
      const resumed = message.resumed && message.stream === this.#stream;
      this.#stream = message.stream;
      this.#attempt = 0;
      this.#setStatus("open");
      if (!resumed) {
        this.#lastSeq = message.seq;
        for (const listener of this.#resyncs) listener();
      }
      return;
    }
    if (message.seq <= this.#lastSeq) return; // seen already
    this.#lastSeq = message.seq;
    for (const listener of this.#events) listener(message);
  }
}

/** The stream's URL for a daemon's base URL (`http://host:port`), or for the page's own origin. */
export function streamUrl(baseUrl: string | { protocol: string; host: string }): string {
  if (typeof baseUrl === "string") return `${baseUrl.replace(/^http/, "ws").replace(/\/+$/, "")}/ws/v1`;
  return `${baseUrl.protocol === "https:" ? "wss" : "ws"}://${baseUrl.host}/ws/v1`;
}
