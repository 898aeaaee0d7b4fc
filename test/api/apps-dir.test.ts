/**
 * The local apps directory as a developer uses it: a manifest dropped in, or edited, is what the
 * next install acts on, even right after a listing read the directory (listings may reuse a read
 * that is a few seconds old; an install or update never does). The daemon runs in-process over a
 * Podman that never answers: what is checked is recorded before any container.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ok, type Session, setup, startDaemon, type TestDaemon } from "./support.ts";

const manifest = (id: string, version: string) => `manifest: 1
id: ${id}
version: ${version}
name: ${id}
description: An app written into the apps directory while the daemon runs
containers:
  web:
    image: localhost/archy-test/busybox:1
`;

type Listed = { id: string; version: string }[];

describe("the apps directory: what was written a moment ago is what an install acts on", () => {
  let d: TestDaemon;
  let session: Session;
  const write = (id: string, version: string) => {
    mkdirSync(join(d.appsDir, id), { recursive: true });
    writeFileSync(join(d.appsDir, id, "manifest.yml"), manifest(id, version));
  };

  before(async () => {
    d = await startDaemon({ apps: { "dir-first": manifest("dir-first", "1.0.0") } });
    session = await setup(d.port);
  });
  after(async () => {
    await d?.close();
  });

  test("an app added right after a listing installs at once", async () => {
    const listed = (await ok(d.port, "package.available", {}, session)) as Listed;
    assert.deepEqual(
      listed.map((a) => a.id),
      ["dir-first"],
    );
    write("dir-added", "1.0.0");
    await ok(d.port, "package.install", { id: "dir-added" }, session);
    const installed = (await ok(d.port, "package.list", {}, session)) as Listed;
    assert.deepEqual(
      installed.map((a) => [a.id, a.version]),
      [["dir-added", "1.0.0"]],
    );
  });

  test("a manifest edited right after a listing installs as edited", async () => {
    await ok(d.port, "package.available", {}, session);
    write("dir-first", "1.1.0");
    await ok(d.port, "package.install", { id: "dir-first" }, session);
    const installed = (await ok(d.port, "package.list", {}, session)) as Listed;
    assert.equal(installed.find((a) => a.id === "dir-first")?.version, "1.1.0");
  });
});
