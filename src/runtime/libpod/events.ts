/**
 * Podman's event stream, kept open: when the service goes away the stream reconnects with growing
 * delays and resumes from the last event seen (`since`), skipping events already delivered. Events
 * are hints that something changed, never the source of truth: consumers re-observe on each one.
 */
import { createInterface } from "node:readline";
import type { LibpodTransport } from "./transport.ts";

export type PodmanEvent = {
  type: string;
  action: string;
  id: string;
  name?: string;
  labels: Record<string, string>;
  /** Nanoseconds since the epoch. */
  timeNano: bigint;
};

export type EventStreamStatus = { connected: boolean; error?: string; reconnects: number };

type RawEvent = {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number;
};

export function parseEvent(line: string): PodmanEvent | undefined {
  let raw: RawEvent;
  try {
    raw = JSON.parse(line) as RawEvent;
  } catch {
    return undefined;
  }
  const attributes = raw.Actor?.Attributes ?? {};
  const { name, ...labels } = attributes;
  const timeNano =
    raw.timeNano !== undefined ? BigInt(Math.trunc(raw.timeNano)) : BigInt(raw.time ?? 0) * 1_000_000_000n;
  return {
    type: raw.Type ?? "",
    action: raw.Action ?? raw.status ?? "",
    id: raw.Actor?.ID ?? raw.id ?? "",
    name,
    labels,
    timeNano,
  };
}

export type EventStreamOptions = {
  /** Label filters (`key=value`), so only the platform's containers are reported. */
  labels?: string[];
  onEvent: (event: PodmanEvent) => void;
  onStatus?: (status: EventStreamStatus) => void;
  /** Delays between reconnection attempts grow from `minDelayMs` to `maxDelayMs`. */
  minDelayMs?: number;
  maxDelayMs?: number;
};

/** Opens the stream and keeps it open until `stop()` is called. */
export class EventStream {
  #http: LibpodTransport;
  #options: EventStreamOptions;
  #controller = new AbortController();
  #lastNano = 0n;
  #seenAtLast = new Set<string>();
  #reconnects = 0;
  #done: Promise<void>;

  constructor(http: LibpodTransport, options: EventStreamOptions) {
    this.#http = http;
    this.#options = options;
    this.#done = this.#run();
  }

  async stop(): Promise<void> {
    this.#controller.abort(new Error("event stream stopped"));
    await this.#done;
  }

  async #run(): Promise<void> {
    const min = this.#options.minDelayMs ?? 250;
    const max = this.#options.maxDelayMs ?? 10_000;
    let delay = min;
    const signal = this.#controller.signal;
    while (!signal.aborted) {
      try {
        const since = this.#lastNano > 0n ? formatSince(this.#lastNano) : undefined;
        const filters = this.#options.labels?.length
          ? JSON.stringify({ label: this.#options.labels })
          : undefined;
        const stream = await this.#http.stream({
          method: "GET",
          path: "/events",
          query: { stream: true, since, filters },
          operation: "events.stream",
          timeoutMs: 10_000,
          signal,
        });
        this.#options.onStatus?.({ connected: true, reconnects: this.#reconnects });
        delay = min;
        for await (const line of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
          const event = parseEvent(line);
          if (event) this.#deliver(event);
        }
        if (signal.aborted) break;
        this.#options.onStatus?.({
          connected: false,
          error: "the event stream ended",
          reconnects: this.#reconnects,
        });
      } catch (error) {
        if (signal.aborted) break;
        this.#options.onStatus?.({
          connected: false,
          error: (error as Error).message,
          reconnects: this.#reconnects,
        });
      }
      this.#reconnects++;
      await sleep(delay, signal);
      delay = Math.min(max, delay * 2);
    }
  }

  /** Resuming with `since` repeats events of the last second: deliver each one once. */
  #deliver(event: PodmanEvent): void {
    const key = `${event.timeNano}|${event.id}|${event.action}`;
    if (event.timeNano < this.#lastNano || this.#seenAtLast.has(key)) return;
    if (event.timeNano > this.#lastNano) {
      this.#lastNano = event.timeNano;
      this.#seenAtLast = new Set();
    }
    this.#seenAtLast.add(key);
    this.#options.onEvent(event);
  }
}

/** `since` in seconds with fractional nanoseconds, as Podman parses it. */
function formatSince(nano: bigint): string {
  const seconds = nano / 1_000_000_000n;
  const fraction = (nano % 1_000_000_000n).toString().padStart(9, "0");
  return `${seconds}.${fraction}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
