/**
 * Installing an app whose host path reaches the daemon's own files is refused, with the reason and
 * nothing changed: a path no app may have is refused when the manifest is read (validation), a
 * path that leads there through a symbolic link, or that does not exist, when it is looked up on
 * the node, before anything is recorded. The daemon runs in-process over a Podman that never
 * answers: the refusal comes before any container.
 */
import assert from "node:assert/strict";
import { mkdirSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { RPC_CODES } from "../../src/api/rpc/errors.ts";
import { makeHostRoot } from "../support/host-root.ts";
import { fails, ok, type Session, setup, startDaemon, storeSnapshot, type TestDaemon } from "./support.ts";

const app = (id: string, path: string) => `manifest: 1
id: ${id}
version: 1.0.0
name: ${id}
description: An app that asks for a host path
containers:
  web:
    image: localhost/archy-test/busybox:1
    volumes: [{ host_path: ${path}, permission: files, path: /files, read_only: true }]
permissions:
  files: { kind: host-path, path: ${path}, reason: the test }
`;

describe("no host path reaches the daemon's data: install refuses it, changing nothing", () => {
  const hostRoot = makeHostRoot("api");
  let d: TestDaemon;
  let session: Session;

  before(async () => {
    d = await startDaemon({
      apps: {
        "hp-home": app("hp-home", "/home"),
        "hp-var": app("hp-var", "/var/lib"),
        "hp-tmp": app("hp-tmp", "/tmp/shared"),
        "hp-link": app("hp-link", join(hostRoot, "media")),
        "hp-missing": app("hp-missing", join(hostRoot, "not-there")),
        "hp-fine": app("hp-fine", join(hostRoot, "photos")),
      },
    });
    session = await setup(d.port);
    // A link to the daemon's state (its store, secrets and CLI token), made after the manifest was written.
    symlinkSync(join(d.dataDir, "state"), join(hostRoot, "media"));
    mkdirSync(join(hostRoot, "photos"));
  });
  after(async () => {
    await d?.close();
    rmSync(hostRoot, { recursive: true, force: true });
  });

  const refused = async (id: string, message: RegExp) => {
    const before = storeSnapshot(d.storePath);
    const error = await fails(d.port, "package.install", { id }, session, RPC_CODES.invalidManifest);
    assert.match(error.message, message);
    assert.deepEqual(storeSnapshot(d.storePath), before, "a refused install changes nothing");
  };

  test("a permission on /home, /var or /tmp is refused when the manifest is read", async () => {
    await refused(
      "hp-home",
      /host path \/home can never be (granted|mounted): it is \/home \(users' homes, the daemon's data and keys/,
    );
    await refused("hp-var", /host path \/var\/lib can never be (granted|mounted): it is inside \/var \(/);
    await refused("hp-tmp", /host path \/tmp\/shared can never be (granted|mounted): it is inside \/tmp \(/);
  });

  test("a path that leads to the daemon's state through a symbolic link is refused when it is looked up", async () => {
    await refused(
      "hp-link",
      /hp-link cannot be installed here: host path \S+\/media \(permission files\) is refused: through a symbolic link, it resolves to \S+\/state, which is \S+\/state \(the daemon's state: its store, the apps' secrets, the CLI token\)/,
    );
  });

  test("a path that does not exist is refused at once, naming it and what to do", async () => {
    await refused("hp-missing", /host path \S+\/not-there \(permission files\) does not exist: create it/);
  });

  test("passing: a directory of its own under /srv is installed", async () => {
    // The operator approves the host path it asks for (docs/manifest.md, Permissions).
    const approve = [{ name: "files", content: `host-path ${join(hostRoot, "photos")}` }];
    const accepted = (await ok(d.port, "package.install", { id: "hp-fine", approve }, session)) as {
      appId: string;
    };
    assert.equal(accepted.appId, "hp-fine");
  });
});
