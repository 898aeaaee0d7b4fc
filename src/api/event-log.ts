/**
 * The live event stream's memory: every published event gets the next sequence number, and the last
 * ones are kept (a bounded ring) so that a client that lost its connection gets what it missed when
 * it comes back, instead of a gap. A client whose gap is older than the ring, or that knew another
 * stream (the daemon restarted), is told to read the state again.
 */
import { randomBytes } from "node:crypto";
import type { ApiEvent, StreamEvent } from "./events.ts";

/** How many events are kept for clients that reconnect (an install logs a few dozen lines). */
export const EVENTS_KEPT = 2000;

export class EventLog {
  /** This daemon run's stream: a client that knew another one missed everything since. */
  readonly stream = randomBytes(6).toString("base64url");
  #seq = 0;
  readonly #kept: StreamEvent[] = [];
  readonly #capacity: number;
  readonly #listeners = new Set<(event: StreamEvent) => void>();
  /** Told of each new subscriber once it is added (what this appends, it gets too). */
  onSubscribe: (() => void) | undefined;

  constructor(capacity = EVENTS_KEPT) {
    this.#capacity = capacity;
  }

  /** Whether anyone is subscribed now. */
  get listening(): boolean {
    return this.#listeners.size > 0;
  }

  /** The last sequence number given. */
  get seq(): number {
    return this.#seq;
  }

  /** Numbers an event, keeps it, and hands it to every subscriber. */
  append(event: ApiEvent): StreamEvent {
    const sequenced = { ...event, seq: ++this.#seq } as StreamEvent;
    this.#kept.push(sequenced);
    if (this.#kept.length > this.#capacity) this.#kept.splice(0, this.#kept.length - this.#capacity);
    for (const listener of this.#listeners) listener(sequenced);
    return sequenced;
  }

  /**
   * The events after `after` on `stream`, when every one of them is still kept; undefined when the
   * stream is another one or some are gone (the client must read the state again).
   */
  since(stream: string | undefined, after: number): StreamEvent[] | undefined {
    if (stream !== this.stream || !Number.isInteger(after) || after < 0 || after > this.#seq)
      return undefined;
    const oldest = this.#kept[0]?.seq ?? this.#seq + 1;
    if (after + 1 < oldest) return undefined;
    return this.#kept.slice(Math.max(0, after + 1 - oldest));
  }

  subscribe(listener: (event: StreamEvent) => void): () => void {
    this.#listeners.add(listener);
    this.onSubscribe?.();
    return () => this.#listeners.delete(listener);
  }
}
