/**
 * Chaos on the real rootless Podman while apps run: a container killed by hand, a container removed
 * by hand, a duplicate container made by hand, the Podman service killed and started again by
 * someone else, and the Podman service the daemon started itself killed — each converges back to
 * the operator's intent, with the same data.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { TEST_IMAGE } from "../../src/host/layout.ts";
import { type Driver, eventually, httpGet, Lab, sleep, type TestApp } from "../support/driver.ts";
import { waitFor } from "../support/wait.ts";

let lab: Lab;
let driver: Driver;
let hello: TestApp;
let notes: TestApp;
let marker: string;

before(async () => {
  lab = await Lab.create();
  driver = await lab.driver();
  hello = await lab.app("hello-web");
  notes = await lab.app("notes");
  await driver.call("install", { path: hello.dir });
  await driver.call("install", { path: notes.dir });
  await driver.waitPhase(hello.id, "running", 60_000);
  await driver.waitPhase(notes.id, "running", 90_000);
  marker = `chaos-${Date.now()}`;
  await lab.exec(hello.names.web as string, `echo ${marker} > /data/marker.txt`);
});

after(async () => {
  await lab?.close();
});

/** Waits until `name` runs (podman inspect) and the app is listed as running; returns its id. */
async function backRunning(app: TestApp, name: string, timeoutMs = 45_000): Promise<string> {
  const id = await eventually(
    `${name} runs again`,
    async () => {
      const inspect = await lab.inspect(name);
      return inspect?.running ? inspect.id : undefined;
    },
    timeoutMs,
  );
  await driver.waitPhase(app.id, "running", timeoutMs);
  return id;
}

async function helloAnswers(): Promise<void> {
  await eventually(
    "hello-web answers",
    async () => (await httpGet(hello.ports["web/8080"] as number))?.status === 200,
    30_000,
  );
}

async function exactlyOnePerKey(app: TestApp): Promise<void> {
  const keys = [...(await lab.containers()).values()].filter((c) => c.app === app.id).map((c) => c.key);
  assert.deepEqual(keys.sort(), Object.keys(app.names).sort(), `${app.id}: exactly one container per key`);
}

