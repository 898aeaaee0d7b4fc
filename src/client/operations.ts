/**
 * Following one operation to its end: its log lines as they come, each once, in order, and its
 * final state. The one wait-for-operation of every client (the CLI, the gate, the web UI).
 *
 * Subscribes first, then reads the operation (`operation.get`), so no line falls between the two;
 * reads it again, from the last line it has, whenever the stream could not replay what it missed,
 * and once more when the stream says the operation ended (for its last lines and its error).
 */
import type { Result } from "../api/contract.ts";
import type { StreamEvent } from "../api/events.ts";
import type { EventStream } from "./events.ts";
import type { ApiClient } from "./rpc.ts";

export type OperationView = Result<"operation.get">;
export type OperationLine = OperationView["logs"][number];

export type FollowOptions = {
  /** Each log line once, in order. */
  onLine?: (line: OperationLine) => void;
  /** Every stream event about the operation's app (its phases, …). */
  onAppEvent?: (event: StreamEvent) => void;
  signal?: AbortSignal;
};

const finished = (state: OperationView["state"]) => state === "succeeded" || state === "failed";

/** Resolves with the operation once it has succeeded or failed (its `logs` hold every line). */
export function followOperation(
  client: ApiClient,
  stream: EventStream,
  operationId: string,
  options: FollowOptions = {},
): Promise<OperationView> {
  return new Promise<OperationView>((resolve, reject) => {
    const lines: OperationLine[] = [];
    let lastSeq = 0;
    let appId: string | undefined;
    let done = false;
    let reading: Promise<void> | undefined;
    let readAgain = false;
    const take = (line: OperationLine) => {
      if (line.seq <= lastSeq) return;
      lastSeq = line.seq;
      lines.push(line);
      options.onLine?.(line);
    };
    const finish = (error: unknown, operation?: OperationView) => {
      if (done) return;
      done = true;
      unsubscribe();
      unresync();
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
      reading = (async () => {
        do {
          readAgain = false;
          const operation = await client.call("operation.get", { id: operationId, afterSeq: lastSeq });
          appId = operation.appId;
          for (const line of operation.logs) take(line);
          if (finished(operation.state)) return finish(undefined, operation);
        } while (readAgain && !done);
      })()
        .catch((error) => finish(error))
        .finally(() => {
          reading = undefined;
        });
      return reading;
    };
    const unsubscribe = stream.onEvent((event) => {
      if (event.type === "log" && event.line.operationId === operationId) {
        // A line beyond the next one means some were missed: read them from the store.
        if (event.line.seq > lastSeq + 1) void read();
        else take(event.line);
      } else if (event.type === "operation" && event.operationId === operationId && finished(event.state))
        void read();
      if (appId !== undefined && "appId" in event && event.appId === appId) options.onAppEvent?.(event);
    });
    const unresync = stream.onResync(() => void read());
    const abort = () => finish(options.signal?.reason ?? new Error("aborted"));
    options.signal?.addEventListener("abort", abort, { once: true });
    void read();
  });
}
