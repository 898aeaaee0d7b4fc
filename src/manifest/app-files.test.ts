/**
 * Reading an app's files is bounded whatever the directory holds: loops of symbolic links, links
 * that multiply a tree, deep nesting, many files, large files, named pipes, sockets. Each test has a
 * generous ceiling so that a regression fails instead of hanging the suite; what it checks is the
 * refusal and its reason.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { APP_TREE_LIMITS, AppFileError, readAppTree } from "./app-files.ts";

const base = realpathSync(mkdtempSync(join(tmpdir(), "archy-app-files-")));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
/** A new app directory. */
const appDir = (): string => {
  const dir = join(base, `app-${n++}`);
  mkdirSync(join(dir, "files"), { recursive: true });
  return dir;
};
const CEILING = { timeout: 120_000 };

const refusal = async (root: string, relative: string, options = {}): Promise<string> => {
  const error = await readAppTree(root, relative, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof AppFileError, `${relative} was read: ${String(error)}`);
  return error.message;
};

describe("no app file hangs or floods its reader", () => {
  test("a link back to its own directory (files/d/self -> .) is a loop, refused", CEILING, async () => {
    const root = appDir();
    mkdirSync(join(root, "files/d"));
    writeFileSync(join(root, "files/d/a.txt"), "a\n");
    symlinkSync(".", join(root, "files/d/self"));
    assert.match(await refusal(root, "files/d"), /d\/self leads back into a directory that holds it/);
  });

  test("a loop through an ancestor two levels up is refused", CEILING, async () => {
    const root = appDir();
    mkdirSync(join(root, "files/a/b"), { recursive: true });
    symlinkSync("../..", join(root, "files/a/b/up"));
    assert.match(await refusal(root, "files/a"), /loop of links/);
  });

  test(
    "links that double a tree at every level stop at the count limit, not after 2^20 entries",
    CEILING,
    async () => {
      const root = appDir();
      for (let level = 20; level >= 0; level--) {
        const dir = join(root, "files", `l${level}`);
        mkdirSync(dir);
        if (level < 20) {
          symlinkSync(`../l${level + 1}`, join(dir, "x"));
          symlinkSync(`../l${level + 1}`, join(dir, "y"));
        } else writeFileSync(join(dir, "leaf.txt"), "leaf\n");
      }
      assert.match(
        await refusal(root, "files/l0", { limits: { entries: 1000 } }),
        /holds more than 1000 files and directories/,
      );
    },
  );

  test("a tree deeper than the limit is refused", CEILING, async () => {
    const root = appDir();
    const deep = join(root, "files", ...Array.from({ length: APP_TREE_LIMITS.depth + 2 }, () => "d"));
    mkdirSync(deep, { recursive: true });
    assert.match(
      await refusal(root, "files/d"),
      new RegExp(`more than ${APP_TREE_LIMITS.depth} directories deep`),
    );
  });

  test("a directory with more entries than the limit is refused before they are read", CEILING, async () => {
    const root = appDir();
    mkdirSync(join(root, "files/many"));
    for (let i = 0; i <= 100; i++) writeFileSync(join(root, "files/many", `f${i}`), "");
    assert.match(await refusal(root, "files/many", { limits: { entries: 100 } }), /holds more than 100 /);
    // The limit of the platform itself.
    assert.equal(APP_TREE_LIMITS.entries, 10_000);
  });

  test("more bytes than the limit are refused (a sparse file, never read whole)", CEILING, async () => {
    const root = appDir();
    writeFileSync(join(root, "files/big.bin"), "");
    truncateSync(join(root, "files/big.bin"), APP_TREE_LIMITS.bytes + 1);
    assert.match(await refusal(root, "files/big.bin"), /more than 64 MiB to copy/);
  });

  test(
    "a named pipe is refused, never opened to wait for a writer: as the source and inside a tree",
    CEILING,
    async () => {
      const root = appDir();
      execFileSync("mkfifo", [join(root, "files/pipe")]);
      mkdirSync(join(root, "files/tree"));
      execFileSync("mkfifo", [join(root, "files/tree/pipe")]);
      assert.match(await refusal(root, "files/pipe"), /pipe is a named pipe/);
      assert.match(await refusal(root, "files/tree"), /tree\/pipe is a named pipe/);
    },
  );

  test("a socket and a device are refused", CEILING, async () => {
    const root = appDir();
    const server = createServer();
    await new Promise<void>((done) => server.listen(join(root, "files/sock"), done));
    try {
      assert.match(await refusal(root, "files/sock"), /sock is a socket/);
    } finally {
      server.close();
    }
    symlinkSync("/dev/null", join(root, "files/null"));
    assert.match(await refusal(root, "files/null"), /outside/, "a link out of the root, to a device");
  });

  test("a read stops at its next file once its caller gives up", CEILING, async () => {
    const root = appDir();
    mkdirSync(join(root, "files/tree"));
    writeFileSync(join(root, "files/tree/a.txt"), "a\n");
    const stop = new AbortController();
    stop.abort();
    await assert.rejects(readAppTree(root, "files/tree", { signal: stop.signal }), { name: "AbortError" });
  });

  test("passing: a tree with a link inside it to another part of it (no loop) is read", CEILING, async () => {
    const root = appDir();
    mkdirSync(join(root, "files/tree/sub"), { recursive: true });
    writeFileSync(join(root, "files/tree/sub/a.txt"), "a\n");
    symlinkSync("sub", join(root, "files/tree/alias"));
    const tree = await readAppTree(root, "files/tree");
    assert.deepEqual(
      tree.entries.map((e) => e.relative),
      ["tree", "tree/alias", "tree/alias/a.txt", "tree/sub", "tree/sub/a.txt"],
    );
  });
});
