import assert from "node:assert/strict";
import { test } from "node:test";
import { EventLog } from "./event-log.ts";

const event = (appId: string) => ({ type: "app-removed" as const, appId });

test("events are numbered from 1 and handed to subscribers with their number", () => {
  const log = new EventLog(10);
  const seen: number[] = [];
  const unsubscribe = log.subscribe((e) => seen.push(e.seq));
  log.append(event("a"));
  log.append(event("b"));
  unsubscribe();
  log.append(event("c"));
  assert.deepEqual(seen, [1, 2]);
  assert.equal(log.seq, 3);
});

test("a client that saw seq n of this stream gets n+1… while they are kept; otherwise it must re-read", () => {
  const log = new EventLog(3);
  for (const id of ["a", "b", "c", "d", "e"]) log.append(event(id));
  // Kept: 3, 4, 5.
  assert.deepEqual(
    log.since(log.stream, 2)?.map((e) => e.seq),
    [3, 4, 5],
  );
  assert.deepEqual(
    log.since(log.stream, 4)?.map((e) => e.seq),
    [5],
  );
  assert.deepEqual(log.since(log.stream, 5), [], "up to date: nothing missed");
  assert.equal(log.since(log.stream, 1), undefined, "event 2 is gone: re-read");
  assert.equal(log.since(log.stream, 6), undefined, "ahead of the stream: another run's numbers");
  assert.equal(log.since("another", 4), undefined, "another stream (the daemon restarted)");
  assert.equal(log.since(undefined, 4), undefined);
  assert.equal(log.since(log.stream, Number.NaN), undefined);
  assert.equal(log.since(log.stream, 2.5), undefined);
});

test("the memory is bounded by the capacity, whatever the number of events", () => {
  const log = new EventLog(50);
  for (let i = 0; i < 10_000; i++) log.append(event(`app-${i}`));
  assert.equal(log.since(log.stream, 10_000 - 50)?.length, 50);
  assert.equal(log.since(log.stream, 10_000 - 51), undefined);
});

test("what is appended when a subscriber comes (the list's untold changes) reaches that subscriber too", () => {
  const log = new EventLog();
  log.onSubscribe = () => log.append({ type: "app-removed", appId: "gone" });
  const seen: number[] = [];
  log.subscribe((event) => seen.push(event.seq));
  assert.deepEqual(seen, [1]);
  assert.equal(log.listening, true);
});
