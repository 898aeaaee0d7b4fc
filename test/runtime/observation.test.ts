/**
 * Observation on the real rootless Podman: sample apps installed through the PodmanRuntime (network,
 * volumes, secrets with random values, containers created and started in order) are all reported
 * by one labelled list call, with app id, container key, spec hash, state, start time and backend;
 * adopting legacy containers by name costs exactly one more call.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { TEST_IMAGE } from "../../src/host/layout.ts";
import { CURRENT_NAMING, secretName } from "../../src/manifest/naming.ts";
import { PodmanRuntime } from "../../src/runtime/podman-runtime.ts";
import type { LegacyName } from "../../src/runtime/runtime.ts";
import { podman } from "../support/rootless.ts";
import { type LabSample, RuntimeLab, refOf } from "../support/runtime-lab.ts";

let lab: RuntimeLab;
let runtime: PodmanRuntime;
const installed: LabSample[] = [];
let startedFrom = 0;
let startedUntil = 0;

before(async () => {
  lab = await RuntimeLab.open();
  runtime = new PodmanRuntime({ client: lab.client, createWith: "podman" });
  startedFrom = Date.now();
  for (const id of ["notes", "mini-node"]) {
    const app = await lab.sample(id);
    await runtime.ensureNetwork(app.manifest, app.ctx);
    await runtime.ensureVolumes(app.manifest, app.ctx);
    for (const secret of Object.keys(app.manifest.secrets))
      assert.equal(
        // Text, as generated secrets are: an environment value cannot hold every byte (NUL).
        await runtime.ensureSecret(
          secretName(app.manifest.id, secret, CURRENT_NAMING),
          Buffer.from(randomBytes(24).toString("hex")),
        ),
        true,
        "a new secret is created",
      );
    for (const container of app.plan.containers) {
      await runtime.create(app.manifest, container.key, app.ctx);
      await runtime.start(refOf(container.name));
    }
    installed.push(app);
  }
  startedUntil = Date.now();
});

after(async () => {
  await lab?.close();
});

/** Counts the Podman calls made while `run` runs. */
async function counting<T>(run: () => Promise<T>): Promise<{ result: T; calls: string[] }> {
  const calls: string[] = [];
  const unobserve = lab.client.observe((call) => calls.push(call.operation));
  try {
    return { result: await run(), calls };
  } finally {
    unobserve();
  }
}

describe("real Podman: observation", () => {
  test("one list call reports every container with app, key, spec hash, state, start time, backend", async () => {
    const before = Date.now();
    const { result: observation, calls } = await counting(() => runtime.observe());
    const after = Date.now();
    assert.deepEqual(calls, ["container.list"]);
    assert.equal(observation.calls, 1);
    assert.ok(before <= observation.at && observation.at <= after, "stamped with the time of the call");
    for (const app of installed)
      for (const planned of app.plan.containers) {
        const seen = observation.containers.find((c) => c.name === planned.name);
        assert.ok(seen, `${planned.name} is observed`);
        assert.equal(seen.appId, app.manifest.id);
        assert.equal(seen.key, planned.key);
        assert.equal(seen.specHash, planned.hash);
        assert.equal(seen.state, "running", `${planned.name} is running`);
        assert.equal(seen.backend, "podman");
        assert.equal(seen.unit, undefined);
        assert.equal(seen.image, TEST_IMAGE);
        assert.match(seen.id, /^[0-9a-f]{64}$/);
        assert.ok(seen.startedAt !== undefined, `${planned.name} has a start time`);
        // Podman reports start times in whole seconds.
        assert.ok(
          seen.startedAt >= startedFrom - 1000 && seen.startedAt <= startedUntil + 1000,
          `${planned.name} started at ${new Date(seen.startedAt).toISOString()}`,
        );
        assert.equal(seen.finishedAt, undefined);
      }
    // Only what the platform labelled: the test user's other containers are not reported.
    for (const c of observation.containers) assert.equal(c.labels["io.archipelago.owner"], "archipelago");
  });

  test("the number of calls does not grow with the number of containers", async () => {
    const ours = (await runtime.observe()).containers.filter((c) => c.appId?.startsWith(lab.prefix));
    assert.equal(
      ours.length,
      installed.reduce((n, app) => n + app.plan.containers.length, 0),
    );
    const { calls } = await counting(() => runtime.observe());
    assert.equal(calls.length, 1);
  });

  test("with legacy names to adopt: exactly 2 calls, the legacy container reported under its app", async () => {
    const legacyName = `${lab.prefix}-hello-legacy`;
    await podman(["run", "-d", "--name", legacyName, "-e", "PORT=8080", TEST_IMAGE, "serve"], {
      timeoutMs: 60_000,
    });
    const legacy = new Map<string, LegacyName>([
      [legacyName, { appId: `${lab.prefix}-hello-web`, key: "web" }],
      [`${lab.prefix}-never-existed`, { appId: `${lab.prefix}-hello-web`, key: "web" }],
    ]);
    const { result: observation, calls } = await counting(() => runtime.observe(legacy));
    assert.deepEqual(calls, ["container.list", "container.list"]);
    assert.equal(observation.calls, 2);
    const adopted = observation.containers.find((c) => c.name === legacyName);
    assert.ok(adopted);
    assert.equal(adopted.appId, `${lab.prefix}-hello-web`);
    assert.equal(adopted.key, "web");
    assert.equal(adopted.specHash, undefined);
    assert.equal(adopted.state, "running");
    assert.equal(adopted.backend, "podman");
    assert.equal(observation.containers.filter((c) => c.name === legacyName).length, 1, "reported once");
    for (const app of installed)
      for (const planned of app.plan.containers)
        assert.ok(observation.containers.some((c) => c.name === planned.name));

    // A managed container named among the legacy ones needs no second call.
    const managedName = installed[0]?.plan.containers[0]?.name as string;
    const again = await counting(() => runtime.observe(new Map([[managedName, { appId: "x", key: "y" }]])));
    assert.equal(again.calls.length, 1);
  });

  test("a stopped container is observed exited with its exit code and a finish time", async () => {
    const app = installed[0] as LabSample;
    const cache = app.name("cache");
    await runtime.stop(refOf(cache), 10);
    const seen = (await runtime.observe()).containers.find((c) => c.name === cache);
    assert.equal(seen?.state, "exited");
    const inspected = await lab.client.containers.inspect(cache);
    assert.equal(seen?.exitCode, inspected.State.ExitCode);
    assert.ok(seen?.finishedAt !== undefined && seen.finishedAt >= (seen.startedAt ?? 0));
  });
});
