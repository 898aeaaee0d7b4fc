/**
 * Following an operation: the lines already logged (read) and the ones streamed are each delivered
 * once, in order, whichever way they came; a line past a gap or a stream that could not resume makes
 * it read the store again; the end comes from the stream and the operation is read once more for its
 * last lines. The daemon is scripted here (pure logic); the web UI's tests follow real installs.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { EventStream, type WebSocketLike } from "./events.ts";
import { followOperation, type OperationLine, type OperationView } from "./operations.ts";
import type { ApiClient } from "./rpc.ts";

function scripted() {
  let socket: WebSocketLike | undefined;
  const stream = new EventStream({
    url: "ws://x/ws/v1",
    connect: () => {
      socket = { onopen: null, onmessage: null, onclose: null, onerror: null, close: () => {} };
      return socket;
    },
  }).start();
  const send = (message: object) => socket?.onmessage?.({ data: JSON.stringify(message) });
  send({ type: "hello", stream: "s", seq: 0, resumed: false });
  return { stream, send };
}

const line = (seq: number): OperationLine => ({ seq, at: seq, level: "info", message: `line ${seq}` });

test("every line once, in order, from the store and the stream; the end read once more", async () => {
  const stored: OperationView = {
    id: "op-1",
    appId: "a",
    kind: "install",
    state: "running",
    createdAt: 0,
    finishedAt: null,
    error: null,
    logs: [line(1), line(2)],
  };
  const reads: number[] = [];
  const client = {
    call: async (_method: string, params: { afterSeq: number }) => {
      reads.push(params.afterSeq);
      return { ...stored, logs: stored.logs.filter((l) => l.seq > params.afterSeq) };
    },
  } as unknown as ApiClient;
  const { stream, send } = scripted();
  let seq = 0;
  const log = (n: number) => {
    stored.logs.push(line(n));
    send({ type: "log", appId: "a", line: { operationId: "op-1", ...line(n) }, seq: ++seq });
  };
  const seen: number[] = [];
  const done = followOperation(client, stream, "op-1", { onLine: (l) => seen.push(l.seq) });
  log(2); // before the first read answered: taken from the stream or the read, once
  await new Promise((resolve) => setImmediate(resolve));
  log(3);
  stored.logs.push(line(4)); // stored, never streamed: the next line's gap brings it
  log(5);
  await new Promise((resolve) => setImmediate(resolve));
  stored.logs.push(line(6));
  Object.assign(stored, { state: "succeeded", finishedAt: 9 });
  send({ type: "operation", operationId: "op-1", appId: "a", state: "succeeded", seq: ++seq });
  const operation = await done;
  assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
  assert.equal(operation.state, "succeeded");
  assert.deepEqual(
    operation.logs.map((l) => l.seq),
    [1, 2, 3, 4, 5, 6],
  );
  assert.equal(reads[0], 0, "the first read takes every line");
  assert.ok(
    reads.slice(1).every((after, i) => after > 0 && after >= (reads[i] as number)),
    `later reads start from the last line they have: ${reads}`,
  );
  stream.close();
});

test("a stream that could not resume makes it read again; a failed read rejects", async () => {
  let calls = 0;
  const client = {
    call: async () => {
      calls++;
      if (calls === 2) throw new Error("daemon gone");
      return {
        id: "op-2",
        appId: "a",
        kind: "stop",
        state: "running",
        createdAt: 0,
        finishedAt: null,
        error: null,
        logs: [],
      };
    },
  } as unknown as ApiClient;
  const { stream, send } = scripted();
  const done = followOperation(client, stream, "op-2");
  await new Promise((resolve) => setImmediate(resolve));
  send({ type: "hello", stream: "s2", seq: 0, resumed: false });
  await assert.rejects(done, /daemon gone/);
  assert.equal(calls, 2);
  stream.close();
});
