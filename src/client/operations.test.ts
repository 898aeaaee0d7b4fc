/**
 * Following an operation: the lines already logged (read) and the ones streamed are each delivered
 * once, in order, whichever way they came; a line past a gap or a stream that could not resume makes
 * it read the store again; the end comes from the stream and the operation is read once more for its
 * last lines. Without a stream it polls, tries failed reads again when told to, and gives up at its
 * time limit. The daemon is scripted here (pure logic); the web UI's, the CLI's and the gate's tests
 * follow real operations.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { EventStream, type WebSocketLike } from "./events.ts";
import {
  FollowTimeout,
  followOperation,
  type OperationLine,
  type OperationReader,
  type OperationView,
} from "./operations.ts";

/** A daemon's event stream, scripted: events are numbered in order; a hello starts the numbering again. */
function scripted() {
  const sockets: WebSocketLike[] = [];
  const stream = new EventStream({
    url: "ws://x/ws/v1",
    backoff: { baseMs: 1, maxMs: 1 },
    connect: () => {
      const socket: WebSocketLike = {
        onopen: null,
        onmessage: null,
        onclose: null,
        onerror: null,
        close: () => {},
      };
      sockets.push(socket);
      return socket;
    },
  }).start();
  let seq = 0;
  const send = (message: { type: string } & Record<string, unknown>) => {
    if (message.type === "hello") seq = message.seq as number;
    const numbered = message.type === "hello" ? message : { ...message, seq: ++seq };
    sockets.at(-1)?.onmessage?.({ data: JSON.stringify(numbered) });
  };
  send({ type: "hello", stream: "s", seq: 0, resumed: false });
  return { stream, send, sockets };
}

const line = (seq: number): OperationLine => ({ seq, at: seq, level: "info", message: `line ${seq}` });

/** An operation in a store that the test writes to, read as operation.get reads it. */
function store(id: string, logs: OperationLine[] = []) {
  const operation: OperationView = {
    id,
    appId: "a",
    kind: "install",
    state: "running",
    createdAt: 0,
    finishedAt: null,
    error: null,
    logs,
  };
  const reads: number[] = [];
  const client: OperationReader = {
    call: async (_method, params) => {
      reads.push(params.afterSeq ?? 0);
      return { ...operation, logs: operation.logs.filter((l) => l.seq > (params.afterSeq ?? 0)) };
    },
  };
  return { operation, reads, client };
}

/** The daemon writes line n of the operation and streams it. */
function logged(operation: OperationView, send: ReturnType<typeof scripted>["send"], n: number): void {
  operation.logs.push(line(n));
  send({ type: "log", appId: "a", line: { operationId: operation.id, ...line(n) } });
}

/** The operation succeeds and the stream says so. */
function succeeded(operation: OperationView, send: ReturnType<typeof scripted>["send"]): void {
  Object.assign(operation, { state: "succeeded", finishedAt: 9 });
  send({ type: "operation", operationId: operation.id, appId: "a", state: "succeeded" });
}

test("every line once, in order, from the store and the stream; the end read once more", async () => {
  const { operation: stored, reads, client } = store("op-1", [line(1), line(2)]);
  const { stream, send } = scripted();
  const seen: number[] = [];
  const done = followOperation(client, stream, "op-1", { onLine: (l) => seen.push(l.seq) });
  // Line 2 streamed before the first read answered: taken from the stream or the read, once.
  send({ type: "log", appId: "a", line: { operationId: "op-1", ...line(2) } });
  await new Promise((resolve) => setImmediate(resolve));
  logged(stored, send, 3);
  stored.logs.push(line(4)); // stored, never streamed: the next line's gap brings it
  logged(stored, send, 5);
  await new Promise((resolve) => setImmediate(resolve));
  stored.logs.push(line(6));
  succeeded(stored, send);
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
  const { client: stored } = store("op-2");
  const client: OperationReader = {
    call: async (method, params) => {
      calls++;
      if (calls === 2) throw new Error("daemon gone");
      return stored.call(method, params);
    },
  };
  const { stream, send } = scripted();
  const done = followOperation(client, stream, "op-2");
  await new Promise((resolve) => setImmediate(resolve));
  send({ type: "hello", stream: "s2", seq: 0, resumed: false });
  await assert.rejects(done, /daemon gone/);
  assert.equal(calls, 2);
  stream.close();
});

test("no line is missed across a reconnect the daemon could not resume: the store gives what the stream lost", async () => {
  const { operation, client } = store("op-3");
  const { stream, send, sockets } = scripted();
  const seen: number[] = [];
  const done = followOperation(client, stream, "op-3", { onLine: (l) => seen.push(l.seq) });
  await new Promise((resolve) => setImmediate(resolve));
  logged(operation, send, 1);
  logged(operation, send, 2);
  // The connection is lost; lines 3 and 4 are written meanwhile, never streamed.
  sockets.at(-1)?.onclose?.({ code: 1006, reason: "" });
  operation.logs.push(line(3), line(4));
  await waitFor("the stream to connect again", () => sockets.length === 2);
  // A restarted daemon: a new stream that cannot replay what was missed.
  send({ type: "hello", stream: "s2", seq: 0, resumed: false });
  await waitFor(
    "lines 3 and 4 read from the store",
    () => seen.length === 4,
    () => `seen ${seen}`,
  );
  logged(operation, send, 5);
  succeeded(operation, send);
  const result = await done;
  assert.deepEqual(seen, [1, 2, 3, 4, 5], "every line once, in order, across the reconnect");
  assert.deepEqual(
    result.logs.map((l) => l.seq),
    [1, 2, 3, 4, 5],
  );
  stream.close();
});

