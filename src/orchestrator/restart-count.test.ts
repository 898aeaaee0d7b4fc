import assert from "node:assert/strict";
import { test } from "node:test";
import { startsOf } from "./restart-count.ts";

const restartCount = (...args: Parameters<typeof startsOf>) => startsOf(...args).restarts;

const T = 1_700_000_000_000;
const podman = { backend: "podman", specHash: "h1" };
const quadlet = { backend: "quadlet", specHash: "h1" };

test("a container's restart count grows with each later start of the same container, and only then", () => {
  const first = { ...podman, containerId: "a", startedAt: T, restarts: 0 };
  assert.equal(restartCount(undefined, { ...podman, containerId: "a", startedAt: T }), 0, "first seen");
  assert.equal(restartCount(first, { ...podman, containerId: "a", startedAt: T }), 0, "the same start");
  assert.equal(restartCount(first, { ...podman, containerId: "a", startedAt: T + 5000 }), 1, "started again");
  assert.equal(
    restartCount({ ...first, restarts: 3 }, { ...podman, containerId: "a", startedAt: T + 5000 }),
    4,
    "counted on from the stored count",
  );
  assert.equal(
    restartCount({ ...first, restarts: 3 }, { ...podman, containerId: "b", startedAt: T + 5000 }),
    0,
    "a new container starts from 0",
  );
});

test("a first start, an exit, or the same start to the millisecond is not a restart", () => {
  const created = { ...podman, containerId: "a", startedAt: undefined, restarts: 0 };
  assert.equal(restartCount(created, { ...podman, containerId: "a", startedAt: T }), 0, "the first start");
  const running = { ...podman, containerId: "a", startedAt: T, restarts: 2 };
  assert.equal(restartCount(running, { ...podman, containerId: "a", startedAt: T }), 2, "exited, same start");
  assert.equal(
    restartCount(running, { ...podman, containerId: "a", startedAt: T + 420 }),
    2,
    "the same second, precise",
  );
  assert.equal(
    restartCount({ ...running, startedAt: T + 420 }, { ...podman, containerId: "a", startedAt: T }),
    2,
    "precise, then whole seconds",
  );
});

test("a Quadlet container down (observed from its unit, without a start) keeps its last start, so its next start counts", () => {
  const running = { ...quadlet, containerId: "a", startedAt: T, restarts: 1 };
  const down = startsOf(running, { ...quadlet, containerId: "web.service", startedAt: undefined });
  assert.deepEqual(down, { startedAt: T, restarts: 1 });
  const again = { ...quadlet, containerId: "b", startedAt: T + 5000 };
  assert.deepEqual(startsOf({ ...quadlet, containerId: "web.service", ...down }, again), {
    startedAt: T + 5000,
    restarts: 2,
  });
  // Its first start after install (the unit seen down before it ever ran) is not a restart.
  const unit = { ...quadlet, containerId: "web.service", startedAt: undefined, restarts: 0 };
  assert.deepEqual(startsOf(unit, again), { startedAt: T + 5000, restarts: 0 });
});

test("under Quadlet, a new container of the same spec is the same one started again; another spec is new", () => {
  const running = { ...quadlet, containerId: "a", startedAt: T, restarts: 1 };
  assert.equal(restartCount(running, { ...quadlet, containerId: "b", startedAt: T + 5000 }), 2);
  assert.equal(
    restartCount(running, { ...quadlet, specHash: "h2", containerId: "b", startedAt: T + 5000 }),
    0,
    "updated: a new container",
  );
  assert.equal(
    restartCount({ ...running, ...podman }, { ...podman, containerId: "b", startedAt: T + 5000 }),
    0,
    "a Podman container recreated is new",
  );
});
