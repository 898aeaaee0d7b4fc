import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { generateKey, openKey, type SigningKey } from "./keys.ts";
import type { TopRole } from "./layout.ts";
import {
  addApp,
  DEFAULT_LIFETIMES,
  delegate,
  initRepository,
  listApps,
  type Repository,
  removeApp,
  rotateRoot,
  signRole,
  status,
} from "./repository.ts";

const NOW = Date.parse("2026-01-01T00:00:00Z");
const settings = { now: NOW, lifetimes: DEFAULT_LIFETIMES };
const key = (role: string): SigningKey => openKey(JSON.stringify(generateKey(role)), `${role}.key`);
const app = (id: string, version: string) => ({
  id,
  version,
  files: [{ path: "manifest.yml", bytes: Buffer.from(`id: ${id}\nversion: ${version}\n`) }],
});

/** A catalog with two root keys (threshold 2) and one key for each other role, all signed. */
function signedCatalog() {
  const keys = {
    root: [key("root"), key("root")],
    targets: [key("targets")],
    snapshot: [key("snapshot")],
    timestamp: [key("timestamp")],
  };
  let repo = initRepository({
    keys: Object.fromEntries(Object.entries(keys).map(([r, ks]) => [r, ks.map((k) => k.key)])) as Record<
      TopRole,
      SigningKey["key"][]
    >,
    thresholds: { root: 2, targets: 1, snapshot: 1, timestamp: 1 },
    ...settings,
  });
  for (const role of ["root", "targets", "snapshot", "timestamp"] as const)
    repo = signRole(repo, role, keys[role], settings);
  return { keys, repo };
}

const problems = (repo: Repository) =>
  Object.fromEntries(
    status(repo, NOW)
      .filter((s) => s.problem)
      .map((s) => [s.role, s.problem]),
  );

describe("the catalog repository", () => {
  test("a new catalog, once every role is signed, is ready to publish", () => {
    const { repo } = signedCatalog();
    assert.deepEqual(problems(repo), {});
    assert.equal(repo.roots.length, 1, "root 1 is part of the chain");
  });

  test("a root needs its threshold: one of two keys leaves it pending", () => {
    const keys = {
      root: [key("root"), key("root")],
      targets: [key("t")],
      snapshot: [key("s")],
      timestamp: [key("ts")],
    };
    const repo = initRepository({
      keys: Object.fromEntries(Object.entries(keys).map(([r, ks]) => [r, ks.map((k) => k.key)])) as Record<
        TopRole,
        SigningKey["key"][]
      >,
      thresholds: { root: 2, targets: 1, snapshot: 1, timestamp: 1 },
      ...settings,
    });
    const once = signRole(repo, "root", [keys.root[0] as SigningKey], settings);
    assert.equal(once.roots.length, 0);
    assert.ok(once.pendingRoot);
    assert.throws(
      () => signRole(repo, "root", [keys.targets[0] as SigningKey], settings),
      /is not a root key/,
    );
  });

  test("adding an app leaves targets unsigned (a new version) until it is signed, then snapshot and timestamp follow", () => {
    const { keys, repo } = signedCatalog();
    const added = addApp(repo, app("alpha", "1.0.0"), settings);
    assert.equal(added.targets.signed.version, repo.targets.signed.version + 1);
    assert.deepEqual(Object.keys(added.targets.signatures), []);
    assert.match(problems(added).targets ?? "", /needs 1 valid signature/);
    assert.throws(
      () => signRole(added, "snapshot", keys.snapshot, settings),
      /targets\.json .* is not signed by enough/,
    );
    let next = signRole(added, "targets", keys.targets, settings);
    assert.match(problems(next).snapshot ?? "", /describes older targets/);
    next = signRole(next, "snapshot", keys.snapshot, settings);
    next = signRole(next, "timestamp", keys.timestamp, settings);
    assert.deepEqual(problems(next), {});
    // Two changes before signing go into one version.
    const twice = addApp(added, app("beta", "1.0.0"), settings);
    assert.equal(twice.targets.signed.version, added.targets.signed.version);
  });

  test("a version that is not newer is refused, a newer one replaces the old", () => {
    const { repo } = signedCatalog();
    const one = addApp(repo, app("alpha", "1.1.0"), settings);
    assert.throws(
      () => addApp(one, app("alpha", "1.1.0"), settings),
      /alpha 1\.1\.0 is not newer than 1\.1\.0.*raise `version`/,
    );
    assert.throws(() => addApp(one, app("alpha", "1.0.9"), settings), /not newer/);
    const two = addApp(one, app("alpha", "1.2.0"), settings);
    assert.deepEqual(listApps(two), [{ id: "alpha", version: "1.2.0", role: "targets" }]);
    assert.deepEqual(listApps(removeApp(two, "alpha", settings)), []);
    assert.throws(() => removeApp(repo, "alpha", settings), /alpha is not in the catalog/);
  });

  test("a namespace delegation: its apps go to its role, which may sign nothing else", () => {
    const { repo } = signedCatalog();
    const community = key("community");
    const delegated = delegate(repo, "community", [community.key], 1, settings);
    const added = addApp(delegated, app("community.relay", "0.1.0"), settings);
    assert.deepEqual(listApps(added), [{ id: "community.relay", version: "0.1.0", role: "community" }]);
    assert.throws(
      () => addApp(delegated, app("alpha", "1.0.0"), { ...settings, role: "community" }),
      /may only sign apps community\.\*/,
    );
    assert.throws(
      () => addApp(delegated, app("community.x", "1.0.0"), { ...settings, role: "targets" }),
      /is delegated: add it with --role community/,
    );
    assert.throws(() => signRole(added, "community", [key("other")], settings), /is not a community key/);
    assert.doesNotThrow(() => signRole(added, "community", [community], settings));
    assert.throws(() => delegate(repo, "targets", [community.key], 1, settings), /not a namespace/);
  });

  test("a root rotation is complete only with the old root's threshold and its own", () => {
    const { keys, repo } = signedCatalog();
    const fresh = key("root");
    const [old1, old2] = keys.root as [SigningKey, SigningKey];
    const rotated = rotateRoot(
      repo,
      [{ role: "root", add: [fresh.key], remove: [old2.key.keyID] }],
      settings,
    );
    assert.equal(rotated.pendingRoot?.signed.version, 2);
    // New root keys: old1 + fresh (threshold 2). Old root: old1 + old2 (threshold 2).
    const partial = signRole(rotated, "root", [old1, fresh], settings);
    assert.ok(partial.pendingRoot, "old root's threshold not met yet");
    assert.match(problems(partial).root ?? "", /not signed by enough keys of version 1/);
    const complete = signRole(partial, "root", [old2], settings);
    assert.equal(complete.pendingRoot, undefined);
    assert.deepEqual(
      complete.roots.map((r) => r.signed.version),
      [1, 2],
    );
    assert.throws(
      () =>
        rotateRoot(
          repo,
          [{ role: "timestamp", add: [], remove: [keys.timestamp[0]?.key.keyID as string] }],
          settings,
        ),
      /could never be met/,
    );
  });

  test("snapshot and timestamp need their threshold in one run", () => {
    const { keys, repo } = signedCatalog();
    const rotated = rotateRoot(
      repo,
      [{ role: "timestamp", add: [key("timestamp").key], remove: [], threshold: 2 }],
      settings,
    );
    const complete = signRole(rotated, "root", keys.root, settings);
    assert.throws(
      () => signRole(complete, "timestamp", keys.timestamp, settings),
      /timestamp needs 2 signatures in one run/,
    );
  });
});
