/**
 * The daemon and a Podman that does not answer: the API serves from the store at once, a stop does not
 * wait for the connection attempt in flight, and a Podman that fails at first is connected on a
 * later attempt (the daemon keeps trying instead of giving up after the first failure).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { waitFor } from "../support/wait.ts";
import { http, ok, setup, startDaemon } from "./support.ts";

const INFO = {
  version: { Version: "4.3.1", APIVersion: "4.3.1" },
  host: { security: { rootless: true }, cgroupManager: "cgroupfs", ociRuntime: { name: "runc" } },
  store: { graphDriverName: "overlay" },
};

// Not by the clock: the fake Podman never answers `/info`, so the daemon's first connection attempt
// hangs until its own 30 s limit. What was answered while that call was still in flight did not
// wait for Podman.
test("while Podman hangs, the API answers from the store and a stop is prompt", async () => {
  const d = await startDaemon();
  try {
    const session = await setup(d.port);
    await ok(d.port, "package.install", { id: "api-alpha" }, session);
    const apps = (await ok(d.port, "package.list", {}, session)) as Array<{ id: string; phase: string }>;
    assert.deepEqual(
      apps.map((a) => [a.id, a.phase]),
      [["api-alpha", "installing"]],
    );
    const info = (await ok(d.port, "system.info", {}, {})) as { backend: string };
    assert.equal(info.backend, "connecting to Podman");
    assert.ok(
      d.podman.unanswered().some((target) => target.endsWith("/info")),
      `answered while the daemon's first call to Podman was still waiting: ${JSON.stringify(d.podman.requests)}`,
    );
    assert.ok(
      d.podman.requests.some((target) => target.endsWith("/info")),
      "the daemon reached the fake Podman, never another one",
    );
    await d.stop();
    assert.ok(
      d.podman.unanswered().some((target) => target.endsWith("/info")),
      "the stop did not wait for the connection attempt: its call to Podman is still waiting",
    );
  } finally {
    await d.close();
  }
});

test("a Podman that fails at first is connected on a later attempt", async () => {
  let infoCalls = 0;
  const d = await startDaemon({
    podman: (target) => {
      if (!target.includes("/info")) return undefined;
      infoCalls++;
      return infoCalls === 1
        ? { status: 500, body: { cause: "starting", message: "not ready" } }
        : { status: 200, body: INFO };
    },
  });
  try {
    const backend = await waitFor(
      async () => {
        const { backend } = (await ok(d.port, "system.info", {}, {})) as { backend: string };
        return backend !== "connecting to Podman" && backend;
      },
      { what: "system.info to show a connected backend", seen: () => d.logs.slice(-5) },
    );
    assert.equal(backend, "podman");
    assert.ok(infoCalls >= 2, "connected on a later attempt");
    assert.ok(
      d.logs.some((line) => line.includes("cannot connect to Podman") && line.includes("trying again")),
      "the failure is logged with the retry",
    );
    const metrics = await http(d.port, { path: "/metrics" });
    assert.match(metrics.text, /^archy_podman_connected 1$/m);
  } finally {
    await d.close();
  }
});