describe("real Podman: chaos while apps run", () => {
  test("a container killed by hand is started again (the same container)", async () => {
    const db = notes.names.db as string;
    const before = await lab.inspect(db);
    const restarts = async () =>
      (await driver.app(notes.id))?.containers.find((c) => c.key === "db")?.restarts;
    const counted = await restarts();
    assert.ok(counted !== undefined, "db is observed");
    await lab.podman(["kill", db]);
    const id = await backRunning(notes, db);
    assert.equal(id, before?.id, "started again, not recreated");
    assert.notEqual((await lab.inspect(db))?.startedAt, before?.startedAt);
    // Podman's RestartCount stays 0 (the daemon starts it, not a restart policy): the count the
    // operator sees is the daemon's, from its observations.
    let now: number | undefined;
    await waitFor(
      async () => {
        now = await restarts();
        return (now ?? 0) > counted;
      },
      {
        what: "the stored observation counts the restart",
        timeoutMs: 60_000,
        seen: () => `${counted} restarts before, ${now} now`,
      },
    );
    await exactlyOnePerKey(notes);
  });

  test("a container removed by hand is recreated, and its data is still there", async () => {
    const web = hello.names.web as string;
    const before = await lab.inspect(web);
    await lab.podman(["rm", "-f", "-t", "0", web]);
    const id = await backRunning(hello, web);
    assert.notEqual(id, before?.id, "a new container");
    assert.equal(await lab.exec(web, "cat /data/marker.txt"), `${marker}\n`, "with the same data");
    await helloAnswers();
    await exactlyOnePerKey(hello);
  });

  test("pre_start copies land in the volume of a stopped container, and of one removed by hand", async () => {
    const node = await lab.app("mini-node");
    await driver.call("install", { path: node.dir });
    await driver.waitPhase(node.id, "running", 90_000);
    const name = node.names.node as string;
    const copied = async () =>
      (await lab.exec(name, "test -s /var/lib/mini-node/node.conf && echo copied || echo missing")).trim();
    // First a plain stop and start: the copy into the stopped container must land in its volume.
    await driver.call("stop", { app: node.id });
    await driver.waitPhase(node.id, "stopped", 60_000);
    const restarted = await driver.call<{ operationId: string }>("start", { app: node.id });
    await driver.operationDone(restarted.operationId, 90_000);
    await driver.waitPhase(node.id, "running", 60_000);
    assert.equal(await copied(), "copied", "the pre_start copy is in the volume after a start");
    await lab.exec(name, "rm /var/lib/mini-node/node.conf");

    await driver.call("stop", { app: node.id });
    await driver.waitPhase(node.id, "stopped", 60_000);
    const removed = (await lab.inspect(name))?.id;
    await lab.podman(["rm", "-f", "-t", "0", name]);

    const since = driver.messages.length;
    const accepted = await driver.call<{ operationId: string }>("start", { app: node.id });
    const record = await driver.operationDone(accepted.operationId, 90_000);
    assert.equal(record.operation?.state, "succeeded", `${record.operation?.error}\n${driver.tail()}`);
    await driver.waitPhase(node.id, "running", 60_000);
    const recreated = await lab.inspect(name);
    assert.ok(recreated?.running && recreated.id !== removed, "a new container runs");
    const lines = driver.messages
      .slice(since)
      .map((m) => (m as { message?: string }).message ?? "")
      .filter((line) => line.startsWith(`${node.id}: `));
    // The last of each (an observation from before the removal may cost a first, retried attempt).
    const at = (pattern: RegExp) => lines.findLastIndex((line) => pattern.test(line));
    assert.ok(at(/the pre_start hook waits until node is created/) >= 0, lines.join("\n"));
    assert.ok(at(/pre_start step 1: copied files\/node\.conf/) > at(/creating /), lines.join("\n"));
    assert.ok(at(/starting /) > at(/pre_start step 1: copied/), lines.join("\n"));
    assert.equal(await copied(), "copied", "the pre_start copy is in the new container's volume");
    await driver.call("uninstall", { app: node.id, purge: true });
    await driver.waitPhase(node.id, "removed", 60_000);
  });

  test("a duplicate container carrying an app's labels is removed; the app's own container stays", async () => {
    const cache = notes.names.cache as string;
    const before = await lab.inspect(cache);
    const duplicate = `${lab.prefix}-duplicate-cache`;
    await lab.podman([
      "create",
      "--name",
      duplicate,
      "--label",
      "io.archipelago.owner=archipelago",
      "--label",
      `io.archipelago.app=${notes.id}`,
      "--label",
      "io.archipelago.container=cache",
      TEST_IMAGE,
      "serve",
    ]);
    await eventually(
      "the duplicate is removed",
      async () => (await lab.inspect(duplicate)) === undefined,
      30_000,
    );
    await driver.waitPhase(notes.id, "running", 30_000);
    const after = await lab.inspect(cache);
    assert.equal(after?.id, before?.id, "the app's own cache container was kept");
    assert.equal(after?.running, true);
    await exactlyOnePerKey(notes);
  });

  test("the Podman service killed and started again: the daemon reconnects and converges, and restarts no healthy container", async () => {
    const web = hello.names.web as string;
    const before = await lab.inspect(web);
    // notes runs and is healthy throughout: while Podman is away its probes cannot run, which is
    // no verdict (counted as failures, they made it unhealthy and the daemon restarted it once
    // Podman was back — on a busy machine, where the service takes longer to come back).
    const notesStarts = async () =>
      Object.fromEntries(
        await Promise.all(
          Object.values(notes.names).map(async (name) => [name, (await lab.inspect(name))?.startedAt]),
        ),
      );
    const notesBefore = await notesStarts();
    await lab.service.crash();
    // While no service answers: the list still shows every app, and reality drifts.
    const during = await driver.list();
    assert.deepEqual(
      during.map((a) => [a.id, a.phase]).sort(),
      [
        [hello.id, "running"],
        [notes.id, "running"],
      ].sort(),
      "apps stay listed with their last known phase",
    );
    await lab.podman(["stop", "-t", "0", web]);
    // Away for longer than notes' probes need to call it unhealthy (5 failures, 1 s apart).
    await sleep(7_000);
    assert.equal(driver.alive, true, "the daemon survived");
    assert.deepEqual(
      (await driver.list()).map((a) => a.id).sort(),
      [hello.id, notes.id].sort(),
      "still listed while Podman is away",
    );
    await lab.service.start();
    const id = await backRunning(hello, web);
    assert.equal(id, before?.id);
    await helloAnswers();
    for (const app of [hello, notes])
      assert.equal((await driver.app(app.id))?.phase, "running", `${app.id}\n${driver.tail()}`);
    assert.deepEqual(
      await notesStarts(),
      notesBefore,
      `no container of notes was restarted\n${driver.tail()}`,
    );
  });

  test("after the Podman service restarted, a restart of a running app completes in place", async () => {
    await lab.service.stop();
    await lab.service.start();
    await sleep(1_000);
    for (const app of [hello, notes]) {
      const before = await lab.inspect(app.names[Object.keys(app.names)[0] as string] as string);
      const accepted = await driver.call<{ operationId: string }>("restart", { app: app.id });
      const record = await driver.operationDone(accepted.operationId, 90_000);
      assert.equal(record.operation?.state, "succeeded", `${record.operation?.error}\n${driver.tail()}`);
      const after = await lab.inspect(before?.name as string);
      assert.equal(after?.id, before?.id, "restarted in place");
      assert.notEqual(after?.startedAt, before?.startedAt, "started again");
    }
  });

  test("the Podman service killed in the middle of an install: the install still succeeds", async () => {
    const node = await lab.app("mini-node");
    const accepted = await driver.call<{ operationId: string }>("install", { path: node.dir });
    await driver.waitFor(
      (m) => m.event?.type === "log" && /creating/.test(JSON.stringify(m.event)),
      30_000,
      "the first create",
    );
    await lab.service.crash();
    await sleep(3_000);
    await lab.service.start();
    await driver.waitPhase(node.id, "running", 90_000);
    const record = await driver.operationDone(accepted.operationId, 30_000);
    assert.equal(record.operation?.state, "succeeded", `${record.operation?.error}\n${driver.tail()}`);
    await exactlyOnePerKey(node);
    await driver.call("uninstall", { app: node.id, purge: true });
    await driver.waitPhase(node.id, "removed", 60_000);
  });

  test("the Podman service the daemon started is killed: the daemon starts it again and converges", async () => {
    await driver.kill();
    const socketPath = `${lab.root}/own/podman.sock`;
    driver = await lab.driver({ podman: { kind: "spawn", socketPath } });
    const connected = await driver.waitFor((m) => m.podman !== undefined, 30_000, "the Podman connection");
    assert.equal(connected.podman?.origin, "spawned");
    const pid = connected.podman?.pid as number;
    assert.ok(pid > 0);
    await driver.waitPhase(hello.id, "running", 30_000);

    const db = notes.names.db as string;
    const before = await lab.inspect(db);
    process.kill(pid, "SIGKILL");
    await lab.podman(["kill", db]);
    const id = await backRunning(notes, db, 60_000);
    assert.equal(id, before?.id);
    const revived = driver.messages.find((m) => /starting it again/.test(m.message ?? ""));
    assert.ok(revived, `the daemon said it started the service again\n${driver.tail()}`);
    assert.ok(
      driver.messages.some((m) => /answers again/.test(m.message ?? "")),
      "and that it answers again",
    );
    await exactlyOnePerKey(notes);
    await exactlyOnePerKey(hello);
  });
});
