import assert from "node:assert/strict";
import { test } from "node:test";
import type { AppView } from "../client.ts";
import { containersUp } from "./ls.ts";

type Container = AppView["containers"][number];

function container(key: string, state: string, extra: Partial<Container> = {}): Container {
  return {
    key,
    name: `notes-${key}`,
    containerId: `id-${key}`,
    state,
    health: "healthy",
    exitCode: 0,
    restarts: 0,
    startedAt: null,
    backend: "podman",
    observedAt: 0,
    job: false,
    ...extra,
  };
}

const app = (containers: Container[]) => ({ containers }) as AppView;

test("ls: a job run to completion counts as up; a failed or waiting job, or a stopped service, does not", () => {
  assert.equal(
    containersUp(app([container("web", "running"), container("migrate", "exited", { job: true })])),
    "2/2",
  );
  assert.equal(
    containersUp(
      app([container("web", "running"), container("migrate", "exited", { job: true, exitCode: 5 })]),
    ),
    "1/2",
  );
  assert.equal(
    containersUp(app([container("web", "created"), container("migrate", "created", { job: true })])),
    "0/2",
  );
  assert.equal(
    containersUp(app([container("web", "exited"), container("db", "running")])),
    "1/2",
    "a service that exited is down",
  );
});
