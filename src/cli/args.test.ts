import assert from "node:assert/strict";
import { test } from "node:test";
import { negativeValuesJoined, parseCommandLine, UsageError } from "./args.ts";

const OPTIONS = {
  "keep-daily": { type: "string" },
  every: { type: "string" },
  all: { type: "boolean" },
} as const;

test("a negative number after an option that takes a value is that option's value, for the command to judge", () => {
  assert.deepEqual(negativeValuesJoined(["t1", "--keep-daily", "-1"], OPTIONS), ["t1", "--keep-daily=-1"]);
  const { values } = parseCommandLine(["t1", "--keep-daily", "-1"], OPTIONS, "usage");
  assert.equal(values["keep-daily"], "-1");
});

test("only negative numbers are joined, only after options that take a value, never after --", () => {
  assert.deepEqual(negativeValuesJoined(["--every", "-h"], OPTIONS), ["--every", "-h"]);
  assert.deepEqual(negativeValuesJoined(["--all", "-1"], OPTIONS), ["--all", "-1"]);
  assert.deepEqual(negativeValuesJoined(["--keep-daily=3", "-1"], OPTIONS), ["--keep-daily=3", "-1"]);
  assert.deepEqual(negativeValuesJoined(["--", "--keep-daily", "-1"], OPTIONS), ["--", "--keep-daily", "-1"]);
  assert.throws(
    () => parseCommandLine(["--every", "-h"], OPTIONS, "usage"),
    (error: unknown) => error instanceof UsageError,
  );
});
