import assert from "node:assert/strict";
import { test } from "node:test";
import { memoryLimitsOf } from "./memory-limits.ts";

test("memory limits: enforced as root and on cgroup v2 with the memory controller delegated; not otherwise, saying why", () => {
  assert.deepEqual(memoryLimitsOf({ rootless: false, cgroupVersion: "v1", cgroupControllers: [] }), {
    enforced: true,
  });
  assert.deepEqual(
    memoryLimitsOf({ rootless: true, cgroupVersion: "v2", cgroupControllers: ["cpu", "memory", "pids"] }),
    { enforced: true },
  );
  const v1 = memoryLimitsOf({ rootless: true, cgroupVersion: "v1", cgroupControllers: [] });
  assert.equal(v1.enforced, false);
  assert.match(
    v1.enforced ? "" : v1.why,
    /^rootless Podman on cgroup v1 ignores resource limits; boot the host with cgroup v2/,
  );
  const undelegated = memoryLimitsOf({ rootless: true, cgroupVersion: "v2", cgroupControllers: ["pids"] });
  assert.equal(undelegated.enforced, false);
  assert.match(undelegated.enforced ? "" : undelegated.why, /memory cgroup controller is not delegated/);
});
