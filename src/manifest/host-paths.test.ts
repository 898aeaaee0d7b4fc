import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  HOST_PATH_ROOTS,
  hostPathProblem,
  type ProtectedDir,
  relation,
  resolvedHostPathProblem,
  SYSTEM_DIRS,
} from "./host-paths.ts";

/** The directories issue 12 names: no host path may be, contain or be inside one. */
const NAMED_SYSTEM_DIRS = [
  "/etc",
  "/proc",
  "/sys",
  "/dev",
  "/boot",
  "/root",
  "/home",
  "/var",
  "/run",
  "/tmp",
];

/** The node's own directories, placed where an operator might put them: under an allowed root. */
const NODE_DIRS: ProtectedDir[] = [
  { path: "/srv/node/archipelago", what: "the daemon's data directory" },
  { path: "/srv/runtime/user-1000", what: "the service user's runtime directory" },
  { path: "/srv/users/archipelago", what: "the service user's home" },
  { path: "/mnt/fast/containers/storage", what: "Podman's storage" },
  // Named without `.sock`: the node knows it is Podman's socket whatever its name.
  { path: "/srv/sockets/api", what: "Podman's API socket" },
];

const onNode = (declared: string, resolved = declared) =>
  resolvedHostPathProblem({
    declared,
    resolved,
    roots: HOST_PATH_ROOTS,
    protectedDirs: [...SYSTEM_DIRS, ...NODE_DIRS],
  });

describe("relation", () => {
  test("is, contains, inside, or none; `/` counts only as itself", () => {
    assert.equal(relation("/srv/a", "/srv/a"), "is");
    assert.equal(relation("/srv", "/srv/a"), "contains");
    assert.equal(relation("/srv/a/b", "/srv/a"), "inside");
    assert.equal(relation("/srv/ab", "/srv/a"), undefined, "a common prefix is not a parent");
    assert.equal(relation("/srv/a", "/srv/ab"), undefined);
    assert.equal(relation("/", "/etc"), "contains");
    assert.equal(relation("/srv", "/"), undefined);
    assert.equal(relation("/", "/"), "is");
  });
});

describe("host paths as written (validation): an allow-list under /mnt, /media and /srv", () => {
  test("the root of the file system holds everything: refused", () => {
    assert.match(hostPathProblem("/") ?? "", /root of the file system/);
  });

  for (const dir of NAMED_SYSTEM_DIRS) {
    test(`no host path reaches ${dir}: neither ${dir} itself, nor inside it, nor anything containing it`, () => {
      assert.match(hostPathProblem(dir) ?? "", new RegExp(`it is ${dir} \\(`));
      assert.match(hostPathProblem(`${dir}/x/y`) ?? "", new RegExp(`it is inside ${dir} \\(`));
      // Only `/` contains a top-level directory.
      assert.ok(hostPathProblem("/"));
    });
  }

  test("every named system directory is protected by the node's check too", () => {
    for (const dir of NAMED_SYSTEM_DIRS)
      assert.ok(
        SYSTEM_DIRS.some((d) => d.path === dir),
        `${dir} is missing from SYSTEM_DIRS`,
      );
  });

  test("the roots themselves are refused: each app gets a directory of its own", () => {
    for (const root of ["/srv", "/mnt", "/media"]) assert.match(hostPathProblem(root) ?? "", /itself/, root);
  });

  test("anything outside the roots is refused, even where no list names it", () => {
    for (const path of ["/swapfile", "/opt/app", "/data", "/snap/core", "/lost+found", "/srvx/media"])
      assert.match(hostPathProblem(path) ?? "", /not under \/mnt, \/media or \/srv/, path);
  });

  test("engine sockets and non-canonical spellings are refused", () => {
    assert.match(hostPathProblem("/srv/docker.sock") ?? "", /engine socket/);
    assert.match(hostPathProblem("/srv/run/podman") ?? "", /engine socket/);
    for (const path of ["/srv/../etc", "/srv//media", "/srv/media/", "srv/media", "/srv/./media"])
      assert.match(hostPathProblem(path) ?? "", /not a canonical/, path);
  });

  test("passing: a directory of its own under a root", () => {
    for (const path of ["/srv/media", "/mnt/disk1", "/media/usb/photos", "/srv/a/b/c"])
      assert.equal(hostPathProblem(path), undefined, path);
  });
});

describe("host paths on the node: as they resolve now, never reaching the node's own directories", () => {
  for (const dir of NODE_DIRS) {
    const parent = dir.path.slice(0, dir.path.lastIndexOf("/"));
    test(`no host path is, contains or is inside ${dir.what} (${dir.path})`, () => {
      assert.match(onNode(dir.path) ?? "", new RegExp(`^it is ${dir.path} \\(`));
      assert.match(onNode(parent) ?? "", new RegExp(`^it contains ${dir.path} \\(`));
      assert.match(onNode(`${dir.path}/deeper`) ?? "", new RegExp(`^it is inside ${dir.path} \\(`));
    });

    test(`no symbolic link leads to, above or into ${dir.what}`, () => {
      for (const [resolved, phrase] of [
        [dir.path, "is"],
        [parent, "contains"],
        [`${dir.path}/deeper`, "is inside"],
      ] as const)
        assert.match(
          onNode("/srv/innocent", resolved) ?? "",
          new RegExp(`^through a symbolic link, it resolves to ${resolved}, which ${phrase} ${dir.path} \\(`),
        );
    });
  }

  for (const dir of ["/", ...NAMED_SYSTEM_DIRS])
    test(`no symbolic link leads to, or into, the system directory ${dir}`, () => {
      assert.match(onNode("/srv/innocent", dir) ?? "", /resolves to/);
      if (dir !== "/") assert.match(onNode("/srv/innocent", `${dir}/x`) ?? "", /resolves to .* is inside/);
    });

  test("a link that leads out of the roots is refused; one that stays under them is not", () => {
    assert.match(onNode("/srv/swap", "/swapfile") ?? "", /resolves to \/swapfile, which is not under/);
    assert.equal(onNode("/srv/media", "/mnt/disk1/media"), undefined);
  });

  test("a root that resolves elsewhere counts where it resolves", () => {
    const problem = (resolved: string) =>
      resolvedHostPathProblem({
        declared: "/srv/media",
        resolved,
        roots: [...HOST_PATH_ROOTS, "/data/srv"],
        protectedDirs: SYSTEM_DIRS,
      });
    assert.equal(problem("/data/srv/media"), undefined);
    assert.match(problem("/data/srv") ?? "", /\/data\/srv itself/);
  });

  test("passing: other directories under the roots, beside the node's own", () => {
    for (const path of ["/srv/media", "/srv/node/media", "/srv/nodes", "/mnt/fast/photos", "/srv/sockets2"])
      assert.equal(onNode(path), undefined, path);
  });
});
