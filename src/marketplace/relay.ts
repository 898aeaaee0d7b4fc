/**
 * The one module that talks to Nostr relays: nostr-tools' relay client (NIP-01: REQ, EOSE, CLOSED,
 * OK, NOTICE) over `ws`, behind a guard that every message from the relay passes first. The guard
 * bounds what a relay can cost the node and says what it refused:
 *   - one message at most MAX_MESSAGE_BYTES (`ws` closes the connection on a larger frame);
 *   - a query reads at most `maxEvents` events and `maxBytes` bytes, then stops reading;
 *   - every message is parsed here once; malformed JSON, a non-event, a bad id or signature, an
 *     oversized event: counted by reason (one example each) and dropped;
 *   - events are checked (checkEvent) as they arrive, one at a time, so a relay sending faster
 *     than they are checked waits on TCP, not in the node's memory;
 *   - after MAX_REFUSED refused messages a query stops reading: a flood of forgeries costs a
 *     bounded number of signature checks.
 * A query opens its own connection and closes it when the relay has sent everything stored (EOSE),
 * a limit is reached, or its time is up. The relay client, `ws`'s ESM entry and the event check are
 * loaded at the first query or publication (relayClient): a node without relays never loads them.
 */
import type { AbstractRelay } from "nostr-tools/abstract-relay";
import type { Filter, matchFilters } from "nostr-tools/filter";
import type WebSocket from "ws";
import { type CheckEvent, eventChecker, MAX_LIST_EVENT_BYTES, type SignedEvent } from "./events.ts";

/** The largest message a relay may send: the largest event a node takes, in its envelope. */
export const MAX_MESSAGE_BYTES = MAX_LIST_EVENT_BYTES + 4096;

/** Refused messages after which a query stops reading the relay. */
export const MAX_REFUSED = 200;

export type QueryLimits = { maxEvents: number; maxBytes: number; timeoutMs: number };

export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  maxEvents: 5000,
  maxBytes: 16 * 1024 * 1024,
  timeoutMs: 15_000,
};

/** What a relay sent that was refused: how many of each kind of problem, with one example. */
export type Refusals = Record<string, { count: number; example: string }>;

export type QueryResult = {
  url: string;
  events: SignedEvent[];
  refused: Refusals;
  received: { messages: number; bytes: number };
  /** Whether the relay said it had sent everything it has (EOSE). */
  complete: boolean;
  /** Why the query stopped early, or could not run. */
  error: string | undefined;
};

function refuse(refused: Refusals, kind: string, example: string): number {
  const entry = refused[kind];
  if (entry) entry.count += 1;
  else refused[kind] = { count: 1, example: example.slice(0, 300) };
  return Object.values(refused).reduce((n, r) => n + r.count, 0);
}

/** A relay URL the node may connect to: ws:// or wss://, no credentials. */
export function relayUrlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `${JSON.stringify(text)} is not a URL: give a relay as ws://host:port or wss://host`;
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:")
    return `${text} is not a relay URL: it must start with ws:// or wss://`;
  if (url.username || url.password) return `${text} carries credentials: give the relay's URL without them`;
  if (text.length > 512) return "the relay URL is longer than 512 characters";
  return undefined;
}

type RelayClient = {
  AbstractRelay: typeof AbstractRelay;
  matchFilters: typeof matchFilters;
  WebSocket: typeof WebSocket;
  checkEvent: CheckEvent;
};

let loading: Promise<RelayClient> | undefined;

function relayClient(): Promise<RelayClient> {
  loading ??= Promise.all([
    import("nostr-tools/abstract-relay"),
    import("nostr-tools/filter"),
    import("ws"),
    eventChecker(),
  ]).then(([relay, filter, ws, checkEvent]) => ({
    AbstractRelay: relay.AbstractRelay,
    matchFilters: filter.matchFilters,
    // CommonJS: its exports are the dynamic import's `default`.
    WebSocket: ws.default,
    checkEvent,
  }));
  return loading;
}

type Guard = {
  /** The text to hand to nostr-tools, or undefined when the guard took the message (or refused it). */
  take(data: WebSocket.RawData, isBinary: boolean): string | undefined;
  /** The connection failed (`ws`'s reason: a message over the size limit, …). */
  failed?(reason: string): void;
};

/**
 * A WebSocket for nostr-tools whose every incoming message goes through `guard` first. It has the
 * part of the WebSocket interface nostr-tools uses (handlers, send, close, readyState), typed as
 * the whole for its option.
 */
