/**
 * The daemon's restarts on the real rootless Podman: an operator's stop survives a SIGKILLed daemon
 * and every resync after it; a new daemon lists the apps from its store before Podman answers; apps
 * desired running keep their containers across a daemon restart, and come back after a "reboot"
 * (every container stopped while no daemon ran).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Driver, eventually, httpGet, Lab, sleep, type TestApp } from "../support/driver.ts";

let lab: Lab;
let driver: Driver;
let hello: TestApp;
let notes: TestApp;

before(async () => {
  lab = await Lab.create();
  driver = await lab.driver();
  hello = await lab.app("hello-web");
  notes = await lab.app("notes");
  await driver.call("install", { path: hello.dir });
  await driver.call("install", { path: notes.dir });
  await driver.waitPhase(hello.id, "running", 60_000);
  await driver.waitPhase(notes.id, "running", 90_000);
});

after(async () => {
  await lab?.close();
});

/** Container id and StartedAt of every container of `app`, by name, from `podman inspect`. */
async function facts(
  app: TestApp,
): Promise<Record<string, { id: string; running: boolean; startedAt: string }>> {
  const out: Record<string, { id: string; running: boolean; startedAt: string }> = {};
  for (const name of Object.values(app.names)) {
    const inspect = await lab.inspect(name);
    assert.ok(inspect, `${name} exists`);
    out[name] = { id: inspect.id, running: inspect.running, startedAt: inspect.startedAt };
  }
  return out;
}

/** Phase changes the driver reported for `app` since it started. */
function phasesOf(d: Driver, app: TestApp): string[] {
  return d.messages
    .filter((m) => m.event?.type === "app" && m.event.appId === app.id)
    .map((m) => m.event?.phase as string);
}

