/**
 * Following one operation to its end: its log lines as they come, each once, in order, and its
 * final state. The one wait-for-operation of every client (the CLI, the gate, the web UI).
 *
 * Subscribes first, then reads the operation (`operation.get`), so no line falls between the two;
 * reads it again, from the last line it has, whenever the stream could not replay what it missed,
 * and once more when the stream says the operation ended (for its last lines and its error), unless
 * the stream has said everything since before the operation began (`endFromStream`).
 * Without a stream it polls; beside one it may poll too, as a safety net when the stream is silent
 * (a daemon gone away says nothing). A read that fails may be tried again (a daemon restarting: the
 * operation is in its store and resumes), and the follow may be given a time limit.
 */
import type { Params, Result } from "../api/contract.ts";
import type { StreamEvent } from "../api/events.ts";
import type { EventStream } from "./events.ts";

export type OperationView = Result<"operation.get">;
export type OperationLine = OperationView["logs"][number];

/** What a follower reads the operation with (the browser's ApiClient and the CLI's DaemonClient both are). */
export type OperationReader = {
  call(method: "operation.get", params: Params<"operation.get">): Promise<OperationView>;
};

/** The part of the event stream a follower listens to (an EventStream). */
export type OperationEvents = Pick<EventStream, "onEvent" | "onResync">;

export type FollowOptions = {
  /** Each log line once, in order. */
  onLine?: (line: OperationLine) => void;
  /** Every stream event about the operation's app (its phases, …). */
  onAppEvent?: (event: StreamEvent) => void;
  /** Each answer of `operation.get`, before its new lines are delivered (a poller reads the app's phase here). */
  onRead?: (operation: OperationView) => void | Promise<void>;
  /**
   * Reads the operation whenever nothing about it came for this long: the whole mechanism without a
   * stream (default 500 ms there), a safety net beside one (default: none, the stream says it all).
   */
  pollMs?: number;
  /**
   * The stream was open (greeted) before the operation was asked for: when it says the operation
   * ended and has said everything since (no resync), its lines all came on it and the follow ends
   * there, without reading the operation again. The view it resolves with is the last read's with
   * the event's state and error, and `finishedAt` null (the event does not say it). Default: read.
   */
  endFromStream?: boolean;
  /** Whether a failed read is tried again at the next poll instead of ending the follow (default: never). */
  retryRead?: (error: unknown) => boolean;
  /**
   * Gives up after this long (once a read under way has answered), with a FollowTimeout; the
   * operation goes on in the daemon.
   */
  timeoutMs?: number;
  signal?: AbortSignal;
};

/** The operation had not finished within the follow's time limit. */
export class FollowTimeout extends Error {
  readonly operationId: string;
  /** Its state as last read or streamed (undefined when none was). */
  readonly state: OperationView["state"] | undefined;
  constructor(operationId: string, state: OperationView["state"] | undefined) {
    super(`operation ${operationId} still ${state ?? "unknown"} at the time limit`);
    this.name = "FollowTimeout";
    this.operationId = operationId;
    this.state = state;
  }
}

const finished = (state: OperationView["state"]) => state === "succeeded" || state === "failed";

/** How often a follower without a stream reads the operation. */
const POLL_WITHOUT_STREAM_MS = 500;

/**
 * Resolves with the operation once it has succeeded or failed (its `logs` hold every line).
 * `stream` undefined: polls the operation instead.
 */
export function followOperation(
  client: OperationReader,
  stream: OperationEvents | undefined,
  operationId: string,
  options: FollowOptions = {},
): Promise<OperationView> {
  const pollMs = options.pollMs ?? (stream ? undefined : POLL_WITHOUT_STREAM_MS);
  return new Promise<OperationView>((resolve, reject) => {
    const lines: OperationLine[] = [];
    let lastSeq = 0;
    let lastState: OperationView["state"] | undefined;
    let lastRead: OperationView | undefined;
    /** Whether every event since the operation was asked for has come (endFromStream). */
    let gapless = options.endFromStream === true && stream !== undefined;
    /** How the stream said the operation ended, when it is trusted to (gapless). */
    let ended: Pick<OperationView, "state" | "error" | "finishedAt"> | undefined;
    let appId: string | undefined;
    let done = false;
    let reading: Promise<void> | undefined;
    let readAgain = false;
    let pollTimer: ReturnType<typeof setTimeout> | undefined;
    const take = (line: OperationLine) => {
      if (line.seq <= lastSeq) return;
      lastSeq = line.seq;
      lines.push(line);
      options.onLine?.(line);
    };
    // The next poll comes when nothing about the operation came for pollMs.
    const poll = () => {
      clearTimeout(pollTimer);
      if (!done && pollMs !== undefined) pollTimer = setTimeout(() => void read(), pollMs);
    };
    const finish = (error: unknown, operation?: OperationView) => {
      if (done) return;
      done = true;
      unsubscribe?.();
      unresync?.();
      clearTimeout(pollTimer);
      clearTimeout(timeout);
      options.signal?.removeEventListener("abort", abort);
      if (operation) resolve({ ...operation, logs: lines });
      else reject(error);
    };
    // One read at a time; a read asked for meanwhile runs after it (from the lines it brought).
    const read = (): Promise<void> => {
      if (reading) {
        readAgain = true;
        return reading;
      }
      clearTimeout(pollTimer);
      reading = (async () => {
        do {
          readAgain = false;
          const operation = await client.call("operation.get", { id: operationId, afterSeq: lastSeq });
          if (done) return;
          appId = operation.appId;
          lastState = operation.state;
          lastRead = operation;
          await options.onRead?.(operation);
          for (const line of operation.logs) take(line);
          if (finished(operation.state)) return finish(undefined, operation);
          if (ended) return finish(undefined, { ...operation, ...ended });
        } while (readAgain && !done);
      })()
        .catch((error) => {
          if (done) return;
          // A read tried again waits for the next poll (or the stream's next word).
          if (!options.retryRead?.(error)) finish(error);
        })
        .finally(() => {
          reading = undefined;
          poll();
        });
      return reading;
    };
    const unsubscribe = stream?.onEvent((event) => {
      if (event.type === "log" && event.line.operationId === operationId) {
        poll();
        // A line beyond the next one means some were missed: read them from the store.
        if (event.line.seq > lastSeq + 1) void read();
        else take(event.line);
      } else if (event.type === "operation" && event.operationId === operationId) {
        poll();
        lastState = event.state;
        if (finished(event.state)) {
          if (!gapless) void read();
          else {
            ended = { state: event.state, error: event.error ?? null, finishedAt: null };
            // Before the first read has answered, that read ends the follow.
            if (lastRead) finish(undefined, { ...lastRead, ...ended });
          }
        }
      }
      if (appId !== undefined && "appId" in event && event.appId === appId) options.onAppEvent?.(event);
    });
    const unresync = stream?.onResync(() => {
      gapless = false;
      void read();
    });
    // A read under way when the time is up still counts: what it brings may be the end.
    const expire = () =>
      void (reading ?? Promise.resolve()).then(() => finish(new FollowTimeout(operationId, lastState)));
    const timeout = options.timeoutMs === undefined ? undefined : setTimeout(expire, options.timeoutMs);
    const abort = () => finish(options.signal?.reason ?? new Error("aborted"));
    options.signal?.addEventListener("abort", abort, { once: true });
    void read();
  });
}
