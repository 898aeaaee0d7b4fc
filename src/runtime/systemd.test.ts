import assert from "node:assert/strict";
import { test } from "node:test";
import { parseShow } from "./systemd.ts";

test("systemctl show of several units: one state per unit, by its Id", () => {
  // As systemd 257 prints it: a block per unit, properties in its own order, blocks apart.
  const stdout = [
    "Result=exit-code",
    "ExecMainStatus=3",
    "ExecMainStartTimestampMonotonic=81234567",
    "Id=web.service",
    "LoadState=loaded",
    "ActiveState=failed",
    "SubState=failed",
    "",
    "Id=gone.service",
    "LoadState=not-found",
    "ActiveState=inactive",
    "SubState=dead",
    "Result=success",
    "",
  ].join("\n");
  const states = parseShow(["web.service", "gone.service"], stdout);
  assert.deepEqual(states.get("web.service"), {
    load: "loaded",
    active: "failed",
    sub: "failed",
    result: "exit-code",
    exitStatus: 3,
    ran: true,
  });
  assert.deepEqual(states.get("gone.service"), {
    load: "not-found",
    active: "inactive",
    sub: "dead",
    result: "success",
    exitStatus: undefined,
    ran: false,
  });
  assert.equal(parseShow(["a.service"], "").size, 0);
});
