/** The per-app work queue: deduplication, one worker per key, a concurrency cap, no lost request. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { WorkQueue } from "./work-queue.ts";

/** A queue whose work items finish when the test says so. */
function controlled(concurrency: number) {
  const runs: string[] = [];
  const pending = new Map<string, () => void>();
  const errors: Array<[string, unknown]> = [];
  let failNext: string | undefined;
  const queue = new WorkQueue({
    concurrency,
    work: (key) => {
      runs.push(key);
      if (failNext === key) {
        failNext = undefined;
        return Promise.reject(new Error(`work on ${key} failed`));
      }
      return new Promise<void>((resolve) => pending.set(key, resolve));
    },
    onError: (key, error) => errors.push([key, error]),
  });
  const finish = async (key: string) => {
    const resolve = pending.get(key);
    assert.ok(resolve, `${key} is running`);
    pending.delete(key);
    resolve();
    // Let the queue's finally() and pump run.
    await new Promise((r) => setImmediate(r));
  };
  return {
    queue,
    runs,
    pending,
    errors,
    finish,
    failOn: (key: string) => {
      failNext = key;
    },
  };
}

describe("work queue", () => {
  test("a key queued several times while waiting runs once", async () => {
    const q = controlled(1);
    q.queue.enqueue("a");
    q.queue.enqueue("b");
    q.queue.enqueue("b");
    q.queue.enqueue("b");
    assert.deepEqual(q.runs, ["a"]);
    assert.equal(q.queue.size, 2);
    await q.finish("a");
    await q.finish("b");
    assert.deepEqual(q.runs, ["a", "b"]);
    assert.equal(q.queue.size, 0);
  });

  test("a key queued while it runs runs once more afterwards (the news is not lost), never concurrently", async () => {
    const q = controlled(4);
    q.queue.enqueue("a");
    q.queue.enqueue("a");
    q.queue.enqueue("a");
    assert.deepEqual(q.runs, ["a"], "not a second worker for the same key");
    await q.finish("a");
    assert.deepEqual(q.runs, ["a", "a"]);
    await q.finish("a");
    assert.deepEqual(q.runs, ["a", "a"], "and only once more");
    assert.equal(q.queue.size, 0);
  });

  test("at most `concurrency` workers run; the rest wait their turn in order", async () => {
    const q = controlled(2);
    for (const key of ["a", "b", "c", "d"]) q.queue.enqueue(key);
    assert.deepEqual(q.runs, ["a", "b"]);
    await q.finish("b");
    assert.deepEqual(q.runs, ["a", "b", "c"]);
    await q.finish("a");
    assert.deepEqual(q.runs, ["a", "b", "c", "d"]);
    await q.finish("c");
    await q.finish("d");
  });

  test("a failing worker is reported and does not stop the queue", async () => {
    const q = controlled(1);
    q.failOn("a");
    q.queue.enqueue("a");
    q.queue.enqueue("b");
    await new Promise((r) => setImmediate(r));
    assert.equal(q.errors.length, 1);
    assert.equal(q.errors[0]?.[0], "a");
    assert.match(String(q.errors[0]?.[1]), /work on a failed/);
    assert.deepEqual(q.runs, ["a", "b"]);
    await q.finish("b");
  });

  test("idle() resolves at once when empty, else when the last worker finishes", async () => {
    const q = controlled(2);
    await q.queue.idle();
    q.queue.enqueue("a");
    q.queue.enqueue("b");
    let idle = false;
    const waiting = q.queue.idle().then(() => {
      idle = true;
    });
    await q.finish("a");
    assert.equal(idle, false);
    await q.finish("b");
    await waiting;
    assert.equal(idle, true);
  });

  test("stop() drops what is queued, waits for what runs, and takes no more work", async () => {
    const q = controlled(1);
    q.queue.enqueue("a");
    q.queue.enqueue("b");
    q.queue.enqueue("a");
    let stopped = false;
    const stopping = q.queue.stop().then(() => {
      stopped = true;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(stopped, false, "waits for the worker in flight");
    await q.finish("a");
    await stopping;
    q.queue.enqueue("c");
    assert.deepEqual(q.runs, ["a"], "neither the queued b, the repeat of a, nor c ran");
  });

  test("property: no request is lost, one worker per key, never more than the cap", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(
          fc.record({ key: fc.constantFrom("a", "b", "c", "d", "e"), ticks: fc.integer({ min: 0, max: 3 }) }),
          { minLength: 1, maxLength: 40 },
        ),
        async (concurrency, script) => {
          let clock = 0;
          const running = new Map<string, number>();
          let maxRunning = 0;
          const starts: Array<[string, number]> = [];
          const enqueues: Array<[string, number]> = [];
          const durations = script.map((s) => s.ticks);
          let d = 0;
          const queue = new WorkQueue({
            concurrency,
            onError: (_key, error) => assert.fail(String(error)),
            work: async (key) => {
              assert.ok(!running.has(key), `two workers for ${key}`);
              running.set(key, 1);
              maxRunning = Math.max(maxRunning, running.size);
              starts.push([key, ++clock]);
              const ticks = durations[d++ % durations.length] as number;
              for (let i = 0; i < ticks; i++) await new Promise((r) => setImmediate(r));
              running.delete(key);
            },
          });
          for (const step of script) {
            enqueues.push([step.key, ++clock]);
            queue.enqueue(step.key);
            for (let i = 0; i < step.ticks; i++) await new Promise((r) => setImmediate(r));
          }
          await queue.idle();
          assert.ok(maxRunning <= concurrency);
          // Every enqueue is followed by a run of that key that started after it.
          for (const [key, at] of enqueues)
            assert.ok(
              starts.some(([k, started]) => k === key && started > at),
              `the request for ${key} at ${at} was lost`,
            );
        },
      ),
      { numRuns: 200 },
    );
  });
});
