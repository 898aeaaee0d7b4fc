/**
 * Data snapshots on a real filesystem (a temporary directory; copies run directly, not in a user
 * namespace, since the files belong to the test's own user): the copy is exact, the log says reflink
 * or plain copy, a restore gives back exactly the snapshot — also when repeated after a crash at
 * any of its steps — and pruning keeps only the last snapshot.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, describe, test } from "node:test";
import type { ExecResult } from "../system/exec.ts";
import { copyTree, DataSnapshots, type Run, restoreWorkDirs } from "./snapshots.ts";

const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function world() {
  const dataRoot = mkdtempSync(join(tmpdir(), "archy-snapshots-test-"));
  roots.push(dataRoot);
  const lines: string[] = [];
  const note = (level: string, message: string) => lines.push(`${level} ${message}`);
  const snapshots = new DataSnapshots({ dataRoot, userNamespace: false });
  const data = join(dataRoot, "apps", "alpha");
  return { dataRoot, data, lines, note, snapshots };
}

/** A data directory like an app's: nested volumes, modes, a symlink, an empty directory, old mtimes. */
function fill(data: string): void {
  mkdirSync(join(data, "volumes", "db", "base"), { recursive: true });
  mkdirSync(join(data, "volumes", "content", "empty"), { recursive: true });
  writeFileSync(join(data, "volumes", "db", "base", "1.dat"), Buffer.alloc(200_000, 7));
  writeFileSync(join(data, "volumes", "db", "PG_VERSION"), "16\n");
  writeFileSync(join(data, "volumes", "content", "index.html"), "<h1>hello</h1>\n");
  chmodSync(join(data, "volumes", "db", "PG_VERSION"), 0o600);
  chmodSync(join(data, "volumes", "db"), 0o700);
  symlinkSync("index.html", join(data, "volumes", "content", "current"));
  utimesSync(join(data, "volumes", "content", "index.html"), 1_600_000_000, 1_600_000_000);
}

