/**
 * The node's check of host paths, on a real file system with real symbolic links: a sandbox that
 * mirrors a node (its system directories, the service user's home with the daemon's data, a runtime
 * directory, Podman's storage and socket, and /srv), so every link can be made without privileges.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { expectValid, withLines } from "../../test/support/manifest-text.ts";
import type { ProtectedDir } from "../manifest/host-paths.ts";
import { HostPathError, HostPathGuard } from "./host-path-guard.ts";

const sandbox = mkdtempSync(join(tmpdir(), "archy-host-paths-"));
const at = (path: string) => join(sandbox, path);
const srv = at("srv");

/** The sandbox's system directories: the ones issue 12 names, at the same names. */
const SYSTEM = ["etc", "proc", "sys", "dev", "boot", "root", "home", "var", "run", "tmp"].map(
  (name): ProtectedDir => ({ path: at(name), what: `the system directory /${name}` }),
);
const NODE: ProtectedDir[] = [
  { path: at("home/svc/.local/share/archipelago"), what: "the daemon's data directory" },
  { path: at("home/svc"), what: "the service user's home" },
  { path: at("run/user/1000"), what: "the service user's runtime directory" },
  { path: at("home/svc/.local/share/containers/storage"), what: "Podman's storage" },
  { path: at("srv/node/archipelago"), what: "a data directory the operator put under /srv" },
];
/** Where an operator pointed the daemon at Podman: a name that does not say what it is. */
const SOCKET = at("srv/daemon-sockets/api");

const guard = new HostPathGuard({
  roots: [srv, at("mnt")],
  systemDirs: SYSTEM,
  protectedDirs: () => [...NODE, { path: SOCKET, what: "Podman's API socket" }],
});

const refusal = async (path: string): Promise<HostPathError> => {
  const error = await guard.resolve(path, "the test").then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof HostPathError, `${path} was not refused`);
  return error;
};

let link = 0;
/** A new symbolic link under /srv to `target`. */
const linkTo = (target: string): string => {
  const path = join(srv, `link-${link++}`);
  symlinkSync(target, path);
  return path;
};

before(async () => {
  for (const dir of [...SYSTEM, ...NODE]) mkdirSync(join(dir.path, "inside"), { recursive: true });
  mkdirSync(dirname(SOCKET), { recursive: true });
  writeFileSync(at("home/svc/.local/share/archipelago/cli-token"), "secret\n");
  mkdirSync(join(srv, "media"), { recursive: true });
  mkdirSync(at("mnt/disk1"), { recursive: true });
  const server = createServer();
  await new Promise<void>((done) => server.listen(SOCKET, done));
  after(() => server.close());
});
after(() => rmSync(sandbox, { recursive: true, force: true }));

