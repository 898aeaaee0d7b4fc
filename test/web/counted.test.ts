import assert from "node:assert/strict";
import { test } from "node:test";
import { counted } from "../../web/src/counted.ts";

test("a count in the UI takes the singular for one and the plural otherwise (an operation of 1 step is not '1 steps')", () => {
  assert.equal(counted(1, "step"), "1 step");
  assert.equal(counted(0, "step"), "0 steps");
  assert.equal(counted(7, "step"), "7 steps");
  assert.equal(counted(1, "app"), "1 app");
});