test("without a stream it polls: the answer's hook before its lines, failed reads tried again when told to", async () => {
  const { operation, reads, client } = store("op-4");
  let calls = 0;
  const flaky: OperationReader = {
    call: async (method, params) => {
      // The second call finds the daemon away (restarting); each answer is followed by a new line.
      if (++calls === 2) throw new Error("daemon away");
      const answer = await client.call(method, params);
      operation.logs.push(line(operation.logs.length + 1));
      if (reads.length === 3) Object.assign(operation, { state: "failed", error: "it broke", finishedAt: 9 });
      return answer;
    },
  };
  const events: string[] = [];
  const result = await followOperation(flaky, undefined, "op-4", {
    pollMs: 1,
    retryRead: (error) => (error as Error).message === "daemon away",
    onRead: (view) => {
      events.push(`read ${view.logs.map((l) => l.seq).join(",")}`);
    },
    onLine: (l) => events.push(`line ${l.seq}`),
  });
  assert.equal(result.state, "failed");
  assert.equal(result.error, "it broke");
  assert.equal(calls, 5, "four answers and the failure between the first two");
  assert.deepEqual(reads, [0, 0, 1, 2], "each read asks only for the lines after the last one delivered");
  assert.deepEqual(events, ["read ", "read 1", "line 1", "read 2", "line 2", "read 3", "line 3"]);
});

test("a read that fails and is not to be tried again ends the follow with its error", async () => {
  const client: OperationReader = {
    call: async () => {
      throw new Error("no such operation");
    },
  };
  await assert.rejects(followOperation(client, undefined, "op-5", { pollMs: 1 }), /no such operation/);
});

test("at the time limit it gives up with the state it last saw; a read under way when the time is up still counts", async () => {
  const { client } = store("op-6");
  const timedOut = followOperation(client, undefined, "op-6", { pollMs: 1, timeoutMs: 20 });
  await assert.rejects(timedOut, (error: unknown) => {
    assert.ok(error instanceof FollowTimeout);
    assert.equal(error.state, "running");
    assert.equal(error.operationId, "op-6");
    return true;
  });

  let answer: (view: OperationView) => void = () => {};
  const slow: OperationReader = { call: () => new Promise((resolve) => (answer = resolve)) };
  const ending = followOperation(slow, undefined, "op-7", { pollMs: 1, timeoutMs: 0 });
  await new Promise((resolve) => setTimeout(resolve, 5)); // the limit has come, the read is under way
  answer({ ...store("op-7").operation, state: "succeeded", finishedAt: 1 });
  assert.equal((await ending).state, "succeeded");
});

async function waitFor(what: string, ready: () => boolean, saw: () => string = () => ""): Promise<void> {
  for (let i = 0; i < 1000 && !ready(); i++) await new Promise((resolve) => setTimeout(resolve, 2));
  assert.ok(ready(), `waited for ${what}; ${saw()}`);
}

test("endFromStream: the stream's end is the end, with its error, and no read after it; a resync brings the read back", async () => {
  const { operation: stored, reads, client } = store("op-9");
  const { stream, send } = scripted();
  const seen: number[] = [];
  const done = followOperation(client, stream, "op-9", {
    endFromStream: true,
    onLine: (l) => seen.push(l.seq),
  });
  await new Promise((resolve) => setImmediate(resolve));
  logged(stored, send, 1);
  logged(stored, send, 2);
  Object.assign(stored, { state: "failed", error: "the image is gone", finishedAt: 9 });
  send({ type: "operation", operationId: "op-9", appId: "a", state: "failed", error: "the image is gone" });
  const operation = await done;
  assert.deepEqual(reads, [0], "only the first read, before the end");
  assert.deepEqual(seen, [1, 2]);
  assert.deepEqual(
    { state: operation.state, error: operation.error, lines: operation.logs.map((l) => l.seq) },
    { state: "failed", error: "the image is gone", lines: [1, 2] },
  );
  stream.close();

  // A stream that could not resume may have lost lines: the end is read from the store again.
  const again = store("op-10");
  const second = scripted();
  const followed = followOperation(again.client, second.stream, "op-10", { endFromStream: true });
  await new Promise((resolve) => setImmediate(resolve));
  second.send({ type: "hello", stream: "s2", seq: 0, resumed: false });
  await new Promise((resolve) => setImmediate(resolve));
  again.operation.logs.push(line(1));
  succeeded(again.operation, second.send);
  const ended = await followed;
  assert.deepEqual(
    ended.logs.map((l) => l.seq),
    [1],
    "the line the stream lost",
  );
  assert.equal(again.reads.length, 3, `the first read, the resync's, the end's: ${again.reads}`);
  second.stream.close();
});
