/**
 * Data directories taken over from legacy data: where a Podman volume keeps its data
 * (`volumeDataPath`), and `copyIntoDataDir` — a reflink copy or else a plain one, made under a
 * `.partial` name and renamed, never over an existing directory, the source only read. The copy runs
 * `cp` directly here (the user namespace is exercised by test/orchestrator/adoption-data.test.ts).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { exec } from "../system/exec.ts";
import { copyIntoDataDir, volumeDataPath } from "./data-dirs.ts";

const root = mkdtempSync(join(tmpdir(), "archy-data-dirs-test-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

describe("volumeDataPath", () => {
  const base = { Name: "legacy", Mountpoint: "/home/u/.local/share/containers/storage/volumes/legacy/_data" };
  test("a plain local volume: its mount point", () => {
    assert.deepEqual(volumeDataPath({ ...base, Driver: "local", Options: {} }), { path: base.Mountpoint });
    assert.deepEqual(volumeDataPath({ ...base, Options: null }), { path: base.Mountpoint });
  });
  test("a volume bound to a host directory: that directory (the mount point is empty while unused)", () => {
    assert.deepEqual(
      volumeDataPath({ ...base, Driver: "local", Options: { type: "none", o: "bind", device: "/srv/old" } }),
      { path: "/srv/old" },
    );
    assert.deepEqual(volumeDataPath({ ...base, Options: { o: "rbind,ro", device: "/srv/old" } }), {
      path: "/srv/old",
    });
  });
  test("a volume of the platform (another app's data) is never legacy data", () => {
    assert.deepEqual(
      volumeDataPath({
        ...base,
        Labels: { "io.archipelago.owner": "archipelago", "io.archipelago.app": "wallet" },
        Options: { type: "none", o: "bind", device: "/var/lib/archipelago/apps/wallet/volumes/keys" },
      }),
      { unusable: "volume legacy belongs to the platform (app wallet), it is not legacy data" },
    );
    assert.deepEqual(volumeDataPath({ ...base, Labels: { "com.example": "x" } }), { path: base.Mountpoint });
  });

  test("data that is not a local directory: refused with the reason", () => {
    assert.match(
      (volumeDataPath({ ...base, Driver: "nfs-plugin" }) as { unusable: string }).unusable,
      /uses the nfs-plugin driver/,
    );
    assert.match(
      (volumeDataPath({ ...base, Options: { type: "tmpfs", device: "tmpfs" } }) as { unusable: string })
        .unusable,
      /is a tmpfs mount/,
    );
    assert.match(
      (
        volumeDataPath({ ...base, Options: { type: "nfs", o: "addr=10.0.0.1", device: ":/export" } }) as {
          unusable: string;
        }
      ).unusable,
      /is a nfs mount/,
    );
    assert.match(
      (volumeDataPath({ ...base, Options: { device: "/dev/sdb1" } }) as { unusable: string }).unusable,
      /mounts the device \/dev\/sdb1/,
    );
  });
});

describe("copyIntoDataDir", () => {
  const direct = (argv: string[], timeoutMs: number) => exec(argv[0] as string, argv.slice(1), { timeoutMs });
  const legacy = () => {
    const dir = join(root, `case-${++n}`);
    const source = join(dir, "legacy");
    mkdirSync(join(source, "sub"), { recursive: true, mode: 0o750 });
    writeFileSync(join(source, "a.txt"), "alpha\n", { mode: 0o640 });
    writeFileSync(join(source, "sub", "b.txt"), "beta\n", { mode: 0o600 });
    return { dir, source, target: join(dir, "apps/x/volumes/data") };
  };
  const snapshot = (path: string) =>
    JSON.stringify(
      ["", "a.txt", "sub", "sub/b.txt"].map((p) => {
        const s = statSync(join(path, p));
        return [p, s.mode, s.uid, s.gid, s.mtimeMs, s.isFile() ? readFileSync(join(path, p), "utf8") : ""];
      }),
    );

  test("copies content, modes and times; the source is left as it was", async () => {
    const { source, target } = legacy();
    const before = snapshot(source);
    const done = await copyIntoDataDir(source, target, { run: direct });
    assert.ok(done && (done.method === "reflink" || done.method === "copy"));
    assert.equal(snapshot(target), before, "the same tree, same modes and times");
    assert.equal(snapshot(source), before, "the source untouched");
    assert.equal(existsSync(`${target}.partial`), false);
  });

  test("no reflink offered: a plain copy, and why", async () => {
    const { source, target } = legacy();
    const argvs: string[] = [];
    const done = await copyIntoDataDir(source, target, {
      run: async (argv, timeoutMs) => {
        argvs.push(argv.join(" "));
        if (argv.includes("--reflink=always"))
          return { code: 1, stdout: "", stderr: "cp: failed to clone 'x': Operation not supported" };
        return direct(argv, timeoutMs);
      },
    });
    assert.deepEqual(done, { method: "copy", noReflink: "cp: failed to clone 'x': Operation not supported" });
    assert.deepEqual(
      argvs.filter((a) => a.startsWith("cp ")),
      [
        `cp -a --reflink=always -- ${source}/. ${target}.partial`,
        `cp -a --reflink=auto -- ${source}/. ${target}.partial`,
      ],
    );
    assert.equal(readFileSync(join(target, "sub/b.txt"), "utf8"), "beta\n");
  });

  test("an existing directory is never overwritten: nothing is copied", async () => {
    const { source, target } = legacy();
    mkdirSync(target, { recursive: true });
    writeFileSync(join(target, "mine.txt"), "mine\n");
    const argvs: string[] = [];
    const done = await copyIntoDataDir(source, target, {
      run: async (argv, t) => {
        argvs.push(argv.join(" "));
        return direct(argv, t);
      },
    });
    assert.equal(done, undefined);
    assert.deepEqual(argvs, []);
    assert.equal(existsSync(join(target, "a.txt")), false);
    assert.equal(readFileSync(join(target, "mine.txt"), "utf8"), "mine\n");
  });

  test("a copy a crash interrupted is deleted and made again; the target appears only complete", async () => {
    const { source, target } = legacy();
    mkdirSync(`${target}.partial/half`, { recursive: true });
    writeFileSync(`${target}.partial/half/junk`, "junk");
    const done = await copyIntoDataDir(source, target, { run: direct });
    assert.ok(done);
    assert.equal(existsSync(join(target, "half")), false, "nothing of the interrupted copy");
    assert.equal(readFileSync(join(target, "a.txt"), "utf8"), "alpha\n");
    assert.equal(existsSync(`${target}.partial`), false);
  });

  test("a failed copy leaves no target and no partial, and says why", async () => {
    const { dir, target } = legacy();
    await assert.rejects(
      copyIntoDataDir(join(dir, "no-such-dir"), target, { run: direct }),
      /could not copy .*no-such-dir/,
    );
    assert.equal(existsSync(target), false);
    assert.equal(existsSync(`${target}.partial`), false);
  });
});
