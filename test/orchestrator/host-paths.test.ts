/**
 * Host paths on real Podman, checked where they resolve at every use: mini-node mounts its
 * bootstrap directory (a host path under /srv). Swapped for a symbolic link to the daemon's state
 * (its store and the apps' secrets) after the install, it is refused at the next start, and a
 * running container whose path is swapped is stopped at the next pass; a host path that does not
 * exist fails an install at once, naming it, instead of retrying a raw Podman error.
 */
import assert from "node:assert/strict";
import { renameSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Driver, eventually, Lab, type TestApp } from "../support/driver.ts";

describe("real Podman: no host path reaches the daemon's keys, whatever it became since the install", () => {
  let lab: Lab;
  let driver: Driver;
  let node: TestApp;
  let bootstrap: string;

  /** Makes the bootstrap directory a link to the daemon's state; returns the undo. */
  const swapForLink = (): (() => void) => {
    renameSync(bootstrap, `${bootstrap}.real`);
    symlinkSync(lab.stateDir, bootstrap);
    return () => {
      rmSync(bootstrap);
      renameSync(`${bootstrap}.real`, bootstrap);
    };
  };

  const reasonOf = async (id: string) => (await driver.app(id))?.reason ?? "";
  const running = async (name: string) => (await lab.inspect(name))?.running ?? false;

  before(async () => {
    lab = await Lab.create();
    driver = await lab.driver();
    node = await lab.app("mini-node");
    bootstrap = join(lab.hostRoot, "srv/mini-node/bootstrap");
    const accepted = await driver.call<{ operationId: string }>("install", { path: node.dir });
    const record = await driver.operationDone(accepted.operationId, 120_000);
    assert.equal(record.operation?.state, "succeeded", JSON.stringify(record));
    assert.equal(
      (await lab.exec(node.names.node as string, "cat /bootstrap/blocks.dat")).trim(),
      "bootstrap",
      "the host path is mounted",
    );
  });
  after(async () => {
    await lab?.close();
  });

  test("a host path swapped for a link to the daemon's state since install is refused at the next start", async () => {
    await driver.call("stop", { app: node.id });
    await driver.waitPhase(node.id, "stopped");
    const undo = swapForLink();
    try {
      await driver.call("start", { app: node.id });
      await driver.waitPhase(node.id, "failed", 60_000);
      assert.match(
        await reasonOf(node.id),
        new RegExp(
          `host path ${bootstrap} \\(mounted at node:/bootstrap\\) is refused: through a symbolic link, it resolves to ${lab.stateDir}, which is ${lab.stateDir} \\(the daemon's state`,
        ),
      );
      assert.equal(await running(node.names.node as string), false, "the container was never started");
    } finally {
      undo();
    }
    // Once the path is a directory of its own again, a retry starts the app.
    await driver.call("retry", { app: node.id });
    await driver.waitPhase(node.id, "running", 60_000);
  });

  test("a running container whose host path is swapped for such a link is stopped at the next pass", async () => {
    assert.equal(await running(node.names.node as string), true);
    const undo = swapForLink();
    try {
      await driver.waitPhase(node.id, "failed", 60_000);
      assert.match(await reasonOf(node.id), /is refused: through a symbolic link, it resolves to/);
      await eventually("the container is stopped", async () => !(await running(node.names.node as string)));
    } finally {
      undo();
    }
  });

  test("a host path that does not exist fails the install at once, naming it and what to do", async () => {
    await driver.call("uninstall", { app: node.id, purge: true });
    await driver.waitPhase(node.id, "removed", 60_000);
    renameSync(bootstrap, `${bootstrap}.away`);
    try {
      const accepted = await driver.call<{ operationId: string }>("install", { path: node.dir });
      const record = await driver.operationDone(accepted.operationId, 60_000);
      assert.equal(record.operation?.state, "failed");
      assert.match(
        record.operation?.error ?? "",
        new RegExp(`host path ${bootstrap} \\(mounted at node:/bootstrap\\) does not exist: create it`),
      );
      assert.ok(
        !record.logs.some((l) => /retrying in/.test(l.message)),
        `no retry of what only the operator can fix:\n${record.logs.map((l) => l.message).join("\n")}`,
      );
      assert.equal((await lab.containers()).size, 0, "no container was created");
      assert.equal(await lab.exists(lab.appDataDir(node)), false, "no data directory was created");
    } finally {
      renameSync(`${bootstrap}.away`, bootstrap);
    }
  });
});