function guardedSocket(WebSocket: RelayClient["WebSocket"], guard: Guard): typeof globalThis.WebSocket {
  return class GuardedSocket {
    static readonly CONNECTING = WebSocket.CONNECTING;
    static readonly OPEN = WebSocket.OPEN;
    static readonly CLOSING = WebSocket.CLOSING;
    static readonly CLOSED = WebSocket.CLOSED;
    readonly #ws: WebSocket;
    constructor(url: string) {
      this.#ws = new WebSocket(url, { maxPayload: MAX_MESSAGE_BYTES, handshakeTimeout: 10_000 });
    }
    get readyState(): number {
      return this.#ws.readyState;
    }
    set onopen(handler: (() => void) | null) {
      this.#ws.onopen = handler ? () => handler() : null;
    }
    set onerror(handler: (() => void) | null) {
      this.#ws.onerror = handler
        ? (event) => {
            guard.failed?.(event.message);
            handler();
          }
        : null;
    }
    set onclose(handler: ((event: { message?: string }) => void) | null) {
      this.#ws.onclose = handler ? (event) => handler({ message: event.reason }) : null;
    }
    set onmessage(handler: ((event: { data: string }) => void) | null) {
      this.#ws.removeAllListeners("message");
      if (handler)
        this.#ws.on("message", (data, isBinary) => {
          const text = guard.take(data, isBinary);
          if (text !== undefined) handler({ data: text });
        });
    }
    send(data: string): void {
      this.#ws.send(data);
    }
    close(): void {
      this.#ws.close();
    }
  } as unknown as typeof globalThis.WebSocket;
}