/** Every entry under `dir`: path, type, mode, owner, size, content hash or link target, mtime. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    const st = lstatSync(path);
    const rel = relative(dir, path) || ".";
    const kind = st.isSymbolicLink() ? "link" : st.isDirectory() ? "dir" : "file";
    const content = st.isSymbolicLink()
      ? readlinkSync(path)
      : st.isFile()
        ? createHash("sha256").update(readFileSync(path)).digest("hex")
        : "";
    const mtime = st.isFile() ? Math.floor(st.mtimeMs / 1000) : "";
    out.push(`${rel} ${kind} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${content} ${mtime}`);
    if (st.isDirectory()) for (const name of readdirSync(path).sort()) walk(join(path, name));
  };
  walk(dir);
  return out;
}

const ok = (stdout = ""): ExecResult => ({ code: 0, stdout, stderr: "" });

describe("copyTree: reflink where offered, else a plain copy, never silently nothing", () => {
  test("reflink accepted: one cp with --reflink=always", async () => {
    const calls: string[][] = [];
    const run: Run = async (argv) => {
      calls.push(argv);
      return ok();
    };
    assert.deepEqual(await copyTree(run, "/a", "/b", 1_000), { method: "reflink" });
    assert.deepEqual(calls, [["cp", "-a", "--reflink=always", "--", "/a", "/b"]]);
  });

  test("reflink refused by the filesystem: the partial copy is removed, then a plain cp -a, and why", async () => {
    const calls: string[][] = [];
    const run: Run = async (argv) => {
      calls.push(argv);
      if (argv.includes("--reflink=always"))
        return { code: 1, stdout: "", stderr: "cp: failed to clone '/b/x': Operation not supported\n" };
      return ok();
    };
    assert.deepEqual(await copyTree(run, "/a", "/b", 1_000), {
      method: "copy",
      noReflink: "cp: failed to clone '/b/x': Operation not supported",
    });
    assert.deepEqual(calls, [
      ["cp", "-a", "--reflink=always", "--", "/a", "/b"],
      ["rm", "-rf", "--one-file-system", "--", "/b"],
      ["cp", "-a", "--", "/a", "/b"],
    ]);
  });

  test("both copies fail (a full disk): an error naming the paths, no partial copy left", async () => {
    const calls: string[][] = [];
    const run: Run = async (argv) => {
      calls.push(argv);
      return argv[0] === "cp"
        ? { code: 1, stdout: "", stderr: "cp: error writing '/b/x': No space left on device" }
        : ok();
    };
    await assert.rejects(
      copyTree(run, "/a", "/b", 1_000),
      /could not copy \/a to \/b: cp: error writing .*No space left/,
    );
    assert.deepEqual(calls.at(-1), ["rm", "-rf", "--one-file-system", "--", "/b"]);
  });
});

describe("DataSnapshots on a real filesystem", () => {
  test("take: an exact copy under snapshots/<id>/<version>-<time>, and the log says how it was made", async () => {
    const w = world();
    fill(w.data);
    const before = tree(w.data);
    const snapshot = await w.snapshots.take("alpha", "1.0.0", Date.UTC(2026, 0, 2, 3, 4, 5), w.note);
    assert.equal(snapshot.path, join(w.dataRoot, "snapshots", "alpha", "1.0.0-20260102T030405.000Z"));
    assert.deepEqual(tree(snapshot.path), before, "the snapshot is the data, exactly");
    assert.deepEqual(tree(w.data), before, "the data is untouched");
    assert.ok(["reflink", "copy"].includes(snapshot.method));
    const said = w.lines.find((l) => l.includes("snapshot of"));
    assert.ok(said, w.lines.join("\n"));
    if (snapshot.method === "reflink") assert.match(said, /\(reflink copy\)$/);
    else assert.match(said, /\(plain copy: the filesystem offers no reflink copy here — .+\)$/);
    assert.deepEqual(readdirSync(join(w.dataRoot, "snapshots", "alpha")), ["1.0.0-20260102T030405.000Z"]);
  });

  test("take twice in the same millisecond: two snapshots, never one overwritten", async () => {
    const w = world();
    fill(w.data);
    const a = await w.snapshots.take("alpha", "1.0.0", 5_000, w.note);
    const b = await w.snapshots.take("alpha", "1.0.0", 5_000, w.note);
    assert.notEqual(a.path, b.path);
    assert.deepEqual(tree(a.path), tree(b.path));
  });

  test("take without a data directory: an empty snapshot, and the log says so", async () => {
    const w = world();
    const snapshot = await w.snapshots.take("alpha", "1.0.0", 5_000, w.note);
    assert.equal(snapshot.method, "empty");
    assert.deepEqual(readdirSync(snapshot.path), []);
    assert.ok(w.lines.some((l) => /taken: empty, the app has no data directory yet/.test(l)));
  });

  test("a copy a crash interrupted (.partial) is deleted, never taken for a snapshot", async () => {
    const w = world();
    fill(w.data);
    const dir = join(w.dataRoot, "snapshots", "alpha");
    mkdirSync(join(dir, ".1.0.0-x.partial", "half"), { recursive: true });
    await w.snapshots.take("alpha", "1.0.0", 5_000, w.note);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.endsWith(".partial")),
      [],
    );
  });

  test("restore: the data is exactly the snapshot again (changed, added and deleted files)", async () => {
    const w = world();
    fill(w.data);
    const before = tree(w.data);
    const snapshot = await w.snapshots.take("alpha", "1.0.0", 5_000, w.note);
    // What the new version did after the snapshot.
    writeFileSync(join(w.data, "volumes", "db", "PG_VERSION"), "17\n");
    writeFileSync(join(w.data, "volumes", "db", "written-by-2.0.0"), "new\n");
    rmSync(join(w.data, "volumes", "content", "index.html"));
    chmodSync(join(w.data, "volumes", "db"), 0o755);
    assert.notDeepEqual(tree(w.data), before);
    w.lines.length = 0;
    await w.snapshots.restore("alpha", snapshot.path, w.note);
    assert.deepEqual(tree(w.data), before);
    assert.deepEqual(tree(snapshot.path), before, "the snapshot is kept as it was");
    const work = restoreWorkDirs(w.dataRoot, "alpha");
    assert.equal(existsSync(work.aside), false, "the set-aside copy is deleted");
    assert.equal(existsSync(work.restoring), false);
    const expected = [
      /^info copied snapshot .+ for the restore \((reflink copy|plain copy: .+)\)$/,
      /^info moved the current data aside to .+\/apps\/\.alpha\.aside$/,
      /^info restored .+\/apps\/alpha from snapshot .+$/,
      /^info deleted the set-aside data .+\/apps\/\.alpha\.aside$/,
    ];
    assert.equal(w.lines.length, expected.length, w.lines.join("\n"));
    for (const [i, pattern] of expected.entries()) assert.match(w.lines[i] ?? "", pattern);
  });

  for (const crash of ["after the copy", "after the data was moved aside", "after the swap"] as const) {
    test(`restore repeated after a crash ${crash}: the same exact result`, async () => {
      const w = world();
      fill(w.data);
      const before = tree(w.data);
      const snapshot = await w.snapshots.take("alpha", "1.0.0", 5_000, w.note);
      writeFileSync(join(w.data, "written-by-2.0.0"), "new\n");
      const work = restoreWorkDirs(w.dataRoot, "alpha");
      // The state a crash at that point leaves behind.
      mkdirSync(join(work.restoring, "half"), { recursive: true });
      writeFileSync(join(work.restoring, "half", "junk"), "partial copy\n");
      if (crash !== "after the copy") renameSync(w.data, work.aside);
      if (crash === "after the swap") {
        rmSync(work.restoring, { recursive: true });
        execFileSync("cp", ["-a", "--", snapshot.path, w.data]);
      }
      await w.snapshots.restore("alpha", snapshot.path, w.note);
      assert.deepEqual(tree(w.data), before);
      assert.equal(existsSync(work.aside), false);
      assert.equal(existsSync(work.restoring), false);
    });
  }

  test("restore from a snapshot that is gone: a clear error, the data left alone", async () => {
    const w = world();
    fill(w.data);
    const before = tree(w.data);
    await assert.rejects(
      w.snapshots.restore("alpha", join(w.dataRoot, "snapshots", "alpha", "nope"), w.note),
      /the snapshot .*nope is gone: the data cannot be restored from it/,
    );
    assert.deepEqual(tree(w.data), before);
  });

  test("prune keeps only the given snapshot", async () => {
    const w = world();
    fill(w.data);
    const old = await w.snapshots.take("alpha", "1.0.0", 5_000, w.note);
    const last = await w.snapshots.take("alpha", "1.1.0", 6_000, w.note);
    assert.deepEqual(await w.snapshots.prune("alpha", last.path, w.note), [old.path]);
    assert.deepEqual(readdirSync(join(w.dataRoot, "snapshots", "alpha")), ["1.1.0-19700101T000006.000Z"]);
    assert.ok(w.lines.some((l) => l.includes(`deleted the older snapshot ${old.path}`)));
    assert.deepEqual(await w.snapshots.prune("beta", undefined, w.note), [], "no snapshots: nothing to do");
  });

  test("sizes: the data's disk usage (0 without data) and the free space where snapshots go", async () => {
    const w = world();
    assert.equal(await w.snapshots.dataBytes("alpha"), 0);
    fill(w.data);
    assert.ok((await w.snapshots.dataBytes("alpha")) >= 200_000);
    const free = await w.snapshots.freeBytes("alpha");
    assert.equal(free.where, join(w.dataRoot, "snapshots", "alpha"));
    assert.ok(free.bytes > 0);
  });

  test("rootless: every copy, measure and delete runs inside the user namespace (podman unshare)", async () => {
    const calls: string[][] = [];
    const w = world();
    fill(w.data);
    const snapshots = new DataSnapshots({
      dataRoot: w.dataRoot,
      userNamespace: true,
      run: async (file, args) => {
        calls.push([file, ...args]);
        return ok(args[1] === "du" ? "4096\tx\n" : "");
      },
    });
    assert.equal(await snapshots.dataBytes("alpha"), 4096);
    await snapshots.take("alpha", "1.0.0", 5_000, w.note).catch(() => {});
    assert.ok(calls.length >= 2);
    for (const call of calls) assert.deepEqual(call.slice(0, 2), ["podman", "unshare"], call.join(" "));
  });
});
