/**
 * `shm_size` and `ulimits` on the real rootless Podman, through the stand-in daemon: the process
 * runs with the soft and hard limits the manifest asks for and a /dev/shm of its size, on every
 * backend the daemon creates with (the plain one here; the Quadlet unit passes the same arguments).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { parseDocument } from "yaml";
import { type Driver, Lab, type TestApp } from "../support/driver.ts";

let lab: Lab;
let driver: Driver;
let app: TestApp;

before(async () => {
  lab = await Lab.create();
  driver = await lab.driver();
  app = await lab.app("hello-web");
  await lab.editManifest(app, (doc) => {
    const web = doc.getIn(["containers", "web"]) as { set(key: string, value: unknown): void };
    web.set("shm_size", "96m");
    web.set("ulimits", parseDocument("{ nofile: { soft: 512, hard: 1024 }, core: 0 }").contents);
  });
  const { operationId } = await driver.call<{ operationId: string }>("install", { path: app.dir });
  const record = await driver.operationDone(operationId, 120_000);
  assert.equal(record.operation?.state, "succeeded", `${record.operation?.error}\n${driver.tail()}`);
});

after(async () => {
  await lab?.close();
});

describe("real Podman: shm_size and ulimits", () => {
  test("the process has the soft and hard limits asked for", async () => {
    // The limits of the container's process 1 (the server), as the kernel reports them.
    const limits = await lab.exec(app.names.web as string, "cat /proc/1/limits");
    assert.match(limits, /^Max open files +512 +1024 +files/m, limits);
    assert.match(limits, /^Max core file size +0 +0 +bytes/m, limits);
  });

  test("/dev/shm has the size asked for", async () => {
    const mounts = await lab.exec(app.names.web as string, "grep ' /dev/shm ' /proc/mounts");
    assert.match(mounts, /size=98304k/, mounts);
  });
});
