/**
 * `archy daemon --help` names every setting the daemon reads from its environment: an operator
 * meets the help first, and a setting only the docs know of is one they never find.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { DAEMON_USAGE } from "./daemon.ts";

test("the daemon's help names every ARCHY_* variable its configuration reads", () => {
  const source = readFileSync(new URL("../../daemon/config.ts", import.meta.url), "utf8");
  const read = [...new Set(source.match(/\bARCHY_[A-Z_]+\b/g) ?? [])];
  assert.ok(
    read.length >= 10,
    `only ${read.length} variables found in src/daemon/config.ts: ${read.join(", ")}`,
  );
  const missing = read.filter((name) => !DAEMON_USAGE.includes(name));
  assert.deepEqual(missing, [], `archy daemon --help does not name ${missing.join(", ")}`);
});
