/**
 * The daemon and a Podman that does not answer: the API serves from the store at once, a stop does not
 * wait for the connection attempt in flight, and a Podman that fails at first is connected on a
 * later attempt (the daemon keeps trying instead of giving up after the first failure).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { http, ok, setup, startDaemon } from "./support.ts";

const INFO = {
  version: { Version: "4.3.1", APIVersion: "4.3.1" },
  host: { security: { rootless: true }, cgroupManager: "cgroupfs", ociRuntime: { name: "runc" } },
  store: { graphDriverName: "overlay" },
};

test("while Podman hangs, the API answers from the store and a stop is prompt", async () => {
  const d = await startDaemon();
  try {
    const session = await setup(d.port);
    await ok(d.port, "package.install", { id: "api-alpha" }, session);
    const started = performance.now();
    const apps = (await ok(d.port, "package.list", {}, session)) as Array<{ id: string; phase: string }>;
    assert.deepEqual(
      apps.map((a) => [a.id, a.phase]),
      [["api-alpha", "installing"]],
    );
    assert.ok(performance.now() - started < 1_000, "answered without waiting for Podman");
    const info = (await ok(d.port, "system.info", {}, {})) as { backend: string };
    assert.equal(info.backend, "connecting to Podman");
    assert.ok(
      d.podman.requests.some((target) => target.endsWith("/info")),
      "the daemon reached the fake Podman, never another one",
    );
  } finally {
    const stopping = performance.now();
    await d.close();
    assert.ok(performance.now() - stopping < 2_000, "the stop did not wait for Podman");
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
    const deadline = Date.now() + 10_000;
    let backend = "";
    while (Date.now() < deadline) {
      backend = ((await ok(d.port, "system.info", {}, {})) as { backend: string }).backend;
      if (backend !== "connecting to Podman") break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
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