describe("real Podman: operator stop and daemon restarts", () => {
  test("an operator's stop survives a SIGKILLed daemon and the resyncs of the next one", async () => {
    await driver.call("stop", { app: hello.id });
    await driver.waitPhase(hello.id, "stopped", 30_000);
    const stopped = await facts(hello);
    assert.ok(
      Object.values(stopped).every((c) => !c.running),
      "stopped (podman inspect)",
    );

    await driver.kill();
    driver = await lab.driver({ resyncMs: 500 });
    const ready = await driver.ready;
    assert.deepEqual(
      ready.apps?.find((a) => a.id === hello.id),
      { id: hello.id, phase: "stopped", desired: "stopped" },
      "the new daemon lists the app as stopped from its store",
    );
    // Six resync passes and more: nothing starts it.
    await sleep(3_500);
    assert.deepEqual(await facts(hello), stopped, "still stopped, the same container, not started again");
    assert.equal((await driver.app(hello.id))?.phase, "stopped");
    assert.deepEqual(
      phasesOf(driver, hello).filter((p) => p !== "stopped"),
      [],
      "no other phase was ever reported for the stopped app",
    );
    assert.equal(await httpGet(hello.ports["web/8080"] as number), undefined, "its UI does not answer");
  });

  test("a stop in the middle of an install wins, and a daemon restart does not undo it", async () => {
    const node = await lab.app("mini-node");
    await driver.call("install", { path: node.dir });
    await driver.waitFor(
      (m) => m.event?.type === "log" && m.event.appId === node.id && /creating/.test(JSON.stringify(m.event)),
      30_000,
      "the install's first create",
    );
    const stop = await driver.call<{ operationId: string }>("stop", { app: node.id });
    await driver.waitPhase(node.id, "stopped", 30_000);
    assert.equal((await driver.operationDone(stop.operationId)).operation?.state, "succeeded");
    await driver.kill();
    driver = await lab.driver({ resyncMs: 500 });
    await sleep(3_000);
    const name = node.names.node as string;
    assert.notEqual((await lab.inspect(name))?.running, true, "nothing started it");
    assert.equal((await driver.app(node.id))?.phase, "stopped");
    await driver.call("uninstall", { app: node.id, purge: true });
    await driver.waitPhase(node.id, "removed", 60_000);
  });

  test("a new daemon lists every app with its last known phase before Podman answers", async () => {
    const running = await facts(notes);
    await driver.kill();
    await lab.service.stop();
    let restarted = false;
    try {
      // No service answers until the ready line is in: the list came before Podman, whatever the time.
      driver = await lab.startDriver({ resyncMs: 500 });
      const ready = await driver.ready;
      assert.deepEqual(
        [...(ready.apps ?? [])].sort((a, b) => a.id.localeCompare(b.id)),
        [
          { id: hello.id, phase: "stopped", desired: "stopped" },
          { id: notes.id, phase: "running", desired: "running" },
        ].sort((a, b) => a.id.localeCompare(b.id)),
        "the first line lists both apps, as last known",
      );
      assert.equal(
        driver.messages.find((m) => m.podman),
        undefined,
        "no Podman connection yet",
      );
      await sleep(1_000);
      await lab.service.start();
      restarted = true;
      await driver.waitFor((m) => m.podman !== undefined, 30_000, "the Podman connection");
      await driver.waitPhase(notes.id, "running", 60_000);
      await sleep(1_500);
      assert.deepEqual(await facts(notes), running, "the stack kept its containers, untouched");
      assert.equal((await driver.app(hello.id))?.phase, "stopped");
    } finally {
      if (!restarted) await lab.service.start();
    }
  });

  test("after a daemon restart, apps desired running keep the same containers (not recreated, not restarted)", async () => {
    await driver.call("start", { app: hello.id });
    await driver.waitPhase(hello.id, "running", 30_000);
    const before = { ...(await facts(hello)), ...(await facts(notes)) };
    assert.ok(Object.values(before).every((c) => c.running));

    await driver.kill();
    driver = await lab.driver({ resyncMs: 500 });
    const ready = await driver.ready;
    assert.equal(ready.apps?.length, 2, "both apps listed at once");
    await sleep(3_000);
    await driver.waitPhase(hello.id, "running", 60_000);
    await driver.waitPhase(notes.id, "running", 60_000);
    const after = { ...(await facts(hello)), ...(await facts(notes)) };
    assert.deepEqual(after, before, "the same container ids, started at the same time");
    const log = driver.messages.filter((m) =>
      /creating|starting|restarting|removing|stopping/.test(m.message ?? ""),
    );
    assert.deepEqual(log, [], "the new daemon did nothing to running containers");
  });

  test("after a reboot (every container stopped while no daemon ran), running apps come back, stopped ones stay stopped", async () => {
    await driver.call("stop", { app: hello.id });
    await driver.waitPhase(hello.id, "stopped", 30_000);
    const before = { ...(await facts(hello)), ...(await facts(notes)) };
    await driver.kill();
    // What a reboot leaves: every container exited, none removed.
    await lab.podman(["stop", "-t", "2", ...Object.values(notes.names)]);
    assert.ok(Object.values(await facts(notes)).every((c) => !c.running));

    driver = await lab.driver({ resyncMs: 500 });
    await eventually(
      "the stack runs again",
      async () => Object.values(await facts(notes)).every((c) => c.running),
      60_000,
      500,
    );
    await driver.waitPhase(notes.id, "running", 60_000);
    await eventually(
      "the notes UI answers again",
      async () => (await httpGet(notes.ports["web/80"] as number))?.body.includes("database says: ok"),
      45_000,
      500,
    );
    const after = await facts(notes);
    for (const [name, c] of Object.entries(after)) {
      assert.equal(c.id, before[name]?.id, `${name}: the same container, started again`);
      assert.equal(c.running, true);
    }
    const web = after[notes.names.web as string]?.startedAt as string;
    for (const key of ["db", "cache"])
      assert.ok(
        Date.parse(after[notes.names[key] as string]?.startedAt as string) < Date.parse(web),
        `${key} started before web, which depends on it`,
      );
    await sleep(2_000);
    const helloAfter = await facts(hello);
    assert.ok(
      Object.values(helloAfter).every((c) => !c.running),
      "the app the operator stopped stays stopped",
    );
    assert.equal((await driver.app(hello.id))?.phase, "stopped");
  });

  test("after a reboot, a dependency pair comes back in dependency order", async () => {
    const node = await lab.app("mini-node");
    const explorer = await lab.app("mini-explorer");
    await driver.call("install", { path: node.dir });
    await driver.waitPhase(node.id, "running", 60_000);
    await driver.call("install", { path: explorer.dir });
    await driver.waitPhase(explorer.id, "running", 60_000);
    const before = { ...(await facts(node)), ...(await facts(explorer)) };
    await driver.kill();
    await lab.podman(["stop", "-t", "2", ...Object.values(explorer.names), ...Object.values(node.names)]);

    driver = await lab.driver({ resyncMs: 500 });
    // The store still says "running" (the last known phase) until the first pass: wait for Podman's word.
    const after = await eventually(
      "both apps run again",
      async () => {
        const now = { ...(await facts(node)), ...(await facts(explorer)) };
        return Object.values(now).every((c) => c.running) ? now : undefined;
      },
      60_000,
      500,
    );
    await driver.waitPhase(node.id, "running", 30_000);
    await driver.waitPhase(explorer.id, "running", 30_000);
    for (const [name, c] of Object.entries(after)) {
      assert.equal(c.id, before[name]?.id, `${name}: the same container`);
      assert.equal(c.running, true, `${name} runs`);
    }
    const nodeStarted = Date.parse(after[node.names.node as string]?.startedAt as string);
    const explorerStarted = Date.parse(after[explorer.names.explorer as string]?.startedAt as string);
    assert.ok(
      nodeStarted < explorerStarted,
      `the dependency started first (node ${nodeStarted}, explorer ${explorerStarted})`,
    );
    await eventually(
      "the explorer reads the node again",
      async () =>
        (await httpGet(explorer.ports["explorer/8080"] as number, "/node.json"))?.body.includes("regtest"),
      45_000,
      500,
    );
    await driver.call("uninstall", { app: explorer.id, purge: true });
    await driver.waitPhase(explorer.id, "removed", 60_000);
    await driver.call("uninstall", { app: node.id, purge: true });
    await driver.waitPhase(node.id, "removed", 60_000);
  });
});