/** Reads the events matching `filters` from one relay, within `limits`. Never rejects. */
export async function query(
  url: string,
  filters: Filter[],
  limits: QueryLimits = DEFAULT_QUERY_LIMITS,
): Promise<QueryResult> {
  const result: QueryResult = {
    url,
    events: [],
    refused: {},
    received: { messages: 0, bytes: 0 },
    complete: false,
    error: relayUrlProblem(url),
  };
  if (result.error) return result;
  const { AbstractRelay, matchFilters, WebSocket, checkEvent } = await relayClient();
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let stopped = false;
  const stop = (why: string | undefined) => {
    if (stopped) return;
    stopped = true;
    if (why) result.error = why;
    finish();
  };
  let subscriptionId = "";
  const refused = (kind: string, example: string) => {
    if (refuse(result.refused, kind, example) >= MAX_REFUSED)
      stop(`the relay sent ${MAX_REFUSED} messages that were refused: it was not read further`);
  };
  const guard: Guard = {
    failed(reason) {
      stop(
        /max payload/i.test(reason)
          ? `the relay sent a message over ${MAX_MESSAGE_BYTES} bytes: the connection was closed`
          : `the connection failed: ${reason}`,
      );
    },
    take(data, isBinary) {
      if (stopped) return undefined;
      const bytes = Array.isArray(data)
        ? data.reduce((n, b) => n + b.length, 0)
        : data instanceof ArrayBuffer
          ? data.byteLength
          : data.length;
      result.received.messages += 1;
      result.received.bytes += bytes;
      if (result.received.bytes > limits.maxBytes) {
        stop(`the relay sent more than ${limits.maxBytes} bytes: the rest was not read`);
        return undefined;
      }
      if (isBinary) {
        refused("binary message", "a binary WebSocket message");
        return undefined;
      }
      const text = Array.isArray(data)
        ? Buffer.concat(data).toString("utf8")
        : Buffer.from(data as Buffer).toString("utf8");
      let message: unknown;
      try {
        message = JSON.parse(text);
      } catch {
        refused("malformed JSON", text.slice(0, 80));
        return undefined;
      }
      if (!Array.isArray(message) || typeof message[0] !== "string") {
        refused("not a relay message", text.slice(0, 80));
        return undefined;
      }
      if (message[0] === "EVENT") {
        if (message[1] !== subscriptionId) {
          refused("event for another subscription", String(message[1]).slice(0, 40));
          return undefined;
        }
        const checked = checkEvent(message[2], (event) => matchFilters(filters, event));
        if ("problem" in checked) {
          const kind = checked.problem.includes("signature")
            ? "bad signature"
            : checked.problem.includes("not what was asked")
              ? "not asked for"
              : "invalid event";
          refused(kind, checked.problem);
          return undefined;
        }
        result.events.push(checked.event);
        if (result.events.length >= limits.maxEvents)
          stop(
            `the relay sent ${limits.maxEvents} events, as many as one query reads: the rest was not read`,
          );
        return undefined;
      }
      if (message[0] === "EOSE" && message[1] === subscriptionId) {
        result.complete = true;
        stop(undefined);
        return undefined;
      }
      if (message[0] === "CLOSED" && message[1] === subscriptionId) {
        stop(`the relay closed the query: ${String(message[2] ?? "").slice(0, 200)}`);
        return undefined;
      }
      return text;
    },
  };
  const relay = new AbstractRelay(url, {
    // Events never reach nostr-tools' own check: the guard checked and took them.
    verifyEvent: () => false,
    websocketImplementation: guardedSocket(WebSocket, guard),
  });
  relay.onnotice = (notice) => refuse(result.refused, "notice", String(notice));
  relay.onclose = () => stop(result.complete ? undefined : "the relay closed the connection");
  const timer = setTimeout(
    () => stop(`the relay did not finish within ${limits.timeoutMs / 1000} s: what came until then is kept`),
    limits.timeoutMs,
  );
  try {
    await relay.connect({ timeout: Math.min(limits.timeoutMs, 10_000) });
    const subscription = relay.subscribe(filters, {
      eoseTimeout: limits.timeoutMs + 1000,
      onclose: () => {},
    });
    subscriptionId = subscription.id;
    await finished;
  } catch (error) {
    stop(`cannot connect: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    clearTimeout(timer);
    relay.onclose = null;
    relay.close();
  }
  return result;
}

export type PublishResult = { url: string; ok: boolean; message: string };

/**
 * Sends signed events to a relay over one connection, each after the relay said OK to the one
 * before; stops at the first refusal (its message says why). Never rejects.
 */
export async function publish(
  url: string,
  events: SignedEvent | readonly SignedEvent[],
  timeoutMs = 15_000,
): Promise<PublishResult> {
  const problem = relayUrlProblem(url);
  if (problem) return { url, ok: false, message: problem };
  const { AbstractRelay, WebSocket } = await relayClient();
  const guard: Guard = {
    take: (data, isBinary) => (isBinary ? undefined : Buffer.from(data as Buffer).toString("utf8")),
  };
  const relay = new AbstractRelay(url, {
    verifyEvent: () => false,
    websocketImplementation: guardedSocket(WebSocket, guard),
  });
  relay.onnotice = () => {};
  relay.publishTimeout = timeoutMs;
  let message = "accepted";
  try {
    await relay.connect({ timeout: Math.min(timeoutMs, 10_000) });
    for (const event of Array.isArray(events) ? events : [events])
      message = (await relay.publish(event)) || "accepted";
    return { url, ok: true, message };
  } catch (error) {
    return { url, ok: false, message: error instanceof Error ? error.message : String(error) };
  } finally {
    relay.close();
  }
}

/** Pages one paged query reads at most (each a connection and a relay's answer). */
export const MAX_PAGES = 50;

/**
 * Reads one filter's events page by page, newest first, for relays that cap each answer (NIP-01
 * `limit`; a relay library's maximum, whatever was asked): each page asks for what is at or before
 * the oldest event of the page before (`until`), until a page brings nothing older. Work is bounded
 * as for one query: `limits.maxEvents` events and `limits.maxBytes` bytes over all the pages, and at
 * most `maxPages` pages. A relay holding more than a page of events of one same second cannot be
 * paged past them with `until` alone (it has one-second resolution): the next page starts a second
 * earlier, and the ones of that second beyond the relay's cap are not read. Never rejects.
 */
export async function queryPaged(
  url: string,
  filter: Filter,
  limits: QueryLimits = DEFAULT_QUERY_LIMITS,
  maxPages = MAX_PAGES,
): Promise<QueryResult & { pages: number }> {
  const total: QueryResult & { pages: number } = {
    url,
    events: [],
    refused: {},
    received: { messages: 0, bytes: 0 },
    complete: false,
    error: undefined,
    pages: 0,
  };
  const seen = new Set<string>();
  let until = filter.until;
  while (!total.complete && !total.error) {
    const maxEvents = limits.maxEvents - total.events.length;
    const maxBytes = limits.maxBytes - total.received.bytes;
    if (maxEvents <= 0 || maxBytes <= 0 || total.pages >= maxPages) {
      total.error =
        total.pages >= maxPages
          ? `the relay's answers filled ${maxPages} pages, as many as one query reads: the older events were not read`
          : `the relay sent ${limits.maxBytes} bytes, as many as one query reads: the rest was not read`;
      break;
    }
    const page = await query(url, [until === undefined ? filter : { ...filter, until }], {
      ...limits,
      maxEvents,
      maxBytes,
    });
    total.pages += 1;
    total.received.messages += page.received.messages;
    total.received.bytes += page.received.bytes;
    for (const [kind, { count, example }] of Object.entries(page.refused)) {
      const entry = total.refused[kind];
      if (entry) entry.count += count;
      else total.refused[kind] = { count, example };
    }
    const fresh = page.events.filter((event) => !seen.has(event.id));
    for (const event of fresh) {
      seen.add(event.id);
      total.events.push(event);
    }
    if (page.error && !page.complete)
      total.error =
        page.events.length >= maxEvents
          ? `the relay sent ${limits.maxEvents} events, as many as one query reads: the rest was not read`
          : page.error;
    else if (page.events.length === 0) total.complete = true;
    else {
      const oldest = page.events.reduce((min, event) => Math.min(min, event.created_at), Infinity);
      // Nothing new: every event of that page was of seconds already read; go a second earlier.
      until = fresh.length > 0 ? oldest : oldest - 1;
    }
  }
  return total;
}
