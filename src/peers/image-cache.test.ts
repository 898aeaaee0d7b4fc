import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { evictionPlan } from "./image-cache.ts";

const MiB = 1024 * 1024;
const image = (name: string, ...blobs: string[]) => ({ name, blobs: new Set(blobs) });

describe("evictionPlan: the peer cache stays within its bound", () => {
  const sizes = new Map([
    ["m1", 1],
    ["m2", 1],
    ["m3", 1],
    ["base", 40 * MiB],
    ["l1", 30 * MiB],
    ["l2", 30 * MiB],
    ["l3", 30 * MiB],
  ]);

  test("within the bound nothing goes", () => {
    const plan = evictionPlan(
      [image("a", "m1", "base", "l1"), image("b", "m2", "base", "l2"), image("c", "m3", "base", "l3")],
      sizes,
      200 * MiB,
    );
    assert.deepEqual(plan, { dropImages: [], deleteBlobs: [] });
  });

  test("the oldest images go first, until what the others use fits; a blob two images share counts once and stays with the last", () => {
    const plan = evictionPlan(
      [image("a", "m1", "base", "l1"), image("b", "m2", "base", "l2"), image("c", "m3", "base", "l3")],
      sizes,
      100 * MiB + 2,
    );
    assert.deepEqual(plan, { dropImages: ["a"], deleteBlobs: ["l1", "m1"] });
  });

  test("an image larger than the bound alone is not kept either", () => {
    const plan = evictionPlan([image("a", "m1", "base", "l1")], new Map([...sizes].slice(0, 5)), 10 * MiB);
    assert.deepEqual(plan.dropImages, ["a"]);
    assert.deepEqual(plan.deleteBlobs, ["base", "l1", "m1", "m2", "m3"]);
  });

  test("blob files no image uses go (an interrupted copy's leftovers), whatever the bound", () => {
    const plan = evictionPlan(
      [image("a", "m1", "l1")],
      new Map([...sizes, ["stray", 5]]),
      Number.MAX_SAFE_INTEGER,
    );
    assert.deepEqual(plan.dropImages, []);
    assert.deepEqual(plan.deleteBlobs, ["base", "l2", "l3", "m2", "m3", "stray"]);
  });
});