describe("host paths as they resolve on the node", () => {
  test("a directory of its own under a root resolves to itself", async () => {
    assert.equal(await guard.resolve(join(srv, "media"), "the test"), join(srv, "media"));
  });

  for (const dir of [...SYSTEM, ...NODE])
    test(`no host path reaches ${dir.what} through a link: not to it, not into it, not above it`, async () => {
      const parent = dirname(dir.path);
      for (const [target, phrase] of [
        [dir.path, "is"],
        [join(dir.path, "inside"), "is inside"],
      ] as const) {
        const error = await refusal(linkTo(target));
        assert.equal(error.kind, "refused");
        assert.match(error.message, new RegExp(`resolves to ${target}, which ${phrase} ${dir.path} \\(`));
      }
      if (parent !== sandbox) {
        const error = await refusal(linkTo(parent));
        assert.match(error.message, new RegExp(`resolves to ${parent}, which (contains|is|is inside) `));
      }
    });

  test("no host path holds the daemon's data where the operator put it under /srv", async () => {
    for (const path of [at("srv/node"), at("srv/node/archipelago"), at("srv/node/archipelago/inside")]) {
      const error = await refusal(path);
      assert.match(error.message, /a data directory the operator put under \/srv/);
    }
  });

  test("no host path is or holds Podman's socket, whatever its name", async () => {
    assert.match((await refusal(dirname(SOCKET))).message, /it contains .*\/api \(Podman's API socket\)/);
    assert.match((await refusal(SOCKET)).message, /it is .*\/api \(Podman's API socket\)/);
    assert.match(
      (await refusal(linkTo(dirname(SOCKET)))).message,
      /resolves to .*daemon-sockets, which contains .*\/api \(Podman's API socket\)/,
    );
    mkdirSync(join(srv, "sockets"));
    const socket = join(srv, "sockets", "api");
    const server = createServer();
    await new Promise<void>((done) => server.listen(socket, done));
    try {
      assert.match((await refusal(socket)).message, /it is a socket, not a directory or a file/);
    } finally {
      server.close();
    }
  });

  test("a named pipe is refused as what it is, without opening it (which would hang)", async () => {
    const fifo = join(srv, "pipe");
    execFileSync("mkfifo", [fifo]);
    assert.match((await refusal(fifo)).message, /it is a named pipe/);
  });

  test("a link that leads out of the roots is refused; one into another root is not", async () => {
    writeFileSync(at("swapfile"), "");
    assert.match(
      (await refusal(linkTo(at("swapfile")))).message,
      /resolves to .*swapfile, which is not under/,
    );
    const inside = linkTo(at("mnt/disk1"));
    assert.equal(await guard.resolve(inside, "the test"), at("mnt/disk1"));
  });

  test("a path that became a link since its last check is refused at the next one", async () => {
    const media = join(srv, "swapped");
    mkdirSync(media);
    assert.equal(await guard.resolve(media, "the test"), media);
    renameSync(media, `${media}.old`);
    symlinkSync(at("home/svc/.local/share/archipelago"), media);
    const error = await refusal(media);
    assert.match(error.message, /resolves to .*archipelago, which is .*the daemon's data directory/);
  });

  test("a host path that does not exist is told at once, with what to do", async () => {
    const missing = await refusal(join(srv, "not-there"));
    assert.equal(missing.kind, "missing");
    assert.match(missing.message, /host path .*not-there \(the test\) does not exist: create it/);
    const dangling = await refusal(linkTo(join(srv, "nowhere")));
    assert.equal(dangling.kind, "missing");
    assert.match(dangling.message, /symbolic link to nothing/);
  });

  test("a manifest's host paths are checked together; every problem is named", async () => {
    const base = `/srv/archy-guard-test-${process.pid}`; // never created
    const parsed = expectValid(
      withLines(
        `    volumes: [{ host_path: ${base}/media/x, permission: media, path: /media }]`,
        "permissions:",
        `  media: { kind: host-path, path: ${base}/media, reason: test }`,
        `  other: { kind: host-path, path: ${base}/other, reason: test }`,
      ),
    );
    // The manifest speaks of the real /srv; the sandbox guard knows only its own roots.
    const real = new HostPathGuard({ protectedDirs: () => [] });
    const error = await real.check(parsed.manifest).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof HostPathError);
    for (const use of ["permission media", "permission other", "mounted at web:/media"])
      assert.ok(error.message.includes(`(${use})`), `${use} not named in: ${error.message}`);
  });
});

describe("legacy data taken over on the node: the copy, made with the daemon's rights, never reads the node's own data", () => {
  const legacyRoot = at("var/lib/archipelago");
  const legacy = new HostPathGuard({
    roots: [srv, at("mnt")],
    systemDirs: SYSTEM,
    legacyRoot,
    protectedDirs: () => NODE,
  });
  const base = expectValid(withLines("    volumes: [{ name: data, path: /data }]")).manifest;
  const adopting = (path: string) => ({
    ...base,
    adoption: { ...base.adoption, data_paths: { data: path } },
  });
  const legacyRefusal = async (guardOf: HostPathGuard, path: string): Promise<HostPathError> => {
    const error = await guardOf.checkLegacy(adopting(path)).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof HostPathError, `legacy data path ${path} was not refused`);
    assert.equal(error.kind, "refused");
    return error;
  };

  before(() => {
    mkdirSync(join(legacyRoot, "oldapp"), { recursive: true });
    symlinkSync(at("srv/node/archipelago"), join(legacyRoot, "linked"));
  });

  test("the app's own legacy directory, and one that does not exist (a fresh start), pass", async () => {
    await legacy.checkLegacy(adopting(join(legacyRoot, "oldapp")));
    await legacy.checkLegacy(adopting(join(legacyRoot, "gone")));
  });

  test("a legacy directory that became a link to the daemon's data is refused where it leads", async () => {
    const error = await legacyRefusal(legacy, join(legacyRoot, "linked"));
    assert.match(
      error.message,
      /resolves to .*srv\/node\/archipelago\).*is .*a data directory the operator put under \/srv/,
    );
  });

  test("the daemon's data where the operator put it under /srv is no legacy data, nor anything holding it", async () => {
    for (const path of [at("srv/node"), at("srv/node/archipelago/inside")])
      assert.match(
        (await legacyRefusal(legacy, path)).message,
        /a data directory the operator put under \/srv/,
      );
  });

  test("a node whose data directory is the legacy root keeps legacy data beside its state, never in it", async () => {
    const shared = new HostPathGuard({
      roots: [srv],
      systemDirs: SYSTEM,
      legacyRoot,
      protectedDirs: () => [
        { path: legacyRoot, what: "the daemon's data directory" },
        { path: join(legacyRoot, "state"), what: "the daemon's state" },
      ],
    });
    await shared.checkLegacy(adopting(join(legacyRoot, "oldapp")));
    assert.match((await legacyRefusal(shared, join(legacyRoot, "state"))).message, /is .*the daemon's state/);
  });
});
