import assert from "node:assert/strict";
import { test } from "node:test";
import { imageProgress, type PullEvent, type Pulls, withPull } from "./pull-progress.ts";

const event = (image: string, layer: string, rest: Partial<PullEvent>): PullEvent => ({
  type: "pull",
  seq: 1,
  appId: "a",
  operationId: "op",
  image,
  layer,
  status: "downloading",
  ...rest,
});

test("an image's progress sums its layers: bytes done of the sizes known, rates together, the longest wait", () => {
  let pulls: Pulls = new Map();
  for (const e of [
    event("web:1", "aaa", { status: "waiting" }),
    event("web:1", "bbb", { current: 100, total: 1000, bytesPerSecond: 50, secondsLeft: 18 }),
    event("web:1", "ccc", { current: 300, total: 400, bytesPerSecond: 100, secondsLeft: 1 }),
    event("web:1", "ddd", { status: "present" }),
    event("db:2", "eee", { current: 10, total: 10, status: "done" }),
  ])
    pulls = withPull(pulls, e);
  assert.deepEqual(imageProgress(pulls), [
    {
      image: "web:1",
      layers: 4,
      layersDone: 1,
      bytesDone: 400,
      bytesTotal: 1400,
      bytesPerSecond: 150,
      secondsLeft: 18,
      done: false,
    },
    {
      image: "db:2",
      layers: 1,
      layersDone: 1,
      bytesDone: 10,
      bytesTotal: 10,
      bytesPerSecond: undefined,
      secondsLeft: undefined,
      done: true,
    },
  ]);
});

test("a layer's last report replaces its earlier ones; the pulls before stay as they were", () => {
  const first = withPull(new Map(), event("web:1", "bbb", { current: 100, total: 1000, bytesPerSecond: 50 }));
  const second = withPull(first, event("web:1", "bbb", { status: "done", current: 1000, total: 1000 }));
  assert.equal(imageProgress(first)[0]?.bytesDone, 100, "not changed in place");
  assert.deepEqual(imageProgress(second)[0], {
    image: "web:1",
    layers: 1,
    layersDone: 1,
    bytesDone: 1000,
    bytesTotal: 1000,
    bytesPerSecond: undefined,
    secondsLeft: undefined,
    done: true,
  });
});
